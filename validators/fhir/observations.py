"""Observation best practice: what HL7's validator recommends of every Observation.

HL7's validator (``ObservationValidator``) recommends that every Observation, wherever it is
(on its own, in a Bundle, contained), has a ``subject``, a ``performer`` and an
``effective[x]``; without one it says so as a best-practice warning on the Observation. samsvar
does the same, with the same severity, under one rule (ignore the code in the configuration
where the practice does not apply).
"""

from __future__ import annotations

from typing import Iterator

from ..issues import Issue
from ..rules import declared
from .visit import Visit

OBSERVATION_PRACTICE = declared("FHIR-OBS-001")
_EFFECTIVE = ("effectiveDateTime", "effectivePeriod", "effectiveTiming", "effectiveInstant")


class ObservationChecker:
    """An element check on Observation resources (their root)."""

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        resource = visit.value
        if visit.value is not visit.resource or not isinstance(resource, dict) \
                or resource.get("resourceType") != "Observation":
            return
        where = {"path": visit.path, "expression": visit.expression}
        if resource.get("subject") is None:
            yield OBSERVATION_PRACTICE.issue("Best Practice Recommendation: In general, all observations should "
                                             "have a subject", **where)
        if not resource.get("performer"):
            yield OBSERVATION_PRACTICE.issue("Best Practice Recommendation: In general, all observations should "
                                             "have a performer", **where)
        if not any(resource.get(name) is not None for name in _EFFECTIVE):
            yield OBSERVATION_PRACTICE.issue("Best Practice Recommendation: In general, all observations should "
                                             "have an effective[x] (dateTime, Period, Timing or instant)", **where)
