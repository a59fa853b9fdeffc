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
    return [(i.rule, i.severity.code, i.expression) for i in result.issues if i.rule != "FHIR-INV-003"]


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
    return [(i.rule, i.severity.code, i.expression) for i in result.issues if i.rule != "FHIR-INV-003"]


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


# -- text that looks like HTML ------------------------------------------------------------------

def test_html_looking_tags_follow_hl7s_test() -> None:
    from samsvar.validators.fhir.textcontent import contains_html_tags, markdown_html_at

    assert contains_html_tags("<b>Kari</b>") and contains_html_tags("x <script src=a.js></script>")
    assert not contains_html_tags("a < b and c > d") and not contains_html_tags("<1> <2>")
    assert markdown_html_at("Ring <br> nå") == 5 and markdown_html_at("<!-- x -->") == 0
    assert markdown_html_at("a \\<b> escaped") is None and markdown_html_at("1 < 2") is None


def test_html_in_a_string_is_a_hint_unless_security_checks_are_on(fhir_cache: Path) -> None:
    patient = {"resourceType": "Patient", "id": "p", "name": [{"text": "<i>Kari</i> Nordmann"}]}
    assert ("FHIR-STRUCT-019", "information", "Patient.name[0].text") in _issues(fhir_cache, patient)
    assert ("FHIR-STRUCT-019", "error", "Patient.name[0].text") in _issues(fhir_cache, patient, security_checks=True)
    rendering = {"resourceType": "Patient", "id": "p", "name": [{"text": "Kari", "extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/rendering-xhtml", "valueString": "<i>Kari</i> Nordmann"}]}]}
    assert not [f for f in _issues(fhir_cache, rendering) if f[0] == "FHIR-STRUCT-019"], "XHTML on purpose"


def test_html_in_markdown_is_a_warning_an_error_or_nothing_as_asked(fhir_cache: Path) -> None:
    note = {"resourceType": "Communication", "id": "c", "status": "completed", "note": [{"text": "<p>hei</p>"}]}
    where = "Communication.note[0].text"
    assert ("FHIR-STRUCT-020", "warning", where) in _issues(fhir_cache, note)
    assert ("FHIR-STRUCT-020", "error", where) in _issues(fhir_cache, note, html_in_markdown="error")
    assert not [f for f in _issues(fhir_cache, note, html_in_markdown="none") if f[0] == "FHIR-STRUCT-020"]
    assert not [f for f in _issues(fhir_cache, note) if f[0] == "FHIR-STRUCT-019"], "markdown is not hinted as a string"


# -- references that must resolve (HL7's reference validation policy) -----------------------------

def _coverage(reference: str) -> dict[str, Any]:
    return {"resourceType": "Coverage", "id": "c", "status": "active", "beneficiary": {"reference": reference},
            "payor": [{"display": "HELFO"}]}


def test_an_outside_reference_is_left_alone_unless_the_policy_asks(fhir_cache: Path) -> None:
    assert not [f for f in _issues(fhir_cache, _coverage("Patient/9")) if f[0] == "FHIR-REF-006"]
    found = _issues(fhir_cache, _coverage("Patient/9"), reference_policy="exists")
    assert ("FHIR-REF-006", "error", "Coverage.beneficiary") in found
    # example domains pass where example URLs are allowed, as in HL7's validator
    example = _coverage("http://example.org/fhir/Patient/9")
    assert not [f for f in _issues(fhir_cache, example, reference_policy="exists") if f[0] == "FHIR-REF-006"]
    assert ("FHIR-REF-006", "error", "Coverage.beneficiary") in _issues(
        fhir_cache, example, reference_policy="exists", allow_example_urls=False)


def test_a_reference_target_given_resolves_and_its_type_is_checked(fhir_cache: Path, tmp_path: Path) -> None:
    target = tmp_path / "organization-9.json"
    target.write_text(json.dumps({"resourceType": "Organization", "id": "9", "name": "X"}))
    patient = tmp_path / "patient-9.json"
    patient.write_text(json.dumps({"resourceType": "Patient", "id": "9"}))
    ok = _issues(fhir_cache, _coverage("Patient/9"), reference_policy="type", reference_targets=(str(patient),))
    assert not [f for f in ok if f[1] == "error"], ok
    # a target of the wrong type, under the same name as the reference: type-checked by the policy
    (tmp_path / "wrong.json").write_text(json.dumps({"resourceType": "Organization", "id": "9"}))
    found = _issues(fhir_cache, _coverage("Organization/9"), reference_policy="type", reference_targets=(str(target),))
    assert ("FHIR-REF-001", "error", "Coverage.beneficiary") in found
