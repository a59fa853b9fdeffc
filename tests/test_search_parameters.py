"""SearchParameter checks: the union terms of an expression, and derivations as HL7 compares them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from samsvar.validators import Options, Validator
from samsvar.validators.fhir.searchparameter import split_union

from .conftest import FIXTURES


@pytest.mark.parametrize(("expression", "terms"), [
    ("Organization.name | Organization.alias", ["Organization.name", "Organization.alias"]),
    ("(Observation.value as Quantity) | (Observation.value as SampledData)",
     ["Observation.value as Quantity", "Observation.value as SampledData"]),
    ("Patient.extension('http://x.org/a|b').value", ["Patient.extension('http://x.org/a|b').value"]),
    ("Bundle.entry[0].resource", ["Bundle.entry[0].resource"]),
])
def test_union_terms(expression: str, terms: list[str]) -> None:
    assert split_union(expression) == terms


def _sp(**changes: Any) -> bytes:
    sp = json.loads((FIXTURES / "fhir" / "search-parameters" / "valid-derived-search-parameter.json").read_text())
    sp.update(changes)
    return json.dumps(sp).encode()


def _rules(fhir_cache: Path, data: bytes) -> list[tuple[str, str | None]]:
    result = Validator(Options(cache_root=fhir_cache)).validate_bytes("sp.json", data)
    return [(i.rule, i.expression) for i in result.issues if i.rule.startswith("FHIR-SP-")]


def test_terms_for_other_bases_are_left_out_of_the_comparison(fhir_cache: Path) -> None:
    # core's clinical-patient style: a derived parameter keeps only its own base's terms
    assert _rules(fhir_cache, _sp(expression="Organization.name")) == [
        ("FHIR-SP-005", "SearchParameter")]  # alias is missing: not the same selection
    assert _rules(fhir_cache, _sp(expression="(Organization.name) | Organization.alias")) == []


def test_an_expression_on_the_wrong_type_is_located_on_the_expression(fhir_cache: Path) -> None:
    found = _rules(fhir_cache, _sp(base=["Patient"]))
    assert ("FHIR-SP-002", "SearchParameter.expression") in found
    assert ("FHIR-SP-004", "SearchParameter") in found


def test_a_resource_base_allows_any_type(fhir_cache: Path) -> None:
    assert _rules(fhir_cache, _sp(base=["Resource"], expression="Resource.id", derivedFrom=None)) == []
