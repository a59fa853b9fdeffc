"""Snapshot generation details that fixtures do not reach."""

from __future__ import annotations

from samsvar.validators.fhir.snapshot import generate

BASE = [
    {"id": "Observation", "path": "Observation", "min": 0, "max": "*"},
    {"id": "Observation.status", "path": "Observation.status", "min": 1, "max": "1", "condition": ["obs-1"],
     "constraint": [{"key": "ele-1", "expression": "hasValue()"}]},
]


def test_conditions_and_constraints_merge_without_duplicates() -> None:
    profile = {"type": "Observation", "differential": {"element": [
        {"id": "Observation.status", "path": "Observation.status", "condition": ["obs-1", "vs-1"],
         "constraint": [{"key": "vs-1", "expression": "true"}]}]}}
    snapshot = generate(profile, BASE, lambda _url: None)
    assert not snapshot.problems
    status = next(e for e in snapshot.elements if e["id"] == "Observation.status")
    assert status["condition"] == ["obs-1", "vs-1"]
    assert [c["key"] for c in status["constraint"]] == ["ele-1", "vs-1"]


def test_an_element_found_nowhere_is_a_problem_not_a_guess() -> None:
    profile = {"type": "Observation", "differential": {"element": [{"id": "Observation.nothing", "path": "Observation.nothing"}]}}
    snapshot = generate(profile, BASE, lambda _url: None)
    assert snapshot.problems and "Observation.nothing" in snapshot.problems[0]
