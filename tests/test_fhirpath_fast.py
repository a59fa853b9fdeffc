"""The FHIRPath fast path answers exactly what the engine answers, or leaves the answer to it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from samsvar.validators import Options, Validator
from samsvar.validators.fhir import invariants
from samsvar.validators.fhir.fhirpath import compile_expression
from samsvar.validators.fhir.fhirpath_fast import UNDECIDED, Node, environment, focus_items

from .conftest import FIXTURES

EXTENSION = {"url": "http://example.org/x", "valueString": "a"}
ELEMENT = {"id": "Patient.name", "path": "Patient.name", "min": 0, "max": "*",
           "type": [{"code": "HumanName"}, {"code": "HumanName"}],
           "constraint": [{"key": "a", "severity": "error"}, {"key": "b"}]}
PATIENT = {"resourceType": "Patient", "id": "p", "active": True, "gender": "female",
           "name": [{"family": "Nordmann", "given": ["Kari", "Ola"]}],
           "contained": [{"resourceType": "Organization", "id": "o", "name": "X"}],
           "extension": [EXTENSION, {"url": "http://example.org/y", "valueDecimal": Decimal("1.5")}]}
STRUCTURE = {"resourceType": "StructureDefinition", "url": "http://hl7.org/fhir/StructureDefinition/x",
             "kind": "resource", "type": "Patient",
             "snapshot": {"element": [{"id": "Patient", "path": "Patient"}, {"id": "Patient.name", "path": "Patient.name"}]},
             "differential": {"element": [{"id": "Patient", "path": "Patient"}]}}

CASES = [
    # (expression, value, type path)
    ("extension.exists() != value.exists()", EXTENSION, "Extension"),
    ("extension.exists() != value.exists()", {"url": "u"}, "Extension"),
    ("extension.exists() != value.exists()", {"url": "u", "extension": [EXTENSION], "valueCode": "x"}, "Extension"),
    ("name.exists() or uri.exists()", {"name": "n"}, "ElementDefinition.mapping"),
    ("name.exists() or uri.exists()", {}, "ElementDefinition.mapping"),
    ("(code = 'Reference' or code = 'canonical') or targetProfile.empty()", {"code": "string"}, "ElementDefinition.type"),
    ("(code = 'Reference' or code = 'canonical') or targetProfile.empty()",
     {"code": "string", "targetProfile": ["x"]}, "ElementDefinition.type"),
    ("min.empty() or max.empty() or (max = '*') or iif(max != '*', min <= max.toInteger())", ELEMENT, "ElementDefinition"),
    ("min.empty() or max.empty() or (max = '*') or iif(max != '*', min <= max.toInteger())",
     {"min": 2, "max": "1"}, "ElementDefinition"),
    ("min.empty() or max.empty() or (max = '*') or iif(max != '*', min <= max.toInteger())",
     {"min": 1, "max": "x"}, "ElementDefinition"),
    ("empty() or ($this = '*') or (toInteger() >= 0)", "*", "string"),
    ("empty() or ($this = '*') or (toInteger() >= 0)", "-1", "string"),
    ("type.select(code).isDistinct()", ELEMENT, "ElementDefinition"),
    ("constraint.select(key).isDistinct()", ELEMENT, "ElementDefinition"),
    ("constraint.all(severity.exists())", ELEMENT, "ElementDefinition"),
    ("constraint.where(severity.exists()).count() = 1", ELEMENT, "ElementDefinition"),
    ("path.matchesFull('[A-Za-z][A-Za-z0-9]*(\\\\.[a-z][A-Za-z0-9]*(\\\\[x])?)*')", ELEMENT, "ElementDefinition"),
    ("path.matchesFull('[a-z]+')", ELEMENT, "ElementDefinition"),
    ("path.startsWith('Patient') and path.contains('.') and path.contains('.').not().not()", ELEMENT, "ElementDefinition"),
    ("name.given.count() > 1 and name.family.exists() xor active", PATIENT, "Patient"),
    ("name.given.count() > 2 implies gender = 'male'", PATIENT, "Patient"),
    ("contained.name.exists() and contained.id.trace('ids').isDistinct()", PATIENT, "Patient"),
    ("extension.value.exists()", PATIENT, "Patient"),
    ("children().count() > 3 and children().where($this.exists()).exists()", PATIENT, "Patient"),
    ("(snapshot | differential).element.all(path.contains('.').not() implies id.exists())", STRUCTURE, "StructureDefinition"),
    ("(%resource.kind = 'logical' or snapshot.element.first().path = %resource.type) and "
     "snapshot.element.tail().all(path.startsWith(%resource.snapshot.element.first().path & '.'))",
     STRUCTURE, "StructureDefinition"),
    ("snapshot.element.first().path & '.' & kind = 'Patient.resource'", STRUCTURE, "StructureDefinition"),
    ("%context.kind = 'resource' and %rootResource.type.exists()", STRUCTURE, "StructureDefinition"),
    ("active.not()", PATIENT, "Patient"),
    ("true and (false or {}.empty())", PATIENT, "Patient"),
    ("name.given.all(matches('^[A-Z]') and matches('a$').not())", PATIENT, "Patient"),
    ("name.family.matches('or') and gender.matches('') .empty()", PATIENT, "Patient"),
    ("snapshot.element.path.first().replaceMatches('\\\\..*', '') = 'Patient' and "
     "snapshot.element.path.tail().replaceMatches('(\\\\w+)\\\\.(\\\\w+)', '$2$1') = 'namePatient'", STRUCTURE, "StructureDefinition"),
    ("type.replaceMatches('', 'x') = type and type.replaceMatches('P', '') = 'atient'", STRUCTURE, "StructureDefinition"),
    ("gender.substring(1) = 'emale' and gender.substring(2, 3) = 'mal' and gender.substring(6).empty()", PATIENT, "Patient"),
    ("gender.substring(0, 0) = ''", PATIENT, "Patient"),
    ("gender.substring(1).trace('x') in %rootResource.contained.id.trace('ids')", PATIENT, "Patient"),
    ("('o' in contained.id) and (contained.id contains 'o') and ('x' in contained.id).not() and ({} in name).empty()",
     PATIENT, "Patient"),
    ("gender in ('male' | 'female') and (active in (true | false))", PATIENT, "Patient"),
    ("name.given.combine($this.name.family).count() = 3 and name.given.combine(name.given).isDistinct().not()",
     PATIENT, "Patient"),
    ("descendants().count() > 5 and $this.descendants().given.count() = 2", PATIENT, "Patient"),
    ("name.all(given.combine($this.family).count() = 3)", PATIENT, "Patient"),
    ("gender.hasValue() and name.hasValue().not() and name.given.hasValue().not() and birthDate.hasValue().not()",
     PATIENT, "Patient"),
    ("start.hasValue().not() or end.hasValue().not() or (start <= end)",
     {"start": "2020-01-01T10:00:00Z", "end": "2020-01-01T11:00:00+02:00"}, "Period"),
    ("start <= end", {"start": "2020-01", "end": "2020-01-02"}, "Period"),
    ("start < end and end > start and (start >= end).not()", {"start": "2019", "end": "2020-01-02"}, "Period"),
    ("start <= end", {"start": "2020-01-01T10:00:00", "end": "2020-01-01T11:00:00Z"}, "Period"),
    ("(name.given.count() + name.count() + contained.count()) = 4 and (name.count() + {}.count()) > 0", PATIENT, "Patient"),
    ("(%ucum = 'http://unitsofmeasure.org') and %sct.startsWith('http') and %loinc.exists()", PATIENT, "Patient"),
    ("code.exists() implies ((system = %ucum) and value.exists())",
     {"value": Decimal("1.5"), "system": "http://unitsofmeasure.org", "code": "mg"}, "Quantity"),
    ("contained.first().is(Organization) and contained.is(DomainResource) and contained.is(Patient).not() "
     "and (gender is code) and (active is boolean) and (name.family.first() is string) and name.first().is(HumanName)",
     PATIENT, "Patient"),
    ("{}.is(Patient).empty() and ({} is Patient).empty()", PATIENT, "Patient"),
    ("name.given.intersect(%resource.name.given).count() = 2 and name.intersect(%resource.name).exists() "
     "and contained.intersect(%resource.extension).empty() and name.given.intersect('Ola' | 'x').count() = 1",
     PATIENT, "Patient"),
    # presence, also where navigation itself is the engine's: primitive extensions, nulls, empty arrays
    ("gender.exists() and birthDate.empty()", {"_gender": {"extension": [EXTENSION]}}, "Patient"),
    ("given.exists() and family.empty()", {"given": ["a", None]}, "HumanName"),
    ("given.exists()", {"given": []}, "HumanName"),
    ("given.exists()", {"given": [None]}, "HumanName"),
    ("extension.exists() != value.exists()", {"url": "u", "_valueCode": {"extension": [EXTENSION]}}, "Extension"),
    ("extension.exists() != value.exists()",
     {"url": "u", "valueCode": "x", "_valueCode": {"extension": [EXTENSION]}}, "Extension"),
    ("extension.exists() != value.exists()", {"url": "u", "valueCode": None, "valueString": "a"}, "Extension"),
    ("name.given.exists() and name.where(family.exists()).suffix.empty() and contained.name.exists()",
     PATIENT, "Patient"),
]


@pytest.mark.parametrize(("expression", "value", "path"), CASES, ids=[c[0][:60] for c in CASES])
def test_the_fast_path_answers_as_the_engine(expression: str, value: object, path: str) -> None:
    compiled = compile_expression(expression)
    from fhirpathpy.engine.nodes import ResourceNode

    focus = ResourceNode.create_node(value, path)
    resource = value if isinstance(value, dict) and "resourceType" in value else PATIENT
    engine = compiled(focus, {"resource": ResourceNode.create_node(resource, resource["resourceType"]),
                              "rootResource": ResourceNode.create_node(resource, resource["resourceType"]),
                              "context": focus})
    if compiled.fast is None:
        assert "{}" in expression  # the one case of the table outside the subset
        return
    items = focus_items(value, path)
    fast = compiled.fast(items, environment(resource, resource, items))
    assert fast is not UNDECIDED, expression
    assert [item[0] if type(item) is Node else item for item in fast] == engine


@pytest.mark.parametrize(("expression", "value", "path"), [
    ("gender = 'x'", {"_gender": {"extension": [EXTENSION]}}, "Patient"),      # a primitive extension
    ("given.count() > 0", {"given": ["a", None]}, "HumanName"),                  # a JSON null
    ("given.not()", {"given": ["a", "b"]}, "HumanName"),                         # not() of two items
    ("gender.not()", {"gender": "female"}, "Patient"),                            # not() of a string
    ("birthDate = '1970'", {"birthDate": "1970"}, "Patient"),                 # a date: the engine compares dates
    ("$this.exists()", {}, "HumanName"),                                          # $this unset at the top
    ("value.toInteger() > 1", {"value": Decimal("2.0")}, "Quantity"),             # a decimal
    ("value + 1 > 1", {"value": Decimal("2.0")}, "Quantity"),                     # + on an element
    ("name.given.is(string)", PATIENT, "Patient"),                               # is() of two items
    ("(name.given.first() + 'x').is(string)", PATIENT, "Patient"),               # is() of a System value
    ("start <= end", {"start": "2020-1x", "end": "2020"}, "Period"),              # a malformed date
    ("name.given.matches('a')", PATIENT, "Patient"),                              # matches() of two strings
    ("name.given.substring(1).exists()", PATIENT, "Patient"),                     # substring() of two strings
    ("name.given in name.given", PATIENT, "Patient"),                             # in with two items
])
def test_the_fast_path_leaves_the_hard_cases_to_the_engine(expression: str, value: object, path: str) -> None:
    compiled = compile_expression(expression)
    assert compiled.fast is not None
    items = focus_items(value, path)
    assert compiled.fast(items, environment(PATIENT, PATIENT, items)) is UNDECIDED


@pytest.mark.parametrize("expression", [
    "%`vs-x`.exists()", "Patient.name.exists()", "name.given[0].exists()", "value.ofType(Quantity).exists()",
    "birthDate < today()", "a * b > 1", "code.memberOf('http://x')", "reference.resolve().exists()",
    "name.where(use = 'x').combine(name).exists()",
    "name.intersect($this.name).exists()",  # intersect() on $this: the engine's  # where() moves the engine's $this before combine()
])
def test_outside_the_subset_there_is_no_fast_path(expression: str) -> None:
    assert compile_expression(expression).fast is None


def test_fixtures_give_the_same_findings_with_the_fast_path_verified(fhir_cache: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Every invariant fixture, with every fast answer checked against the engine."""
    monkeypatch.setattr(invariants, "VERIFY_FAST_PATH", True)
    validator = Validator(Options(cache_root=fhir_cache))
    for path in sorted((FIXTURES / "fhir" / "invariants").glob("*.json")):
        result = validator.validate_bytes(str(path), path.read_bytes())
        assert not [i for i in result.issues if i.rule == "SAMSVAR-001"], (path, result.issues)


def test_the_fast_path_has_the_engines_constants() -> None:
    from samsvar.validators.fhir.fhirpath_fast import FHIR_CONSTANTS
    from samsvar.validators.fhir.fhirpath_quantity import UCUM

    assert FHIR_CONSTANTS["ucum"] == UCUM


@pytest.mark.parametrize("values", [
    ["a", "b", "a"], ["a", "b"], [1, True], [1, Decimal("1")], [Decimal("1.0"), 1], [0.1, Decimal("0.1")],
    [{"a": 1}, {"a": 1}], [{"a": Decimal("1.5")}, {"a": Decimal("1.50")}], [{"a": 1}, {"b": 1}, "a"],
    [{"x": [1, 2]}, {"x": [2, 1]}, {"x": [1, 2]}], list(range(20)) + [3],
])
def test_distinct_values_are_those_of_the_engine(values: list[object]) -> None:
    from fhirpathpy.engine.util import uniq

    from samsvar.validators.fhir.fhirpath_fast import _distinct

    assert _distinct(values) == uniq(values)


def test_subexpressions_are_shared_within_one_environment_only() -> None:
    """``snapshot.element`` on the focus and ``%resource...`` are worked out once per environment
    (one visit); another focus, or another environment, gets its own values."""
    items = focus_items(STRUCTURE, "StructureDefinition")
    env = environment(STRUCTURE, STRUCTURE, items)
    first = compile_expression("snapshot.element.count() = 2").fast
    second = compile_expression("snapshot.element.path.first() = 'Patient' and "
                                "snapshot.element.all(path.startsWith(%resource.snapshot.element.first().path))").fast
    assert first is not None and second is not None
    assert first(items, env) == [True] and second(items, env) == [True]
    other = {**STRUCTURE, "snapshot": {"element": [{"path": "Observation"}]}}
    other_items = focus_items(other, "StructureDefinition")
    other_env = environment(other, other, other_items)
    assert first(other_items, other_env) == [False] and second(other_items, other_env) == [False]
    assert first(other_items, env) == [False]  # not the environment's focus: evaluated, not shared
