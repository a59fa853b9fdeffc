"""Which vital-signs profile an Observation gets by its code (as FHIR R4 and HL7's validator say)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from samsvar.validators.fhir.packages import PackageCache
from samsvar.validators.fhir.vitals import CORE, SIGNS, vital_signs_profile


def _observation(*codings: tuple[str, str]) -> dict[str, Any]:
    return {"resourceType": "Observation", "code": {"coding": [{"system": s, "code": c} for s, c in codings]}}


@pytest.mark.parametrize(("system", "code", "profile"), [
    ("http://loinc.org", "29463-7", "bodyweight"),
    ("http://loinc.org", "8867-4", "heartrate"),
    ("http://loinc.org", "85354-9", "bp"),
    ("http://loinc.org", "8480-6", "bp"),  # systolic alone: HL7 applies the blood pressure profile
    ("http://snomed.info/sct", "276885007", "bodytemp"),
    ("http://snomed.info/sct", "271306003", "resprate"),  # listed under two signs: the first wins
])
def test_the_profile_follows_the_code(system: str, code: str, profile: str) -> None:
    implied = vital_signs_profile(_observation((system, code)))
    assert implied is not None and implied.profile == CORE + profile
    assert code in implied.note


def test_loinc_is_looked_at_before_snomed() -> None:
    implied = vital_signs_profile(_observation(("http://snomed.info/sct", "276885007"), ("http://loinc.org", "29463-7")))
    assert implied is not None and implied.profile == CORE + "bodyweight"


@pytest.mark.parametrize("resource", [
    _observation(("http://loinc.org", "2339-0")),  # glucose: not a vital sign
    _observation(("http://example.org/codes", "29463-7")),  # the code of another system
    {"resourceType": "Condition", "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}},
    {"resourceType": "Observation", "code": "29463-7"},
])
def test_no_profile_otherwise(resource: dict[str, Any]) -> None:
    assert vital_signs_profile(resource) is None


def test_every_profile_is_in_the_core_package(fhir_cache: Path) -> None:
    core = PackageCache(fhir_cache).require("hl7.fhir.r4.core", "4.0.1")
    urls = {meta.get("url") for meta in core.index}
    assert {sign.profile for sign in SIGNS} <= urls


def test_a_unit_outside_the_vital_signs_units_is_a_warning(fhir_cache: Path) -> None:
    """Vital signs require component units from ucum-vitals-common; HL7's validator warns (no UCUM offline)."""
    import json

    from samsvar.validators import Options, Severity, Validator

    observation = json.loads((Path(__file__).parent.parent / "fixtures" / "fhir" / "vital-signs" /
                              "valid-body-weight.json").read_text(encoding="utf-8"))
    observation["component"] = [
        {"code": {"text": "glucose"},
         "valueQuantity": {"value": 1, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"}}]
    result = Validator(Options(cache_root=fhir_cache)).validate_bytes("bp.json", json.dumps(observation).encode())
    units = [i for i in result.issues if i.rule == "FHIR-BIND-001"]
    assert units and all(i.severity == Severity.WARNING for i in units)
    assert not [i for i in result.issues if i.severity >= Severity.ERROR]
