"""The check families closed for parity with HL7's validator: what each reports, where, at which
severity, and what it leaves alone (issue 14). The fixtures in ``fixtures/fhir/urls``,
``attachments`` and ``structure`` prove each rule trips; these tests pin locations, severities
and the edges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from samsvar.validators import Options, Validator
from samsvar.validators.fhir.attachments import strict_base64
from samsvar.validators.fhir.urls import in_known_space, is_absolute_url, is_example_url


def _issues(fhir_cache: Path, resource: dict[str, Any], **options: Any) -> list[tuple[str, str, str | None]]:
    validator = Validator(Options(cache_root=fhir_cache, **options))
    result = validator.validate_bytes("r.json", json.dumps(resource).encode())
    return [(i.rule, i.severity.code, i.expression) for i in result.issues if i.rule != "FHIR-INV-003"]


def _patient(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p1", **fields}


# -- empty and white-space values --------------------------------------------------------------

@pytest.mark.parametrize("field", [{"identifier": [{"system": "", "value": "1"}]},
                                   {"gender": ""}, {"birthDate": ""}, {"active": True, "language": ""}])
def test_an_empty_value_is_an_error_of_its_own_at_the_element(fhir_cache: Path, field: dict[str, Any]) -> None:
    found = _issues(fhir_cache, _patient(**field))
    empty = [f for f in found if f[0] == "FHIR-STRUCT-016"]
    assert len(empty) == 1 and empty[0][1] == "error"
    assert not [f for f in found if f[0] == "FHIR-STRUCT-006"], "an empty value is not also judged by its format"


def test_white_space_only_is_a_warning_and_not_judged_by_format(fhir_cache: Path) -> None:
    found = _issues(fhir_cache, _patient(gender="  ", name=[{"family": " Nordmann"}]))
    assert ("FHIR-STRUCT-017", "warning", "Patient.gender") in found
    assert ("FHIR-STRUCT-017", "warning", "Patient.name[0].family") in found
    assert not [f for f in found if f[1] == "error" and f[2] == "Patient.gender" and f[0] != "FHIR-BIND-001"]


# -- JSON shape errors located as HL7's parser does ---------------------------------------------

def test_single_value_given_as_array_is_left_out_and_not_counted(fhir_cache: Path) -> None:
    found = _issues(fhir_cache, _patient(gender=["female", "female"]))
    assert found == [("FHIR-STRUCT-004", "error", "Patient.gender")]


def test_choice_elements_in_shape_errors_are_written_with_x(fhir_cache: Path) -> None:
    observation = {"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"},
                   "effectiveDateTime": ["2020-01-01"], "valueQuantity": {"value": 1, "unit": ["kg"]}}
    found = _issues(fhir_cache, observation)
    assert ("FHIR-STRUCT-004", "error", "Observation.effective[x]") in found
    assert ("FHIR-STRUCT-004", "error", "Observation.value[x].unit") in found


def test_object_where_an_array_belongs_is_read_as_its_one_item(fhir_cache: Path) -> None:
    found = _issues(fhir_cache, _patient(identifier={"system": "http://hl7.org/fhir/nope", "value": "1"}))
    assert ("FHIR-STRUCT-004", "error", "Patient.identifier") in found
    # later checks see the item at its index, as HL7's validator reports them
    assert ("FHIR-URL-003", "error", "Patient.identifier[0].system") in found


def test_wrong_json_type_in_a_primitive_array_is_located_at_the_element(fhir_cache: Path) -> None:
    found = _issues(fhir_cache, _patient(name=[{"given": ["Kari", {"value": "x"}]}]))
    assert ("FHIR-STRUCT-005", "error", "Patient.name[0].given") in found


def test_a_number_as_string_is_judged_as_text_too(fhir_cache: Path) -> None:
    observation = {"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"},
                   "valueQuantity": {"value": "1,5"}}
    found = _issues(fhir_cache, observation)
    assert ("FHIR-STRUCT-005", "error", "Observation.value[x].value") in found
    assert ("FHIR-STRUCT-006", "error", "Observation.value.ofType(Quantity).value") in found


# -- URLs and canonicals ------------------------------------------------------------------------

def test_url_helpers() -> None:
    assert is_absolute_url("http://a/b") and is_absolute_url("urn:uuid:1") and not is_absolute_url("Library/x")
    assert not is_absolute_url("http://a/b c")
    assert is_example_url("http://example.org/x") and is_example_url("https://www.acme.com/")
    assert is_example_url("urn:oid:2.999.1") and not is_example_url("https://fhi.no/x")
    assert in_known_space("http://terminology.hl7.org/CodeSystem/x") and not in_known_space("http://snomed.info/sct")


def test_relative_canonical_is_an_error_but_a_fragment_is_not(fhir_cache: Path) -> None:
    plan = {"resourceType": "PlanDefinition", "id": "pd", "status": "draft",
            "library": ["Library/logic", "http://fhir.example.no/Library/logic"],
            "relatedArtifact": [{"type": "depends-on", "resource": "#lib"}],
            "contained": [{"resourceType": "Library", "id": "lib", "status": "draft",
                           "type": {"text": "logic"}}]}
    found = _issues(fhir_cache, plan)
    assert [f for f in found if f[0].startswith("FHIR-URL")] == [("FHIR-URL-001", "error", "PlanDefinition.library[0]")]


def test_local_uri_without_target_is_a_warning_and_canonical_an_error(fhir_cache: Path) -> None:
    plan = {"resourceType": "PlanDefinition", "id": "pd", "status": "draft",
            "relatedArtifact": [{"type": "documentation", "url": "#nowhere", "resource": "#missing"}]}
    found = [f for f in _issues(fhir_cache, plan) if f[0] == "FHIR-URL-004"]
    assert sorted(found) == [("FHIR-URL-004", "error", "PlanDefinition.relatedArtifact[0].resource"),
                             ("FHIR-URL-004", "warning", "PlanDefinition.relatedArtifact[0].url")]


def test_hl7_namespace_urls_resolve_against_what_is_loaded(fhir_cache: Path) -> None:
    known = {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
    naming = {"system": "http://hl7.org/fhir/sid/us-ssn", "code": "1"}
    unknown = {"system": "http://terminology.hl7.org/CodeSystem/v2-0203x", "code": "MR"}
    elsewhere = {"system": "https://fhir.leverandor.no/CodeSystem/x", "code": "1"}
    found = _issues(fhir_cache, _patient(maritalStatus={"coding": [known, naming, unknown, elsewhere]}))
    urls = [f for f in found if f[0] == "FHIR-URL-003"]
    assert urls == [("FHIR-URL-003", "error", "Patient.maritalStatus.coding[2].system")]


def test_harness_mode_resolves_every_url_but_example_org(fhir_cache: Path) -> None:
    unknown = {"system": "http://terminology.hl7.org/CodeSystem/v2-0203x", "value": "1"}
    found = _issues(fhir_cache, _patient(identifier=[unknown]), resolve_urls=False)
    assert not [f for f in found if f[0] == "FHIR-URL-003"]


def test_example_urls_are_errors_only_when_not_allowed(fhir_cache: Path) -> None:
    patient = _patient(identifier=[{"system": "http://example.org/mrn", "value": "1"}])
    assert not [f for f in _issues(fhir_cache, patient) if f[0] == "FHIR-URL-002"]
    assert ("FHIR-URL-002", "error", "Patient.identifier[0].system") in \
        _issues(fhir_cache, patient, allow_example_urls=False)


def test_reference_with_white_space_is_located_on_the_reference(fhir_cache: Path) -> None:
    observation = {"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"},
                   "subject": {"reference": "not a reference"}, "performer": [{"reference": "Patient/"}]}
    found = _issues(fhir_cache, observation)
    assert ("FHIR-REF-005", "error", "Observation.subject") in found
    assert not [f for f in found if f[2] == "Observation.performer[0]" and f[1] == "error"]


def test_reference_type_is_an_error_only_where_the_target_resolves(fhir_cache: Path) -> None:
    observation = {"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"},
                   "performer": [{"reference": "Encounter/e1"}]}
    assert ("FHIR-REF-001", "warning", "Observation.performer[0]") in _issues(fhir_cache, observation)
    bundle = {"resourceType": "Bundle", "id": "b", "type": "collection", "entry": [
        {"fullUrl": "https://h.no/fhir/Observation/o", "resource": observation},
        {"fullUrl": "https://h.no/fhir/Encounter/e1", "resource": {"resourceType": "Encounter", "id": "e1",
                                                                  "status": "finished", "class": {"code": "AMB"}}}]}
    assert ("FHIR-REF-001", "error", "Bundle.entry[0].resource.performer[0]") in _issues(fhir_cache, bundle)


# -- attachments --------------------------------------------------------------------------------

def test_strict_base64() -> None:
    assert strict_base64("SGVsbG8=") == (b"Hello", None)
    assert strict_base64("SGVsbG8")[0] == b"Hello"  # padding may be left out
    assert strict_base64("SGVs bG8=")[0] is None
    assert strict_base64("S")[0] is None


def test_attachment_findings_are_located_on_the_attachment(fhir_cache: Path) -> None:
    media = {"resourceType": "Media", "id": "m", "status": "completed",
             "content": {"contentType": "text/plain", "data": "SGVsbG8=", "size": 4,
                         "hash": "f7ff9e8b7bb2e09b70935a5d785e0cc5d9d0abf0"}}
    found = [f for f in _issues(fhir_cache, media) if f[0].startswith("FHIR-ATT")]
    assert sorted(found) == [("FHIR-ATT-002", "error", "Media.content"), ("FHIR-ATT-003", "error", "Media.content")]


def test_invalid_base64_is_left_to_the_datatype_check(fhir_cache: Path) -> None:
    media = {"resourceType": "Media", "id": "m", "status": "completed",
             "content": {"contentType": "text/plain", "data": "%%%2@()()"}}
    found = _issues(fhir_cache, media)
    assert ("FHIR-STRUCT-006", "error", "Media.content.data") in found
    assert not [f for f in found if f[0].startswith("FHIR-ATT")]


# -- Bundles ------------------------------------------------------------------------------------

def _message(focus: str, other: str) -> dict[str, Any]:
    return {"resourceType": "Bundle", "id": "b", "type": "message", "entry": [
        {"fullUrl": "urn:uuid:1b2c3d4e-0000-4000-8000-000000000001", "resource": {
            "resourceType": "MessageHeader", "id": "h", "eventCoding": {"system": "urn:oid:2.16.578.1.12.4.1.1.8279",
                                                                         "code": "x"},
            "source": {"endpoint": "urn:oid:1.2.3"}, "focus": [{"reference": focus}]}},
        {"fullUrl": "urn:uuid:1b2c3d4e-0000-4000-8000-000000000002", "resource": {
            "resourceType": "Patient", "id": "p", "managingOrganization": {"reference": other}}}]}


def test_message_focus_must_resolve_other_references_are_noted(fhir_cache: Path) -> None:
    found = [f for f in _issues(fhir_cache, _message("Patient/nowhere", "Organization/1")) if f[0] == "FHIR-BUNDLE-005"]
    assert ("FHIR-BUNDLE-005", "error", "Bundle.entry[0].resource.focus[0]") in found
    assert ("FHIR-BUNDLE-005", "information", "Bundle.entry[1].resource.managingOrganization") in found


def test_every_entry_outside_transactions_needs_a_full_url(fhir_cache: Path) -> None:
    bundle = {"resourceType": "Bundle", "id": "b", "type": "searchset", "entry": [
        {"resource": {"resourceType": "OperationOutcome", "id": "oo",
                      "issue": [{"severity": "warning", "code": "processing"}]}, "search": {"mode": "outcome"}}]}
    assert ("FHIR-BUNDLE-004", "error", "Bundle.entry[0]") in _issues(fhir_cache, bundle)


# -- codes of loaded code systems in Quantities -------------------------------------------------

def test_quantity_code_is_checked_against_a_loaded_code_system_but_ucum_is_not(fhir_cache: Path) -> None:
    quantity = {"value": 1, "system": "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm", "code": "Tab"}
    ucum = {"value": 1, "system": "http://unitsofmeasure.org", "code": "not-a-unit"}
    medication = {"resourceType": "Medication", "id": "m", "ingredient": [
        {"itemCodeableConcept": {"text": "x"}, "strength": {"numerator": ucum, "denominator": quantity}}]}
    found = [f for f in _issues(fhir_cache, medication) if f[0] == "FHIR-TX-001"]
    assert found == [("FHIR-TX-001", "error", "Medication.ingredient[0].strength.denominator.code")]


def test_fullurl_findings_are_on_their_entry_and_on_entry_0_with_hl7_paths(fhir_cache: Path) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "http://acme.com/fhir/Patient/a", "resource": _patient(id="a")},
        {"fullUrl": "http://acme.com/fhir/Patient/b", "resource": _patient(id="c")},
        {"fullUrl": "relative/x", "resource": _patient(id="x")}]}
    own = [f for f in _issues(fhir_cache, bundle) if f[0].startswith("FHIR-BUNDLE-00")]
    assert ("FHIR-BUNDLE-002", "error", "Bundle.entry[1]") in own
    assert ("FHIR-BUNDLE-001", "error", "Bundle.entry[2]") in own
    hl7 = [f for f in _issues(fhir_cache, bundle, hl7_paths=True) if f[0].startswith("FHIR-BUNDLE-00")]
    assert ("FHIR-BUNDLE-002", "error", "Bundle.entry[0]") in hl7  # as HL7's BundleValidator writes it
    assert ("FHIR-BUNDLE-001", "error", "Bundle.entry[0]") in hl7
    assert not [f for f in hl7 if f[2] in ("Bundle.entry[1]", "Bundle.entry[2]")]


def test_a_malformed_date_compared_fails_the_constraint_as_in_hl7(fhir_cache: Path) -> None:
    period = {"resourceType": "Coverage", "id": "c", "status": "active", "beneficiary": {"reference": "Patient/p"},
              "payor": [{"reference": "Organization/o"}], "period": {"start": "2019-01-01", "end": "2020-1-1"}}
    found = _issues(fhir_cache, period)
    assert ("FHIR-INV-001", "error", "Coverage.period") in found
    assert ("FHIR-STRUCT-006", "error", "Coverage.period.end") in found
    period["period"]["end"] = "2020-01-01"
    assert not [f for f in _issues(fhir_cache, period) if f[1] == "error"]
    del period["period"]["end"]  # a date with extensions only has no value: nothing to order
    period["period"]["_end"] = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                                               "valueCode": "unknown"}]}
    assert not [f for f in _issues(fhir_cache, period) if f[1] == "error"]


def test_a_primitive_given_as_an_object_does_not_count_as_present(fhir_cache: Path) -> None:
    found = _issues(fhir_cache, _patient(text={"status": {"value": "generated"},
                                               "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}))
    assert ("FHIR-STRUCT-005", "error", "Patient.text.status") in found
    assert ("FHIR-STRUCT-002", "error", "Patient.text") in found  # Narrative.status min 1, as in HL7
    found = _issues(fhir_cache, _patient(gender={"value": "female"}))  # optional: only the value's error
    assert [f for f in found if f[1] == "error"] == [("FHIR-STRUCT-005", "error", "Patient.gender")]
