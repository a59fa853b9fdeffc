"""Value sets: membership of one code (three-valued) and ``$expand`` where it can be enumerated.

A value set's ``compose`` is read as a predicate: a code is in it when an ``include`` holds and
no ``exclude`` does. An include holds when the system matches and its concept list, its
filters (``is-a``, ``descendent-of``, ``is-not-a``, ``generalizes``, ``=``, ``regex``, ``in``,
``not-in``, ``exists``) and its nested value sets all hold. Every step answers True, False or
*unknown* (None), and unknown is never turned into a verdict: a filter over a code system that
is not available locally, or a value set that is not loaded, makes the answer unknown, which
the policy (warn / trust-format / remote) then handles. Enumeration (``$expand``) is possible
when every include names concepts or a complete local code system.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .codesystems import CodeSystemIndex
from .formats import ISO_3166_2_SYSTEM, M49_SYSTEM, SYNTAX_CHECKS

_DECIDED_BY_GRAMMAR = (ISO_3166_2_SYSTEM, M49_SYSTEM)
"""Systems not held whose grammar decides membership inside a value set (MIME types are not among
them: FHIR's format names such as ``json`` are taken in the mimetypes value set, see the service)."""

Tri = bool | None
CodeSystemSource = Callable[[str], "CodeSystemIndex | None"]
ValueSetSource = Callable[[str], "dict[str, Any] | None"]
HierarchySource = Callable[[str], "Any | None"]
"""A bulk terminology for a system (SNOMED CT from RF2): has_concept, is_a, descendants, display."""


@dataclass
class Membership:
    contains: Tri
    reason: str = ""
    unknown_systems: set[str] = field(default_factory=set)
    """Code systems whose absence made the answer unknown (the policy decides what to do)."""


def _and(values: list[Tri]) -> Tri:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


class ValueSetEngine:
    def __init__(self, value_sets: ValueSetSource, code_systems: CodeSystemSource,
                 hierarchies: HierarchySource = lambda _url: None) -> None:
        self.value_sets = value_sets
        self.code_systems = code_systems
        self.hierarchies = hierarchies

    # -- membership -------------------------------------------------------------------------

    def contains(self, url: str, system: str | None, code: str, _seen: frozenset[str] = frozenset()) -> Membership:
        key = url.split("|", 1)[0]
        value_set = self.value_sets(key)
        if value_set is None or key in _seen:
            return Membership(None, f"the value set {url} is not available")
        compose = value_set.get("compose") or {}
        unknown: set[str] = set()
        included: Tri = False
        for include in compose.get("include") or []:
            verdict = self._include(include, system, code, _seen | {key}, unknown)
            if verdict is True:
                included = True
                break
            if verdict is None:
                included = None
        if not compose and value_set.get("expansion"):
            included = any((c.get("system"), c.get("code")) == (system, code) or (system is None and c.get("code") == code)
                           for c in _expansion_codes(value_set["expansion"].get("contains") or []))
        if included is not False:
            for exclude in compose.get("exclude") or []:
                verdict = self._include(exclude, system, code, _seen | {key}, unknown)
                if verdict is True:
                    return Membership(False, f"excluded by {url}", unknown)
                if verdict is None:
                    included = None
        reason = "" if included is not None else "could not be decided: " + ", ".join(sorted(unknown) or [url])
        return Membership(included, reason, unknown)

    def _include(self, include: dict[str, Any], system: str | None, code: str, seen: frozenset[str],
                 unknown: set[str]) -> Tri:
        parts: list[Tri] = []
        wanted = include.get("system")
        if wanted:
            if system is not None and system != wanted:
                return False
            parts.append(self._in_system(include, wanted, code, unknown))
        for nested in include.get("valueSet") or []:
            verdict = self.contains(nested, system, code, seen)
            unknown |= verdict.unknown_systems
            parts.append(verdict.contains)
        return _and(parts) if parts else False

    def _in_system(self, include: dict[str, Any], system: str, code: str, unknown: set[str]) -> Tri:
        concepts = include.get("concept") or []
        if concepts and not any(isinstance(c, dict) and c.get("code") == code for c in concepts):
            return False
        index = self.code_systems(system)
        bulk = self.hierarchies(system) if index is None else None
        filters = [f for f in include.get("filter") or [] if isinstance(f, dict)]
        if concepts and not filters:
            return True
        if index is None and bulk is None:
            syntax = SYNTAX_CHECKS.get(system) if system in _DECIDED_BY_GRAMMAR else None
            if syntax is not None and syntax(code):
                return False  # the system's grammar says it is no code of it, held or not
            unknown.add(system)
            return None
        results = [self._filter(f, code, index, bulk, system, unknown) for f in filters]
        if not filters:
            results.append(self._exists(code, index, bulk, system, unknown))
        return _and(results)

    @staticmethod
    def _exists(code: str, index: CodeSystemIndex | None, bulk: Any, system: str, unknown: set[str]) -> Tri:
        if index is not None:
            if index.get(code) is not None:
                return True
            if index.complete:
                return False
            unknown.add(system)
            return None
        return bool(bulk.has_concept(code))

    def _filter(self, spec: dict[str, Any], code: str, index: CodeSystemIndex | None, bulk: Any, system: str,
                unknown: set[str]) -> Tri:
        prop, op, value = spec.get("property"), spec.get("op"), str(spec.get("value", ""))
        hierarchy = prop in ("concept", "code", None) or prop in ("parent", "child") and op != "="
        if bulk is not None:
            if hierarchy and op in ("is-a", "descendent-of", "is-not-a", "in", "not-in", "="):
                return _bulk_filter(bulk, op, code, value)
            unknown.add(system)
            return None
        assert index is not None
        if index.get(code) is None:
            if index.complete:
                return False
            unknown.add(system)
            return None
        real = index.get(code).code  # type: ignore[union-attr]
        if hierarchy:
            if op == "is-a":
                return index.is_a(real, value)
            if op == "descendent-of":
                return real != value and index.is_a(real, value)
            if op == "is-not-a":
                return not index.is_a(real, value)
            if op == "generalizes":
                return index.is_a(value, real)
            if op == "in":
                return real in {v.strip() for v in value.split(",")}
            if op == "not-in":
                return real not in {v.strip() for v in value.split(",")}
            if op == "=":
                return real == value
            if op == "regex":
                return re.fullmatch(value, real) is not None
        concept = index.get(real)
        values = [str(v).lower() if isinstance(v, bool) else str(v) for v in concept.properties.get(str(prop), [])]  # type: ignore[union-attr]
        if op == "=":
            return value in values
        if op == "regex":
            return any(re.fullmatch(value, v) for v in values)
        if op == "in":
            return bool(set(values) & {v.strip() for v in value.split(",")})
        if op == "not-in":
            return not set(values) & {v.strip() for v in value.split(",")}
        if op == "exists":
            return bool(values) == (value.lower() == "true")
        unknown.add(system)
        return None

    # -- enumeration ------------------------------------------------------------------------

    def expand(self, url: str, _seen: frozenset[str] = frozenset()) -> tuple[list[dict[str, Any]] | None, str]:
        """The codes of a value set ({system, version?, code, display}), or None and why not."""
        key = url.split("|", 1)[0]
        value_set = self.value_sets(key)
        if value_set is None or key in _seen:
            return None, f"the value set {url} is not available"
        compose = value_set.get("compose")
        if not compose and value_set.get("expansion"):
            return list(_expansion_codes(value_set["expansion"].get("contains") or [])), ""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for include in (compose or {}).get("include") or []:
            codes, why = self._enumerate(include, _seen | {key})
            if codes is None:
                return None, why
            found.update(((c["system"], c["code"]), c) for c in codes)
        for exclude in (compose or {}).get("exclude") or []:
            codes, why = self._enumerate(exclude, _seen | {key})
            if codes is None:
                return None, why
            for c in codes:
                found.pop((c["system"], c["code"]), None)
        return list(found.values()), ""

    def certain_codes(self, url: str) -> tuple[list[dict[str, Any]] | None, str]:
        """Codes that are certainly in the value set, when it cannot be expanded in full: those of the
        includes that can be enumerated offline, less the excludes (None when an exclude cannot be
        enumerated, or nothing can). For drawing examples (samsvar.strategies), never for ``$expand``."""
        codes, why = self.expand(url)
        if codes is not None:
            return codes, why
        key = url.split("|", 1)[0]
        compose = (self.value_sets(key) or {}).get("compose") or {}
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for include in compose.get("include") or []:
            part, _ = self._enumerate(include, frozenset({key}))
            found.update(((c["system"], c["code"]), c) for c in part or [])
        for exclude in compose.get("exclude") or []:
            part, why = self._enumerate(exclude, frozenset({key}))
            if part is None:
                return None, why
            for c in part:
                found.pop((c["system"], c["code"]), None)
        return (list(found.values()), "") if found else (None, why)

    def _enumerate(self, include: dict[str, Any], seen: frozenset[str]) -> tuple[list[dict[str, Any]] | None, str]:
        system = include.get("system")
        codes: list[dict[str, Any]] | None = None
        if system:
            index = self.code_systems(system)
            if include.get("concept") and not include.get("filter"):
                codes = [{"system": system, "code": c["code"], "display": c.get("display") or _display(index, c["code"])}
                         for c in include["concept"] if isinstance(c, dict) and "code" in c]
            elif index is None or not index.complete:
                return None, f"the code system {system} is not available in full locally"
            else:
                codes = [{"system": system, "code": concept.code, "display": concept.display}
                         for concept in index.concepts.values()
                         if _and([self._filter(f, concept.code, index, None, system, set())
                                  for f in include.get("filter") or []]) is True]
        for nested in include.get("valueSet") or []:
            inner, why = self.expand(nested, seen)
            if inner is None:
                return None, why
            keys = {(c["system"], c["code"]) for c in inner}
            codes = inner if codes is None else [c for c in codes if (c["system"], c["code"]) in keys]
        return codes or [], ""


def _display(index: CodeSystemIndex | None, code: str) -> str | None:
    concept = index.get(code) if index else None
    return concept.display if concept else None


def _bulk_filter(bulk: Any, op: str, code: str, value: str) -> Tri:
    if not bulk.has_concept(code):
        return False
    if op == "is-a":
        return bool(bulk.is_a(code, value))
    if op == "descendent-of":
        return code != value and bool(bulk.is_a(code, value))
    if op == "is-not-a":
        return not bulk.is_a(code, value)
    if op == "in":
        return code in {v.strip() for v in value.split(",")}
    if op == "not-in":
        return code not in {v.strip() for v in value.split(",")}
    return code == value


def _expansion_codes(contains: list[Any]) -> Iterator[dict[str, Any]]:
    for item in contains:
        if isinstance(item, dict):
            if item.get("code"):
                yield {"system": item.get("system"), "code": item["code"], "display": item.get("display")}
            yield from _expansion_codes(item.get("contains") or [])
