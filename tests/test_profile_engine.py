"""Profile engine details that fixtures do not pin down: limits relative to now (a Duration as
minValue/maxValue of a date), discriminator paths against the sliced element's type, and the
option that makes example-domain extensions errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from samsvar.validators import Options, Validator
from samsvar.validators.fhir.profile_definitions import ProfileDefinitionChecker
from samsvar.validators.fhir.profiles import relative_limit_violation

from .conftest import FIXTURES

NOW = dt.datetime(2026, 2, 28, 12, 0, tzinfo=dt.timezone.utc)
YEARS_10 = {"value": 10, "unit": "years", "system": "http://unitsofmeasure.org", "code": "a"}


# -- minValue / maxValue as a Duration relative to now -----------------------------------------------

@pytest.mark.parametrize(("value", "broken"), [
    ("2036-02-28", False),             # exactly ten calendar years ahead: inclusive
    ("2036-02-29", True),              # 2036 is a leap year: one day past the limit
    ("2036", False),                   # the year reaches back before the limit
    ("2037", True),                    # all of 2037 is after it
    ("2036-02-28T12:00:00Z", False),
    ("2036-02-28T13:00:01+01:00", True),
    ("2036-02-28T12:59:59+01:00", False),
    ("2020-01-01", False),
])
def test_max_value_duration_is_now_plus_the_duration(value: str, broken: bool) -> None:
    message = relative_limit_violation(value, YEARS_10, low=False, now=NOW)
    assert bool(message) is broken, message
    if broken:
        assert f"'{value}'" in message and "maxValue is 10a after now" in message


def test_min_value_duration_is_now_minus_the_duration() -> None:
    weeks = {"value": 2, "system": "http://unitsofmeasure.org", "code": "wk"}
    assert relative_limit_violation("2026-02-13", weeks, low=True, now=NOW) is not None
    assert relative_limit_violation("2026-02-14", weeks, low=True, now=NOW) is None  # reaches the limit
    assert "minValue is 2wk before now" in relative_limit_violation("2025-12", weeks, low=True, now=NOW)


def test_a_month_ahead_of_a_month_end_stays_in_the_month() -> None:
    january_31 = dt.datetime(2027, 1, 31, tzinfo=dt.timezone.utc)
    month = {"value": 1, "system": "http://unitsofmeasure.org", "code": "mo"}
    assert relative_limit_violation("2027-02-28", month, low=False, now=january_31) is None
    assert relative_limit_violation("2027-03-01", month, low=False, now=january_31) is not None


@pytest.mark.parametrize("limit", [
    {"value": 10, "system": "http://unitsofmeasure.org", "code": "kg"},   # not a unit of time
    {"value": 10, "system": "http://snomed.info/sct", "code": "a"},       # not UCUM
    {"value": "ten", "system": "http://unitsofmeasure.org", "code": "a"},
])
def test_quantities_that_are_not_durations_set_no_relative_limit(limit: dict) -> None:
    assert relative_limit_violation("2300-01-01", limit, low=False, now=NOW) is None


def test_max_value_duration_in_a_profile_is_checked(tmp_path: Path, fhir_cache: Path) -> None:
    profile = {
        "resourceType": "StructureDefinition", "url": "http://samsvar.no/fhir/test/StructureDefinition/Future",
        "name": "Future", "status": "draft", "kind": "resource", "abstract": False, "type": "Patient",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient", "derivation": "constraint",
        "differential": {"element": [{"id": "Patient.birthDate", "path": "Patient.birthDate",
                                      "maxValueDuration": YEARS_10}]}}
    (tmp_path / "profile.json").write_text(json.dumps(profile))
    validator = Validator(Options(cache_root=fhir_cache, igs=(str(tmp_path / "profile.json"),),
                                  profiles=(profile["url"],)))
    for birth_date, expected in (("2400-01-01", ["FHIR-PROF-004"]), ("2001-01-01", [])):
        patient = json.dumps({"resourceType": "Patient", "birthDate": birth_date}).encode()
        result = validator.validate_bytes("p.json", patient)
        assert [i.rule for i in result.issues if i.rule.startswith("FHIR-PROF")] == expected


# -- discriminator paths -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def checker(fhir_cache: Path) -> ProfileDefinitionChecker:
    validator = Validator(Options(cache_root=fhir_cache))
    return ProfileDefinitionChecker(validator.definitions())


def _selects(checker: ProfileDefinitionChecker, element: dict, path: str, base: str = "Observation") -> bool | None:
    return checker.discriminator_selects(element, path, checker.definitions.elements(base) or {})[0]


EXTENSION = {"path": "Observation.extension", "type": [{"code": "Extension"}]}
COMPONENT = {"path": "Observation.component", "type": [{"code": "BackboneElement"}]}
PERFORMER = {"path": "Observation.performer", "type": [{"code": "Reference"}]}


@pytest.mark.parametrize(("element", "path", "expected"), [
    (EXTENSION, "url", True),
    (EXTENSION, "value.ofType(Identifier).system", True),
    (EXTENSION, "valueCodeableConcept.coding.code", True),
    (EXTENSION, "extension('http://hl7.org/fhir/StructureDefinition/rendered-value').value", True),
    (EXTENSION, "$this", True),
    (EXTENSION, "type", False),
    (EXTENSION, "value.ofType(Observation)", False),
    (COMPONENT, "code.coding.system", True),
    (COMPONENT, "code.coding.sytem", False),
    (COMPONENT, "value.ofType(Quantity).code", True),
    (PERFORMER, "resolve()", True),
    (PERFORMER, "reference", True),
    (PERFORMER, "resolve().ofType(Practitioner).identifier.system", True),
    (PERFORMER, "resolve().name", None),       # a child of any resource: not knowable here
    (COMPONENT, "code.coding.first()", None),  # FHIRPath beyond slicing's subset
])
def test_discriminator_paths_are_resolved_against_the_sliced_type(checker, element, path, expected) -> None:
    assert _selects(checker, element, path) is expected


def test_backbone_elements_are_reached_through_the_base(checker) -> None:
    agent = {"path": "AuditEvent.agent", "type": [{"code": "BackboneElement"}]}
    assert _selects(checker, agent, "type", base="AuditEvent") is True
    assert _selects(checker, agent, "network.address", base="AuditEvent") is True
    why = checker.discriminator_selects(agent, "network.adress", checker.definitions.elements("AuditEvent"))[1]
    assert why == "AuditEvent.agent.network has no element 'adress'"


def test_every_discriminator_of_the_core_profiles_selects_something(checker) -> None:
    """No false alarms on HL7's own profiles (vital signs, lipid profile, ...)."""
    definitions = checker.definitions
    checked = 0
    for url in definitions.canonicals():
        sd = definitions.get(url) if definitions.resource_type(url) == "StructureDefinition" else None
        if not sd or sd.get("derivation") != "constraint":
            continue
        base = definitions.elements(str(sd.get("baseDefinition", ""))) or {}
        for element in (sd.get("snapshot") or {}).get("element") or []:
            for discriminator in (element.get("slicing") or {}).get("discriminator") or []:
                if "." in element.get("path", ""):
                    verdict = checker.discriminator_selects(element, discriminator["path"], base)
                    assert verdict[0] is not False, (url, element.get("id"), discriminator, verdict[1])
                    checked += 1
    assert checked > 100


# -- example URLs ----------------------------------------------------------------------------------------

def test_example_urls_option_from_the_command_line_and_the_configuration(run, tmp_path: Path) -> None:
    fixture = FIXTURES / "fhir" / "extensions" / "example-domain-extension.json"

    def rules(*args: str) -> list[tuple[str, str]]:
        outcome = run("validate", str(fixture), "-f", "json", *args)
        report = json.loads(outcome.stdout)
        return sorted((i["rule"], i["severity"]) for r in report["results"] for i in r["issues"])

    assert rules() == [("FHIR-EXT-002", "information")]
    strict = [("FHIR-EXT-002", "error"), ("FHIR-EXT-006", "error")]
    assert rules("--no-example-urls") == strict
    config = tmp_path / "samsvar.toml"
    config.write_text("example-urls = false\n")
    assert rules("--config", str(config)) == strict
    assert rules("--config", str(config), "--example-urls") == [("FHIR-EXT-002", "information")]
