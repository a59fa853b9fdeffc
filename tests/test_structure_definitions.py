"""StructureDefinitions as artifacts (validators/fhir/structure_definitions.py): the definition as a
whole against its base, extension contexts and Extension.url, as HL7's StructureDefinitionValidator
checks them. The fixtures in fixtures/fhir/structure-definitions trip and pass each rule; these tests
pin what the fixtures cannot: locations, severities, both HL7 messages of a family, and HL7's
exceptions (an abstract base, a JSON name, a profile of another extension, a loop elsewhere)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from samsvar.validators import Options, Validator

from .conftest import FIXTURES

FOLDER = FIXTURES / "fhir" / "structure-definitions"
DEFINITIONS = FOLDER / "definitions"
TEST = "http://samsvar.no/fhir/test/StructureDefinition/"
JSON_NAME = "http://hl7.org/fhir/tools/StructureDefinition/json-name"
OURS = tuple(f"FHIR-SD-0{n:02d}" for n in range(6, 50))


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FOLDER / name).read_text(encoding="utf-8"))


def _findings(fhir_cache: Path, resource: dict[str, Any], igs: tuple[str, ...] = (str(DEFINITIONS),)) \
        -> list[tuple[str, str, str | None]]:
    validator = Validator(Options(cache_root=fhir_cache, igs=igs))
    result = validator.validate_bytes("sd.json", json.dumps(resource).encode())
    return sorted((i.rule, i.severity.code, i.expression) for i in result.issues if i.rule in OURS)


def test_valid_definitions_raise_nothing(fhir_cache: Path) -> None:
    assert _findings(fhir_cache, _fixture("valid-patient-profile.json")) == []
    assert _findings(fhir_cache, _fixture("valid-extension.json")) == []


def test_whole_definition_findings_are_on_the_definition_with_hl7s_severities(fhir_cache: Path) -> None:
    assert _findings(fhir_cache, _fixture("base-not-found.json")) == [
        ("FHIR-SD-007", "warning", "StructureDefinition")]
    assert _findings(fhir_cache, _fixture("experimental-base.json")) == [
        ("FHIR-SD-011", "warning", "StructureDefinition")]
    assert _findings(fhir_cache, _fixture("circular-base.json")) == [("FHIR-SD-006", "error", "StructureDefinition")]
    assert _findings(fhir_cache, _fixture("extension-url-mismatch.json")) == [
        ("FHIR-SD-013", "error", "StructureDefinition")]


def test_an_experimental_definition_may_build_on_an_experimental_base(fhir_cache: Path) -> None:
    profile = _fixture("experimental-base.json")
    profile["experimental"] = True
    assert _findings(fhir_cache, profile) == []


def test_a_profile_of_another_kind_gets_both_of_hl7s_findings(fhir_cache: Path) -> None:
    assert _findings(fhir_cache, _fixture("kind-differs.json")) == [
        ("FHIR-SD-009", "error", "StructureDefinition"), ("FHIR-SD-009", "error", "StructureDefinition")]


def test_an_abstract_base_allows_another_kind_unless_constrained(fhir_cache: Path) -> None:
    model = _fixture("valid-patient-profile.json")
    model.update(kind="logical", type=TEST + "Henvisning", derivation="specialization",
                 baseDefinition="http://hl7.org/fhir/StructureDefinition/Element",
                 differential={"element": [{"id": "Henvisning", "path": "Henvisning"}]})
    del model["differential"]
    assert [f[0] for f in _findings(fhir_cache, model)] == []
    constraint = _fixture("valid-patient-profile.json")
    constraint.update(kind="complex-type", type="DomainResource", derivation="constraint",
                      baseDefinition="http://hl7.org/fhir/StructureDefinition/DomainResource")
    del constraint["differential"]
    findings = _findings(fhir_cache, constraint)
    assert findings == [("FHIR-SD-009", "error", "StructureDefinition")]


def test_without_kind_hl7_fails_before_comparing_so_nothing_is_said_here(fhir_cache: Path) -> None:
    profile = _fixture("kind-differs.json")
    del profile["kind"]
    assert _findings(fhir_cache, profile) == []


def test_contexts_are_located_each_and_a_json_name_allows_a_context(fhir_cache: Path) -> None:
    profile = _fixture("context-not-extension.json")
    profile["context"] = [{"type": "element", "expression": "Patient"}, {"type": "element", "expression": "Basic"}]
    assert _findings(fhir_cache, profile) == [
        ("FHIR-SD-012", "error", "StructureDefinition.context[0]"),
        ("FHIR-SD-012", "error", "StructureDefinition.context[1]")]
    profile["differential"]["element"][0]["extension"] = [{"url": JSON_NAME, "valueString": "pasient"}]
    assert _findings(fhir_cache, profile) == []
    invariant = _fixture("context-invariant-not-extension.json")
    invariant["differential"]["element"][0]["extension"] = [{"url": JSON_NAME, "valueString": "pasient"}]
    assert _findings(fhir_cache, invariant) == [("FHIR-SD-012", "error", "StructureDefinition.contextInvariant[0]")]


def test_only_extensions_on_extension_itself_must_fix_their_url(fhir_cache: Path) -> None:
    extension = _fixture("extension-url-not-fixed.json")
    assert _findings(fhir_cache, extension) == [("FHIR-SD-013", "error", "StructureDefinition")]
    extension["baseDefinition"] = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
    assert _findings(fhir_cache, extension) == []


def test_a_loop_among_other_definitions_ends_and_is_not_this_ones_finding(fhir_cache: Path) -> None:
    profile = _fixture("valid-patient-profile.json")
    profile["baseDefinition"] = TEST + "sirkel-a"
    assert [f[0] for f in _findings(fhir_cache, profile)] == []


def test_type_findings_are_on_the_type_and_the_namespace_one_only_warns(fhir_cache: Path) -> None:
    assert _findings(fhir_cache, _fixture("type-namespace-differs.json")) == [
        ("FHIR-SD-014", "warning", "StructureDefinition.type")]
    assert _findings(fhir_cache, _fixture("type-not-local.json")) == [
        ("FHIR-SD-014", "error", "StructureDefinition.type")]


def test_a_constraint_may_have_any_namespace_and_fhirs_own_definition_may_specialise(fhir_cache: Path) -> None:
    model = _fixture("type-namespace-differs.json")
    model["derivation"] = "constraint"
    assert ("FHIR-SD-014", "warning", "StructureDefinition.type") not in _findings(fhir_cache, model)
    own = _fixture("type-not-derived.json")
    own["url"] = "http://hl7.org/fhir/StructureDefinition/Patient"
    assert [f for f in _findings(fhir_cache, own) if f[0] == "FHIR-SD-014"] == []


def test_element_paths_are_located_per_element_in_differential_and_snapshot(fhir_cache: Path) -> None:
    profile = _fixture("valid-patient-profile.json")
    profile["snapshot"] = {"element": [{"id": "Patient", "path": "Patient", "min": 0, "max": "*"},
                                       {"id": "Pasient.navn", "path": "Pasient.navn", "min": 0, "max": "1"}]}
    assert ("FHIR-SD-015", "error", "StructureDefinition.snapshot.element[1]") in _findings(fhir_cache, profile)
    assert [f for f in _findings(fhir_cache, _fixture("path-not-in-type.json")) if f[0] != "FHIR-SD-001"] == [
        ("FHIR-SD-015", "error", "StructureDefinition.differential.element[1]")]


def test_root_slicing_is_a_differential_finding_only(fhir_cache: Path) -> None:
    assert _findings(fhir_cache, _fixture("slicing-on-root.json")) == [
        ("FHIR-SD-016", "error", "StructureDefinition.differential.element[0]")]
    profile = _fixture("valid-patient-profile.json")
    profile["snapshot"] = {"element": [{"id": "Patient", "path": "Patient", "min": 0, "max": "*",
                                        "slicing": {"rules": "open"}}]}
    assert [f for f in _findings(fhir_cache, profile) if f[0] == "FHIR-SD-016"] == []


def test_snapshot_values_are_located_at_the_value_with_hl7s_severities(fhir_cache: Path) -> None:
    assert _findings(fhir_cache, _fixture("snapshot-value-of-other-type.json")) == [
        ("FHIR-SD-018", "error", "StructureDefinition.snapshot.element[1].patternString")]
    assert _findings(fhir_cache, _fixture("snapshot-complex-fixed.json")) == [
        ("FHIR-SD-019", "warning", "StructureDefinition.snapshot.element[1].fixedCodeableConcept")]
    assert _findings(fhir_cache, _fixture("snapshot-repeating-pattern.json")) == [
        ("FHIR-SD-020", "information", "StructureDefinition.snapshot.element[1].patternIdentifier")]
    assert _findings(fhir_cache, _fixture("snapshot-element-without-type.json")) == [
        ("FHIR-SD-017", "error", "StructureDefinition.snapshot.element[1]")]


def test_snapshot_types_count_the_fhir_type_extension_and_content_references(fhir_cache: Path) -> None:
    profile = _fixture("snapshot-value-of-other-type.json")
    element = profile["snapshot"]["element"][1]
    element["type"] = [{"code": "http://hl7.org/fhirpath/System.String", "extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type", "valueUrl": "string"}]}]
    assert _findings(fhir_cache, profile) == []
    element["defaultValueBoolean"] = True
    assert _findings(fhir_cache, profile) == [
        ("FHIR-SD-018", "error", "StructureDefinition.snapshot.element[1].defaultValueBoolean")]
    untyped = _fixture("snapshot-element-without-type.json")
    untyped["snapshot"]["element"][1]["contentReference"] = "#Patient.contact"
    assert _findings(fhir_cache, untyped) == []


def test_a_fixed_primitive_on_a_single_element_is_quiet_and_the_root_is_not_checked(fhir_cache: Path) -> None:
    profile = _fixture("valid-snapshot.json")
    profile["snapshot"]["element"][0]["fixedString"] = "rot"
    assert _findings(fhir_cache, profile) == []
    profile["snapshot"]["element"][1]["max"] = "*"
    assert _findings(fhir_cache, profile) == [
        ("FHIR-SD-020", "information", "StructureDefinition.snapshot.element[1].fixedBoolean")]
