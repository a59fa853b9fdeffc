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


# -- documents: links that must resolve, and HL7's locations (hl7_paths) --------------------------

def _document(composition_url: str, author: str, organization_url: str, composition_id: str | None = "c1") -> dict:
    composition: dict[str, Any] = {"resourceType": "Composition", "status": "final", "type": {"text": "Notat"},
                                   "date": "2024-01-01", "author": [{"reference": author}], "title": "Notat"}
    if composition_id:
        composition["id"] = composition_id
    return {"resourceType": "Bundle", "id": "b", "type": "document", "timestamp": "2024-01-01T00:00:00Z",
            "identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:5e9a0e5c-4b0b-4a57-9d6f-1a3ed1a53c11"},
            "entry": [{"fullUrl": composition_url, "resource": composition},
                      {"fullUrl": organization_url, "resource": {"resourceType": "Organization", "id": "o1",
                                                                 "name": "X"}}]}


def _errors(found: list[tuple[str, str, str | None]]) -> list[tuple[str, str | None]]:
    return sorted((rule, where) for rule, level, where in found if level in ("error", "fatal"))


def test_a_relative_document_link_resolves_against_the_referrers_restful_url(fhir_cache: Path) -> None:
    good = _document("http://x.no/fhir/Composition/c1", "Organization/o1", "http://x.no/fhir/Organization/o1")
    assert _errors(_issues(fhir_cache, good)) == []
    # from a urn:uuid fullUrl a relative reference points to the sender's server, not into the Bundle
    uuid = _document("urn:uuid:0f3d28ae-4c27-49eb-987d-c35d536b40f8", "Organization/o1",
                     "urn:uuid:13ed3afe-3d31-4148-8e95-dd62d140da57")
    assert _errors(_issues(fhir_cache, uuid)) == [("FHIR-BUNDLE-005", "Bundle.entry[0].resource.author[0]"),
                                                 ("FHIR-BUNDLE-006", "Bundle.entry[1]")]


def test_hl7_paths_writes_bundle_locations_as_hl7s_validator_does(fhir_cache: Path) -> None:
    uuid = _document("urn:uuid:0f3d28ae-4c27-49eb-987d-c35d536b40f8", "Organization/o1",
                     "urn:uuid:13ed3afe-3d31-4148-8e95-dd62d140da57")
    assert _errors(_issues(fhir_cache, uuid, hl7_paths=True)) == [
        ("FHIR-BUNDLE-005", "Bundle.entry[1].resource.author[1]"), ("FHIR-BUNDLE-006", "Bundle.entry[2]")]
    mismatch = _document("http://x.no/fhir/Composition/c1", "Organization/o1", "http://x.no/fhir/Organization/o2")
    assert ("FHIR-BUNDLE-002", "Bundle.entry[1]") in _errors(_issues(fhir_cache, mismatch))
    assert ("FHIR-BUNDLE-002", "Bundle.entry[0]") in _errors(_issues(fhir_cache, mismatch, hl7_paths=True))


def test_hl7_document_paths() -> None:
    from samsvar.validators.fhir.references import hl7_document_path

    assert hl7_document_path("Bundle.entry[0].resource.subject") == "Bundle.entry[1].resource.subject"
    assert hl7_document_path("Bundle.entry[0].resource.section[0].entry[1]") == \
        "Bundle.entry[1].resource.section[1].entry[2]"
    assert hl7_document_path("Bundle.entry[0].resource.section[2].author[0]") == "Bundle.entry[1].resource.author[1]"
    assert hl7_document_path("Bundle.entry[0].resource.focus[1]") == "Bundle.entry[1].resource.focus"


def test_hl7_paths_annotates_extension_findings_with_the_url(fhir_cache: Path) -> None:
    url = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
    patient = {"resourceType": "Patient", "id": "p",
               "extension": [{"url": f"{url}|4.0.1", "valueAddress": {"city": "Bergen"}}]}
    plain = _errors(_issues(fhir_cache, patient))
    assert plain == [("FHIR-EXT-007", "Patient.extension[0].url")]
    assert _errors(_issues(fhir_cache, patient, hl7_paths=True)) == [
        ("FHIR-EXT-007", "Patient.extension[0].url"), ("FHIR-EXT-007", f"Patient.extension[0][url='{url}|4.0.1']")]


# -- additional bindings --------------------------------------------------------------------------

ADDITIONAL = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.binding.additional"


def _additional_profile(tmp_path: Path, purpose: str, usage: dict[str, Any] | None = None) -> tuple[Path, Path]:
    parts: list[dict[str, Any]] = [{"url": "purpose", "valueCode": purpose},
                                   {"url": "valueSet", "valueCanonical": "http://example.org/fhir/ValueSet/glucose"}]
    if usage:
        parts.append({"url": "usage", "valueUsageContext": usage})
    profile = {"resourceType": "StructureDefinition", "id": "p", "url": "http://example.org/fhir/StructureDefinition/p",
               "name": "P", "status": "draft", "kind": "resource", "abstract": False, "type": "Observation",
               "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Observation", "derivation": "constraint",
               "differential": {"element": [{"id": "Observation", "path": "Observation"}, {
                   "id": "Observation.code", "path": "Observation.code", "binding": {
                       "strength": "example", "valueSet": "http://hl7.org/fhir/ValueSet/observation-codes",
                       "extension": [{"url": ADDITIONAL, "extension": parts}]}}]}}
    value_set = {"resourceType": "ValueSet", "id": "glucose", "url": "http://example.org/fhir/ValueSet/glucose",
                 "status": "draft", "compose": {"include": [{"system": "http://loinc.org", "concept": [{"code": "2339-0"}]}]}}
    (tmp_path / "p.json").write_text(json.dumps(profile))
    (tmp_path / "vs.json").write_text(json.dumps(value_set))
    return tmp_path / "p.json", tmp_path / "vs.json"


def _hemoglobin(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": "o", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]}, **fields}


def test_additional_bindings_take_hl7s_severities_by_purpose(fhir_cache: Path, tmp_path: Path) -> None:
    expected = {"required": ("FHIR-BIND-001", "error"), "maximum": ("FHIR-BIND-001", "error"),
                "extensible": ("FHIR-BIND-004", "warning"), "preferred": ("FHIR-BIND-004", "information")}
    for purpose, (rule, level) in expected.items():
        profile, value_set = _additional_profile(tmp_path, purpose)
        found = _issues(fhir_cache, _hemoglobin(), igs=(str(value_set), str(profile)),
                        profiles=("http://example.org/fhir/StructureDefinition/p",))
        assert (rule, level, "Observation.code") in found, (purpose, found)
    for purpose in ("candidate", "ui", "starter"):  # documentation only
        profile, value_set = _additional_profile(tmp_path, purpose)
        found = _issues(fhir_cache, _hemoglobin(), igs=(str(value_set), str(profile)),
                        profiles=("http://example.org/fhir/StructureDefinition/p",))
        assert not [f for f in found if f[0].startswith("FHIR-BIND")], (purpose, found)


def test_an_additional_binding_with_a_usage_applies_where_the_data_matches(fhir_cache: Path, tmp_path: Path) -> None:
    lab = {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}
    usage = {"code": {"system": "http://example.org/fhir/StructureDefinition/p", "code": "Observation.category"},
             "valueCodeableConcept": {"coding": [lab]}}
    profile, value_set = _additional_profile(tmp_path, "required", usage)
    options = {"igs": (str(value_set), str(profile)), "profiles": ("http://example.org/fhir/StructureDefinition/p",)}
    found = _issues(fhir_cache, _hemoglobin(category=[{"coding": [lab]}]), **options)
    assert ("FHIR-BIND-001", "error", "Observation.code") in found
    assert not [f for f in _issues(fhir_cache, _hemoglobin(), **options) if f[0] == "FHIR-BIND-001"]


# -- ISO 3166 country codes -------------------------------------------------------------------------

def test_iso_3166_codes_are_checked_in_all_three_forms(fhir_cache: Path) -> None:
    def location(code: str) -> dict[str, Any]:
        return {"resourceType": "Location", "id": "l", "physicalType": {"text": "x"}, "extension": [], "type": [
            {"coding": [{"system": "urn:iso:std:iso:3166", "code": code}]}]}

    for code in ("NO", "NOR", "578", "AU"):
        assert not [f for f in _issues(fhir_cache, location(code)) if f[0] == "FHIR-TX-001"], code
    assert ("FHIR-TX-001", "error", "Location.type[0].coding[0].code") in _issues(fhir_cache, location("XX"))


def test_a_string_answer_is_checked_against_a_jurisdiction_value_set(fhir_cache: Path, tmp_path: Path) -> None:
    questionnaire = {"resourceType": "Questionnaire", "id": "q", "url": "http://example.org/fhir/Questionnaire/land",
                     "status": "active", "item": [{"linkId": "q1", "type": "string", "repeats": True,
                                                   "answerValueSet": "http://hl7.org/fhir/ValueSet/jurisdiction"}]}
    (tmp_path / "q.json").write_text(json.dumps(questionnaire))
    response = {"resourceType": "QuestionnaireResponse", "id": "r", "status": "completed",
                "questionnaire": "http://example.org/fhir/Questionnaire/land",
                "item": [{"linkId": "q1", "answer": [{"valueString": "NO"}, {"valueString": "Norge"}]}]}
    found = _errors(_issues(fhir_cache, response, igs=(str(tmp_path / "q.json"),)))
    assert found == [("FHIR-QR-007", "QuestionnaireResponse.item[0].answer[1].value.ofType(string)")]


# -- FHIRPath: .value on a primitive ------------------------------------------------------------------

def test_value_on_a_primitive_is_the_primitive_as_in_hl7s_engine() -> None:
    from samsvar.validators.fhir.fhirpath import compile_expression

    patient = {"resourceType": "Patient", "active": True, "birthDate": "2000-01-01", "name": [{"given": ["A", "B"]}],
               "extension": [{"url": "http://example.org/x", "valueString": "s"}]}
    assert compile_expression("active.value = true")(patient) == [True]
    assert compile_expression("birthDate.value")(patient) == ["2000-01-01"]
    assert compile_expression("name.given.value.count()")(patient) == [2]
    assert compile_expression("extension('http://example.org/x').value = 's'")(patient) == [True]
    observation = {"resourceType": "Observation", "valueQuantity": {"value": 3, "unit": "kg"}}
    assert compile_expression("(value as Quantity).value > 2")(observation) == [True]


def test_iso_3166_names_in_other_forms_are_only_a_warning(fhir_cache: Path) -> None:
    def location(display: str) -> dict[str, Any]:
        return {"resourceType": "Location", "id": "l", "type": [
            {"coding": [{"system": "urn:iso:std:iso:3166", "code": "US", "display": display}]}]}

    for display in ("United States", "United States of America"):  # short and official names
        assert not [f for f in _issues(fhir_cache, location(display)) if f[0] == "FHIR-TX-002"], display
    found = _issues(fhir_cache, location("United States of America (the)"))
    assert ("FHIR-TX-002", "warning", "Location.type[0].coding[0].display") in found
