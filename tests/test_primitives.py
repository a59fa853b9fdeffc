"""Primitive formats: the string tests that stand in for some core regexes say exactly what the
regexes say (on every code point, and on generated texts), and ``format_problem`` gives the
messages it always gave."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samsvar.validators.fhir.primitives import _STRING_TESTS, format_problem

_EVERY_CODE_POINT = [chr(i) for i in range(sys.maxunicode + 1) if not 0xD800 <= i <= 0xDFFF]
_BASE64 = r"(\s*([0-9a-zA-Z\+/=]){4}\s*)+"


@pytest.mark.parametrize("regex", sorted(_STRING_TESTS))
def test_string_tests_agree_with_their_regex_on_every_code_point(regex: str) -> None:
    fullmatch = re.compile(regex, re.ASCII).fullmatch
    test = _STRING_TESTS[regex]
    for text in ("", *_EVERY_CODE_POINT):
        for candidate in (text, text * 4, f"ab{text}cd", f"AAAA{text}BBBB"):
            assert test(candidate) == (fullmatch(candidate) is not None), (regex, candidate)


_ALPHABET = st.sampled_from("AZaz09+/= \t\n\r\f\v\x1c\u00a0-!é")


@settings(max_examples=400, deadline=None)
@given(st.lists(_ALPHABET, max_size=24).map("".join))
def test_string_tests_agree_with_their_regex_on_generated_texts(text: str) -> None:
    for regex, test in _STRING_TESTS.items():
        assert test(text) == (re.compile(regex, re.ASCII).fullmatch(text) is not None), (regex, text)


@pytest.mark.parametrize(("code", "value", "regex", "problem"), [
    ("string", "", r"[ \r\n\t\S]+", "@value cannot be empty"),
    ("string", "a\fb", r"[ \r\n\t\S]+", "The value 'a\fb' is not a valid string"),
    ("markdown", "x" * 1_048_577, None, "The value is longer than the maximum of 1,048,576 characters (1,048,577)"),
    ("uri", "a b", r"\S*", "The value 'a b' is not a valid uri"),
    ("uri", "a\u00a0b", r"\S*", None),
    ("uri", "urn:uuid:ABC", r"\S*", "UUIDs must be valid and lowercase (ABC)"),
    ("oid", "urn:oid:1.2.03", None, "OIDs must be valid (1.2.03)"),
    ("boolean", True, "true|false", None),
    ("boolean", "True", "true|false", "The value 'True' is not a valid boolean"),
    ("base64Binary", "AAAA BBBB", _BASE64, None),
    ("base64Binary", "AAA ABBBB", _BASE64, "The value 'AAA ABBBB' is not a valid base64Binary"),
    ("base64Binary", "A===", _BASE64, "The value 'A===' is not a valid Base64 value"),
    ("dateTime", "2020-02-30", None, "The value '2020-02-30' is not a valid dateTime: 2020-02 has no day 30"),
    ("dateTime", "2020-02-03T10:00:00", None, "If a date has a time, it must have a timezone"),
    ("integer", 2**40, None, f"The value {2**40} is outside the range of integer (-2147483648 to 2147483647)"),
    ("decimal", 1.5, None, None),
    ("code", "a  b", r"[^\s]+(\s[^\s]+)*", "The value 'a  b' is not a valid code"),
])
def test_format_problem(code: str, value: object, regex: str | None, problem: str | None) -> None:
    assert format_problem(code, value, regex) == problem
    assert format_problem(code, value, regex) == problem  # (the second time from the made check)


def test_a_type_asked_with_another_regex_is_judged_by_that_regex() -> None:
    assert format_problem("id", "a b", r"[a-z ]+") is None
    assert format_problem("id", "a b", r"[a-z]+") == "The value 'a b' is not a valid id"
