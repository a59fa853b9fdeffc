"""ValueSets as artifacts (validators/fhir/value_sets.py): each compose.include and exclude checked as
HL7's ValueSetValidator checks it. The fixtures in fixtures/fhir/value-sets trip and pass each rule;
these tests pin what the fixtures cannot: locations, the severities of HL7's variants, the cases
HL7 reports together, samsvar's own Volven lists (whose URL is their OID), and agreement with
HL7's own test case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from samsvar.validators import Options, Validator
from samsvar.validators.rules import declared

from .conftest import FIXTURES
from .shared import shared_path

FOLDER = FIXTURES / "fhir" / "value-sets"
DEFINITIONS = FOLDER / "definitions"
TEST = "http://samsvar.no/fhir/test"
CS = f"{TEST}/CodeSystem/tjenestetype"
VOLVEN_9151 = "urn:oid:2.16.578.1.12.4.1.1.9151"


def _value_set(*includes: dict[str, Any], exclude: tuple[dict[str, Any], ...] = (), **extra: Any) -> dict[str, Any]:
    compose: dict[str, Any] = {"include": list(includes)}
    if exclude:
        compose["exclude"] = list(exclude)
    return {"resourceType": "ValueSet", "id": "vs", "url": f"{TEST}/ValueSet/vs", "name": "Vs", "status": "draft",
            **extra, "compose": compose}


def _findings(fhir_cache: Path, resource: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    validator = Validator(Options(cache_root=fhir_cache, igs=(str(DEFINITIONS),)))
    result = validator.validate_bytes("vs.json", json.dumps(resource).encode())
    return [(i.rule, i.severity.code, i.expression) for i in result.issues if i.rule.startswith("FHIR-VS")]


def _messages(fhir_cache: Path, resource: dict[str, Any]) -> list[str]:
    validator = Validator(Options(cache_root=fhir_cache, igs=(str(DEFINITIONS),)))
    result = validator.validate_bytes("vs.json", json.dumps(resource).encode())
    return [i.message for i in result.issues if i.rule.startswith("FHIR-VS")]


def test_concept_findings_are_on_the_concept_and_include_findings_on_the_include(fhir_cache: Path) -> None:
    resource = _value_set(
        {"system": CS, "concept": [{"code": "korttid"}, {"code": "dagsenter"}]},
        exclude=({"system": "http://kodeverk.samsvar.no/ukjent", "concept": [{"code": "X"}]},))
    assert _findings(fhir_cache, resource) == [
        ("FHIR-VS-001", "error", "ValueSet.compose.include[0].concept[1]"),
        ("FHIR-VS-002", "warning", "ValueSet.compose.exclude[0]")]


def test_filter_and_import_findings_are_on_the_filter_and_the_import(fhir_cache: Path) -> None:
    resource = _value_set(
        {"valueSet": [f"{TEST}/ValueSet/finnes-ikke"]},
        {"system": CS, "filter": [{"property": "concept", "op": "is-a", "value": "hjemme"},
                                  {"property": "aktiv", "op": "=", "value": "ja"}]})
    assert _findings(fhir_cache, resource) == [
        ("FHIR-VS-010", "warning", "ValueSet.compose.include[0].valueSet[0]"),
        ("FHIR-VS-016", "error", "ValueSet.compose.include[1].filter[1]")]


def test_volven_lists_whose_url_is_their_oid_are_found_by_url_and_stay_clean(fhir_cache: Path) -> None:
    resource = _value_set({"system": VOLVEN_9151, "concept": [
        {"code": "1", "display": "Praktisk bistand - daglige gjøremål"}, {"code": "15"}]},
        {"system": VOLVEN_9151, "filter": [{"property": "concept", "op": "in", "value": "1,11"}]})
    assert _findings(fhir_cache, resource) == []


def test_an_unknown_code_in_samsvars_own_volven_copy_only_warns(fhir_cache: Path) -> None:
    resource = _value_set({"system": VOLVEN_9151, "concept": [{"code": "9999"}]})
    assert _findings(fhir_cache, resource) == [("FHIR-VS-001", "warning", "ValueSet.compose.include[0].concept[0]")]
    assert "public viewer" in _messages(fhir_cache, resource)[0]


def test_a_version_that_is_not_loaded_leaves_the_concepts_unchecked(fhir_cache: Path) -> None:
    resource = _value_set({"system": CS, "version": "2.0.0", "concept": [{"code": "dagsenter"}]})
    assert _findings(fhir_cache, resource) == [("FHIR-VS-002", "warning", "ValueSet.compose.include[0]")]
    assert f"'{CS}|2.0.0'" in _messages(fhir_cache, resource)[0]
    loaded = _value_set({"system": CS, "version": "1.0", "concept": [{"code": "dagsenter"}]})
    assert _findings(fhir_cache, loaded) == [("FHIR-VS-001", "error", "ValueSet.compose.include[0].concept[0]")]


def test_system_with_version_syntax_variants(fhir_cache: Path) -> None:
    def one(system: str, **version: str) -> tuple[str, str]:
        found = _findings(fhir_cache, _value_set({"system": system, **version}))
        assert len(found) == 1 and found[0][0] == "FHIR-VS-009", found
        return found[0][1], _messages(fhir_cache, _value_set({"system": system, **version}))[0]

    assert one(f"{CS}|")[0] == "warning"
    assert one(f"{CS}|1.0.0") == ("error", f"The include system '{CS}|1.0.0' gives a version ('1.0.0'): put the system "
                                           f"'{CS}' in system and the version in the version element")
    assert "the version element says '2.0.0'" in one(f"{CS}|1.0.0", version="2.0.0")[1]
    assert "repeats the version" in one(f"{CS}|1.0.0", version="1.0.0")[1]


def test_content_severities_follow_hl7(fhir_cache: Path) -> None:
    fragment = _value_set({"system": f"{TEST}/CodeSystem/utdrag", "concept": [{"code": "A"}, {"code": "Z"}]})
    assert _findings(fhir_cache, fragment) == [("FHIR-VS-003", "information", "ValueSet.compose.include[0]")]
    # SNOMED CT's stub in the core package has no codes: a warning, and the concepts are not judged
    snomed = _value_set({"system": "http://snomed.info/sct", "concept": [{"code": "22298006"}]})
    assert _findings(fhir_cache, snomed) == [("FHIR-VS-003", "warning", "ValueSet.compose.include[0]")]


def test_an_example_system_that_is_not_loaded_is_information_only(fhir_cache: Path) -> None:
    resource = _value_set({"system": "http://example.org/kodeverk", "concept": [{"code": "A"}]})
    assert _findings(fhir_cache, resource) == [("FHIR-VS-002", "information", "ValueSet.compose.include[0]")]


def test_an_example_system_is_an_error_where_example_urls_are_not_allowed(fhir_cache: Path) -> None:
    """As HL7's VALUESET_EXAMPLE_SYSTEM_ERROR: ``--no-example-urls`` (HL7's examples setting off)."""
    resource = _value_set({"system": "http://example.org/kodeverk", "concept": [{"code": "A"}]})
    validator = Validator(Options(cache_root=fhir_cache, igs=(str(DEFINITIONS),), allow_example_urls=False))
    result = validator.validate_bytes("vs.json", json.dumps(resource).encode())
    found = [(i.rule, i.severity.code, i.expression) for i in result.issues if i.rule.startswith("FHIR-VS")]
    assert found == [("FHIR-VS-002", "error", "ValueSet.compose.include[0]")]


def test_an_identifier_with_concepts_is_also_unchecked_as_hl7_reports(fhir_cache: Path) -> None:
    resource = _value_set({"system": "urn:oid:2.16.578.1.12.4.1.9999.1", "concept": [{"code": "hjemme"}]})
    assert _findings(fhir_cache, resource) == [("FHIR-VS-007", "error", "ValueSet.compose.include[0]"),
                                               ("FHIR-VS-002", "warning", "ValueSet.compose.include[0]")]


def test_a_value_set_as_system_names_the_code_system_it_draws_on(fhir_cache: Path) -> None:
    resource = _value_set({"system": f"{TEST}/ValueSet/tjenester-i-hjemmet", "concept": [{"code": "nope"}]})
    assert _findings(fhir_cache, resource) == [("FHIR-VS-006", "error", "ValueSet.compose.include[0]")]
    assert f"which may be the system meant" in _messages(fhir_cache, resource)[0]


def test_contained_code_systems_named_by_id(fhir_cache: Path) -> None:
    contained_cs = {"resourceType": "CodeSystem", "id": "lokal", "status": "draft", "content": "complete",
                    "concept": [{"code": "A"}]}
    found = _value_set({"system": "#lokal"}, contained=[contained_cs])
    assert [f[0] for f in _findings(fhir_cache, found)] == ["FHIR-VS-005"]
    not_cs = _value_set({"system": "#lokal"}, contained=[{**contained_cs, "resourceType": "ValueSet"}])
    assert [f[0] for f in _findings(fhir_cache, not_cs)] == ["FHIR-VS-005", "FHIR-VS-013", "FHIR-VS-013"]
    assert "names a contained ValueSet, not a CodeSystem" in _messages(fhir_cache, not_cs)[1]
    twice = _value_set({"system": "#lokal"}, contained=[contained_cs, contained_cs])
    assert "Several contained code systems" in _messages(fhir_cache, twice)[1]


def test_filter_variants(fhir_cache: Path) -> None:
    def findings(*filters: dict[str, Any], system: str = CS) -> list[tuple[str, str, str | None]]:
        return _findings(fhir_cache, _value_set({"system": system, "filter": list(filters)}))

    # a regex on concept: the operator is not allowed, and regex filters never apply to concept
    assert [f[:2] for f in findings({"property": "concept", "op": "regex", "value": "h.*"})] == [
        ("FHIR-VS-015", "error"), ("FHIR-VS-015", "error")]
    assert [f[:2] for f in findings({"property": "code", "op": "regex", "value": "h(.*"})] == [("FHIR-VS-016", "error")]
    # in: each value judged on its own; a comma elsewhere is part of the value (information)
    assert [f[:2] for f in findings({"property": "concept", "op": "in", "value": "hjemme,dagsenter"})] == [
        ("FHIR-VS-016", "error")]
    assert ("FHIR-VS-016", "information") in [f[:2] for f in findings({"property": "aktiv", "op": "=",
                                                                        "value": "true,false"})]
    # a property declared of type code only warns when its value is not a code; concept is an error
    assert [f[:2] for f in findings({"property": "kategori", "op": "=", "value": "ute"})] == [("FHIR-VS-016", "warning")]
    assert [f[:2] for f in findings({"property": "concept", "op": "is-a", "value": "ute"})] == [("FHIR-VS-016", "error")]
    assert [f[:2] for f in findings({"property": "timer", "op": "=", "value": "gt7.5"})] == [("FHIR-VS-016", "error")]
    assert findings({"property": "timer", "op": "=", "value": "gt7"}) == []
    assert findings({"property": "merknad", "op": "=", "value": "hva som helst, med komma"}) == []
    # a code system that is not loaded: an unknown property is information; a known one is not judged
    unknown = "http://kodeverk.samsvar.no/ukjent"
    assert [f[:2] for f in findings({"property": "farge", "op": "=", "value": "blå"}, system=unknown)] == [
        ("FHIR-VS-014", "information")]
    assert findings({"property": "concept", "op": "is-a", "value": "X"}, system=unknown) == []
    # SNOMED CT's filters are HL7's to judge with a terminology server
    assert findings({"property": "concept", "op": "=", "value": "nonsense"}, system="http://snomed.info/sct") == [
        ("FHIR-VS-003", "warning", "ValueSet.compose.include[0]")]


def test_the_not_checked_rules_are_marked_so() -> None:
    assert declared("FHIR-VS-002").not_checked and declared("FHIR-VS-010").not_checked
    assert not declared("FHIR-VS-001").not_checked


def test_contained_value_sets_are_checked_too(fhir_cache: Path) -> None:
    contained = _value_set({"system": CS, "concept": [{"code": "dagsenter"}]})
    contained.pop("url")
    questionnaire = {"resourceType": "Questionnaire", "id": "q", "status": "draft", "contained": [contained],
                     "item": [{"linkId": "1", "text": "Tjeneste", "type": "choice", "answerValueSet": "#vs"}]}
    validator = Validator(Options(cache_root=fhir_cache, igs=(str(DEFINITIONS),)))
    result = validator.validate_bytes("q.json", json.dumps(questionnaire).encode())
    assert [(i.rule, i.expression) for i in result.issues if i.rule.startswith("FHIR-VS")] == [
        ("FHIR-VS-001", "Questionnaire.contained[0].compose.include[0].concept[0]")]


@pytest.mark.parametrize("name", ["tx-extensible-suppression.xml"])
def test_agrees_with_hl7s_value_set_test_case(fhir_cache: Path, name: str) -> None:
    """HL7's only R4 offline ValueSet case: no errors (its server-side note on the unknown system is a
    warning-free information; samsvar says the concepts were not checked, a warning)."""
    folder = shared_path("peer", "fhir-test-cases", "validator")
    validator = Validator(Options(cache_root=fhir_cache, igs=(str(folder / "tx-extensible-suppression-cs.xml"),)))
    result = validator.validate_bytes(name, (folder / name).read_bytes())
    assert [i for i in result.issues if i.rule.startswith("FHIR-VS") and i.severity.code == "error"] == []
    assert [(i.rule, i.expression) for i in result.issues if i.rule.startswith("FHIR-VS")] == [
        ("FHIR-VS-002", "ValueSet.compose.include[0]")]


def test_systems_hl7_knows_built_in_are_not_called_unchecked(fhir_cache: Path) -> None:
    ucum = _value_set({"system": "http://unitsofmeasure.org", "concept": [{"code": "mg"}, {"code": "kg/m2"}]})
    assert _findings(fhir_cache, ucum) == []
    mime = _value_set({"system": "urn:ietf:bcp:13", "concept": [{"code": "application/fhir+json"}, {"code": "pdf"}]})
    assert _findings(fhir_cache, mime) == [("FHIR-VS-001", "error", "ValueSet.compose.include[0].concept[1]")]
