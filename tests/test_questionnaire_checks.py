"""Questionnaire and QuestionnaireResponse checks beyond the fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from samsvar.validators import Options, Severity, Validator

from .conftest import FIXTURES

FOLDER = FIXTURES / "fhir" / "questionnaire"


@pytest.fixture(scope="module")
def validator(fhir_cache: Path) -> Validator:
    return Validator(Options(cache_root=fhir_cache, igs=(str(FOLDER / "definitions"),)))


def _issues(validator: Validator, resource: dict[str, Any]) -> list[tuple[str, Severity, str | None]]:
    result = validator.validate_bytes("x.json", json.dumps(resource).encode())
    return [(i.rule, i.severity, i.expression) for i in result.issues if i.rule.startswith(("FHIR-QR", "SAMSVAR"))]


def test_an_enable_when_question_that_is_an_array_is_not_a_crash(validator: Validator) -> None:
    questionnaire = json.loads((FOLDER / "questionnaire-enable-when-unknown-question.json").read_text())
    questionnaire["item"][1]["enableWhen"][0]["question"] = ["q1", "q1"]
    assert _issues(validator, questionnaire) == [("FHIR-QR-010", Severity.ERROR, "Questionnaire.item[1]")]


def test_an_enable_when_on_itself(validator: Validator) -> None:
    questionnaire = json.loads((FOLDER / "questionnaire-enable-when-unknown-question.json").read_text())
    questionnaire["item"][1]["enableWhen"][0]["question"] = "q2"
    assert _issues(validator, questionnaire) == [("FHIR-QR-010", Severity.ERROR, "Questionnaire.item[1]")]


def test_a_code_of_the_value_set_with_a_wrong_display_is_not_an_option(validator: Validator) -> None:
    response = json.loads((FOLDER / "valid-response.json").read_text())
    answer = {"valueCoding": {"system": "http://hl7.org/fhir/administrative-gender", "code": "male", "display": "Male"}}
    response["item"].append({"linkId": "kjonn", "answer": [answer]})
    assert _issues(validator, response) == []
    answer["valueCoding"]["display"] = "Australia"
    assert _issues(validator, response) == [("FHIR-QR-007", Severity.ERROR, "QuestionnaireResponse.item[7].answer[0]")]


def test_a_quantity_without_a_unit_code_is_outside_the_unit_value_set(validator: Validator) -> None:
    response = json.loads((FOLDER / "valid-response.json").read_text())
    quantity = {"value": 70, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}
    response["item"].append({"linkId": "vekt", "answer": [{"valueQuantity": quantity}]})
    assert _issues(validator, response) == []
    del quantity["code"]
    assert _issues(validator, response) == [
        ("FHIR-QR-008", Severity.ERROR, "QuestionnaireResponse.item[7].answer[0].value.ofType(Quantity)")]
