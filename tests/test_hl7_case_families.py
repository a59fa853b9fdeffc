"""Families closed against HL7's validator test cases (issue 14, the test-case part): what each
reports, where and at which severity, and what it leaves alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from samsvar.validators import Options, Validator

PROFILE_URL = "http://example.org/fhir/StructureDefinition/translated-relationships"


def _issues(fhir_cache: Path, resource: dict[str, Any], **options: Any) -> list[tuple[str, str, str | None]]:
    validator = Validator(Options(cache_root=fhir_cache, **options))
    result = validator.validate_bytes("r.json", json.dumps(resource).encode())
    return [(i.rule, i.severity.code, i.expression) for i in result.issues
            if i.rule not in ("FHIR-INV-003", "FHIR-OBS-001")]  # best-practice warnings


def _relationship_profile(tmp_path: Path) -> Path:
    """A profile binding Patient.contact.relationship to a contained value set that gives v2-0131#C
    the display 'Nødkontakt' (in its expansion) and #N a designation 'Nærmeste pårørende'."""
    profile = {
        "resourceType": "StructureDefinition", "id": "translated-relationships", "url": PROFILE_URL,
        "name": "TranslatedRelationships", "status": "draft", "kind": "resource", "abstract": False,
        "type": "Patient", "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
        "derivation": "constraint",
        "contained": [{"resourceType": "ValueSet", "id": "relationships", "status": "draft", "expansion": {
            "timestamp": "2024-01-01T00:00:00Z", "contains": [
                {"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "C", "display": "Nødkontakt"},
                {"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "N",
                 "designation": [{"language": "nb", "value": "Nærmeste pårørende"}]}]}}],
        "differential": {"element": [
            {"id": "Patient", "path": "Patient"},
            {"id": "Patient.contact.relationship", "path": "Patient.contact.relationship",
             "binding": {"strength": "required", "valueSet": "#relationships"}}]},
    }
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile))
    return path


def _contact(code: str, display: str) -> dict[str, Any]:
    return {"relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                                          "code": code, "display": display}]}], "name": {"text": "Kari"}}


def test_a_display_the_bound_value_set_gives_is_accepted(fhir_cache: Path, tmp_path: Path) -> None:
    patient = {"resourceType": "Patient", "id": "p", "contact": [_contact("C", "Nødkontakt"),
                                                                  _contact("N", "Nærmeste pårørende")]}
    profile = _relationship_profile(tmp_path)
    found = _issues(fhir_cache, patient, igs=(str(profile),), profiles=(PROFILE_URL,))
    assert not [f for f in found if f[1] in ("error", "fatal")], found
    # without the profile the code system alone decides: the displays are wrong
    found = _issues(fhir_cache, patient)
    assert ("FHIR-TX-002", "error", "Patient.contact[0].relationship[0].coding[0].display") in found
    assert ("FHIR-TX-002", "error", "Patient.contact[1].relationship[0].coding[0].display") in found


def test_a_display_neither_the_value_set_nor_the_code_system_gives_is_still_wrong(fhir_cache: Path,
                                                                                   tmp_path: Path) -> None:
    patient = {"resourceType": "Patient", "id": "p", "contact": [_contact("C", "Something else")]}
    profile = _relationship_profile(tmp_path)
    found = _issues(fhir_cache, patient, igs=(str(profile),), profiles=(PROFILE_URL,))
    assert ("FHIR-TX-002", "error", "Patient.contact[0].relationship[0].coding[0].display") in found
    assert not [f for f in found if f[0] == "FHIR-BIND-003"], "the contained value set is resolved"


# -- XML: a non-repeating element given more than once -------------------------------------------

def _xml_issues(fhir_cache: Path, text: str, **options: Any) -> list[tuple[str, str, str | None]]:
    validator = Validator(Options(cache_root=fhir_cache, **options))
    result = validator.validate_bytes("r.xml", text.encode())
    return [(i.rule, i.severity.code, i.expression) for i in result.issues
            if i.rule not in ("FHIR-INV-003", "FHIR-OBS-001")]  # best-practice warnings


def test_a_repeated_single_element_in_xml_is_too_many_on_its_parent(fhir_cache: Path) -> None:
    bundle = """<Bundle xmlns="http://hl7.org/fhir"><type value="collection"/>
      <entry><fullUrl value="urn:uuid:0f3d28ae-4c27-49eb-987d-c35d536b40f8"/><resource>
        <Observation><status value="final"/><code><text value="x"/></code>
          <subject><display value="a"/></subject><subject><display value="b"/></subject>
        </Observation></resource></entry></Bundle>"""
    found = _xml_issues(fhir_cache, bundle)
    assert found == [("FHIR-STRUCT-003", "error", "Bundle.entry[0].resource")]
    single = bundle.replace('<subject><display value="b"/></subject>', "")
    assert _xml_issues(fhir_cache, single) == []
