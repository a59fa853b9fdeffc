"""R4 constraints whose published expression is known to be wrong (``invariants.ERRATA``): each
correction applies only to the text R4 publishes, so each published text must be the core
package's own, and each correction must compile."""

from __future__ import annotations

import json
import tarfile

import pytest

from samsvar.validators.fhir.fhirpath import compile_expression
from samsvar.validators.fhir.invariants import ERRATA, _effective_expression

from .shared import fhir_package_file


def _core_constraints() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    with tarfile.open(fhir_package_file("hl7.fhir.r4.core#4.0.1")) as archive:
        for member in archive.getmembers():
            if "StructureDefinition-" not in member.name or not member.name.endswith(".json"):
                continue
            definition = json.load(archive.extractfile(member))  # type: ignore[arg-type]
            for element in (definition.get("snapshot") or {}).get("element") or []:
                for constraint in element.get("constraint") or []:
                    found.setdefault(constraint.get("key"), set()).add(constraint.get("expression"))
    return found


@pytest.mark.parametrize("key", sorted(ERRATA))
def test_published_text_is_core_and_correction_compiles(key: str) -> None:
    published, corrected = ERRATA[key]
    assert published in _CORE.setdefault("c", _core_constraints()).get(key, set())
    assert _effective_expression(key, published) == corrected
    compile_expression(corrected)


def test_a_profile_constraint_with_another_text_is_left_as_written() -> None:
    assert _effective_expression("opd-3", "targetProfile.exists()") == "targetProfile.exists()"


_CORE: dict[str, dict[str, set[str]]] = {}
