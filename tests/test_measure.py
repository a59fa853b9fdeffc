"""Measure and MeasureReport checks beyond the fixtures: the cases HL7's validator distinguishes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from samsvar.validators import Options, Validator

from .conftest import FIXTURES

FOLDER = FIXTURES / "fhir" / "measure"


@pytest.fixture(scope="module")
def validator(fhir_cache: Path) -> Validator:
    return Validator(Options(cache_root=fhir_cache, igs=(str(FOLDER / "definitions"),)))


def _report() -> dict[str, Any]:
    return json.loads((FOLDER / "valid-report.json").read_text(encoding="utf-8"))


def _measure() -> dict[str, Any]:
    return json.loads((FOLDER / "valid-measure.json").read_text(encoding="utf-8"))


def _found(validator: Validator, resource: dict[str, Any], prefix: str = "FHIR-MEASURE") -> list[tuple[str, str, str]]:
    result = validator.validate_bytes("x.json", json.dumps(resource).encode())
    return [(i.rule, i.severity.name.lower(), i.expression or "") for i in result.issues if i.rule.startswith(prefix)]


def test_a_group_left_out_is_reported_on_the_report(validator: Validator) -> None:
    report = _report()
    del report["group"][1]
    assert _found(validator, report) == [("FHIR-MEASURE-006", "error", "MeasureReport")]


def test_a_left_out_group_is_fine_in_a_data_collection_report(validator: Validator) -> None:
    report = _report()
    del report["group"][1]
    report["type"] = "data-collection"
    for group in report["group"]:  # data-collection reports have no scores
        del group["measureScore"]
    assert _found(validator, report) == []


def test_a_score_in_a_data_collection_report(validator: Validator) -> None:
    report = _report()
    report["type"] = "data-collection"
    assert ("FHIR-MEASURE-008", "error", "MeasureReport.group[0].measureScore") in _found(validator, report)


def test_populations_and_stratifiers_are_matched_by_code(validator: Validator) -> None:
    report = _report()
    report["group"][0]["population"].pop()  # numerator left out
    report["group"][0]["stratifier"][0]["code"] = [{"text": "sex"}]
    found = _found(validator, report)
    assert ("FHIR-MEASURE-006", "error", "MeasureReport.group[0]") in found  # numerator and age-group missing
    assert ("FHIR-MEASURE-006", "error", "MeasureReport.group[0].stratifier[0]") in found


def test_subject_list_counts_the_entries_of_a_contained_list(validator: Validator) -> None:
    report = _report()
    report["type"] = "subject-list"
    report["contained"] = [{"resourceType": "List", "id": "ip", "status": "current", "mode": "snapshot",
                            "entry": [{"item": {"reference": "Patient/a"}}, {"item": {"reference": "Patient/b"}}]}]
    population = report["group"][0]["population"][0]
    population["subjectResults"] = {"reference": "#ip"}
    population["count"] = 2
    assert _found(validator, report) == []
    population["count"] = 3
    assert _found(validator, report) == [("FHIR-MEASURE-007", "error", "MeasureReport.group[0].population[0]")]


def test_a_summary_without_counts_is_a_warning(validator: Validator) -> None:
    report = _report()
    del report["group"][0]["population"][0]["count"]
    assert _found(validator, report) == [("FHIR-MEASURE-007", "warning", "MeasureReport.group[0].population[0]")]


def test_a_single_group_with_another_code(validator: Validator) -> None:
    measure = _measure()
    measure["group"] = measure["group"][:1]
    measure["url"] = "http://samsvar.no/fhir/test/Measure/one-group"
    report = _report()
    report["contained"] = [dict(measure, id="m")]
    report["measure"] = "#m"
    report["group"] = report["group"][1:]  # the children's group, where the Measure has only adults
    found = _found(validator, report)
    assert found == [("FHIR-MEASURE-006", "error", "MeasureReport.group[0]")]


def test_a_proportion_score_has_no_unit(validator: Validator) -> None:
    report = _report()
    report["group"][0]["measureScore"] = {"value": 0.5, "code": "%", "system": "http://unitsofmeasure.org"}
    assert sorted(_found(validator, report)) == [
        ("FHIR-MEASURE-008", "error", "MeasureReport.group[0].measureScore.code"),
        ("FHIR-MEASURE-008", "error", "MeasureReport.group[0].measureScore.system")]


def test_a_cql_name_with_a_namespace_needs_a_library_of_that_name(validator: Validator) -> None:
    measure = _measure()
    criteria = measure["group"][0]["stratifier"][0]["criteria"]
    criteria["expression"] = "Screening.Age Group"
    assert _found(validator, measure) == []
    criteria["expression"] = "Other.Age Group"
    assert _found(validator, measure) == [("FHIR-MEASURE-002", "error", "Measure.group[0].stratifier[0].criteria")]


def test_a_library_without_elm(validator: Validator, fhir_cache: Path, tmp_path: Path) -> None:
    library = json.loads((FOLDER / "definitions" / "Library-screening-logic.json").read_text(encoding="utf-8"))
    library["content"][0]["contentType"] = "text/cql"
    (tmp_path / "lib.json").write_text(json.dumps(library), encoding="utf-8")
    bare = Validator(Options(cache_root=fhir_cache, igs=(str(tmp_path),)))
    found = _found(bare, _measure())
    assert found == [("FHIR-MEASURE-002", "error", "Measure.group[0].stratifier[0].criteria"),
                     ("FHIR-MEASURE-002", "error", "Measure.group[1].stratifier[0].criteria")]
    assert "no compiled version" in bare.validate_bytes("x.json", json.dumps(_measure()).encode()).issues[-1].message


def test_population_criteria_are_not_judged_as_hl7_does_not(validator: Validator) -> None:
    measure = _measure()
    measure["group"][0]["population"][0]["criteria"]["expression"] = "Nothing Of The Sort"
    assert _found(validator, measure) == []
