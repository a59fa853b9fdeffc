"""Source positions, computed lazily: only documents with reported issues pay for them.

JSON positions come from ``json-source-map`` (RFC 6901 pointers to line/column); XML positions
come from one expat pass that records where each start tag begins, in document order.
"""

from __future__ import annotations

import xml.parsers.expat
from typing import Protocol

from lxml import etree

from .issues import Path

Position = tuple[int, int]  # 1-based line and column


class Locator(Protocol):
    def locate(self, path: Path) -> Position | None: ...


def json_pointer(path: Path) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


class JsonLocator:
    """Line and column of a path in a JSON text; falls back to the nearest ancestor."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._map: dict | None = None

    def _source_map(self) -> dict:
        if self._map is None:
            from json_source_map import calculate

            try:
                self._map = calculate(self._text)
            except Exception:  # the text parsed with json; a map failure must not hide issues
                self._map = {}
        return self._map

    def locate(self, path: Path) -> Position | None:
        source_map = self._source_map()
        for depth in range(len(path), -1, -1):
            entry = source_map.get(json_pointer(path[:depth]))
            if entry is None:
                continue
            # An issue about a member points at its key, so editors underline the name.
            start = entry.key_start if entry.key_start is not None else entry.value_start
            return start.line + 1, start.column + 1
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
