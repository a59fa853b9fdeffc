"""Bindings: codes in required value sets, expanded locally from the loaded packages.

A value set expands here when its ``compose`` lists concepts, or includes whole code systems
that the packages define completely (``content = complete``), or other such value sets.
Filters and code systems that are not available (SNOMED CT, LOINC, ...) make the value set
"not expandable offline": the code is then reported as *could not be checked* (a warning),
never passed silently and never failed wrongly. The terminology service will deepen this.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..issues import Issue, Path, Severity
from ..rules import rule
from .definitions import Definitions
from .visit import Visit

NOT_IN_VALUE_SET = rule(
    "FHIR-BIND-001", "Code not in the required value set", Severity.ERROR,
    """
    The element has a *required* binding: its code must come from the value set. The value set
    was expanded from the loaded packages and the code is not in it.
    """,
    bad='{"resourceType": "Patient", "gender": "kvinne"}',
    good='{"resourceType": "Patient", "gender": "female"}',
)
NO_SYSTEM = rule(
    "FHIR-BIND-002", "Coding without a system in a required binding", Severity.ERROR,
    "A Coding bound to a required value set must say which code system its code comes from.",
    bad='{"code": {"coding": [{"code": "final"}]}}',
    good='{"code": {"coding": [{"system": "http://hl7.org/fhir/observation-status", "code": "final"}]}}',
)
NOT_CHECKED = rule(
    "FHIR-BIND-003", "Code could not be checked offline", Severity.WARNING,
    """
    The element has a required binding, but its value set cannot be expanded from the loaded
    packages (it uses a filter, or a code system such as SNOMED CT or LOINC that is not
    available locally), so the code was not checked. It is not reported as valid or invalid.
    """,
    bad="(a code bound to a value set over SNOMED CT, without SNOMED CT loaded)",
    good="(the same, with the code system loaded; or a value set with enumerated codes)",
)

Codes = frozenset[tuple[str, str]]
_CODING_TYPES = {"Coding", "CodeableConcept", "code", "Quantity"}


class Expander:
    """Local ``$expand`` of value sets into (system, code) pairs, or None when not possible."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions
        self._cache: dict[str, Codes | None] = definitions.memo.setdefault("expansions", {})

    def expand(self, url: str, _seen: frozenset[str] = frozenset()) -> Codes | None:
        key = url.split("|", 1)[0]
        if key in self._cache:
            return self._cache[key]
        if key in _seen:
            return None
        value_set = self.definitions.get(key)
        result = None if value_set is None else self._compose(value_set.get("compose") or {}, _seen | {key})
        self._cache[key] = result
        return result

    def _compose(self, compose: dict[str, Any], seen: frozenset[str]) -> Codes | None:
        included: set[tuple[str, str]] = set()
        for include in compose.get("include") or []:
            codes = self._include(include, seen)
            if codes is None:
                return None
            included |= codes
        for exclude in compose.get("exclude") or []:
            codes = self._include(exclude, seen)
            if codes is None:
                return None
            included -= codes
        return frozenset(included)

    def _include(self, include: dict[str, Any], seen: frozenset[str]) -> set[tuple[str, str]] | None:
        if include.get("filter"):
            return None
        system = include.get("system")
        codes: set[tuple[str, str]] | None = None
        if system:
            if include.get("concept"):
                codes = {(system, c["code"]) for c in include["concept"] if "code" in c}
            else:
                code_system = self.definitions.get(system)
                if code_system is None or code_system.get("content") != "complete":
                    return None
                codes = {(system, code) for code in _all_codes(code_system.get("concept") or [])}
        for value_set in include.get("valueSet") or []:
            nested = self.expand(value_set, seen)
            if nested is None:
                return None
            codes = set(nested) if codes is None else codes & nested
        return codes if codes is not None else set()


def _all_codes(concepts: list[dict[str, Any]]) -> Iterator[str]:
    stack = list(concepts)
    while stack:
        concept = stack.pop()
        if "code" in concept:
            yield concept["code"]
        stack.extend(concept.get("concept") or [])


class BindingChecker:
    """An element check for :class:`StructureChecker`: required bindings of coded elements."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions
        self.expander = Expander(definitions)

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        value, element, code, path, expression = visit.value, visit.element, visit.code, visit.path, visit.expression
        binding = element.get("binding")
        if not binding or binding.get("strength") != "required" or code not in _CODING_TYPES:
            return
        url = binding.get("valueSet")
        if not url:
            return
        expansion = self.expander.expand(url)
        label = self._label(url)
        if code == "code":
            if not isinstance(value, str):
                return
            if expansion is None:
                yield NOT_CHECKED.issue(f"The code '{value}' could not be checked: the value set {label} "
                                        "cannot be expanded offline.", path=path, expression=expression)
            elif value not in {c for _, c in expansion}:
                yield NOT_IN_VALUE_SET.issue(
                    f"The value provided ('{value}') was not found in the value set {label}, and a code is "
                    "required from this value set", path=path, expression=expression)
            return
        if code == "Quantity":
            if isinstance(value, dict) and value.get("code") and value.get("system"):
                yield from self._codings([value], expansion, label, path, expression, "Quantity")
            return
        codings = [value] if code == "Coding" else (value.get("coding") or [] if isinstance(value, dict) else [])
        codings = [c for c in codings if isinstance(c, dict) and c.get("code")]
        if codings:
            yield from self._codings(codings, expansion, label, path, expression, code)

    def _codings(self, codings: list[dict[str, Any]], expansion: Codes | None, label: str, path: Path,
                 expression: str, code: str) -> Iterator[Issue]:
        for coding in codings:
            if not coding.get("system"):
                yield NO_SYSTEM.issue(f"The Coding with code '{coding['code']}' has no system, so it cannot be "
                                      f"checked against the required value set {label}", path=path,
                                      expression=expression)
                return
        if expansion is None:
            yield NOT_CHECKED.issue(f"The code could not be checked: the value set {label} cannot be expanded "
                                    "offline.", path=path, expression=expression)
            return
        if not any((c["system"], c["code"]) in expansion for c in codings):
            shown = ", ".join(f"{c['system']}#{c['code']}" for c in codings)
            what = "None of the codings provided are" if len(codings) > 1 else f"The code {shown} is"
            yield NOT_IN_VALUE_SET.issue(f"{what} in the value set {label}, and a code from this value set is "
                                         "required", path=path, expression=expression)

    def _label(self, url: str) -> str:
        value_set = self.definitions.get(url)
        name = value_set.get("name") if value_set else None
        return f"'{name}' ({url})" if name else f"({url})"
