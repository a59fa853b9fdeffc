"""OperationDefinitions as artifacts (validators/fhir/operation_definitions.py): the base chain and
the input and output profiles on Parameters, cross-checked with the parameter list as HL7's
validator does. The fixtures in fixtures/fhir/operation-definitions trip and pass each rule; these
tests pin what the fixtures cannot: locations, both directions of a difference, HL7's reading of
odd profiles, and agreement with HL7's own test case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from samsvar.validators import Options, Validator

from .conftest import FIXTURES
from .shared import shared_path

FOLDER = FIXTURES / "fhir" / "operation-definitions"
DEFINITIONS = FOLDER / "definitions"
TEST = "http://samsvar.no/fhir/test"


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FOLDER / name).read_text(encoding="utf-8"))


def _findings(fhir_cache: Path, resource: dict[str, Any], igs: tuple[str, ...] = (str(DEFINITIONS),),
              **options: Any) -> list[tuple[str, str, str | None]]:
    validator = Validator(Options(cache_root=fhir_cache, igs=igs, **options))
    result = validator.validate_bytes("op.json", json.dumps(resource).encode())
    return [(i.rule, i.severity.code, i.expression) for i in result.issues if i.rule.startswith("FHIR-OPDEF")]


def test_a_matching_operation_and_profiles_raise_nothing(fhir_cache: Path) -> None:
    assert _findings(fhir_cache, _fixture("valid-operation.json")) == []


def test_findings_are_located_at_the_parameter_or_as_hl7_writes_them(fhir_cache: Path) -> None:
    operation = _fixture("cardinality-differs.json")
    assert _findings(fhir_cache, operation) == [("FHIR-OPDEF-006", "error", "OperationDefinition.parameter[1]")]
    assert _findings(fhir_cache, operation, hl7_paths=True) == [
        ("FHIR-OPDEF-006", "error", "OperationDefinition.inputProfile.parameter[1]")]
    circular = _fixture("circular-base.json")  # loaded too, as inputs are in a run (the chain goes through definitions)
    loaded = (str(DEFINITIONS), str(FOLDER / "circular-base.json"))
    assert _findings(fhir_cache, circular, igs=loaded) == [("FHIR-OPDEF-001", "error", "OperationDefinition.base")]
    assert _findings(fhir_cache, circular, igs=loaded, hl7_paths=True) == [
        ("FHIR-OPDEF-001", "error", "OperationDefinition")]


def test_a_base_that_is_the_definition_itself_is_circular_once_it_is_loaded(fhir_cache: Path, tmp_path: Path) -> None:
    """As HL7 follows the chain: through loaded definitions. Validated alone, a definition based on
    itself finds no base (HL7's test case ext-derived-circle: no circularity error)."""
    operation = _fixture("valid-operation.json")
    operation["base"] = operation["url"] + "|1.0.0"
    assert _findings(fhir_cache, operation) == []
    for name in DEFINITIONS.glob("StructureDefinition-*.json"):
        (tmp_path / name.name).write_bytes(name.read_bytes())
    (tmp_path / "self.json").write_text(json.dumps(operation), encoding="utf-8")
    assert _findings(fhir_cache, operation, igs=(str(tmp_path),)) == [
        ("FHIR-OPDEF-001", "error", "OperationDefinition.base")]


def test_a_loop_among_other_definitions_ends_and_is_not_this_ones_finding(fhir_cache: Path, tmp_path: Path) -> None:
    loop = json.loads((DEFINITIONS / "OperationDefinition-finn-pasient-loop.json").read_text(encoding="utf-8"))
    loop["base"] = f"{TEST}/OperationDefinition/finn-pasient-other"
    other = {**loop, "id": "finn-pasient-other", "url": f"{TEST}/OperationDefinition/finn-pasient-other",
             "base": loop["url"]}
    for name, resource in (("loop.json", loop), ("other.json", other)):
        (tmp_path / name).write_text(json.dumps(resource), encoding="utf-8")
    for name in DEFINITIONS.glob("StructureDefinition-*.json"):
        (tmp_path / name.name).write_bytes(name.read_bytes())
    operation = _fixture("valid-operation.json")
    operation["base"] = loop["url"]
    assert _findings(fhir_cache, operation, igs=(str(tmp_path),)) == []


def test_a_type_difference_is_reported_in_both_directions(fhir_cache: Path) -> None:
    validator = Validator(Options(cache_root=fhir_cache, igs=(str(DEFINITIONS),)))
    result = validator.validate_bytes("op.json", json.dumps(_fixture("type-differs.json")).encode())
    messages = [i.message for i in result.issues if i.rule == "FHIR-OPDEF-007"]
    assert len(messages) == 2, messages
    assert any("The type 'integer' is allowed for the parameter 'count' in the 'in' profile" in m
               and m.endswith("operation definition: decimal") for m in messages), messages
    assert any("The type 'decimal' is not allowed" in m and m.endswith("(the profile allows integer)")
               for m in messages), messages


def test_target_profiles_are_compared_both_ways_but_not_for_an_element_parameter(fhir_cache: Path) -> None:
    operation = _fixture("target-profile-differs.json")
    found = _findings(fhir_cache, operation)
    assert found == [("FHIR-OPDEF-008", "error", "OperationDefinition.parameter[0]")] * 2
    # a parameter of type Element cannot state target profiles (opd-3): the profile's are not held against it
    element = _fixture("valid-allowed-types.json")
    assert _findings(fhir_cache, element) == []


def test_allowed_type_extensions_stand_for_the_type(fhir_cache: Path) -> None:
    operation = _fixture("valid-allowed-types.json")
    operation["parameter"][0]["extension"] = operation["parameter"][0]["extension"][:1]  # string only
    found = _findings(fhir_cache, operation)
    assert found == [("FHIR-OPDEF-007", "error", "OperationDefinition.parameter[0]")]


def test_a_profile_slice_carries_its_value_where_the_other_elements_are_not_required(fhir_cache: Path,
                                                                                    tmp_path: Path) -> None:
    """As HL7 decides which of value[x] and resource a slice uses: a max of 0 (given as a JSON number,
    read as its text) closes one, a minimum on the other closes it too."""
    profile = json.loads((DEFINITIONS / "StructureDefinition-finn-pasient-out.json").read_text(encoding="utf-8"))
    for element in profile["differential"]["element"]:
        if element["id"] == "Parameters.parameter:return.value[x]":
            element.update({"max": 0, "type": [{"code": "string"}]})  # a number: not FHIR, read as "0"
    (tmp_path / "out.json").write_text(json.dumps(profile), encoding="utf-8")
    (tmp_path / "in.json").write_bytes((DEFINITIONS / "StructureDefinition-finn-pasient-in.json").read_bytes())
    assert _findings(fhir_cache, _fixture("valid-operation.json"), igs=(str(tmp_path),)) == []
    for element in profile["differential"]["element"]:
        if element["id"] == "Parameters.parameter:return.value[x]":
            element["max"] = "1"  # now value[x] is used too, and string is not the parameter's type
    (tmp_path / "out.json").write_text(json.dumps(profile), encoding="utf-8")
    assert _findings(fhir_cache, _fixture("valid-operation.json"), igs=(str(tmp_path),)) == [
        ("FHIR-OPDEF-007", "error", "OperationDefinition.parameter[2]")]


def test_an_operation_in_a_bundle_is_checked_where_it_is(fhir_cache: Path) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": f"{TEST}/OperationDefinition/finn-pasient-many-counts",
                         "resource": _fixture("cardinality-differs.json")}]}
    assert _findings(fhir_cache, bundle) == [("FHIR-OPDEF-006", "error", "Bundle.entry[0].resource.parameter[1]")]


def test_hl7s_own_test_case_gets_hl7s_findings(fhir_cache: Path) -> None:
    """HL7's test case opdef-params (fhir-test-cases, R4): the same error paths (as HL7 writes them),
    and its four warnings."""
    folder = shared_path("peer", "fhir-test-cases", "validator")
    manifest = json.loads((folder.parent / "manifest.r4-offline.json").read_text(encoding="utf-8"))
    cases = manifest.get("test-cases") or manifest.get("cases") or manifest
    case = next(c for c in cases if c.get("name") == "opdef-params")
    expected = case["expected"]["base"]
    validator = Validator(Options(cache_root=fhir_cache, hl7_paths=True,
                                  igs=tuple(str(folder / name) for name in case["supporting"])))
    result = validator.validate_bytes(case["file"], (folder / case["file"]).read_bytes())
    errors = {i.expression for i in result.issues if i.severity.code in ("error", "fatal")}
    assert errors == set(expected["error_paths"])
    assert sum(i.severity.code == "error" for i in result.issues) == expected["errors"]
    assert sum(i.rule.startswith("FHIR-OPDEF") and i.severity.code == "warning" for i in result.issues) \
        == expected["warnings"]


@pytest.mark.parametrize("name", ["opdef2-params.json"])
def test_hl7s_clean_test_case_stays_clean(fhir_cache: Path, name: str) -> None:
    folder = shared_path("peer", "fhir-test-cases", "validator")
    validator = Validator(Options(cache_root=fhir_cache, igs=(str(folder / "opdef2-in-profile.json"),
                                                              str(folder / "opdef2-out-profile.json"))))
    result = validator.validate_bytes(name, (folder / name).read_bytes())
    assert [i for i in result.issues if i.rule.startswith("FHIR-OPDEF")] == []
