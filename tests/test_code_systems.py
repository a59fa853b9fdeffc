"""CodeSystem resources as artifacts (validators/fhir/code_systems.py), checked as HL7's validator
(CodeSystemValidator) checks them. The fixtures in fixtures/fhir/code-systems trip and pass each
rule; these tests pin what the fixtures cannot: where each finding is located (where HL7 locates
it), the severities HL7 gives the variants of one rule, nested concepts, and HL7's readings of
edge cases (each code judged once, one table of property uris and codes, the core package's own
value sets preferred)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from samsvar.validators import Options, Validator

from .conftest import FIXTURES

FOLDER = FIXTURES / "fhir" / "code-systems"
DEFINITIONS = FOLDER / "definitions"
BASE = "urn:oid:2.16.578.1.12.4.1.1.9901"

Finding = tuple[str, str, str | None]


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FOLDER / name).read_text(encoding="utf-8"))


def _findings(fhir_cache: Path, resource: dict[str, Any], igs: tuple[str, ...] = (str(DEFINITIONS),)) -> list[Finding]:
    validator = Validator(Options(cache_root=fhir_cache, igs=igs))
    result = validator.validate_bytes("cs.json", json.dumps(resource).encode())
    return [(i.rule, i.severity.code, i.expression) for i in result.issues if i.rule.startswith("FHIR-CS-")]


def _valid() -> dict[str, Any]:
    return _fixture("valid-complete-hierarchy.json")


def test_the_valid_fixtures_raise_nothing_of_these_rules(fhir_cache: Path) -> None:
    for name in ("valid-complete-hierarchy.json", "valid-supplement.json", "valid-fragment.json",
                 "valid-all-codes-value-set.json"):
        assert _findings(fhir_cache, _fixture(name)) == [], name


def test_a_duplicate_is_found_at_any_depth_and_located_on_the_later_concept(fhir_cache: Path) -> None:
    system = _valid()
    system["count"] = 5
    system["concept"][1]["concept"] = [{"code": "3", "concept": [{"code": "1.2"}]}]
    system["count"] = 6
    assert _findings(fhir_cache, system) == [("FHIR-CS-001", "error", "CodeSystem.concept[1].concept[0].concept[0]")]
    # a top-level code repeated as a nested one, and two top-level concepts
    system = _valid()
    system["concept"].append({"code": "2"})
    system["count"] = 5
    assert _findings(fhir_cache, system) == [("FHIR-CS-001", "error", "CodeSystem.concept[2]")]


def test_count_findings_are_on_count_with_hl7s_severity_for_each_content(fhir_cache: Path) -> None:
    system = _valid()
    system["count"] = 3
    assert _findings(fhir_cache, system) == [("FHIR-CS-004", "error", "CodeSystem.count")]
    system["count"] = 5  # nested concepts are counted too: 4 concepts, not 2
    assert _findings(fhir_cache, system) == [("FHIR-CS-004", "error", "CodeSystem.count")]
    fragment = _fixture("valid-fragment.json")
    fragment["count"] = 2  # as many as there are: a fragment must hold fewer than the whole
    assert _findings(fhir_cache, fragment) == [("FHIR-CS-004", "warning", "CodeSystem.count")]
    fragment["count"] = 3
    assert _findings(fhir_cache, fragment) == []
    fragment["content"] = "example"
    fragment["count"] = 1
    assert _findings(fhir_cache, fragment) == [("FHIR-CS-004", "warning", "CodeSystem.count")]


def test_a_not_present_code_system_with_concepts(fhir_cache: Path) -> None:
    system = _fixture("not-present-with-concepts.json")
    assert _findings(fhir_cache, system) == [("FHIR-CS-003", "error", "CodeSystem.concept[0]")]
    system["count"] = 0  # and a count of 0 besides: a hint at the first concept
    assert _findings(fhir_cache, system) == [("FHIR-CS-004", "information", "CodeSystem.concept[0]"),
                                             ("FHIR-CS-003", "error", "CodeSystem.concept[0]")]
    system["count"] = 12
    del system["concept"]
    assert _findings(fhir_cache, system) == []


def test_complete_and_empty_is_a_warning_on_the_resource(fhir_cache: Path) -> None:
    assert _findings(fhir_cache, _fixture("complete-and-empty.json")) == [("FHIR-CS-002", "warning", "CodeSystem")]


def test_property_definitions_are_one_table_of_uris_and_codes(fhir_cache: Path) -> None:
    system = _valid()
    system["property"].append({"code": "ny", "uri": "http://hl7.org/fhir/concept-properties#parent", "type": "code"})
    system["property"].append({"code": "rel", "uri": "ikke absolutt", "type": "string"})
    assert _findings(fhir_cache, system) == [("FHIR-CS-005", "error", "CodeSystem.property[2]"),
                                             ("FHIR-CS-005", "error", "CodeSystem.property[3]")]
    # a code the same as an earlier property's uri is taken, as in HL7's validator
    system = _valid()
    system["property"].append({"code": "http://hl7.org/fhir/concept-properties#inactive", "type": "boolean"})
    assert _findings(fhir_cache, system) == [("FHIR-CS-005", "error", "CodeSystem.property[2]")]


def test_concept_property_findings_are_on_the_property_of_the_nested_concept(fhir_cache: Path) -> None:
    system = _valid()
    system["concept"][0]["concept"][1]["property"] = [{"code": "vekt", "valueDecimal": 1.5},
                                                      {"code": "inactive", "valueCode": "true"},
                                                      {"code": "inactive"}]
    assert _findings(fhir_cache, system) == [
        ("FHIR-CS-006", "warning", "CodeSystem.concept[0].concept[1].property[0]"),
        ("FHIR-CS-007", "error", "CodeSystem.concept[0].concept[1].property[1]"),
        ("FHIR-CS-007", "error", "CodeSystem.concept[0].concept[1].property[2]")]


def test_standard_properties_must_be_declared_too(fhir_cache: Path) -> None:
    system = _valid()
    system["property"] = [p for p in system["property"] if p["code"] != "parent"]
    assert _findings(fhir_cache, system) == [("FHIR-CS-006", "warning", "CodeSystem.concept[0].concept[0].property[0]")]
    # a property code that is a declared property's uri is declared (one table)
    system["concept"][0]["concept"][0]["property"] = [
        {"code": "http://hl7.org/fhir/concept-properties#inactive", "valueBoolean": False}]
    assert _findings(fhir_cache, system) == []


def test_unknown_internal_codes_error_for_hierarchy_properties_and_warn_for_others(fhir_cache: Path) -> None:
    system = _valid()
    system["property"].append({"code": "erstattes-av", "type": "code"})
    system["concept"][1]["property"] = [{"code": "erstattes-av", "valueCode": "7"},
                                        {"code": "parent", "valueCode": "8"}]
    assert _findings(fhir_cache, system) == [("FHIR-CS-008", "warning", "CodeSystem.concept[1].property[0]"),
                                             ("FHIR-CS-008", "error", "CodeSystem.concept[1].property[1]")]
    # a code later in the document is a code of the system; each unknown code is judged once
    system["concept"][1]["property"] = [{"code": "parent", "valueCode": "1.2"}, {"code": "parent", "valueCode": "8"}]
    system["concept"][0]["property"] = [{"code": "erstattes-av", "valueCode": "8"}]
    assert _findings(fhir_cache, system) == [("FHIR-CS-008", "warning", "CodeSystem.concept[0].property[0]")]
    # a code property bound to a value set is not judged against the system's own codes
    system = _valid()
    system["property"].append({"code": "farge", "type": "code", "extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/codesystem-property-valueset",
         "valueCanonical": "http://samsvar.no/fhir/ValueSet/farger"}]})
    system["concept"][1]["property"] = [{"code": "farge", "valueCode": "rod"}]
    assert _findings(fhir_cache, system) == []


def test_a_supplement_without_supplements_and_its_declaration(fhir_cache: Path) -> None:
    supplement = _fixture("valid-supplement.json")
    del supplement["supplements"]
    assert _findings(fhir_cache, supplement) == [("FHIR-CS-009", "error", "CodeSystem.content"),
                                                 ("FHIR-CS-009", "error", "CodeSystem")]
    wrong = _fixture("supplement-wrong-content.json")
    assert _findings(fhir_cache, wrong) == [("FHIR-CS-009", "error", "CodeSystem.content"),
                                            ("FHIR-CS-009", "error", "CodeSystem.caseSensitive")]


def test_supplement_hierarchy_meaning_and_count_follow_the_base(fhir_cache: Path) -> None:
    supplement = _fixture("valid-supplement.json")
    supplement["hierarchyMeaning"] = "part-of"
    assert _findings(fhir_cache, supplement) == [("FHIR-CS-009", "error", "CodeSystem")]
    supplement["hierarchyMeaning"] = "is-a"
    supplement["count"] = 2  # the base states 4; the supplement has 2 concepts
    assert _findings(fhir_cache, supplement) == [("FHIR-CS-004", "error", "CodeSystem.count")]


def test_supplement_codes_are_checked_against_the_loaded_base(fhir_cache: Path) -> None:
    supplement = _fixture("supplement-unknown-code.json")
    assert _findings(fhir_cache, supplement) == [("FHIR-CS-011", "error", "CodeSystem.concept[2]")]
    # without the base loaded: one warning that they were not checked, on the resource
    assert _findings(fhir_cache, supplement, igs=()) == [("FHIR-CS-010", "warning", "CodeSystem")]
    # a code property in a supplement names codes of the base
    supplement = _fixture("valid-supplement.json")
    supplement["property"].append({"code": "se-også", "type": "code"})
    supplement["concept"][0]["property"].append({"code": "se-også", "valueCode": "2"})
    supplement["concept"][1]["property"] = [{"code": "se-også", "valueCode": "5"}]
    assert _findings(fhir_cache, supplement) == [("FHIR-CS-008", "error", "CodeSystem.concept[1].property[0]")]


def _with_value_set(fhir_cache: Path, folder: Path, system: dict[str, Any], value_set: dict[str, Any],
                    base: tuple[str, ...] = (str(DEFINITIONS),)) -> list[str]:
    """The FHIR-CS-012 messages on ``system`` with ``value_set`` loaded as an IG (a folder of its own)."""
    folder.mkdir(exist_ok=True)
    (folder / "ValueSet-under-test.json").write_text(json.dumps(value_set), encoding="utf-8")
    validator = Validator(Options(cache_root=fhir_cache, igs=(*base, str(folder))))
    result = validator.validate_bytes("cs.json", json.dumps(system).encode())
    return [i.message for i in result.issues if i.rule == "FHIR-CS-012"]


def test_the_all_codes_value_set_must_be_one_whole_include_of_the_system(fhir_cache: Path, tmp_path: Path) -> None:
    assert _findings(fhir_cache, _fixture("all-codes-value-set-wrong.json")) == [("FHIR-CS-012", "error", "CodeSystem")]
    value_set = {"resourceType": "ValueSet", "id": "alle", "url": "http://samsvar.no/fhir/ValueSet/alle",
                 "status": "active", "compose": {"include": [{"system": BASE, "filter": [
                     {"property": "concept", "op": "is-a", "value": "1"}]}]}}
    system = _valid()
    system["valueSet"] = value_set["url"]
    # the include is of 9901, the system is 9902
    assert [m for m in _with_value_set(fhir_cache, tmp_path / "a", system, value_set) if "another system" in m]
    system["url"] = BASE
    assert [m for m in _with_value_set(fhir_cache, tmp_path / "b", system, value_set) if "with a filter" in m]
    whole = {**value_set, "compose": {"include": [{"system": BASE}]},
             "expansion": {"timestamp": "2024-01-01T00:00:00Z", "contains": [{"system": BASE, "code": "1"}]}}
    assert [m for m in _with_value_set(fhir_cache, tmp_path / "c", system, whole) if "expansion of 1 code(s)" in m]
    no_compose = {k: v for k, v in whole.items() if k != "compose"}
    assert [m for m in _with_value_set(fhir_cache, tmp_path / "d", system, no_compose) if "single include" in m]


def test_the_core_packages_own_value_set_is_the_one_judged(fhir_cache: Path, tmp_path: Path) -> None:
    """HL7's validator prefers the core package's code systems and value sets (its master definitions)
    to another package's with the same URL; an IG that redefines one does not change the verdict."""
    system = _valid()
    system["url"] = "http://hl7.org/fhir/administrative-gender"
    system["valueSet"] = "http://hl7.org/fhir/ValueSet/administrative-gender"
    rival = {"resourceType": "ValueSet", "id": "administrative-gender", "status": "active",
             "url": "http://hl7.org/fhir/ValueSet/administrative-gender",
             "compose": {"include": [{"system": "http://samsvar.no/fhir/CodeSystem/kjonn"}]}}
    assert _with_value_set(fhir_cache, tmp_path / "core", system, rival, base=()) == []
    rival["url"] = system["valueSet"] = "http://samsvar.no/fhir/ValueSet/kjonn"  # not the core's: judged
    assert _with_value_set(fhir_cache, tmp_path / "own", system, rival, base=()) != []


def test_an_all_codes_value_set_on_an_incomplete_system_or_supplement(fhir_cache: Path) -> None:
    assert _findings(fhir_cache, _fixture("all-codes-value-set-incomplete.json")) == [
        ("FHIR-CS-013", "information", "CodeSystem")]
    supplement = _fixture("valid-supplement.json")
    supplement["valueSet"] = "http://samsvar.no/fhir/ValueSet/tjenestetype-alle"  # the base's own: no FHIR-CS-013
    # (but, as in HL7's validator, that value set includes the base system, not the supplement's url)
    assert _findings(fhir_cache, supplement) == [("FHIR-CS-012", "error", "CodeSystem")]
    supplement["valueSet"] = "http://samsvar.no/fhir/ValueSet/annet"
    assert _findings(fhir_cache, supplement) == [("FHIR-CS-013", "warning", "CodeSystem")]
    supplement["supplements"] = "http://samsvar.no/fhir/CodeSystem/finnes-ikke"
    assert _findings(fhir_cache, supplement) == [("FHIR-CS-013", "warning", "CodeSystem"),
                                                 ("FHIR-CS-010", "warning", "CodeSystem")]


def test_a_contained_code_system_is_checked_where_it_is(fhir_cache: Path) -> None:
    system = _fixture("complete-and-empty.json")
    questionnaire = {"resourceType": "Questionnaire", "id": "q", "status": "active", "contained": [system],
                     "item": [{"linkId": "1", "type": "choice", "text": "Type",
                               "answerOption": [{"valueCoding": {"system": system["url"], "code": "1"}}]}]}
    assert _findings(fhir_cache, questionnaire) == [("FHIR-CS-002", "warning", "Questionnaire.contained[0]")]


def test_a_supplement_of_samsvars_own_partial_list_only_warns(fhir_cache: Path) -> None:
    """samsvar's copies of Volven lists come from the public viewer and lack retired codes (as for
    Codings, FHIR-TX-001): an unknown code there is a warning that says so."""
    supplement = _fixture("valid-supplement.json")
    supplement["supplements"] = "urn:oid:2.16.578.1.12.4.1.1.3101"
    supplement["concept"] = [{"code": "1"}, {"code": "99"}]
    validator = Validator(Options(cache_root=fhir_cache))
    issues = [i for i in validator.validate_bytes("cs.json", json.dumps(supplement).encode()).issues
              if i.rule.startswith("FHIR-CS-")]
    assert [(i.rule, i.severity.code, i.expression) for i in issues] == [
        ("FHIR-CS-011", "warning", "CodeSystem.concept[1]")]
    assert "public viewer" in issues[0].message
