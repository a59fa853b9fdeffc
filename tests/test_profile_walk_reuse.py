"""A profile walk does not rerun the checks the base walk of the same resource ran with the same
element definition (their findings would be dropped as duplicates), and still runs everything a
profile changes: a constraint, a binding, a fixed value. Checked on real walks with the core
package, counting the invariant checker's visits and comparing findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from samsvar.validators import Options, Validator
from samsvar.validators.fhir import invariants

BASE = "http://hl7.org/fhir/StructureDefinition/Patient"


def _profile(name: str, differential: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "StructureDefinition", "url": f"http://samsvar.no/fhir/test/StructureDefinition/{name}",
            "name": name, "status": "draft", "kind": "resource", "abstract": False, "type": "Patient",
            "baseDefinition": BASE, "derivation": "constraint", "differential": {"element": differential}}


WORDING = _profile("Wording", [{"id": "Patient.name", "path": "Patient.name", "short": "What the patient is called"}])
"""Changes documentation only: every check judges as in the base walk."""
CONSTRAINED = _profile("Constrained", [{"id": "Patient.name", "path": "Patient.name", "constraint": [{
    "key": "test-1", "severity": "error", "human": "A name has a family name",
    "expression": "family.exists()", "source": "http://samsvar.no/fhir/test/StructureDefinition/Constrained"}]}])
FIXED = _profile("Fixed", [{"id": "Patient.gender", "path": "Patient.gender", "fixedCode": "female"}])

PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "male",
           "name": [{"given": ["Kari"]}, {"family": "Nordmann", "given": ["Ola"]}],
           "telecom": [{"system": "phone", "value": "+47 22 00 00 00"}]}


@pytest.fixture(scope="module")
def validator(fhir_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Validator:
    folder = tmp_path_factory.mktemp("profiles")
    for profile in (WORDING, CONSTRAINED, FIXED):
        (folder / f"{profile['name']}.json").write_text(json.dumps(profile))
    return Validator(Options(cache_root=fhir_cache, igs=tuple(str(p) for p in sorted(folder.glob("*.json")))))


def _visits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The expressions the invariant checker is asked about, in order (the real checker runs)."""
    seen: list[str] = []
    real = invariants.InvariantChecker.__call__

    def counted(self: invariants.InvariantChecker, visit: Any) -> Any:
        seen.append(visit.expression)
        return real(self, visit)

    monkeypatch.setattr(invariants.InvariantChecker, "__call__", counted)
    return seen


def _validate(validator: Validator, profile: dict[str, Any] | None) -> list[tuple[str, str | None, str]]:
    resource = dict(PATIENT, meta={"profile": [profile["url"]]}) if profile else PATIENT
    result = validator.validate_bytes("patient.json", json.dumps(resource).encode())
    return [(i.rule, i.expression, i.message) for i in result.issues]


def test_a_profile_that_changes_only_documentation_adds_no_visits(validator: Validator,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _validate(validator, WORDING)  # (definitions and snapshots loaded outside the count)
    visits = _visits(monkeypatch)
    plain = _validate(validator, None)
    without = len(visits)
    visits.clear()
    profiled = _validate(validator, WORDING)
    assert without > 0
    assert len(visits) == without, visits  # the base walk only: the profile walk reran nothing
    assert profiled == plain


def test_a_constraint_the_profile_adds_is_evaluated_and_reported(validator: Validator,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _validate(validator, CONSTRAINED)
    visits = _visits(monkeypatch)
    plain = _validate(validator, None)
    without = len(visits)
    visits.clear()
    profiled = _validate(validator, CONSTRAINED)
    added = visits[without:]
    assert added == ["Patient.name[0]", "Patient.name[1]"]  # only the changed element, once per value
    failed = [issue for issue in profiled if issue not in plain]
    assert [(rule, expression) for rule, expression, _ in failed] == [("FHIR-INV-001", "Patient.name[0]")]
    assert "test-1" in failed[0][2]


def test_a_fixed_value_of_the_profile_is_checked(validator: Validator) -> None:
    profiled = _validate(validator, FIXED)
    assert [(rule, expression) for rule, expression, _ in profiled if rule.startswith("FHIR-PROF")] == \
        [("FHIR-PROF-001", "Patient.gender")]


def test_a_bundle_entry_with_its_own_profile_is_judged_as_alone(validator: Validator) -> None:
    """The entry's profile walk reuses the Bundle's base walk of the entry, and finds what it alone finds."""
    entry = dict(PATIENT, meta={"profile": [CONSTRAINED["url"]]})
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": "urn:uuid:8c4f1f8e-4a4b-4d5e-9f0a-2b1c3d4e5f60", "resource": entry}]}
    result = validator.validate_bytes("bundle.json", json.dumps(bundle).encode())
    found = [(i.rule, i.expression) for i in result.issues if i.rule == "FHIR-INV-001"]
    assert found == [("FHIR-INV-001", "Bundle.entry[0].resource.name[0]")]
