"""Source positions, computed lazily: only documents with reported issues pay for them.

JSON positions come from one regex-tokenizer pass (RFC 6901 pointers to offsets); XML
positions come from one expat pass that records where each start tag begins, in document order.
"""

from __future__ import annotations

import bisect
import json
import re
import xml.parsers.expat
from typing import Any, Iterable, Iterator, Protocol

from lxml import etree

from .issues import Path

Position = tuple[int, int]  # 1-based line and column


class Locator(Protocol):
    def locate(self, path: Path) -> Position | None: ...


def json_pointer(path: Path) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]|[^\s{}\[\],:"]+')


def json_offsets(text: str) -> dict[str, int]:
    """Character offset of every value of a (valid) JSON text by RFC 6901 pointer: the offset of
    its member name when it has one, so editors underline the name. One pass with a regex
    tokenizer; only documents with issues pay for it."""
    offsets: dict[str, int] = {}
    stack: list[list[Any]] = []  # [kind, pointer, key or index, expecting a key, key offset]
    for match in _JSON_TOKEN.finditer(text):
        token, at = match.group(), match.start()
        if token in ",:]}":
            if token == ",":
                top = stack[-1]
                if top[0] == "[":
                    top[2] += 1
                else:
                    top[3] = True
            elif token == ":":
                stack[-1][3] = False
            else:
                stack.pop()
            continue
        if stack and stack[-1][0] == "{" and stack[-1][3]:
            key = token[1:-1] if "\\" not in token else json.loads(token)
            stack[-1][2], stack[-1][4] = key, at
            continue
        if stack:
            top = stack[-1]
            step = str(top[2]).replace("~", "~0").replace("/", "~1")
            pointer = f"{top[1]}/{step}"
            offsets[pointer] = top[4] if top[0] == "{" else at
        else:
            pointer = ""
            offsets[pointer] = at
        if token in "{[":
            stack.append([token, pointer, 0 if token == "[" else None, token == "{", at])
    return offsets


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_COLON = re.compile(r"[ \t\n\r]*:[ \t\n\r]*")
_SEPARATOR = re.compile(r"[ \t\n\r]*([,}\]])[ \t\n\r]*")
"""What follows a member or an item: a comma (and the white space after it) or the closing bracket."""


def json_offsets_for(text: str, wanted: set[str]) -> dict[str, int]:
    """The offsets :func:`json_offsets` gives, for the ``wanted`` pointers only (each with all its
    ancestors). Descends only into containers on the way to a wanted pointer and steps over every
    other value with the json module's C scanner, so locating a few issues in a 20 MB Bundle reads
    the Bundle at C speed instead of tokenizing all of it in Python."""
    from json.decoder import JSONDecoder, scanstring

    scan = JSONDecoder().scan_once
    skip_space = _WHITESPACE.match
    over_colon, over_separator = _COLON.match, _SEPARATOR.match
    offsets: dict[str, int] = {}

    def value(at: int, pointer: str, recorded: int) -> int:
        """Read the value at ``at`` (no leading white space), a wanted one; return the offset after it.
        A member or item that is not wanted is stepped over here, without a call of its own."""
        offsets[pointer] = recorded
        opener = text[at]
        if opener != "{" and opener != "[":
            return scan(text, at)[1]
        at = skip_space(text, at + 1).end()
        closer = "}" if opener == "{" else "]"
        if text[at] == closer:
            return at + 1
        index = 0
        while True:
            if opener == "{":
                key_at = at
                key, at = scanstring(text, at + 1)
                at = over_colon(text, at).end()
                child = f"{pointer}/{_escaped(key)}"
                at = value(at, child, key_at) if child in wanted else scan(text, at)[1]
            else:
                child = f"{pointer}/{index}"
                at = value(at, child, at) if child in wanted else scan(text, at)[1]
                index += 1
            separator = over_separator(text, at)  # (the text is JSON the json module read: it matches)
            if separator[1] == closer:
                return separator.end(1)
            at = separator.end()

    start = skip_space(text, 0).end()
    if start < len(text) and "" in wanted:
        value(start, "", start)
    return offsets


def _escaped(step: str) -> str:
    """A pointer step as RFC 6901 writes it."""
    return step.replace("~", "~0").replace("/", "~1") if "~" in step or "/" in step else step


def _pointers(path: Path) -> Iterator[str]:
    """The pointers of a path and of each of its ancestors, each made from its parent's."""
    pointer = ""
    yield pointer
    for step in path:
        pointer = f"{pointer}/{_escaped(str(step))}"
        yield pointer


class JsonLocator:
    """Line and column of a path in a JSON text; falls back to the nearest ancestor."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._offsets: dict[str, int] | None = None
        self._lines: list[int] | None = None
        self._wanted: set[str] = set()
        self._some: dict[str, int] = {}
        self._positions: dict[int, Position] | None = None
        """Line and column of each offset in ``_some``, counted in one pass over the text."""

    def _line_starts(self) -> list[int]:
        if self._lines is None:
            self._lines = [m.start() for m in re.finditer("\n", self._text)]
        return self._lines

    def _map(self) -> dict[str, int]:
        if self._offsets is None:
            try:
                self._offsets = json_offsets(self._text)
            except (IndexError, ValueError):  # the text parsed with json; a map failure must not hide issues
                self._offsets = {}
        return self._offsets

    def prepare(self, paths: Iterable[Path]) -> None:
        """Find the positions of these paths (and their ancestors) in one pass that reads only what
        leads to them; :meth:`locate` uses them instead of mapping the whole text."""
        if self._offsets is not None:
            return
        wanted = {pointer for path in paths for pointer in _pointers(path)} - self._wanted
        if not wanted:
            return
        try:
            self._some.update(json_offsets_for(self._text, wanted | self._wanted))
        except (IndexError, ValueError, TypeError, RecursionError):  # as for the full map: never hide the issues
            return
        self._wanted |= wanted
        self._positions = None

    def _position(self, offset: int) -> Position:
        """Line and column of an offset: of a prepared one from the positions counted for all of them
        at once (C's count of newlines between consecutive offsets, where a list of every line start
        costs a Python object per line of a large Bundle), else from the line starts."""
        if self._positions is None and self._lines is None:
            self._positions = _positions_of(self._text, self._some.values())
        found = self._positions.get(offset) if self._positions is not None else None
        if found is not None:
            return found
        lines = self._line_starts()
        line = bisect.bisect_left(lines, offset)
        column = offset - (lines[line - 1] + 1 if line else 0)
        return line + 1, column + 1

    def locate(self, path: Path) -> Position | None:
        offsets = self._some if json_pointer(path) in self._wanted else self._map()
        for depth in range(len(path), -1, -1):
            offset = offsets.get(json_pointer(path[:depth]))
            if offset is None:
                continue
            return self._position(offset)
        return None


def _positions_of(text: str, offsets: Iterable[int]) -> dict[int, Position]:
    """1-based line and column of each offset, in one pass: newlines are counted only between
    consecutive offsets, in C."""
    found: dict[int, Position] = {}
    line, line_start, last = 1, 0, 0
    for offset in sorted(set(offsets)):
        line += text.count("\n", last, offset)
        newline = text.rfind("\n", last, offset)
        if newline != -1:
            line_start = newline + 1
        found[offset] = (line, offset - line_start + 1)
        last = offset
    return found


class XmlLocator:
    """Line and column of elements of a parsed lxml tree, with element paths mapped in."""

    def __init__(self, data: bytes, root: etree._Element) -> None:
        self._data = data
        self._root = root
        self._starts: list[Position] | None = None
        self._order: dict[etree._Element, int] | None = None
        self.elements: dict[Path, etree._Element] = {}
        """Filled by format readers that map document paths to the element they came from."""

    def _scan(self) -> None:
        starts: list[Position] = []
        parser = xml.parsers.expat.ParserCreate()

        def start(_name: str, _attrs: dict) -> None:
            starts.append((parser.CurrentLineNumber, parser.CurrentColumnNumber + 1))

        parser.StartElementHandler = start
        try:
            parser.Parse(self._data, True)
        except xml.parsers.expat.ExpatError:
            pass  # lxml accepted the document; keep what was scanned
        self._starts = starts
        self._order = {el: i for i, el in enumerate(self._root.iter(etree.Element))}

    def element_position(self, element: etree._Element) -> Position:
        if self._starts is None:
            self._scan()
        assert self._order is not None and self._starts is not None
        index = self._order.get(element)
        if index is not None and index < len(self._starts):
            return self._starts[index]
        return (element.sourceline or 1, 1)

    def locate(self, path: Path) -> Position | None:
        for depth in range(len(path), -1, -1):
            element = self.elements.get(path[:depth])
            if element is not None:
                return self.element_position(element)
        return self.element_position(self._root)


def fhirpath_expression(root: str, path: Path) -> str:
    """``Patient.identifier[0].value`` from a document path."""
    parts = [root]
    for step in path:
        if isinstance(step, int):
            parts[-1] += f"[{step}]"
        else:
            name = step.rsplit("}", 1)[-1]
            parts.append(name[1:] if name.startswith("_") else name)
    return ".".join(parts)
