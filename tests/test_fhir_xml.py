"""FHIR XML read into the JSON model: round trips of the official examples, and positions."""

from __future__ import annotations

import json
import tarfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from samsvar.validators.fhir.definitions import Definitions
from samsvar.validators.fhir.packages import PackageCache, load_packages
from samsvar.validators.fhir.xmlformat import read_fhir_xml, write_fhir_xml
from samsvar.validators.load import load_bytes

from .shared import fhir_package_file


@pytest.fixture(scope="module")
def definitions(fhir_cache: Path) -> Definitions:
    return Definitions(load_packages(PackageCache(fhir_cache), ["hl7.fhir.r4.core#4.0.1"]))


def _canonical(value: Any, key: str | None = None) -> Any:
    """Compare narratives as canonical XML (escaping and attribute order may differ)."""
    if key == "div" and isinstance(value, str):
        return etree.tostring(etree.fromstring(value.encode()), method="c14n")
    if isinstance(value, dict):
        return {k: _canonical(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _examples(step: int) -> list[tuple[str, bytes]]:
    with tarfile.open(fhir_package_file("hl7.fhir.r4.examples#4.0.1")) as archive:
        members = [m for m in archive.getmembers()
                   if m.name.endswith(".json") and not m.name.endswith(("package.json", ".index.json"))]
        return [(m.name, archive.extractfile(m).read()) for m in members[::step]]  # type: ignore[union-attr]


@pytest.mark.timeout(300)
def test_official_examples_round_trip_through_xml(definitions: Definitions) -> None:
    """JSON -> XML (definition order) -> our reader gives back the same JSON, with no issues."""
    examples = _examples(step=7)
    assert len(examples) > 700
    for name, raw in examples:
        source = json.loads(raw, parse_float=Decimal)
        document = load_bytes(name + ".xml", write_fhir_xml(source, definitions)).document
        assert document is not None, name
        model, issues = read_fhir_xml(document.tree, definitions, document.locator)  # type: ignore[arg-type]
        assert issues == [], (name, issues)
        assert _canonical(model) == _canonical(source), name


def test_arrays_primitives_extensions_and_contained(definitions: Definitions) -> None:
    xml = b"""<Patient xmlns="http://hl7.org/fhir">
  <contained><Practitioner><id value="gp"/></Practitioner></contained>
  <active value="true"/>
  <name><given value="Kari"/><given id="g2"><extension url="http://example.org/x"><valueString value="y"/></extension></given></name>
  <birthDate value="1972-09-13"/>
  <multipleBirthInteger value="2"/>
</Patient>"""
    document = load_bytes("p.xml", xml).document
    model, issues = read_fhir_xml(document.tree, definitions, document.locator)
    assert issues == []
    assert model == {
        "resourceType": "Patient",
        "contained": [{"resourceType": "Practitioner", "id": "gp"}],
        "active": True,
        "name": [{"given": ["Kari", None],
                  "_given": [None, {"id": "g2", "extension": [{"url": "http://example.org/x", "valueString": "y"}]}]}],
        "birthDate": "1972-09-13",
        "multipleBirthInteger": 2,
    }
    assert document.locator.locate(("name", 0, "given", 1)) == (4, 30)
    assert document.locator.locate(("birthDate",)) == (5, 3)


def test_foreign_namespace_and_text_content_are_reported(definitions: Definitions) -> None:
    xml = b'<Patient xmlns="http://hl7.org/fhir"><x:note xmlns:x="urn:x"/>\n<gender>female</gender></Patient>'
    document = load_bytes("p.xml", xml).document
    _, issues = read_fhir_xml(document.tree, definitions, document.locator)
    # the text is not a value, so gender is also an empty primitive
    assert sorted(i.rule for i in issues) == ["FHIR-STRUCT-009", "FHIR-XML-001", "FHIR-XML-002"]


def test_undefined_attributes_and_elements_are_located_as_hl7_does(definitions: Definitions) -> None:
    xml = (b'<Observation xmlns="http://hl7.org/fhir"><status value="final" something="x"/>\n'
           b'<valueInteger><value value="3"/></valueInteger></Observation>')
    document = load_bytes("o.xml", xml).document
    resource, issues = read_fhir_xml(document.tree, definitions, document.locator)
    found = sorted((i.rule, i.expression) for i in issues)
    assert found == [("FHIR-STRUCT-009", "Observation.value.ofType(integer)"),
                     ("FHIR-XML-003", "/f:Observation/f:status"),
                     ("FHIR-XML-004", "/f:Observation/f:valueInteger")]
    assert "valueInteger" not in resource and resource["status"] == "final"
