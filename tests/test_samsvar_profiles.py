"""samsvar's own profiles (profiles/fhir/): each invalid fixture fails for the reason its name gives.

The fixture contract (tests/test_fixtures.py) fixes the rule codes; a code such as FHIR-INV-001 or
FHIR-STRUCT-002 is raised for many reasons, so here each invalid example of the priority-area
profiles must also name the constraint, slice or element it breaks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from samsvar.validators import Options, Validator
from samsvar.validators.issues import Severity

from .conftest import FIXTURES

FOLDER = FIXTURES / "fhir" / "samsvar-profiles"
PROFILES = FOLDER.parent.parent.parent / "profiles" / "fhir"

REASONS = {
    "practitionerrole-without-organization.json": "PractitionerRole.organization: minimum required = 1",
    "practitionerrole-practitioner-is-a-patient.json": "must be one of [Practitioner]",
    "specimen-without-collection-time.json": "Specimen.collection.collected[x]: minimum required = 1",
    "specimen-without-type.json": "Specimen.type: minimum required = 1",
    "specimen-subject-is-a-group.json": "must be one of [Patient]",
    "lab-observation-loinc-only.json": "Observation.code.coding:NLK",
    "lab-observation-unit-not-ucum.json": "samsvar-lab-2",
    "lab-observation-without-value.json": "samsvar-lab-1",
    "lab-observation-without-performer.json": "Observation.performer: minimum required = 1",
    "lab-observation-not-laboratory.json": "Observation.category:laboratory",
    "lab-report-radiology-code.json": "8202#RTG is not in the value set 'LabReportType'",
    "lab-report-without-specimen-and-results.json": "DiagnosticReport.result: minimum required = 1",
    "lab-report-without-lab-category.json": "DiagnosticReport.category:laboratory",
    "radiology-report-without-conclusion.json": "DiagnosticReport.conclusion: minimum required = 1",
    "radiology-report-lab-modality.json": "8202#MBIO is not in the value set 'RadiologyReportType'",
    "radiology-report-local-procedure-code.json": "'RadiologyProcedure'",
    "medication-without-atc.json": "Medication.code.coding:ATC",
    "medication-without-fest.json": "Medication.code.coding:FEST-Medication",
    "medication-statement-coded-medication.json": "MedicationStatement.medication[x]:medicationReference",
    "medication-statement-dosage-without-text.json": "samsvar-dose-1",
    "medication-statement-without-period.json": "MedicationStatement.effective[x]: minimum required = 1",
    "medication-list-bundle-medication-not-bundled.json": "aggregation mode(s) for the reference (bundled)",
    "medication-request-without-atc.json": "samsvar-mreq-1",
    "medication-request-without-requester.json": "MedicationRequest.requester: minimum required = 1",
    "medication-request-dosage-without-text.json": "samsvar-dose-2",
    "allergy-intolerance-substance-as-text.json": "samsvar-ai-1",
    "allergy-intolerance-reaction-not-7497.json": "is not in the value set 'AllergyReaction'",
    "allergy-intolerance-without-criticality.json": "AllergyIntolerance.criticality: minimum required = 1",
    "condition-local-code.json": "is not in the value set 'DiagnosisNo'",
    "condition-without-status.json": "Condition.verificationStatus: minimum required = 1",
    "flag-unknown-category.json": "7650#9 is not in the value set 'CriticalInformationCategory'",
    "flag-clinical-category.json": "flag-category#clinical is not in the value set 'CriticalInformationCategory'",
    "flag-without-period-and-author.json": "Flag.author: minimum required = 1",
    "document-reference-unknown-type.json": "9602#Z99-9 is not in the value set 'NoBasisDocumentReferenceType'",
    "document-reference-without-custodian.json": "DocumentReference.custodian: minimum required = 1",
    "document-reference-content-unreachable.json": "samsvar-doc-1",
    "device-without-identifier.json": "Device.identifier: minimum required = 1",
    "device-without-type-and-manufacturer.json": "Device.manufacturer: minimum required = 1",
    "device-owned-by-a-patient.json": "must be one of [Organization]",
    "home-observation-without-device.json": "Observation.device: minimum required = 1",
    "home-observation-component-unit-not-ucum.json": "samsvar-home-2",
    "home-observation-local-code.json": "Observation.code.coding:LOINC",
}


@pytest.fixture(scope="module")
def validator(fhir_cache: Path) -> Validator:
    return Validator(Options(igs=(str(PROFILES), "hl7.fhir.no.basis#2.2.2"), cache_root=fhir_cache))


@pytest.mark.parametrize(("name", "reason"), sorted(REASONS.items()))
def test_invalid_example_fails_for_its_reason(validator: Validator, name: str, reason: str) -> None:
    path = FOLDER / name
    result = validator.validate_bytes(str(path), path.read_bytes())
    messages = [issue.message for issue in result.issues if issue.severity >= Severity.WARNING]
    assert any(reason in message for message in messages), messages


def test_every_profile_has_a_valid_and_an_invalid_example() -> None:
    """Each of our profiles is declared by at least one valid-*.json and one other example."""
    declared: dict[str, set[str]] = {}
    for path in FOLDER.glob("*.json"):
        resource = json.loads(path.read_text(encoding="utf-8"))
        resources = [entry["resource"] for entry in resource.get("entry", [])] or [resource]
        for url in {url for r in resources for url in r.get("meta", {}).get("profile", [])}:
            declared.setdefault(url, set()).add("valid" if path.name.startswith("valid-") else "invalid")
    definitions = [json.loads(p.read_text(encoding="utf-8")) for p in PROFILES.glob("*.json")]
    ours = {d["url"] for d in definitions if d["resourceType"] == "StructureDefinition"}
    assert {url for url, kinds in declared.items() if kinds == {"valid", "invalid"}} == ours


def test_every_invalid_example_of_the_priority_areas_has_a_reason() -> None:
    identity = ("patient-", "practitioner-", "organization-")  # older; their codes are precise enough
    invalid = {p.name for p in FOLDER.glob("*.json") if not p.name.startswith(("valid-", *identity))}
    assert invalid == set(REASONS)
