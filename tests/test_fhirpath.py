"""samsvar's FHIRPath layer (validators/fhir/fhirpath.py) on the real fhirpathpy engine."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fhirpathpy.engine.nodes import ResourceNode

from samsvar.validators.fhir.fhirpath import HOOKS, Hooks, compile_expression

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p",
    "active": True,
    "birthDate": "1974-12-25",
    "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                                  "valueDateTime": "1974-12-25T14:35:45-05:00"}]},
    "gender": "male",
    "name": [{"family": "Nordmann", "given": ["Kari"]}, {"family": "Berg", "given": ["Ola"]}],
    "managingOrganization": {"reference": "Organization/o"},
}
OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"text": "weight"},
    "effectiveDateTime": "2024-03-01",
    "valueQuantity": {"value": Decimal("185"), "unit": "lbs", "system": "http://unitsofmeasure.org", "code": "[lb_av]"},
}


def evaluate(expression: str, resource: Any = None) -> list[Any]:
    return compile_expression(expression)(resource, {"resource": resource, "rootResource": resource})


def texts(values: list[Any]) -> list[str]:
    """Dates, times and Quantities as FHIRPath writes them (without ``@``)."""
    return [getattr(value, "asStr", value) for value in values]


# --- evaluation --------------------------------------------------------------------------------

def test_a_typed_resource_node_resolves_type_prefixed_paths() -> None:
    node = ResourceNode.create_node(PATIENT, "Patient")
    assert evaluate("Patient.name.given", node) == ["Kari", "Ola"]


def test_fhir_environment_variables() -> None:
    assert evaluate("%sct & ' ' & %loinc") == ["http://snomed.info/sct http://loinc.org"]
    assert evaluate("%`vs-administrative-gender`") == ["http://hl7.org/fhir/ValueSet/administrative-gender"]
    assert evaluate("birthDate.extension(%`ext-patient-birthTime`).exists()", PATIENT) == [True]


def test_trace_is_silent(capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluate("name.given.trace('names').count()", PATIENT) == [2]
    assert capsys.readouterr() == ("", "")


# --- hooks ---------------------------------------------------------------------------------------

def test_without_hooks_resolve_conforms_to_and_member_of_are_empty() -> None:
    assert evaluate("managingOrganization.resolve()", PATIENT) == []
    assert evaluate("conformsTo('http://example.org/p')", PATIENT) == []
    assert evaluate("gender.memberOf('http://example.org/vs')", PATIENT) == []


def test_resolve_asks_the_hook_at_call_time_for_each_reference() -> None:
    compiled = compile_expression("managingOrganization.resolve().name")  # compiled before the hook is set
    seen: list[Any] = []

    def resolve(reference: Any) -> dict[str, Any] | None:
        seen.append(reference)
        return {"resourceType": "Organization", "name": "Sykehuset"} if reference == {"reference": "Organization/o"} else None

    token = HOOKS.set(Hooks(resolve=resolve))
    try:
        assert compiled(PATIENT, {}) == ["Sykehuset"]
        assert evaluate("managingOrganization.resolve() is Organization", PATIENT) == [True]
        assert evaluate("'Organization/x'.resolve()") == []
    finally:
        HOOKS.reset(token)
    assert seen[0] == {"reference": "Organization/o"}
    assert seen[-1] == "Organization/x"
    assert compiled(PATIENT, {}) == []


def test_conforms_to_passes_the_resource_and_url_and_keeps_unknown_empty() -> None:
    answers = {"http://example.org/yes": True, "http://example.org/no": False}

    def conforms_to(resource: Any, url: str) -> bool | None:
        assert resource["resourceType"] == "Patient"
        return answers.get(url)

    token = HOOKS.set(Hooks(conforms_to=conforms_to))
    try:
        assert evaluate("conformsTo('http://example.org/yes')", PATIENT) == [True]
        assert evaluate("conformsTo('http://example.org/no')", PATIENT) == [False]
        assert evaluate("conformsTo('http://example.org/unknown')", PATIENT) == []
    finally:
        HOOKS.reset(token)


def test_member_of_passes_the_code_value_and_the_value_set() -> None:
    calls: list[tuple[Any, str]] = []

    def member_of(value: Any, url: str) -> bool | None:
        calls.append((value, url))
        return value == "male"

    token = HOOKS.set(Hooks(member_of=member_of))
    try:
        assert evaluate("gender.memberOf(%`vs-administrative-gender`)", PATIENT) == [True]
        assert evaluate("name.memberOf('http://example.org/vs')", PATIENT) == [False, False]
    finally:
        HOOKS.reset(token)
    assert calls[0] == ("male", "http://hl7.org/fhir/ValueSet/administrative-gender")
    assert calls[1] == ({"family": "Nordmann", "given": ["Kari"]}, "http://example.org/vs")


# --- FHIR's functions ----------------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "expected"), [
    ("birthDate.hasValue()", [True]),  # a value with extensions is one item
    ("gender.hasValue()", [True]),
    ("name.hasValue()", [False]),
    ("deceased.hasValue()", [False]),
])
def test_has_value(expression: str, expected: list[bool]) -> None:
    assert evaluate(expression, PATIENT) == expected


def test_primitive_arrays_with_extensions_count_each_element_once() -> None:
    extension = {"extension": [{"url": "http://example.org/syllables", "valueInteger": 2}]}
    patient = {"resourceType": "Patient", "name": [{"given": ["Kari", "Ola"], "_given": [None, extension]},
                                                    {"given": [None, "Per"], "_given": [extension]}]}
    assert evaluate("name.given", patient) == ["Kari", "Ola", "Per"]
    assert evaluate("name.given.count()", patient) == [4]
    assert evaluate("name.given.extension.count()", patient) == [2]


def test_has_value_is_false_for_extensions_without_a_value() -> None:
    patient = {"resourceType": "Patient", "_birthDate": PATIENT["_birthDate"]}
    assert evaluate("birthDate.hasValue()", patient) == [False]
    assert evaluate("birthDate.extension.exists()", patient) == [True]


@pytest.mark.parametrize(("div", "expected"), [
    ('<div xmlns="http://www.w3.org/1999/xhtml"><p>Kari <b>Nordmann</b></p></div>', True),
    ('<div xmlns="http://www.w3.org/1999/xhtml"><img src="#photo" alt=""/></div>', True),
    ('<div xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script>Kari</div>', False),
    ('<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">Kari</p></div>', False),
    ('<div xmlns="http://www.w3.org/1999/xhtml"><a href="javascript:x()">Kari</a></div>', False),
    ('<div xmlns="http://www.w3.org/1999/xhtml">   </div>', False),
    ('<p xmlns="http://www.w3.org/1999/xhtml">Kari</p>', False),
    ('<div>Kari</div>', False),
    ('<div xmlns="http://www.w3.org/1999/xhtml"><p>Kari</div>', False),
])
def test_html_checks(div: str, expected: bool) -> None:
    resource = {"resourceType": "Patient", "text": {"status": "generated", "div": div}}
    assert evaluate("text.`div`.htmlChecks()", resource) == [expected]


# --- boundaries, precision, comparable ----------------------------------------------------------

@pytest.mark.parametrize(("expression", "expected"), [
    ("1.587.lowBoundary()", Decimal("1.58650000")),
    ("1.587.highBoundary(2)", Decimal("1.59")),
    ("1.587.lowBoundary(2)", Decimal("1.58")),
    ("(-1.587).lowBoundary(2)", Decimal("-1.59")),
    ("1.lowBoundary(0)", Decimal("0")),
    ("12.500.highBoundary(4)", Decimal("12.5005")),
])
def test_decimal_boundaries(expression: str, expected: Decimal) -> None:
    result = evaluate(expression)
    assert result == [expected] and result[0].as_tuple().exponent == expected.as_tuple().exponent


@pytest.mark.parametrize(("expression", "expected"), [
    ("@2014.lowBoundary(6)", "2014-01"),
    ("@2014-02.highBoundary(8)", "2014-02-28"),
    ("@2014-01-01T08.lowBoundary(17)", "2014-01-01T08:00:00.000+14:00"),
    ("@2014-01-01T08:05-05:00.highBoundary(17)", "2014-01-01T08:05:59.999-05:00"),
    ("@2014-01-01T08:05:30.highBoundary(14)", "2014-01-01T08:05:30-12:00"),
    ("@T10:30.highBoundary(9)", "10:30:59.999"),
    ("1.587 'cm'.lowBoundary(8)", "1.58650000 'cm'"),
])
def test_date_time_and_quantity_boundaries(expression: str, expected: str) -> None:
    assert texts(evaluate(expression)) == [expected]


@pytest.mark.parametrize("expression", ["1.587.lowBoundary(-1)", "1.587.highBoundary(29)",
                                        "@2014.lowBoundary(9)", "'abc'.lowBoundary()", "{}.highBoundary()"])
def test_boundaries_out_of_range_are_empty(expression: str) -> None:
    assert evaluate(expression) == []


def test_boundaries_of_a_fhir_date_time_with_date_precision() -> None:
    period = {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
              "period": {"start": "2024-03-01", "end": "2024-03"}}
    assert texts(evaluate("period.start.lowBoundary()", period)) == ["2024-03-01T00:00:00.000+14:00"]
    assert texts(evaluate("period.end.highBoundary()", period)) == ["2024-03-31T23:59:59.999-12:00"]
    assert evaluate("period.start.lowBoundary() < period.end.highBoundary()", period) == [True]
    assert evaluate("period.start <= period.end", period) == []  # different precision


@pytest.mark.parametrize(("expression", "expected"), [
    ("1.58700.precision()", 5), ("@2014.precision()", 4), ("@2014-01-05T10:30:00.000.precision()", 17),
    ("@T10:30.precision()", 4), ("birthDate.precision()", 8),
])
def test_precision(expression: str, expected: int) -> None:
    assert evaluate(expression, PATIENT) == [expected]


@pytest.mark.parametrize(("expression", "expected"), [
    ("1 'cm'.comparable(1 '[in_i]')", True), ("1 'mg'.comparable(1 '[lb_av]')", True),
    ("1 'cm'.comparable(1 's')", False), ("1 'cm'.comparable(1 '[s]')", False), ("1 week.comparable(1 'd')", True),
])
def test_comparable(expression: str, expected: bool) -> None:
    assert evaluate(expression) == [expected]


# --- Quantities ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "expected"), [
    ("4.0000 'g' = 4000.0 'mg'", [True]),
    ("1 'kPa' > 7 'mm[Hg]'", [True]),
    ("2 'mmol/L' = 2000 'umol/L'", [True]),
    ("1 'kg/m2' = 0.1 'g/cm2'", [True]),
    ("7 days = 1 'wk'", [True]),
    ("6 days < 1 week", [True]),
    ("1 year = 12 months", [True]),
    ("1 year = 1 'a'", []),  # calendar years are not UCUM years
    ("1 'cm' < 1 's'", []),  # different dimensions
    ("2.0 'cm' * 2.0 'm' = 0.040 'm2'", [True]),
    ("4.0 'g' / 2.0 'm' = 2 'g/m'", [True]),
    ("3 'mg' * 2 = 6 'mg'", [True]),
])
def test_quantity_comparison_with_ucum_units(expression: str, expected: list[bool]) -> None:
    assert evaluate(expression) == expected


def test_fhir_quantities_compare_with_literals_and_each_other() -> None:
    assert evaluate("value < 200 '[lb_av]'", OBSERVATION) == [True]
    assert evaluate("value > 80 'kg'", OBSERVATION) == [True]  # 185 lb is 83.9 kg
    assert evaluate("value = 185 'kg'", OBSERVATION) == [False]
    value_range = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "valueRange": {"low": {"value": 1}, "high": {"value": 3}}}
    assert evaluate("value.low <= value.high", value_range) == [True]
    assert evaluate("value.high <= value.low", value_range) == [False]


# --- dates and times -----------------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "expected"), [
    ("@2012-01 = @2012-01-15", []),
    ("@2012-01 != @2012-01-15", []),
    ("@2012-01 = @2013-01-15", [False]),
    ("@2012 < @2013-01", [True]),
    ("@2012-04-15T15:00:00+02:00 = @2012-04-15T13:00:00Z", [True]),
    ("@2012-04-15T15:00:00Z = @2012-04-15T10:00:00", []),
    ("@2012-04-15T15:30:31.0 = @2012-04-15T15:30:31", [True]),
    ("@2012-01 ~ @2012-01-15", [False]),
    ("@T10:30 < @T10:31:00", [True]),
    ("now() > today()", []),
    ("birthDate = @1974-12-25", [True]),
    ("birthDate < @1974-12-25T10:00", []),
])
def test_date_time_comparison_respects_precision(expression: str, expected: list[bool]) -> None:
    assert evaluate(expression, PATIENT) == expected


def test_date_time_comparison_with_a_time_is_an_error() -> None:
    with pytest.raises(TypeError):
        evaluate("@2012-01-01 < @T10:00")
    assert evaluate("@2012-01-01 = @T10:00") == [False]


@pytest.mark.parametrize(("expression", "expected"), [
    ("@1973-12-25T00:00:00.000+10:00 + 7 days", "1974-01-01T00:00:00.000+10:00"),
    ("@1973-12-25 + 7.7 days", "1974-01-01"),
    ("@1974-12-25 - 1 'month'", "1974-11-25"),
    ("@2024-01-31 + 1 month", "2024-02-29"),
    ("@2014 + 24 months", "2016"),
    ("@T23:30 + 1 hour", "00:30"),
    ("@1973-12-25T00:00:00.000+10:00 + 10 'ms'", "1973-12-25T00:00:00.010+10:00"),
])
def test_date_arithmetic_keeps_precision_and_timezone(expression: str, expected: str) -> None:
    assert texts(evaluate(expression)) == [expected]


def test_date_arithmetic_needs_a_time_unit() -> None:
    with pytest.raises(ValueError):
        evaluate("@2014-01-01 + 1 'a'")


# --- types ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "expected"), [
    ("active is boolean", [True]),
    ("active is FHIR.boolean", [True]),
    ("active is Boolean", [False]),
    ("true is Boolean", [True]),
    ("birthDate is date", [True]),  # the value and its extensions are one item
    ("birthDate.is(dateTime)", [False]),
    ("gender is code", [True]),
    ("gender is string", [True]),
    ("@2015 is Date", [True]),
    ("@2015-02-04T14:34 is DateTime", [True]),
    ("@2015 is DateTime", [False]),
])
def test_is_with_fhir_primitive_types(expression: str, expected: list[bool]) -> None:
    assert evaluate(expression, PATIENT) == expected


def test_as_and_of_type() -> None:
    assert evaluate("birthDate.as(date).exists()", PATIENT) == [True]
    assert evaluate("(birthDate as dateTime).exists()", PATIENT) == [False]
    assert evaluate("name.ofType(HumanName).family", PATIENT) == ["Nordmann", "Berg"]
    assert evaluate("value.ofType(Quantity).code", OBSERVATION) == ["[lb_av]"]
    assert evaluate("@2015.type().name") == ["Date"]


@pytest.mark.parametrize("expression", ["gender.as(string1)", "gender.ofType(string1)", "gender is Strin"])
def test_unknown_type_names_are_errors(expression: str) -> None:
    with pytest.raises(ValueError):
        evaluate(expression, PATIENT)


# --- sort, strings, logic and other corrections --------------------------------------------------

@pytest.mark.parametrize(("expression", "expected"), [
    ("(3 | 1 | 2).sort()", [1, 2, 3]),
    ("(1 | 3 | 2).sort(-$this)", [3, 2, 1]),
    ("('c' | 'a' | 'b').sort($this)", ["a", "b", "c"]),
    ("name.sort(family).family", ["Berg", "Nordmann"]),
    ("(@2014-03 | @2013 | @2014-01).sort()", ["2013", "2014-01", "2014-03"]),
])
def test_sort(expression: str, expected: list[Any]) -> None:
    assert texts(evaluate(expression, PATIENT)) == expected


@pytest.mark.parametrize(("expression", "expected"), [
    ("(1 | 2 | 3) ~ (3 | 2 | 1)", [True]),
    ("(1 | 2) ~ (1 | 2 | 3)", [False]),
    ("(1 | 2 | 3) !~ (3 | 1 | 2)", [False]),
    ("name.given ~ ('ola' | 'KARI')", [True]),
])
def test_equivalence_ignores_order(expression: str, expected: list[bool]) -> None:
    assert evaluate(expression, PATIENT) == expected


@pytest.mark.parametrize(("expression", "expected"), [
    ("'http://example.org/Library/x'.matchesFull('Library')", [False]),
    ("'http://example.org/Library/x'.matchesFull('.*Library.*')", [True]),
    ("'\"1<2\"'.escape('html')", ["&quot;1&lt;2&quot;"]),
    ("'&quot;1&lt;2&quot;'.unescape('html')", ['"1<2"']),
    ("'a\\nb'.escape('json')", ["a\\nb"]),
    ("''.startsWith('')", [True]),
    ("'abc'.indexOf({}).empty()", [True]),
    ("'abc'.replace('b', {}).empty()", [True]),
    ("'abc'.replaceMatches('', 'x')", ["abc"]),
    ("1.5.round()", [2]),
    ("true.toString() & ' ' & 1.50.toString() & ' ' & @2014-01.toString()", ["true 1.50 2014-01"]),
    ("(true and 'foo').empty()", [False]),
    ("gender.startsWith('ma')", [True]),
])
def test_string_and_other_corrections(expression: str, expected: list[Any]) -> None:
    assert evaluate(expression, PATIENT) == expected


def test_json_unescape_decodes_escapes() -> None:
    patient = {"resourceType": "Patient", "name": [{"family": 'Nord\\nmann \\"K\\u00e5re\\"'}]}
    assert evaluate("name.family.unescape('json')", patient) == ['Nord\nmann "K\u00e5re"']


@pytest.mark.parametrize("expression", [
    "name.single()",
    "name.given.not()",
    "('a' | 'b').iif(true, 1, 2)",
    "iif(name.given, 1, 2)",
    "(true | false) and true",
])
def test_a_collection_where_one_item_is_required_is_an_error(expression: str) -> None:
    with pytest.raises(ValueError):
        evaluate(expression, PATIENT)


def test_single_iif_now_and_today_on_valid_input() -> None:
    assert evaluate("name.first().single().family", PATIENT) == ["Nordmann"]
    assert evaluate("iif(active, 'yes', 'no')", PATIENT) == ["yes"]
    assert evaluate("now() is DateTime and today() is Date and timeOfDay() is Time") == [True]
    assert evaluate("birthDate < today()", PATIENT) == [True]


# -- what the grammar rejects is not evaluated in a repaired form ---------------------------------

@pytest.mark.parametrize("expression", ["name.exists() and", "((name", "name.where(use = 'official'"])
def test_an_expression_the_grammar_rejects_does_not_compile(expression: str) -> None:
    """fhirpathpy's parser silently repairs these (``name.exists() and`` would evaluate as
    ``name.exists()``); samsvar refuses them, saying where the grammar stopped."""
    from samsvar.validators.fhir.fhirpath import failure_kind
    from samsvar.validators.fhir.fhirpath_errors import FhirPathSyntaxError

    with pytest.raises(FhirPathSyntaxError, match="not valid FHIRPath") as raised:
        compile_expression(expression)
    assert failure_kind(raised.value) == "unsupported"  # the constraint is not checked, and says so


def test_a_profile_constraint_the_grammar_rejects_is_reported_not_checked(fhir_cache: Path, tmp_path: Path) -> None:
    """An instance validated against a profile whose constraint does not parse: the constraint is
    reported as not evaluated (FHIR-INV-002, a not-checked finding), never silently passed."""
    import json

    from samsvar.validators import Options, Validator

    profile = {"resourceType": "StructureDefinition", "id": "broken", "url": "http://samsvar.no/fhir/test/broken",
               "name": "Broken", "status": "draft", "kind": "resource", "abstract": False, "type": "Patient",
               "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient", "derivation": "constraint",
               "differential": {"element": [{"id": "Patient", "path": "Patient", "constraint": [
                   {"key": "brk-1", "severity": "error", "human": "a name, and", "expression": "name.exists() and"}]}]}}
    (tmp_path / "profile.json").write_text(json.dumps(profile), encoding="utf-8")
    validator = Validator(Options(cache_root=fhir_cache, igs=(str(tmp_path / "profile.json"),),
                                  profiles=("http://samsvar.no/fhir/test/broken",)))
    patient = {"resourceType": "Patient", "id": "p", "name": [{"family": "Nordmann"}]}
    result = validator.validate_bytes("p.json", json.dumps(patient).encode())
    found = [(i.rule, i.message) for i in result.issues if i.rule.startswith("FHIR-INV-00") and "brk-1" in i.message]
    assert [rule for rule, _ in found] == ["FHIR-INV-002"], result.issues
    assert "not valid FHIRPath" in found[0][1]
