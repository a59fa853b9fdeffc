"""What the Python API accepts as one artifact, turned into what the engine reads: bytes with a
name and a format, or a file path.

Accepted: a ``dict`` (a resource), JSON or XML text, ``bytes``, a path (``str`` or
``os.PathLike``), an lxml element or tree, a Pydantic model such as a fhir.resources resource
(through ``model_dump(mode="json")``; duck-typed, fhir.resources is not a dependency) or a
binary file object.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

Source = Union[dict, str, bytes, bytearray, memoryview, "os.PathLike[str]", Any]
"""Anything :func:`artifact` accepts."""

_TEXT_STARTS = ("{", "[", "<")


@dataclass(frozen=True, slots=True)
class Artifact:
    """One input: ``data`` to validate under ``name`` (``fmt`` forces JSON or XML), or a ``path``."""

    name: str
    data: bytes | None = None
    path: Path | None = None
    fmt: str | None = None


def artifact(source: Source, name: str | None = None) -> Artifact:
    """``source`` as an :class:`Artifact`; a ``TypeError`` says what is accepted."""
    if isinstance(source, os.PathLike):
        return _path(Path(source), name)
    if isinstance(source, str):
        if source.lstrip("\ufeff \t\r\n").startswith(_TEXT_STARTS):
            return Artifact(name or _name_of_text(source), source.encode("utf-8"))
        return _path(Path(source), name)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return Artifact(name or "<bytes>", bytes(source))
    if isinstance(source, (dict, list)):
        return _json(source, name)
    if hasattr(source, "model_dump"):  # a Pydantic v2 model (fhir.resources 7.1+ and 8)
        return _json(source.model_dump(mode="json", by_alias=True, exclude_none=True), name)
    if hasattr(source, "getroottree") and hasattr(source, "tag"):  # an lxml element
        return _xml(source, name)
    if hasattr(source, "getroot") and hasattr(source, "docinfo"):  # an lxml element tree
        return _xml(source.getroot(), name)
    read = getattr(source, "read", None)
    if callable(read):
        data = read()
        if isinstance(data, str):
            data = data.encode("utf-8")
        return Artifact(name or str(getattr(source, "name", "<stream>")), bytes(data))
    raise TypeError(
        f"samsvar cannot validate a {type(source).__name__}: give a dict, JSON or XML text, bytes, a path, "
        "an lxml element, a Pydantic model (fhir.resources) or a binary file object")


def _path(path: Path, name: str | None) -> Artifact:
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder: validate one file here, or a folder with validate_paths()")
    return Artifact(name or str(path), path=path)


def _json(value: Any, name: str | None) -> Artifact:
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"the resource is not JSON data ({exc}); give JSON values only (str, int, float, "
                        "bool, None, list, dict)") from None
    return Artifact(name or _name_of(value), text.encode("utf-8", "surrogatepass"), fmt="json")


def _xml(element: Any, name: str | None) -> Artifact:
    from lxml import etree

    data = etree.tostring(element, encoding="UTF-8", xml_declaration=True)
    tag = etree.QName(element).localname if isinstance(element.tag, str) else "xml"
    return Artifact(name or f"<{tag}>", data, fmt="xml")


def _name_of(value: Any) -> str:
    """``Patient/p1`` for a resource with an id, ``Patient`` without one."""
    if isinstance(value, dict) and isinstance(value.get("resourceType"), str):
        rid = value.get("id")
        return f"{value['resourceType']}/{rid}" if isinstance(rid, str) and rid else str(value["resourceType"])
    return "<json>"


def _name_of_text(text: str) -> str:
    if text.lstrip("\ufeff \t\r\n").startswith("<"):
        return "<xml>"
    try:
        return _name_of(json.loads(text))
    except ValueError:
        return "<json>"
