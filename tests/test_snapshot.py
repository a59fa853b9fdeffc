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


CHOICE_BASE = [
    {"id": "MedicationStatement", "path": "MedicationStatement", "min": 0, "max": "*"},
    {"id": "MedicationStatement.medication[x]", "path": "MedicationStatement.medication[x]", "min": 1, "max": "1",
     "type": [{"code": "CodeableConcept"}, {"code": "Reference"}]},
]


def _medication(profile_elements: list[dict], base: list[dict]) -> dict[str, dict]:
    profile = {"type": "MedicationStatement", "differential": {"element": profile_elements}}
    snapshot = generate(profile, base, lambda _url: None)
    assert not snapshot.problems
    return {e["id"]: e for e in snapshot.elements}


def test_a_type_slice_the_base_lacks_limits_the_choice_to_that_type() -> None:
    elements = _medication([{"id": "MedicationStatement.medication[x]:medicationReference",
                             "path": "MedicationStatement.medication[x]", "sliceName": "medicationReference",
                             "type": [{"code": "Reference", "targetProfile": ["http://example.org/Medication"]}]}],
                           CHOICE_BASE)
    assert [t["code"] for t in elements["MedicationStatement.medication[x]"]["type"]] == ["Reference"]


def test_a_type_slice_the_base_has_is_constrained_as_that_slice() -> None:
    """no-basis-MedicationStatement slices medication[x] by type in its shipped snapshot: a profile on
    it constrains the slice, and CodeableConcept stays allowed on medication[x]."""
    sliced_base = [
        CHOICE_BASE[0],
        {**CHOICE_BASE[1], "slicing": {"discriminator": [{"type": "type", "path": "$this"}], "rules": "openAtEnd"}},
        {"id": "MedicationStatement.medication[x]:medicationReference", "path": "MedicationStatement.medication[x]",
         "sliceName": "medicationReference", "min": 1, "max": "1", "type": [{"code": "Reference"}]},
    ]
    target = {"code": "Reference", "targetProfile": ["http://example.org/Medication"]}
    elements = _medication([{"id": "MedicationStatement.medication[x]:medicationReference",
                             "path": "MedicationStatement.medication[x]", "sliceName": "medicationReference",
                             "type": [target]}], sliced_base)
    assert [t["code"] for t in elements["MedicationStatement.medication[x]"]["type"]] == ["CodeableConcept", "Reference"]
    assert elements["MedicationStatement.medication[x]:medicationReference"]["type"] == [target]
