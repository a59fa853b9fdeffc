"""Severity of an extension used out of its context: R4 core's own definitions (whose contexts are
known to be stated loosely) warn; the same extension defined by the extensions pack is an error, as
in HL7's validator, which loads that pack."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from samsvar.validators import Options, Severity, Validator

from .shared import shared_path

BIRTH_PLACE = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
ORGANIZATION = {"resourceType": "Organization", "id": "o",
                "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">o</div>"},
                "extension": [{"url": BIRTH_PLACE, "valueAddress": {"city": "Bergen"}}]}


def _context_issues(validator: Validator) -> list[Severity]:
    result = validator.validate_bytes("o.json", json.dumps(ORGANIZATION).encode())
    return [i.severity for i in result.issues if i.rule == "FHIR-EXT-005"]


def test_core_definition_warns(fhir_cache: Path) -> None:
    assert _context_issues(Validator(Options(cache_root=fhir_cache))) == [Severity.WARNING]


def test_extensions_pack_definition_is_an_error(fhir_cache: Path, tmp_path: Path) -> None:
    with tarfile.open(shared_path("fhir-packages", "hl7.fhir.uv.extensions.r4-5.3.0-ballot-tc1.tgz")) as pack:
        member = pack.extractfile("package/StructureDefinition-patient-birthPlace.json")
        assert member is not None
        (tmp_path / "birthPlace.json").write_bytes(member.read())
    validator = Validator(Options(cache_root=fhir_cache, igs=(str(tmp_path),)))
    assert _context_issues(validator) == [Severity.ERROR]
