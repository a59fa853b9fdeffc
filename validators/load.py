"""Loading: bytes in, a parsed document with source positions out, or located fatal issues.

Everything here treats input as hostile: size and nesting limits, strict UTF-8 for JSON,
XML without DTDs, entities or network access. Nothing here raises on bad input.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from lxml import etree

from .issues import Issue
from .positions import JsonLocator, Locator, XmlLocator
from .rules import declared

Format = Literal["json", "xml"]

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_DEPTH = 200
MAX_DEPTH_LIMIT = 500
"""The deepest ``--max-depth`` accepted: Python's JSON parser and samsvar's walks recurse, and
beyond about 600 levels (JSON: about 990 for the parser alone) they run out of stack, so a
larger limit would promise checks samsvar cannot make."""

INPUT_JSON = declared("INPUT-001")
INPUT_XML = declared("INPUT-002")
INPUT_ENCODING = declared("INPUT-003")
INPUT_EMPTY = declared("INPUT-004")
INPUT_TOO_LARGE = declared("INPUT-005")
INPUT_DEPTH = declared("INPUT-006")
INPUT_DTD = declared("INPUT-007")
INPUT_UNKNOWN = declared("INPUT-008")
INPUT_BOM = declared("INPUT-009")
INPUT_DUPLICATE_KEY = declared("INPUT-010")
INPUT_UNREADABLE = declared("INPUT-011")


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH


@dataclass(slots=True)
class Document:
    """A parsed artifact: its tree, the format it came in and how to locate paths in it."""

    name: str
    format: Format
    tree: Any  # JSON value, or the lxml root element
    locator: Locator
    data: bytes = field(repr=False)
    encoding_declared: str | None = None


@dataclass(slots=True)
class Loaded:
    document: Document | None
    issues: list[Issue]


_UTF16_32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def sniff_format(data: bytes, name: str) -> Format | None:
    """JSON or XML, by the first significant byte, then by file name."""
    head = data.lstrip(b" \t\r\n\xef\xbb\xbf")[:1]
    if head in (b"{", b"["):
        return "json"
    if head == b"<":
        return "xml"
    lowered = name.lower()
    if lowered.endswith(".json"):
        return "json"
    if lowered.endswith(".xml"):
        return "xml"
    return None


def load_bytes(name: str, data: bytes, limits: Limits = Limits(), fmt: Format | None = None,
               first_line: int = 1) -> Loaded:
    """Parse ``data``; never raises on bad input, returns fatal issues instead.

    ``fmt`` forces the format (an NDJSON line is JSON, whatever its first character);
    ``first_line`` is the line of the input where ``data`` starts (the lines of issues about
    JSON are counted from it)."""
    if len(data) > limits.max_bytes:
        return Loaded(None, [INPUT_TOO_LARGE.issue(
            f"File is {len(data):,} bytes, over the limit of {limits.max_bytes:,} bytes; "
            "raise --max-size to check it.", line=first_line, column=1)])
    if data.startswith(_UTF16_32_BOMS):
        return Loaded(None, [INPUT_ENCODING.issue(
            "File starts with a UTF-16 or UTF-32 byte order mark; FHIR and JSON require UTF-8.",
            line=first_line, column=1)])
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        return Loaded(None, [INPUT_EMPTY.issue("File is empty.", line=first_line, column=1)])
    fmt = fmt or sniff_format(data, name)
    if fmt == "json":
        return _load_json(name, data, limits, first_line)
    if fmt == "xml":
        return _load_xml(name, data, limits)
    return Loaded(None, [INPUT_UNKNOWN.issue(
        "File is neither JSON nor XML: the first significant character is neither '{', '[' nor '<'.",
        line=first_line, column=1)])


def _position_of_offset(data: bytes, offset: int) -> tuple[int, int]:
    before = data[:offset]
    line = before.count(b"\n") + 1
    column = offset - (before.rfind(b"\n") + 1) + 1
    return line, column


def _load_json(name: str, data: bytes, limits: Limits, first_line: int = 1) -> Loaded:
    issues: list[Issue] = []
    shift = first_line - 1
    if data.startswith(codecs.BOM_UTF8):
        issues.append(INPUT_BOM.issue("File starts with a UTF-8 byte order mark.", line=first_line, column=1))
        data = data[len(codecs.BOM_UTF8):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _position_of_offset(data, exc.start)
        line += shift
        issues.append(INPUT_ENCODING.issue(
            f"Byte 0x{data[exc.start]:02X} at line {line}, column {column} is not valid UTF-8 "
            f"({exc.reason}); save the file as UTF-8.", line=line, column=column))
        return Loaded(None, issues)

    duplicates: list[tuple[int, str]] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) != len(items):
            seen: set[str] = set()
            for key, _ in items:
                if key in seen:
                    duplicates.append((id(obj), key))
                seen.add(key)
        return obj

    try:
        tree = json.loads(text, object_pairs_hook=pairs, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        issues.append(INPUT_JSON.issue(
            f"Not well-formed JSON: {exc.msg} (line {exc.lineno + shift}, column {exc.colno}).",
            line=exc.lineno + shift, column=exc.colno))
        return Loaded(None, issues)
    except RecursionError:
        issues.append(INPUT_DEPTH.issue(
            f"JSON nests deeper than the limit of {limits.max_depth} levels (so deep that the JSON parser, "
            "which stops at about 990 levels, could not read it).", line=first_line, column=1))
        return Loaded(None, issues)
    except ValueError as exc:  # e.g. an integer longer than Python converts
        issues.append(INPUT_JSON.issue(f"JSON could not be read: {exc}.", line=first_line, column=1))
        return Loaded(None, issues)

    deep_path = _json_depth(tree, limits.max_depth)[1] if _deeper_than(tree, limits.max_depth) else None
    locator = JsonLocator(text)
    if deep_path is not None:
        line, column = locator.locate(deep_path) or (1, 1)
        line += shift
        issues.append(INPUT_DEPTH.issue(
            f"JSON nests deeper than the limit of {limits.max_depth} levels.",
            line=line, column=column))
        return Loaded(None, issues)
    for obj_id, key in duplicates:
        path = _find_object(tree, obj_id)
        issues.append(INPUT_DUPLICATE_KEY.issue(
            f"Property {key!r} appears more than once in the same object; only the last value is kept.",
            path=(*path, key) if path is not None else None))
    return Loaded(Document(name, "json", tree, locator, data), issues)


def _deeper_than(tree: Any, limit: int) -> bool:
    """Whether a container lies deeper than ``limit`` (the root at 1): one level at a time, with no
    paths made, so a document within the limit (nearly all) costs a walk in comprehensions only;
    :func:`_json_depth` finds the path of one that is not. The tree is the JSON parser's: its
    containers are exactly ``dict`` and ``list``, told by their type (faster than isinstance)."""
    level = [tree] if type(tree) in _CONTAINERS else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [child for node in level for child in (node.values() if type(node) is dict else node)
                 if type(child) in _CONTAINERS]
    return False


_CONTAINERS = (dict, list)


def _json_depth(tree: Any, limit: int) -> tuple[int, tuple | None]:
    """Maximum container depth, iteratively; stops with a path at the first level over ``limit``."""
    deepest = 0
    stack: list[tuple[Any, tuple, int]] = [(tree, (), 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict):
            items = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            continue
        if depth > limit:
            return depth, path
        deepest = max(deepest, depth)
        for key, child in items:
            if isinstance(child, (dict, list)):
                stack.append((child, (*path, key), depth + 1))
    return deepest, None


def _find_object(tree: Any, obj_id: int) -> tuple | None:
    stack: list[tuple[Any, tuple]] = [(tree, ())]
    while stack:
        value, path = stack.pop()
        if id(value) == obj_id:
            return path
        if isinstance(value, dict):
            stack.extend((child, (*path, key)) for key, child in value.items())
        elif isinstance(value, list):
            stack.extend((child, (*path, i)) for i, child in enumerate(value))
    return None


XML_DOCUMENT = "(xml)"
"""The location of a finding about the XML document as a whole (it could not be parsed), as HL7's
validator names it."""

_ENTITY = re.compile(r"Entity '([^']+)' not defined")


def _plain(message: str) -> str:
    """libxml2's message, with an undeclared entity said in words a FHIR author recognises."""
    found = _ENTITY.search(message)
    if found:
        return (f"the entity '{found.group(1)}' is used but not declared (XML knows only &amp; &lt; &gt; "
                f"&quot; &apos; and numeric references such as &#174;; write the character itself)")
    return message


def safe_xml_parser() -> etree.XMLParser:
    """An lxml parser that never loads DTDs, resolves entities or touches the network."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


_PROLOG_SKIP = re.compile(rb"(?:\s+|\xef\xbb\xbf|<\?.*?\?>|<!--.*?-->)", re.DOTALL)


def _doctype_offset(data: bytes) -> int | None:
    """Where a DOCTYPE starts in the prolog, found without letting libxml2 read it."""
    offset = 0
    while True:
        match = _PROLOG_SKIP.match(data, offset)
        if not match or match.end() == offset:
            break
        offset = match.end()
    return offset if data.startswith(b"<!DOCTYPE", offset) else None


def _load_xml(name: str, data: bytes, limits: Limits) -> Loaded:
    doctype = _doctype_offset(data[:1_000_000])
    if doctype is not None:
        line, column = _position_of_offset(data, doctype)
        return Loaded(None, [INPUT_DTD.issue(
            "XML document type declarations (DOCTYPE) are not allowed; the document was not parsed, "
            "no entity was expanded and nothing was fetched.", line=line, column=column, expression=XML_DOCUMENT)])
    try:
        root = etree.fromstring(data, safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno or 1, exc.offset or 1)
        message = str(exc.msg or exc).split(", line ")[0]
        if "excessive depth" in message.lower():
            return Loaded(None, [INPUT_DEPTH.issue(
                f"XML nests deeper than the parser's limit of 256 elements ({message}).",
                line=line, column=column)])
        if "encoding" in message.lower() or "utf-8" in message.lower():
            return Loaded(None, [INPUT_ENCODING.issue(
                f"Not well-formed XML: {message}.", line=line, column=column)])
        return Loaded(None, [INPUT_XML.issue(
            f"Not well-formed XML: {_plain(message)} (line {line}, column {column}).",
            line=line, column=column, expression=XML_DOCUMENT)])
    except (ValueError, etree.LxmlError) as exc:
        return Loaded(None, [INPUT_XML.issue(f"Not well-formed XML: {exc}.", line=1, column=1,
                                             expression=XML_DOCUMENT)])
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        return Loaded(None, [INPUT_DTD.issue(
            "XML document type declarations (DOCTYPE) are not allowed; entities were not expanded "
            "and nothing was fetched.", line=1, column=1, expression=XML_DOCUMENT)])
    locator = XmlLocator(data, root)
    deep = _xml_too_deep(root, limits.max_depth)
    if deep is not None:
        line, column = locator.element_position(deep)
        return Loaded(None, [INPUT_DEPTH.issue(
            f"XML nests deeper than the limit of {limits.max_depth} elements.",
            line=line, column=column)])
    return Loaded(Document(name, "xml", root, locator, data, docinfo.encoding), [])


_DEEPER: dict[int, etree.XPath] = {}


def _xml_too_deep(root: etree._Element, limit: int) -> etree._Element | None:
    if 1 <= limit <= 256:  # is any element deeper than the limit? asked in C, walked only if so
        deeper = _DEEPER.get(limit) or _DEEPER.setdefault(limit, etree.XPath(f"boolean({'/'.join(['*'] * limit)})"))
        if not deeper(root):
            return None
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > limit:
            return element
        stack.extend((child, depth + 1) for child in element if isinstance(child.tag, str))
    return None
