"""Conformance resources by canonical URL, from installed packages and ``--ig`` files.

Only package indexes are read up front; a resource is parsed the first time it is asked for.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

FHIR_SD = "http://hl7.org/fhir/StructureDefinition/"


from .elements import (  # noqa: F401 - the element primitives, re-exported for the checks
    FHIR_TYPE_EXT, PROFILE_ELEMENT_EXT, REGEX_EXT, ChildMap, Context, ElementDefinition, element_key, is_primitive,
    type_code, type_codes, type_profiles,
)


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
        self._naming_systems: list[_Entry] = []
        """NamingSystems (R4's have no url; they are found by their uniqueIds, see :meth:`naming_system_uris`)."""
        self._lock = threading.RLock()
        self._generating: set[str] = set()
        for package in packages:
            for meta in package.index:
                if meta.get("resourceType") == "NamingSystem":
                    self._naming_systems.append(_Entry(package, meta.get("filename"), meta))
                self._add(_Entry(package, meta.get("filename"), meta))
        for resource in resources:
            self.add_resource(resource)

    def with_resources(self, resources: Iterable[dict[str, Any]]) -> "Definitions":
        """A copy of these definitions with ``resources`` added as loose resources (the earlier of
        two with one URL wins); this object is left as it is. Derived caches start empty."""
        other = Definitions.__new__(Definitions)
        with self._lock:
            other._by_url, other._loaded = dict(self._by_url), dict(self._loaded)
            other.resource_types, other.type_kinds = set(self.resource_types), dict(self.type_kinds)
            other._naming_systems = list(self._naming_systems)
        other._elements, other.memo = {}, {}
        other._lock, other._generating = threading.RLock(), set()
        for resource in reversed(list(resources)):
            other.add_resource(resource)
        return other

    def _add(self, entry: _Entry) -> None:
        url = entry.meta.get("url")
        if not url:
            return
        # Later packages and loose files override earlier ones, as ``--ig`` order promises.
        self._by_url[url] = entry
        self.memo.pop("fingerprint", None)
        self.memo.pop("contexts", None)
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
            resource = self._with_contained(url, resource)
            self._add(_Entry(None, None, meta))
            self._loaded[url] = resource

    def _with_contained(self, url: str, resource: dict[str, Any]) -> dict[str, Any]:
        """A profile's contained value sets and code systems, addressable as ``url#id``, and its
        bindings to ``#id`` pointed at them (HL7's validator resolves a binding to a contained
        value set in the profile that contains it). The resource is copied before it is changed."""
        contained = {item.get("id"): item for item in resource.get("contained") or []
                     if isinstance(item, dict) and item.get("resourceType") in ("ValueSet", "CodeSystem")
                     and isinstance(item.get("id"), str)}
        if not contained or resource.get("resourceType") != "StructureDefinition":
            return resource
        for local_id, item in contained.items():
            copy = {**item, "url": f"{url}#{local_id}"}
            self._add(_Entry(None, None, {"resourceType": item.get("resourceType"), "url": copy["url"]}))
            self._loaded[copy["url"]] = copy
        resource = dict(resource)
        for part in ("snapshot", "differential"):
            elements = (resource.get(part) or {}).get("element")
            if not isinstance(elements, list):
                continue
            rewritten = []
            for element in elements:
                binding = element.get("binding") if isinstance(element, dict) else None
                target = binding.get("valueSet") if isinstance(binding, dict) else None
                if isinstance(target, str) and target.startswith("#") and target[1:] in contained:
                    element = {**element, "binding": {**binding, "valueSet": f"{url}{target}"}}
                rewritten.append(element)
            resource[part] = {**resource[part], "element": rewritten}
        return resource

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
        url = type_or_url if ("/" in type_or_url or ":" in type_or_url) else FHIR_SD + type_or_url
        return self.get(url)

    def snapshot_elements(self, type_or_url: str) -> list[ElementDefinition] | None:
        """The snapshot of a type or profile; generated from the differential when it has none."""
        cache: dict[str, list[ElementDefinition] | None] = self.memo.setdefault("snapshots", {})
        if type_or_url in cache:
            return cache[type_or_url]
        with self._lock:  # one thread generates; the others wait for its snapshot instead of a half-made one
            if type_or_url in cache:
                return cache[type_or_url]
            if type_or_url in self._generating:
                return None  # a profile based on itself
            self._generating.add(type_or_url)
            try:
                sd = self.structure_definition(type_or_url)
                result: list[ElementDefinition] | None = None
                if sd is not None:
                    result = (sd.get("snapshot") or {}).get("element") or None
                    if result is None:
                        result = self._generate(sd, type_or_url)
            finally:
                self._generating.discard(type_or_url)
            cache[type_or_url] = result
            return result

    def _generate(self, sd: dict[str, Any], key: str) -> list[ElementDefinition] | None:
        from .snapshot import generate

        problems: dict[str, list[str]] = self.memo.setdefault("snapshot-problems", {})
        base_url = sd.get("baseDefinition")
        differential = (sd.get("differential") or {}).get("element")
        base_type = str(base_url or "").split("|", 1)[0].rsplit("/", 1)[-1]
        # "specialization" of a type by itself is a mislabelled constraint; HL7's tools read it so
        constraint = sd.get("derivation", "constraint") == "constraint" or sd.get("type") == base_type
        if not constraint or not base_url or not differential:
            problems[key] = ["it has no snapshot, and is not a constraint on a base with a differential"]
            return None
        base = self.snapshot_elements(str(base_url).split("|", 1)[0])
        if base is None:
            problems[key] = [f"its base {base_url} is not available"]
            return None
        from ..cache import snapshot_key, store

        cache = store("snapshots")  # on disk, keyed by everything loaded and the generator's source
        cache_key = snapshot_key(self.fingerprint(), key) if cache.enabled else None
        cached = cache.get(cache_key) if cache_key else None
        if isinstance(cached, list):
            return cached
        snapshot = generate(sd, base, self.snapshot_elements)
        if snapshot.problems:
            problems[key] = snapshot.problems
            return None
        if cache_key:
            cache.put(cache_key, snapshot.elements)
        return snapshot.elements

    def fingerprint(self) -> str:
        """What these definitions are made of (package hashes, loose resources), for disk caches."""
        found = self.memo.get("fingerprint")
        if found is None:
            from ..cache import definitions_fingerprint

            packages = list(dict.fromkeys(e.package for e in self._by_url.values() if e.package is not None))
            loose = [self._loaded[url] for url, e in sorted(self._by_url.items())
                     if e.package is None and url in self._loaded]
            found = self.memo["fingerprint"] = definitions_fingerprint(packages, loose)
        return found

    def snapshot_problems(self, type_or_url: str) -> list[str]:
        """Why :meth:`snapshot_elements` gave nothing for a differential-only profile."""
        problems: dict[str, list[str]] = self.memo.get("snapshot-problems", {})
        return problems.get(type_or_url, [])

    def elements(self, type_or_url: str) -> dict[str, dict[str, Any]] | None:
        """Snapshot element definitions of a StructureDefinition, by element id (slices included)."""
        if type_or_url in self._elements:
            return self._elements[type_or_url]
        snapshot = self.snapshot_elements(type_or_url)
        if snapshot is None:
            return None
        by_id: dict[str, dict[str, Any]] = {}
        for element in snapshot:
            by_id.setdefault(str(element.get("id") or element["path"]), element)
        self._elements[type_or_url] = by_id
        return by_id

    def context(self, type_or_url: str) -> Context | None:
        """The root context of a type or profile (kept: the walk asks for it per value entered)."""
        cache: dict[str, Context | None] = self.memo.setdefault("contexts", {})
        if type_or_url in cache:
            return cache[type_or_url]
        sd = self.structure_definition(type_or_url)
        elements = self.elements(type_or_url)
        if sd is None or elements is None:
            found = None
        else:
            found = Context(elements, next(iter(elements), sd.get("type", "")), str(sd.get("url", "")))
        if sd is not None:  # (what is not loaded yet may still be added)
            cache[type_or_url] = found
        return found

    def children(self, ctx: Context) -> ChildMap:
        """Child names allowed at ``ctx`` (choices expanded: ``valueQuantity``), cached."""
        cache: dict[tuple[int, str], ChildMap] = self.memo.setdefault("children", {})
        key = (id(ctx.elements), ctx.path)
        found = cache.get(key)
        if found is None:
            found = {}
            prefix = ctx.path + "."
            for id_, element in ctx.elements.items():
                tail = id_[len(prefix):]
                if not id_.startswith(prefix) or "." in tail or ":" in tail:
                    continue  # deeper, or a slice (see :meth:`slices`)
                codes = type_codes(element)
                if tail.endswith("[x]"):
                    for code in codes:
                        found[tail[:-3] + code[:1].upper() + code[1:]] = (element, code)
                else:
                    found[tail] = (element, codes[0] if len(codes) == 1 else None)
            cache[key] = found
        return found

    def child_elements(self, ctx: Context) -> list[ElementDefinition]:
        """The direct child element definitions at ``ctx``, once each, in definition order."""
        seen: dict[str, ElementDefinition] = {}
        for element, _ in self.children(ctx).values():
            seen.setdefault(element_key(element), element)
        return list(seen.values())

    def descend(self, ctx: Context, element: ElementDefinition, code: str | None) -> Context | None:
        """The context for the content of ``element`` (of type ``code``) found at ``ctx``."""
        here = Context(ctx.elements, element_key(element), ctx.url)
        reference = element.get("contentReference")
        if reference:  # unless a profile constrained this element's children itself
            return here if self.children(here) else Context(ctx.elements, reference.split("#", 1)[1], ctx.url)
        if code is None or code in ("BackboneElement", "Element") and self.children(here):
            return here
        if ctx.elements is not (self.elements(code) or {}) and self.children(here):
            return here  # a profile's snapshot that constrains this element's children itself
        if code != "Extension":  # extensions are checked against their definition by url
            profiles = self.type_profiles(element, code)
            if len(profiles) == 1:
                profiled = self.profile_context(*profiles[0])
                if profiled is not None:
                    return profiled
        return self.context(code)

    type_profiles = staticmethod(type_profiles)

    def profile_context(self, url: str, element_id: str | None = None) -> Context | None:
        """The context of a profile, or of one element inside it."""
        ctx = self.context(url)
        if ctx is None or element_id is None:
            return ctx
        return Context(ctx.elements, element_id, ctx.url) if element_id in ctx.elements else None

    def slices(self, ctx: Context, element: ElementDefinition) -> list[ElementDefinition]:
        """The slices defined on ``element`` in the snapshot of ``ctx``, in definition order."""
        cache: dict[tuple[int, str], list[ElementDefinition]] = self.memo.setdefault("slices", {})
        own = element_key(element)
        key = (id(ctx.elements), own)
        found = cache.get(key)
        if found is None:
            prefix = own + ":"
            found = [e for id_, e in ctx.elements.items()
                     if id_.startswith(prefix) and not any(c in id_[len(prefix):] for c in ".:/")]
            cache[key] = found
        return found

    def primitive_regex(self, code: str) -> str | None:
        """The regex the core StructureDefinition of a primitive type gives its value."""
        cache: dict[str, str | None] = self.memo.setdefault("regex", {})
        if code not in cache:
            elements = self.elements(code) or {}
            value = elements.get(f"{code}.value") or {}
            regex = None
            for type_ in value.get("type") or []:
                for ext in type_.get("extension") or []:
                    if ext.get("url") == REGEX_EXT:
                        regex = ext.get("valueString")
            cache[code] = regex
        return cache[code]

    def global_profiles(self, resource_type: str) -> list[str]:
        """Profiles the loaded ImplementationGuides declare for every resource of a type (``global``)."""
        table: dict[str, list[str]] | None = self.memo.get("globals")
        if table is None:
            table = {}
            for url, entry in list(self._by_url.items()):
                if entry.meta.get("resourceType") != "ImplementationGuide":
                    continue
                for item in (self.get(url) or {}).get("global") or []:
                    if isinstance(item, dict) and isinstance(item.get("type"), str) and isinstance(item.get("profile"), str):
                        table.setdefault(item["type"], []).append(item["profile"])
            self.memo["globals"] = table
        return table.get(resource_type, [])

    def source(self, url: str) -> str | None:
        """The package (``id#version``) a canonical resource came from, or None for a loose file."""
        entry = self._by_url.get(url.split("|", 1)[0])
        package = entry.package if entry else None
        return getattr(package, "ref", None) if package is not None else None

    def package_of(self, url: str) -> PackageLike | None:
        """The package a canonical resource came from, or None for a loose file or an unknown URL."""
        entry = self._by_url.get(url.split("|", 1)[0])
        return entry.package if entry is not None else None

    def requirement_hint(self, url: str) -> str | None:
        """What the package of ``url`` needs that may be missing (samsvar's own profiles name the
        package they build on), or None."""
        entry = self._by_url.get(url.split("|", 1)[0])
        return getattr(entry.package, "requires_hint", None) if entry and entry.package is not None else None

    def resource_type(self, url: str) -> str | None:
        entry = self._by_url.get(url.split("|", 1)[0])
        return entry.meta.get("resourceType") if entry else None

    def naming_system_uris(self) -> frozenset[str]:
        """Every ``uri`` uniqueId of the loaded NamingSystems (identifier and code system namespaces),
        read once, on first use."""
        found = self.memo.get("naming-system-uris")
        if found is None:
            uris: set[str] = set()
            for entry in self._naming_systems:
                if entry.package is None or entry.filename is None:
                    continue
                try:
                    resource = entry.package.load(entry.filename)
                except (OSError, ValueError):
                    continue
                for unique in resource.get("uniqueId") or []:
                    if isinstance(unique, dict) and unique.get("type") == "uri" and isinstance(unique.get("value"), str):
                        uris.add(unique["value"])
            found = self.memo["naming-system-uris"] = frozenset(uris)
        return found

    def canonicals(self) -> list[str]:
        return sorted(self._by_url)


def loops_back(url: str, base: Any, lookup: Callable[[str], dict[str, Any] | None], field: str) -> str | None:
    """Whether following ``field`` (``base``, ``baseDefinition``) from definition to definition,
    starting at ``base``, comes back to ``url``: the canonical that points back at it (``url``
    itself for a definition based on itself), else None. The chain goes through loaded
    definitions only, as HL7's validator follows it: ``lookup`` gives the definition of a
    canonical (None: not loaded, the chain ends, and a definition based on itself that is not
    loaded is not found circular here); a loop among other definitions ends it too."""
    last = url
    seen: set[str] = set()
    while isinstance(base, str):
        key = base.split("|", 1)[0]
        if key in seen:
            return None
        seen.add(key)
        found = lookup(key)
        if found is None:
            return None
        if found.get("url") == url:
            return last
        last, base = key, found.get(field)
    return None
