"""Resolving imports and includes inside the installed schema packs, never outside them.

The published XSDs point at each other with inconsistent ``schemaLocation`` values
(``kith.xsd``, ``../felleskomponenter/kith.xsd``, ``http://www.kith.no/xmlstds/kith.xsd``), so
imports and includes are resolved *by file basename* inside the pack, by :class:`PackResolver`,
which serves only the pack's indexed XSDs (stripped of any DOCTYPE), never reads another file
and never touches the network; an unknown location gets an empty schema instead.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from lxml import etree

from ..load import safe_xml_parser
from .schema_packs import XS_NS, SchemaPackInfo, location_basename


def xml_attribute(text: str) -> str:
    """``text`` escaped for a double-quoted XML attribute."""
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _sanitized(path: Path) -> bytes:
    """The schema document without DOCTYPE or internal subset, parsed with the safe parser."""
    return etree.tostring(etree.parse(str(path), safe_xml_parser()).getroot())


def _stub(namespace: str | None) -> bytes:
    target = f' targetNamespace="{xml_attribute(namespace)}"' if namespace else ""
    return f'<xs:schema xmlns:xs="{XS_NS}"{target}/>'.encode()


def _local_path(url: str) -> str | None:
    """The file system path a URL names, or None for a URL with a network scheme."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return os.path.normpath(unquote(parts.path))
    if parts.scheme and len(parts.scheme) > 1:
        return None
    return os.path.normpath(unquote(url))


@functools.lru_cache(maxsize=16)
def _names(files: tuple[str, ...]) -> dict[str, list[str]]:
    """A pack's files by basename; built once per pack, not for every schema set compiled."""
    names: dict[str, list[str]] = {}
    for relative in files:
        names.setdefault(PurePosixPath(relative).name, []).append(relative)
    return names


@functools.lru_cache(maxsize=16)
def _file_set(files: tuple[str, ...]) -> frozenset[str]:
    return frozenset(files)


class PackResolver(etree.Resolver):
    """Resolves every schema document lxml asks for to an indexed XSD of the packs, by basename.

    It never returns None (which would let libxml2 load the URL itself): a location that is not
    in a pack gets an empty schema, so nothing outside the packs is ever read, and nothing is
    fetched from the network.
    """

    def __init__(self, packs: Sequence[SchemaPackInfo], documents: dict[Path, bytes] | None = None) -> None:
        super().__init__()
        self._packs = list(packs)
        self._documents = {} if documents is None else documents
        self._lock = threading.Lock()
        self._by_name = [_names(pack.files) for pack in self._packs]
        self._files = [_file_set(pack.files) for pack in self._packs]
        self.served: list[tuple[str, Path | None]] = []
        """Every request and the pack file it was given (None: refused, an empty schema)."""

    def _order(self, local: str | None) -> list[int]:
        """Pack indexes to search: the pack the requesting location is in first."""
        first = [i for i, p in enumerate(self._packs) if local and local.startswith(str(p.root) + os.sep)]
        return first + [i for i in range(len(self._packs)) if i not in first]

    def _exact(self, index: int, local: str | None) -> Path | None:
        root = str(self._packs[index].root) + os.sep
        if local and local.startswith(root):
            relative = PurePosixPath(*Path(local[len(root):]).parts).as_posix()
            if relative in self._files[index]:
                return self._packs[index].root / relative
        return None

    def _by_basename(self, index: int, name: str, local: str | None) -> Path | None:
        candidates = self._by_name[index].get(name)
        if not candidates:
            return None
        pack = self._packs[index]
        near = local[len(str(pack.root)) + 1:] if local and local.startswith(str(pack.root) + os.sep) else ""

        def shared(relative: str) -> int:
            return len(os.path.commonprefix([relative, near.replace(os.sep, "/")]))

        return pack.root / min(candidates, key=lambda rel: (-shared(rel), rel))

    def locate(self, url: str) -> Path | None:
        """The pack file that answers a schema location, or None."""
        local, name = _local_path(url), location_basename(url)
        order = self._order(local)
        for index in order:
            found = self._exact(index, local) or self._by_basename(index, name, local)
            if found is not None:
                return found
        for index in order:
            namespace = self._packs[index].import_hints.get(name)
            found = self._packs[index].schema_file(namespace) if namespace else None
            if found is not None:
                return found
        return None

    def _hint(self, url: str) -> str | None:
        name = location_basename(url)
        return next((p.import_hints[name] for p in self._packs if name in p.import_hints), None)

    def document(self, path: Path) -> bytes:
        with self._lock:
            data = self._documents.get(path)
            if data is None:
                data = self._documents[path] = _sanitized(path)
            return data

    def resolve(self, url: str, pubid: str | None, context: object):  # noqa: ANN201 (lxml's type)
        target = self.locate(url)
        self.served.append((url, target))
        if target is None:
            return self.resolve_string(_stub(self._hint(url)), context)
        try:
            return self.resolve_string(self.document(target), context, base_url=str(target))
        except (etree.XMLSyntaxError, OSError):
            return self.resolve_string(_stub(self._hint(url)), context)
