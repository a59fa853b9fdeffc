"""Conformance resources by canonical URL, from installed packages and ``--ig`` files.

Only package indexes are read up front; a resource is parsed the first time it is asked for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Protocol

FHIR_SD = "http://hl7.org/fhir/StructureDefinition/"


class PackageLike(Protocol):
    @property
    def index(self) -> list[dict[str, Any]]: ...

    def load(self, filename: str) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class _Entry:
    package: PackageLike | None
    filename: str | None
    meta: dict[str, Any]


class Definitions:
    """Canonical resources of the loaded packages plus loose resources, with lazy loading."""

    def __init__(self, packages: Iterable[PackageLike] = (), resources: Iterable[dict[str, Any]] = ()) -> None:
        self._by_url: dict[str, _Entry] = {}
        self._loaded: dict[str, dict[str, Any]] = {}
        self._elements: dict[str, dict[str, dict[str, Any]]] = {}
        self.resource_types: set[str] = set()
        self.type_kinds: dict[str, str] = {}
        self.memo: dict[str, Any] = {}
        """Caches derived from the definitions (for example the XML reader's child maps)."""
        for package in packages:
            for meta in package.index:
                self._add(_Entry(package, meta.get("filename"), meta))
        for resource in resources:
            self.add_resource(resource)

    def _add(self, entry: _Entry) -> None:
        url = entry.meta.get("url")
        if not url:
            return
        # Later packages and loose files override earlier ones, as ``--ig`` order promises.
        self._by_url[url] = entry
        self._loaded.pop(url, None)
        if entry.meta.get("resourceType") == "StructureDefinition":
            sd_type = entry.meta.get("type")
            if sd_type and url == FHIR_SD + sd_type:
                kind = entry.meta.get("kind") or ""
                self.type_kinds[sd_type] = kind
                if kind == "resource":
                    self.resource_types.add(sd_type)

    def add_resource(self, resource: dict[str, Any]) -> None:
        """Add a loose conformance resource (or every entry of a Bundle of them)."""
        if resource.get("resourceType") == "Bundle":
            for entry in resource.get("entry") or []:
                if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                    self.add_resource(entry["resource"])
            return
        meta = {k: resource.get(k) for k in ("resourceType", "id", "url", "version", "kind", "type")}
        url = meta.get("url")
        if isinstance(url, str):
            self._add(_Entry(None, None, meta))
            self._loaded[url] = resource

    def add_file(self, path: Path) -> None:
        with path.open("rb") as handle:
            self.add_resource(json.load(handle))

    def get(self, url: str) -> dict[str, Any] | None:
        """The resource with canonical ``url`` (a ``|version`` suffix is ignored)."""
        url = url.split("|", 1)[0]
        if url in self._loaded:
            return self._loaded[url]
        entry = self._by_url.get(url)
        if entry is None or entry.package is None or entry.filename is None:
            return None
        resource = entry.package.load(entry.filename)
        self._loaded[url] = resource
        return resource

    def structure_definition(self, type_or_url: str) -> dict[str, Any] | None:
        url = type_or_url if "/" in type_or_url else FHIR_SD + type_or_url
        return self.get(url)

    def elements(self, type_or_url: str) -> dict[str, dict[str, Any]] | None:
        """Snapshot element definitions of a StructureDefinition, by element path."""
        if type_or_url in self._elements:
            return self._elements[type_or_url]
        sd = self.structure_definition(type_or_url)
        if sd is None:
            return None
        snapshot = (sd.get("snapshot") or {}).get("element") or []
        by_path: dict[str, dict[str, Any]] = {}
        for element in snapshot:
            by_path.setdefault(element["path"], element)  # slices share a path; keep the base
        self._elements[type_or_url] = by_path
        return by_path

    def canonicals(self) -> list[str]:
        return sorted(self._by_url)
