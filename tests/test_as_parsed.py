"""Constraints and cardinality judged on the resource as HL7's JSON parser reads it
(``validate.as_parsed``): a property with a shape error is left out, an object left empty by
that is absent to the constraints; XML input is judged as read (HL7's XML parser keeps an
element whose children it does not know)."""

from __future__ import annotations

from samsvar.validators import Options, Validator
from samsvar.validators.fhir.validate import as_parsed


def test_left_out_and_emptied_objects_pruned() -> None:
    resource = {"resourceType": "Appointment", "participant": [{"actor": {"display": ["x"]}, "status": "accepted"}]}
    parsed = as_parsed(resource, [("participant", 0, "actor", "display")])
    assert parsed == {"resourceType": "Appointment", "participant": [{"status": "accepted"}]}
    kept = as_parsed(resource, [("participant", 0, "actor", "display")], prune=False)
    assert kept == {"resourceType": "Appointment", "participant": [{"actor": {}, "status": "accepted"}]}
    assert resource["participant"][0]["actor"] == {"display": ["x"]}  # the input is not changed


def test_nothing_left_out() -> None:
    assert as_parsed({"resourceType": "Patient"}, [("name",)]) is None
    assert as_parsed({"resourceType": "Patient", "name": "x"}, [("name", "given")]) is None


def _rules(name: str, data: bytes) -> list[str]:
    result = Validator(Options()).validate_bytes(name, data)
    return sorted(issue.rule for issue in result.issues if issue.severity.name in ("ERROR", "FATAL"))


def test_json_empty_required_object_is_missing_but_xml_element_is_present() -> None:
    json_rules = _rules("r.json", b'{"resourceType": "RelatedPerson", "id": "r1", "patient": {}}')
    assert "FHIR-STRUCT-002" in json_rules
    xml = (b'<RelatedPerson xmlns="http://hl7.org/fhir"><id value="r1"/>'
           b'<patient><unknown value="x"/></patient></RelatedPerson>')
    xml_rules = _rules("r.xml", xml)
    assert xml_rules and "FHIR-STRUCT-002" not in xml_rules
