"""Bindings and codes, judged by the terminology service (``samsvar.validators.terminology``).

Required bindings: a code from the value set, else an error; extensible bindings: a warning
when none of the codes is in the value set. Every Coding whose code system is loaded in full
has a code of that system and one of its displays. Where the service cannot decide (a code
system not available offline), the policy's answer is reported: *could not be checked* (warn),
a format verdict (trust-format) or the terminology server's (remote); never a silent pass.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..issues import Issue, Severity
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

NOT_IN_EXTENSIBLE = rule(
    "FHIR-BIND-004", "Code not in the extensible value set", Severity.WARNING,
    """
    The element has an *extensible* binding: a code from the value set must be used when one
    fits, and other codes only when none does. None of the codes given is in the value set.
    """,
    bad='(Observation.category, extensible) {"coding": [{"system": "http://example.no/kategori", "code": "x"}]}',
    good='{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}',
)
UNKNOWN_CODE = rule(
    "FHIR-TX-001", "Code not in its code system", Severity.ERROR,
    """
    The Coding names a code system that is loaded in full (a CodeSystem with content
    ``complete``), and the code is not one of its codes: a typo, a retired code or the wrong system.
    For samsvar's own Norwegian code systems (current codes from the public viewers, without
    retired ones such as pre-2020 kommunenummer) this is a warning.
    """,
    bad='{"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "EMERG"}',
    good='{"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "C"}',
)
WRONG_DISPLAY = rule(
    "FHIR-TX-002", "Display does not match the code", Severity.ERROR,
    """
    The Coding's display is none of the code's displays in its code system (the display or a
    designation in any language; case and white space are ignored). A receiver shows the display,
    so a wrong one misleads. For samsvar's own Norwegian code systems, whose texts come from the
    public viewers rather than an official export, this is a warning.
    """,
    bad='{"system": "http://hl7.org/fhir/administrative-gender", "code": "female", "display": "Mann"}',
    good='{"system": "http://hl7.org/fhir/administrative-gender", "code": "female", "display": "Female"}',
)
BAD_FORMAT = rule(
    "FHIR-TX-003", "Code not in the format of its code system", Severity.ERROR,
    """
    The code breaks the format of its code system, so it cannot be a code of it. MIME types
    (``urn:ietf:bcp:13``) are checked by their grammar under every policy: ``type/subtype`` with
    RFC 6838 names (parameters after a ``;`` are not judged). With ``trust-format`` for a code system
    that is not available offline, also SNOMED CT concept ids (partition and Verhoeff check
    digit) and LOINC codes (mod-10 check digit).
    """,
    bad='{"system": "http://loinc.org", "code": "8867-5"}',
    good='{"system": "http://loinc.org", "code": "8867-4"}',
)
SERVER_DOWN = rule(
    "FHIR-TX-004", "Terminology server could not be used", Severity.WARNING,
    """
    The policy for this code system is ``remote``, and the terminology server did not answer
    (time-out, connection refused, an error). The code was not checked: an environment problem,
    not a verdict on the data. Answers from earlier runs come from the persistent cache.
    """,
    bad='(server = "http://tx.example" down)',
    good='(the server answering $validate-code)',
)
FORMAT_ONLY = rule(
    "FHIR-TX-005", "Code checked by format only", Severity.INFORMATION,
    "With ``trust-format``, a well-formed code is accepted without knowing that it is in the value set.",
    bad='(trust-format for SNOMED CT) {"system": "http://snomed.info/sct", "code": "22298006"}',
    good='(SNOMED CT loaded from RF2, or a terminology server)',
)

_CODING_TYPES = {"Coding", "CodeableConcept", "code", "Quantity"}


def terminology(definitions: Definitions) -> Any:
    """The terminology service of these definitions (the runner installs one with its policy)."""
    service = definitions.memo.get("terminology")
    if service is None:
        from ..terminology.service import TerminologyService

        service = definitions.memo["terminology"] = TerminologyService(definitions)
    return service


class BindingChecker:
    """An element check for :class:`StructureChecker`: required and extensible bindings."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions
        self.service = terminology(definitions)

    @staticmethod
    def relevant(element: dict[str, Any], code: str | None) -> bool:
        """Whether values of this element can break a binding (asked once per element and type)."""
        binding = element.get("binding")
        return bool(binding) and code in _CODING_TYPES and binding.get("strength") in ("required", "extensible") \
            and bool(binding.get("valueSet"))

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        value, element, code = visit.value, visit.element, visit.code
        binding = element.get("binding")
        if not binding or code not in _CODING_TYPES or binding.get("strength") not in ("required", "extensible"):
            return
        url = binding.get("valueSet")
        if not url:
            return
        where = {"path": visit.path, "expression": visit.expression}
        label = self._label(url)
        required = binding.get("strength") == "required"
        codings = _codings(value, code)
        if not codings:
            return
        if required:
            for system, item, _ in codings:
                if system is None and code != "code":
                    yield NO_SYSTEM.issue(f"The Coding with code '{item}' has no system, so it cannot be checked "
                                          f"against the required value set {label}", **where)
                    return
        verdicts = [self.service.validate_code(system, item, None, url) for system, item, _ in codings]
        if any(v.valid is True for v in verdicts):
            return
        if all(v.valid is False for v in verdicts):
            if not required:
                yield NOT_IN_EXTENSIBLE.issue(f"None of the codes provided are in the value set {label}, and a code "
                                              "should come from this value set unless it has no suitable code", **where)
                return
            if code == "code":
                yield NOT_IN_VALUE_SET.issue(f"The value provided ('{codings[0][1]}') was not found in the value set "
                                             f"{label}, and a code is required from this value set", **where)
            else:
                shown = ", ".join(f"{s}#{c}" for s, c, _ in codings)
                what = "None of the codings provided are" if len(codings) > 1 else f"The code {shown} is not"
                yield NOT_IN_VALUE_SET.issue(f"{what} in the value set {label}, and a code from this value set is "
                                             "required", **where)
            for verdict in verdicts:
                if verdict.kind == "format-error":
                    yield BAD_FORMAT.issue(verdict.message, **where)
            return
        if required:
            yield from _undecided(verdicts, label, where)

    def _label(self, url: str) -> str:
        value_set = self.definitions.get(url)
        name = value_set.get("name") if value_set else None
        return f"'{name}' ({url})" if name else f"({url})"


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


class CodingChecker:
    """An element check: every Coding whose code system is loaded in full has a real code and display."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions
        self.service = terminology(definitions)

    @staticmethod
    def relevant(element: dict[str, Any], code: str | None) -> bool:
        return code == "Coding" and element.get("path") != "Coding"

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        if visit.code != "Coding" or not isinstance(visit.value, dict) or visit.element.get("path") == "Coding":
            return  # (not again for the datatype's own constraints)
        system, code, display = visit.value.get("system"), visit.value.get("code"), visit.value.get("display")
        if not isinstance(system, str) or not isinstance(code, str):
            return
        index = self.service.code_system(system)
        if index is None:
            return  # not available locally: bindings and the policy decide what to say
        verdict = self.service.validate_code(system, code, display if isinstance(display, str) else None)
        ours = self.definitions.source(system) == "samsvar.profiles#local"
        if verdict.valid is False and verdict.kind == "unknown-code":
            note = (" (samsvar's copy of this list comes from the public viewer and has no retired codes: check "
                    "that the code is current)") if ours else ""
            yield UNKNOWN_CODE.issue(verdict.message + note, path=(*visit.path, "code"),
                                     expression=f"{visit.expression}.code", severity=Severity.WARNING if ours else None)
        elif verdict.display_ok is False:
            choices = " or ".join(f"'{d}'" for d in verdict.displays[:6])
            yield WRONG_DISPLAY.issue(
                f"Wrong Display Name '{display}' for {system}#{code}. Valid display is {choices}",
                path=(*visit.path, "display"), expression=f"{visit.expression}.display",
                severity=Severity.WARNING if ours else None)
