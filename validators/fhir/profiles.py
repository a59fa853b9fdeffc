"""Profiles: an instance checked against a profile's snapshot (``--profile``, ``meta.profile``).

The same structure walk runs over the profile's snapshot instead of the base definition, so
its cardinalities, types, bindings, invariants and fixed/pattern values apply. Profiles
without a snapshot and slicing are not handled yet (snapshot generation and slice matching
come next); a profile that cannot be used is reported, never silently skipped.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..issues import Issue, Severity
from ..rules import rule
from .definitions import Definitions
from .structure import Visit

FIXED_VALUE = rule(
    "FHIR-PROF-001", "Value differs from the fixed value of the profile", Severity.ERROR,
    "The profile fixes this element to one exact value (fixed[x]); the instance has another.",
    bad='(profile fixes Identifier.system to urn:oid:2.16.578.1.12.4.1.4.1) {"system": "urn:oid:2.16.578.1.12.4.1.4.2"}',
    good='{"system": "urn:oid:2.16.578.1.12.4.1.4.1"}',
)
PATTERN_VALUE = rule(
    "FHIR-PROF-002", "Value does not match the pattern of the profile", Severity.ERROR,
    "The profile requires this element to contain the pattern[x] value (more may be present).",
    bad='(pattern coding system+code) {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]}',
    good='{"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]}',
)
PROFILE_NOT_USABLE = rule(
    "FHIR-PROF-003", "Profile not checked", Severity.WARNING,
    """
    The resource declares (meta.profile) or was asked to conform to a profile that samsvar could
    not use: it is not in the loaded packages (load it with ``--ig``), it has no snapshot
    (snapshot generation is not implemented yet), or it is for another resource type.
    """,
    bad='{"meta": {"profile": ["http://example.no/StructureDefinition/not-loaded"]}}',
    good='(the same, with the defining package loaded with --ig)',
)


def _matches_pattern(value: Any, pattern: Any) -> bool:
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(_matches_pattern(value.get(k), v) for k, v in pattern.items())
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(_matches_pattern(item, p) for item in value) for p in pattern)
    return value == pattern


class FixedPatternChecker:
    """An element check: fixed[x] and pattern[x] of the definition the walk is in."""

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        for key, expected in visit.element.items():
            if key.startswith("fixed") and len(key) > 5:
                if visit.value != expected:
                    yield FIXED_VALUE.issue(f"Value is {_show(visit.value)} but is fixed to {_show(expected)}",
                                            path=visit.path, expression=visit.expression)
            elif key.startswith("pattern") and len(key) > 7:
                if not _matches_pattern(visit.value, expected):
                    yield PATTERN_VALUE.issue(f"Value is {_show(visit.value)} but must match the pattern "
                                              f"{_show(expected)}", path=visit.path, expression=visit.expression)


def _show(value: Any) -> str:
    text = f"'{value}'" if isinstance(value, str) else repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def usable_profile(definitions: Definitions, url: str, resource_type: str) -> tuple[str | None, str]:
    """The profile URL if it can be checked, else None and the reason."""
    profile = definitions.structure_definition(url)
    if profile is None:
        return None, f"Profile {url} is not in the loaded packages; load it with --ig. It was not checked."
    if not (profile.get("snapshot") or {}).get("element"):
        return None, f"Profile {url} has no snapshot; snapshot generation is not implemented yet. It was not checked."
    if profile.get("type") != resource_type:
        return None, f"Profile {url} is for {profile.get('type')}, not {resource_type}. It was not checked."
    return str(profile["url"]), ""
