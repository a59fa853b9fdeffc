"""Bindings and codes, judged by the terminology service (``samsvar.validators.terminology``).

Required bindings: a code from the value set, else an error; extensible bindings: a warning
when none of the codes is in the value set. Every Coding whose code system is loaded in full
has a code of that system and one of its displays. Where the service cannot decide (a code
system not available offline), the policy's answer is reported: *could not be checked* (warn),
a format verdict (trust-format) or the terminology server's (remote); never a silent pass.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..issues import Issue, Severity
from ..rules import declared
from .definitions import Definitions
from .visit import Visit

NOT_IN_VALUE_SET = declared("FHIR-BIND-001")
NO_SYSTEM = declared("FHIR-BIND-002")
NOT_CHECKED = declared("FHIR-BIND-003")

NOT_IN_EXTENSIBLE = declared("FHIR-BIND-004")
UNKNOWN_CODE = declared("FHIR-TX-001")
WRONG_DISPLAY = declared("FHIR-TX-002")
BAD_FORMAT = declared("FHIR-TX-003")
SERVER_DOWN = declared("FHIR-TX-004")
FORMAT_ONLY = declared("FHIR-TX-005")

_CODING_TYPES = {"Coding", "CodeableConcept", "code", "Quantity"}


def terminology(definitions: Definitions) -> Any:
    """The terminology service of these definitions (the runner installs one with its policy)."""
    service = definitions.memo.get("terminology")
    if service is None:
        from ..terminology.service import TerminologyService

        service = definitions.memo["terminology"] = TerminologyService(definitions)
    return service


OWN_LISTS = "samsvar.profiles#local"
"""The package ref of samsvar's own terminology (``profiles/terminology``: Volven lists from the public
viewer, current codes only)."""
STANDARD_LISTS = frozenset({"urn:iso:std:iso:3166"})
"""Code systems in samsvar's own terminology that are the standard's whole list (ISO 3166-1), not a
viewer's copy: an unknown code there is an error, as for any code system loaded in full."""


def partial_own_list(definitions: Definitions, system: Any) -> bool:
    """A code system of samsvar's own that may lack codes (a Volven list from the public viewer)."""
    return isinstance(system, str) and system not in STANDARD_LISTS and definitions.source(system) == OWN_LISTS


class BindingChecker:
    """An element check for :class:`StructureChecker`: required and extensible bindings."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions
        self.service = terminology(definitions)
        self.displays_from_value_sets: set[str] = set()
        """Expressions of Codings whose display the bound value set itself gives (its expansion's or
        its concept list's display or designations): HL7's validator accepts these displays, so a
        wrong-display finding of the code system (FHIR-TX-002) is dropped there."""
        self._verdicts: dict[tuple[str | None, str, str], Any] = {}
        """The verdict of each (system, code, value set) met in this resource: a Bundle or a profile's walk
        asks for the same few codes thousands of times. Offline answers only (a server may change its mind)."""
        self._remember = self.service.offline
        self._additional: dict[int, tuple[Any, list[dict[str, Any]]]] = {}
        """The additional bindings of each binding met (by identity): read from its extensions once."""

    @staticmethod
    def relevant(element: dict[str, Any], code: str | None) -> bool:
        """Whether values of this element can break a binding (asked once per element and type)."""
        binding = element.get("binding")
        return bool(binding) and code in _CODING_TYPES and (
            binding.get("strength") in ("required", "extensible") and bool(binding.get("valueSet"))
            or bool(additional_bindings(binding)))

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        yield from self._base(visit)
        binding = visit.element.get("binding")
        if binding and visit.code in _CODING_TYPES:
            found = self._additional.get(id(binding))
            if found is None or found[0] is not binding:
                found = self._additional[id(binding)] = (binding, additional_bindings(binding))
            for additional in found[1]:
                yield from self._additional_binding(visit, additional)

    def _additional_binding(self, visit: Visit, additional: dict[str, Any]) -> Iterator[Issue]:
        """An additional binding (R5's ``binding.additional``, in R4 as an extension), with HL7's
        severities: purpose ``required`` or ``maximum`` an error when no code is in the value set,
        ``extensible`` a warning, ``preferred`` information; other purposes (candidate, current,
        ui, starter, component) are documentation. One with a usage context applies only where
        the instance has the value the context names (samsvar judges the profile's own usage
        codes; others it cannot tell and leaves alone)."""
        strength = _ADDITIONAL_STRENGTH.get(str(additional.get("purpose")))
        url = additional.get("valueSet")
        if strength is None or not isinstance(url, str) or not _in_scope(additional.get("usage") or [], visit):
            return
        codings = _codings(visit.value, visit.code)
        if not codings:
            return
        verdicts = [self._in_value_set(system, item, url) for system, item, _ in codings]
        if any(v.valid is True for v in verdicts) or not all(v.valid is False for v in verdicts):
            return  # in the value set, or not decidable offline (the base binding's checks say so)
        shown = ", ".join(f"{s}#{c}" if s else c for s, c, _ in codings)
        label = self._label(url)
        where = {"path": visit.path, "expression": visit.expression}
        if strength == "required":
            yield NOT_IN_VALUE_SET.issue(f"None of the codings provided are in the value set {label} specified in an "
                                         f"additional binding, and a coding from this value set is required "
                                         f"(codes = {shown})", **where)
        elif strength == "extensible":
            yield NOT_IN_EXTENSIBLE.issue(f"None of the codings provided are in the value set {label} specified in an "
                                          f"additional binding, and a coding should come from this value set unless it "
                                          f"has no suitable code (codes = {shown})", **where)
        else:
            yield NOT_IN_EXTENSIBLE.issue(f"None of the codings provided are in the value set {label} specified in an "
                                          f"additional binding, and a coding is recommended to come from this value set "
                                          f"(codes = {shown})", severity=Severity.INFORMATION, **where)

    def _base(self, visit: Visit) -> Iterator[Issue]:
        value, element, code = visit.value, visit.element, visit.code
        binding = element.get("binding")
        if not binding or code not in _CODING_TYPES or binding.get("strength") not in ("required", "extensible"):
            return
        url = binding.get("valueSet")
        if not url:
            return
        where = {"path": visit.path, "expression": visit.expression}
        required = binding.get("strength") == "required"
        codings = _codings(value, code)
        if not codings:
            return
        self._note_displays(url, value, code, visit.expression)
        if required:
            for system, item, _ in codings:
                if system is None and code != "code":
                    yield NO_SYSTEM.issue(f"The Coding with code '{item}' has no system, so it cannot be checked "
                                          f"against the required value set {self._label(url)}", **where)
                    return
        verdicts = [self._in_value_set(system, item, url) for system, item, _ in codings]
        if any(v.valid is True for v in verdicts):
            return
        label = self._label(url)  # (for the messages only)
        if all(v.valid is False for v in verdicts):
            if not required:
                yield NOT_IN_EXTENSIBLE.issue(f"None of the codes provided are in the value set {label}, and a code "
                                              "should come from this value set unless it has no suitable code", **where)
                return
            if code == "Quantity":
                # a unit: HL7's validator holds no UCUM code system offline and only warns here (the
                # vital-signs units of Observation.component.value[x]); samsvar does not block on it either
                shown = ", ".join(f"{s}#{c}" for s, c, _ in codings)
                yield NOT_IN_VALUE_SET.issue(f"The unit {shown} is not in the value set {label}, and a unit should "
                                             "come from this value set", severity=Severity.WARNING, **where)
                return
            if code == "code":
                yield NOT_IN_VALUE_SET.issue(f"The value provided ('{codings[0][1]}') was not found in the value set "
                                             f"{label}, and a code is required from this value set", **where)
            else:
                shown = ", ".join(f"{s}#{c}" for s, c, _ in codings)
                what = "None of the codings provided are" if len(codings) > 1 else f"The code {shown} is not"
                unknown_to_ours = self._unknown_to_own_lists(codings)
                note = (" (samsvar's copy of this list comes from the public viewer and has no retired codes: check "
                        "that the code is current)") if unknown_to_ours else ""
                yield NOT_IN_VALUE_SET.issue(f"{what} in the value set {label}, and a code from this value set is "
                                             "required" + note, severity=Severity.WARNING if unknown_to_ours else None,
                                             **where)
            for verdict in verdicts:
                if verdict.kind == "format-error":
                    yield BAD_FORMAT.issue(verdict.message, **where)
            return
        if required:
            yield from _undecided(verdicts, label, where)

    def _in_value_set(self, system: Any, code: str, url: Any) -> Any:
        """The service's verdict on a code in a value set, remembered for this resource."""
        if not (self._remember and isinstance(url, str) and (system is None or isinstance(system, str))):
            return self.service.validate_code(system, code, None, url)
        key = (system, code, url)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._verdicts[key] = self.service.validate_code(system, code, None, url)
        return verdict

    def _note_displays(self, url: str, value: Any, code: str | None, expression: str) -> None:
        if code not in ("Coding", "CodeableConcept") or not isinstance(value, dict):
            return
        items = [(expression, value)] if code == "Coding" else [
            (f"{expression}.coding[{n}]", c) for n, c in enumerate(value.get("coding") or []) if isinstance(c, dict)]
        value_set = None
        for where, coding in items:
            display = coding.get("display")
            if not isinstance(display, str) or not isinstance(coding.get("code"), str):
                continue
            if value_set is None:
                value_set = self.definitions.get(url) or {}
            if display.strip() in value_set_displays(value_set, coding.get("system"), coding["code"]):
                self.displays_from_value_sets.add(where)

    def _unknown_to_own_lists(self, codings: list[tuple[Any, Any, Any]]) -> bool:
        """Every code is missing from a code system of samsvar's own (a Volven list from the public
        viewer, current codes only): it may be a retired code, so not-in-the-value-set is a warning, as
        for unknown codes of those lists (FHIR-TX-001). A code the list has but the value set leaves out
        stays an error."""
        for system, item, _ in codings:
            if not partial_own_list(self.definitions, system):
                return False
            verdict = self.service.validate_code(system, item, None)
            if not (verdict.valid is False and verdict.kind == "unknown-code"):
                return False
        return True

    def _label(self, url: str) -> str:
        value_set = self.definitions.get(url)
        name = value_set.get("name") if value_set else None
        return f"'{name}' ({url})" if name else f"({url})"


ADDITIONAL_BINDING_EXTENSIONS = (
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.binding.additional",
    "http://hl7.org/fhir/tools/StructureDefinition/additional-binding")
"""R5's ``ElementDefinition.binding.additional`` in R4: the cross-version extension and HL7's tooling one."""
_ADDITIONAL_STRENGTH = {"required": "required", "maximum": "required", "extensible": "extensible",
                        "preferred": "preferred"}
"""The additional-binding purposes HL7's validator tests, as binding strengths."""


def additional_bindings(binding: dict[str, Any]) -> list[dict[str, Any]]:
    """The additional bindings of a binding: ``{purpose, valueSet, usage: [UsageContext], any}``."""
    found = []
    for extension in binding.get("extension") or []:
        if not isinstance(extension, dict) or extension.get("url") not in ADDITIONAL_BINDING_EXTENSIONS:
            continue
        parts: dict[str, Any] = {"usage": []}
        for part in extension.get("extension") or []:
            if not isinstance(part, dict):
                continue
            name = part.get("url")
            value = next((v for k, v in part.items() if k.startswith("value")), None)
            if name == "usage":
                parts["usage"].append(value)
            elif isinstance(name, str):
                parts[name] = value
        found.append(parts)
    return found


def _in_scope(usages: list[Any], visit: Visit) -> bool:
    """Every usage context of an additional binding holds for the instance: its code names an
    element of the resource (``Observation.category``) whose value matches the context's."""
    for usage in usages:
        if not isinstance(usage, dict) or not isinstance(usage.get("code"), dict):
            return False
        path = str(usage["code"].get("code") or "")
        wanted = usage.get("valueCodeableConcept") or usage.get("valueCoding")
        if not path or not isinstance(wanted, dict) or not _data_matches(visit.resource, path, wanted):
            return False
    return True


def _data_matches(resource: dict[str, Any], path: str, wanted: dict[str, Any]) -> bool:
    steps = path.split(".")
    if steps[0] != resource.get("resourceType"):
        return False
    values: list[Any] = [resource]
    for step in steps[1:]:
        values = [v for item in values if isinstance(item, dict)
                  for v in (item.get(step) if isinstance(item.get(step), list) else [item.get(step)]) if v is not None]
    targets = [c for c in (wanted.get("coding") or [wanted]) if isinstance(c, dict)]
    for value in values:
        codings = [c for c in (value.get("coding") or [value]) if isinstance(c, dict)] if isinstance(value, dict) else []
        if any(c.get("system") == t.get("system") and c.get("code") == t.get("code") for c in codings for t in targets):
            return True
    return False


def value_set_displays(value_set: dict[str, Any], system: Any, code: str) -> set[str]:
    """The displays a value set itself gives a code: its expansion's and its concept lists'
    displays and designations (in any language)."""
    found: set[str] = set()

    def take(item: dict[str, Any]) -> None:
        if isinstance(item.get("display"), str):
            found.add(item["display"].strip())
        for designation in item.get("designation") or []:
            if isinstance(designation, dict) and isinstance(designation.get("value"), str):
                found.add(designation["value"].strip())

    stack = list((value_set.get("expansion") or {}).get("contains") or [])
    while stack:
        item = stack.pop()
        if not isinstance(item, dict):
            continue
        stack.extend(item.get("contains") or [])
        if item.get("code") == code and item.get("system") in (system, None):
            take(item)
    for include in (value_set.get("compose") or {}).get("include") or []:
        if not isinstance(include, dict) or include.get("system") not in (system, None):
            continue
        for concept in include.get("concept") or []:
            if isinstance(concept, dict) and concept.get("code") == code:
                take(concept)
    return found


def _undecided(verdicts: list[Any], label: str, where: dict[str, Any]) -> Iterator[Issue]:
    """What the policy made of codes that could not be decided locally."""
    for verdict in verdicts:
        if verdict.valid is False and verdict.kind == "format-error":
            yield BAD_FORMAT.issue(verdict.message, **where)
    kinds = {v.kind for v in verdicts if v.valid is None}
    if "server-down" in kinds:
        yield SERVER_DOWN.issue(next(v.message for v in verdicts if v.kind == "server-down"), **where)
    elif kinds == {"format-only"}:
        yield FORMAT_ONLY.issue(next(v.message for v in verdicts if v.kind == "format-only"), **where)
    elif kinds:
        first = next(v for v in verdicts if v.valid is None)
        yield NOT_CHECKED.issue(f"{first.message.rstrip('.')}; the required value set is {label}.", **where)


def codings_of(value: Any) -> list[tuple[str | None, str, str | None]]:
    """(system, code, display) of a code, Coding or CodeableConcept, told apart by their shape."""
    if isinstance(value, str):
        return _codings(value, "code")
    return _codings(value, "CodeableConcept" if isinstance(value, dict) and "coding" in value else "Coding")


def _codings(value: Any, code: str | None) -> list[tuple[str | None, str, str | None]]:
    """(system, code, display) of a coded value."""
    if code == "code":
        return [(None, value, None)] if isinstance(value, str) else []
    if not isinstance(value, dict):
        return []
    if code == "Quantity":
        return [(value.get("system"), value["code"], None)] if value.get("code") and value.get("system") else []
    items = [value] if code == "Coding" else [c for c in value.get("coding") or [] if isinstance(c, dict)]
    return [(c.get("system"), c["code"], c.get("display")) for c in items if isinstance(c.get("code"), str)]


QUANTITY_TYPES = ("Quantity", "Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity")
URI_SYSTEM = "urn:ietf:rfc:3986"
"""The code system whose codes are URIs (terminologies.html: a code is any absolute URI)."""
_URI_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")


class CodingChecker:
    """An element check: every Coding whose code system is loaded in full has a real code and display."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions
        self.service = terminology(definitions)

    @staticmethod
    def relevant(element: dict[str, Any], code: str | None) -> bool:
        return (code == "Coding" or code in QUANTITY_TYPES) and element.get("path") not in ("Coding", *QUANTITY_TYPES)

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        if not isinstance(visit.value, dict) or visit.element.get("path") in ("Coding", *QUANTITY_TYPES):
            return  # (not again for the datatype's own constraints)
        if visit.code in QUANTITY_TYPES:
            yield from self._quantity(visit)
            return
        if visit.code != "Coding":
            return
        system, code, display = visit.value.get("system"), visit.value.get("code"), visit.value.get("display")
        if not isinstance(system, str) or not isinstance(code, str):
            return
        if system == URI_SYSTEM:
            if not _URI_CODE.match(code):
                yield UNKNOWN_CODE.issue(f"Unknown code '{code}' in the CodeSystem '{URI_SYSTEM}': its codes are "
                                         "absolute URIs (RFC 3986)", path=(*visit.path, "code"),
                                         expression=f"{visit.expression}.code")
            return
        index = self.service.code_system(system)
        if index is None:
            return  # not available locally: bindings and the policy decide what to say
        verdict = self.service.validate_code(system, code, display if isinstance(display, str) else None)
        ours = partial_own_list(self.definitions, system)
        if verdict.valid is False and verdict.kind == "unknown-code":
            note = (" (samsvar's copy of this list comes from the public viewer and has no retired codes: check "
                    "that the code is current)") if ours else ""
            yield UNKNOWN_CODE.issue(verdict.message + note, path=(*visit.path, "code"),
                                     expression=f"{visit.expression}.code", severity=Severity.WARNING if ours else None)
        elif verdict.display_ok is False:
            choices = " or ".join(f"'{d}'" for d in verdict.displays[:6])
            # ISO 3166's names exist in several forms ("United States of America (the)"); samsvar
            # holds the short, official and common names, so another form is only a warning
            standard = system in STANDARD_LISTS
            note = (" (samsvar holds the short, official and common English names; the standard's texts exist in "
                    "other forms too)") if standard else ""
            yield WRONG_DISPLAY.issue(
                f"Wrong Display Name '{display}' for {system}#{code}. Valid display is {choices}{note}",
                path=(*visit.path, "display"), expression=f"{visit.expression}.display",
                severity=Severity.WARNING if ours or standard else None)

    def _quantity(self, visit: Visit) -> Iterator[Issue]:
        """A Quantity's code, where its system is a code system loaded in full (UCUM is not: its
        units are a grammar, not a list, and like HL7's validator offline samsvar does not judge them)."""
        system, code = visit.value.get("system"), visit.value.get("code")
        if not isinstance(system, str) or not isinstance(code, str) or self.service.code_system(system) is None:
            return
        verdict = self.service.validate_code(system, code, None)
        if verdict.valid is False and verdict.kind == "unknown-code":
            ours = partial_own_list(self.definitions, system)
            yield UNKNOWN_CODE.issue(verdict.message, path=(*visit.path, "code"), expression=f"{visit.expression}.code",
                                     severity=Severity.WARNING if ours else None)
