"""Source positions, computed lazily: only documents with reported issues pay for them.

JSON positions come from one regex-tokenizer pass (RFC 6901 pointers to offsets); XML
positions come from one expat pass that records where each start tag begins, in document order.
"""

from __future__ import annotations

import bisect
import json
import re
import xml.parsers.expat
from typing import Any, Iterable, Protocol

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


def json_offsets_for(text: str, wanted: set[str]) -> dict[str, int]:
    """The offsets :func:`json_offsets` gives, for the ``wanted`` pointers only (each with all its
    ancestors). Descends only into containers on the way to a wanted pointer and steps over every
    other value with the json module's C scanner, so locating a few issues in a 20 MB Bundle reads
    the Bundle at C speed instead of tokenizing all of it in Python."""
    from json.decoder import JSONDecoder, scanstring

    scan = JSONDecoder().scan_once
    skip_space = _WHITESPACE.match
    offsets: dict[str, int] = {}

    def value(at: int, pointer: str, recorded: int) -> int:
        """Read the value at ``at`` (no leading white space); return the offset after it."""
        if pointer in wanted:
            offsets[pointer] = recorded
        opener = text[at]
        if opener not in "{[" or pointer not in wanted:
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
                at = skip_space(text, skip_space(text, at).end() + 1).end()  # over the ':'
                step = key.replace("~", "~0").replace("/", "~1")
                at = value(at, f"{pointer}/{step}", key_at)
            else:
                at = value(at, f"{pointer}/{index}", at)
                index += 1
            at = skip_space(text, at).end()
            if text[at] == closer:
                return at + 1
            at = skip_space(text, at + 1).end()  # over the ','

    start = skip_space(text, 0).end()
    if start < len(text):
        value(start, "", start)
    return offsets


class JsonLocator:
    """Line and column of a path in a JSON text; falls back to the nearest ancestor."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._offsets: dict[str, int] | None = None
        self._lines: list[int] | None = None
        self._wanted: set[str] = set()
        self._some: dict[str, int] = {}

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
        wanted = {json_pointer(path[:depth]) for path in paths for depth in range(len(path) + 1)} - self._wanted
        if not wanted:
            return
        try:
            self._some.update(json_offsets_for(self._text, wanted | self._wanted))
        except (IndexError, ValueError, RecursionError):  # as for the full map: never hide the issues
            return
        self._wanted |= wanted

    def locate(self, path: Path) -> Position | None:
        offsets = self._some if json_pointer(path) in self._wanted else self._map()
        for depth in range(len(path), -1, -1):
            offset = offsets.get(json_pointer(path[:depth]))
            if offset is None:
                continue
            lines = self._line_starts()
            line = bisect.bisect_left(lines, offset)
            column = offset - (lines[line - 1] + 1 if line else 0)
            return line + 1, column + 1
        return None


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
