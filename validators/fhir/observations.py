"""Observation best practice: what HL7's validator recommends of every Observation.

HL7's validator (``ObservationValidator``) recommends that every Observation, wherever it is
(on its own, in a Bundle, contained), has a ``subject``, a ``performer`` and an
``effective[x]``; without one it says so as a best-practice warning on the Observation. samsvar
does the same, with the same severity, in one issue naming what is missing (ignore the code in the configuration
where the practice does not apply).
"""

from __future__ import annotations

from typing import Any, Iterator

from ..issues import Issue
from ..rules import declared
from .visit import Visit

OBSERVATION_PRACTICE = declared("FHIR-OBS-001")
_EFFECTIVE = ("effectiveDateTime", "effectivePeriod", "effectiveTiming", "effectiveInstant")


class ObservationChecker:
    """An element check on Observation resources (their root)."""

    @staticmethod
    def relevant(element: dict[str, Any], _code: str | None) -> bool:
        """Only a resource's root element is visited with the resource itself (see StructureChecker)."""
        return "." not in element.get("path", "")

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        resource = visit.value
        if visit.value is not visit.resource or not isinstance(resource, dict) \
                or resource.get("resourceType") != "Observation":
            return
        missing = [what for what, present in (
            ("a subject", resource.get("subject") is not None),
            ("a performer", bool(resource.get("performer"))),
            ("an effective[x] (dateTime, Period, Timing or instant)",
             any(resource.get(name) is not None for name in _EFFECTIVE))) if not present]
        if missing:  # one issue for what HL7 says in up to three (same place, same severity)
            yield OBSERVATION_PRACTICE.issue("Best Practice Recommendation: In general, all observations should "
                                             f"have {_joined(missing)}", path=visit.path, expression=visit.expression)


def _joined(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
