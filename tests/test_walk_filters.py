"""The walk's shortcuts keep every finding: a check's ``wants(value)`` says False only where the
check finds nothing (the walk then does not visit the value), for any text."""

from __future__ import annotations

from hypothesis import given, strategies as st

from samsvar.validators.fhir.profiles import FixedPatternChecker
from samsvar.validators.fhir.textcontent import TextContentChecker
from samsvar.validators.fhir.visit import Visit

TEXTS = st.one_of(st.text(), st.text(alphabet="<>/ab =\"'&;!-[]CDATA", max_size=30),
                  st.sampled_from(["<b>bold</b>", "a < b", "<script>x</script>", "<!-- c -->", "x<y"]))


@given(TEXTS, st.sampled_from(["string", "markdown", "code", "uri"]), st.booleans())
def test_text_content_finds_nothing_where_it_does_not_want_the_value(text: str, code: str, security: bool) -> None:
    checker = TextContentChecker(security_checks=security, html_in_markdown="error")
    element = {"path": "Patient.name.text", "type": [{"code": code}]}
    found = list(checker(Visit(text, element, code, ("name", 0, "text"), "Patient.name[0].text", {}, {}, {})))
    if not checker.wants(text):
        assert found == []


def test_text_content_wants_html_looking_text() -> None:
    assert TextContentChecker.wants("<b>x</b>") and not TextContentChecker.wants("plain") \
        and not TextContentChecker.wants(12)


def test_fixed_pattern_is_relevant_only_where_the_definition_has_something_to_compare() -> None:
    assert not FixedPatternChecker.relevant({"path": "Patient.gender", "short": "x", "min": 1}, "code")
    for key, value in (("fixedCode", "female"), ("patternCodeableConcept", {}), ("minValueInteger", 1),
                       ("maxValueDate", "2020"), ("maxLength", 5)):
        assert FixedPatternChecker.relevant({"path": "Patient.gender", key: value}, "code"), key
