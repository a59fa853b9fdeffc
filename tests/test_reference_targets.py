"""Reference targets against targetProfile: what the message names, and that each target is
validated once per profile however many references point to it (linear in bundle size)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from samsvar.validators import Options, Severity, Validator
from samsvar.validators.fhir.invariants import InvariantChecker

from .conftest import FIXTURES

FOLDER = FIXTURES / "fhir" / "reference-targets"
PROFILES = "http://samsvar.no/fhir/test/StructureDefinition/"


def _validator(fhir_cache: Path) -> Validator:
    return Validator(Options(cache_root=fhir_cache, igs=(str(FOLDER / "definitions"),)))


def _bundle(observations: int, patients: int, identified: bool) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    for i in range(patients):
        patient: dict[str, Any] = {"resourceType": "Patient", "id": f"p{i}"}
        if identified:
            patient["identifier"] = [{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "13116900216"}]
        entries.append({"fullUrl": f"urn:uuid:00000000-0000-4000-8000-{i:012d}", "resource": patient})
    for i in range(observations):
        entries.append({"fullUrl": f"urn:uuid:10000000-0000-4000-8000-{i:012d}", "resource": {
            "resourceType": "Observation", "id": f"o{i}",
            "meta": {"profile": [PROFILES + "Observation-identified-subject"]},
            "status": "final", "code": {"text": "Puls"},
            "subject": {"reference": f"urn:uuid:00000000-0000-4000-8000-{i % patients:012d}"}}})
    return {"resourceType": "Bundle", "id": "b", "type": "collection", "entry": entries}


def test_the_message_names_the_reference_the_target_and_the_profile(fhir_cache: Path) -> None:
    path = FOLDER / "bundled-subject-does-not-conform.json"
    result = _validator(fhir_cache).validate_bytes(str(path), path.read_bytes())
    [issue] = [i for i in result.issues if i.rule == "FHIR-REF-004"]
    assert issue.severity == Severity.ERROR
    assert issue.expression == "Bundle.entry[1].resource.subject"
    assert issue.message.startswith("Unable to find a profile match for urn:uuid:6a1f2c4e-0b7d-4e0e-9a51-3c2d8e7f1a01 "
                                    "among choices: http://hl7.org/fhir/StructureDefinition/Group, "
                                    f"{PROFILES}Patient-identified.")
    assert f"The Patient it resolves to (Bundle.entry[0].resource) does not conform to {PROFILES}Patient-identified" \
        in issue.message


def test_a_slice_uses_the_slice_target_profile(fhir_cache: Path) -> None:
    path = FOLDER / "performer-slice-does-not-conform.json"
    result = _validator(fhir_cache).validate_bytes(str(path), path.read_bytes())
    [issue] = [i for i in result.issues if i.rule == "FHIR-REF-004"]
    assert issue.expression == "Bundle.entry[2].resource.performer[0]"
    assert f"among choices: {PROFILES}Practitioner-identified." in issue.message


@pytest.mark.parametrize(("patients", "identified"), [(1, True), (1, False), (40, True), (40, False)])
def test_each_target_is_validated_once_per_profile(fhir_cache: Path, monkeypatch: pytest.MonkeyPatch,
                                                   patients: int, identified: bool) -> None:
    calls: list[tuple[str, str]] = []
    original = InvariantChecker.conforms_to

    def counting(self: InvariantChecker, resource: Any, url: str) -> bool | None:
        calls.append((resource.get("id"), url))
        return original(self, resource, url)

    monkeypatch.setattr(InvariantChecker, "conforms_to", counting)
    bundle = json.dumps(_bundle(80, patients, identified)).encode()
    result = _validator(fhir_cache).validate_bytes("bundle.json", bundle)
    targets = [c for c in calls if c[1] == PROFILES + "Patient-identified"]
    assert len(targets) == len(set(targets)) == patients  # not once per reference (80)
    failures = [i for i in result.issues if i.rule == "FHIR-REF-004"]
    assert len(failures) == (0 if identified else 80)


@pytest.mark.parametrize(("full_url", "absolute"), [
    ("urn:uuid:9ce2a97b-5cab-4986-814f-4734016e6084", True),
    ("urn:isbn:9788202540847", True),            # any scheme makes an absolute URI (RFC 3986)
    ("uin:uuid:cd7f9309-2530-4adf-9b94-e44548361e8a", True),
    ("https://fhir.example.no/Patient/p1", True),
    ("Patient/p1", False),
    ("p1", False),
])
def test_a_full_url_is_absolute_when_it_has_a_scheme(fhir_cache: Path, full_url: str, absolute: bool) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": full_url, "resource": {"resourceType": "Patient", "id": "p1"}}]}
    result = _validator(fhir_cache).validate_bytes("bundle.json", json.dumps(bundle).encode())
    assert ("FHIR-BUNDLE-001" in {i.rule for i in result.issues}) is not absolute
