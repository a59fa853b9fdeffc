"""SNOMED CT identifier (Verhoeff) and LOINC (mod 10) format checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samsvar.validators.terminology.formats import (
    FORMAT_CHECKS,
    LOINC_INVALID_CHECK_DIGITS,
    loinc_check_digit,
    loinc_problem,
    snomed_ct_concept_id_problem,
    snomed_ct_id_problem,
    verhoeff_check_digit,
    verhoeff_valid,
)

# Public SNOMED CT concept ids: findings, the root, and metadata concepts up to 18 digits, and one
# long-format id in the Norwegian namespace 1000202 (partition 10).
KNOWN_CONCEPTS = [
    "22298006",            # myocardial infarction
    "73211009",            # diabetes mellitus
    "38341003",            # hypertensive disorder
    "404684003",           # clinical finding
    "138875005",           # root
    "64572001",            # disease
    "56265001",            # heart disease
    "414545008",           # ischemic heart disease
    "44054006",            # type 2 diabetes mellitus
    "116680003",           # is a
    "363698007",           # finding site
    "900000000000003001",  # fully specified name
    "900000000000013009",  # synonym
    "900000000000207008",  # SNOMED CT core module
    "900000000000509007",  # US English language reference set
    "900000000000548007",  # preferred
    "61000202103",         # Norwegian language reference set
]
DIGITS = "0123456789"


def _substitutions(code: str) -> list[str]:
    return [code[:i] + d + code[i + 1:] for i in range(len(code)) for d in DIGITS if d != code[i]]


def _transpositions(code: str) -> list[str]:
    return [code[:i] + code[i + 1] + code[i] + code[i + 2:]
            for i in range(len(code) - 1) if code[i] != code[i + 1]]


@pytest.mark.parametrize("code", KNOWN_CONCEPTS)
def test_known_snomed_concept_ids_are_well_formed(code: str) -> None:
    assert verhoeff_valid(code)
    assert verhoeff_check_digit(code[:-1]) == int(code[-1])
    assert snomed_ct_id_problem(code) is None
    assert snomed_ct_concept_id_problem(code) is None


def test_verhoeff_published_examples() -> None:
    assert verhoeff_check_digit("236") == 3
    assert verhoeff_check_digit("12345") == 1
    assert verhoeff_valid("2363") and not verhoeff_valid("2364")
    assert not verhoeff_valid("")


@pytest.mark.parametrize("code", ["22298006", "73211009", "38341003", "404684003", "138875005",
                                  "900000000000003001"])
def test_verhoeff_detects_every_single_digit_error_and_adjacent_transposition(code: str) -> None:
    corrupted = _substitutions(code) + _transpositions(code)
    assert len(corrupted) >= 9 * len(code)
    for wrong in corrupted:
        assert not verhoeff_valid(wrong), wrong
        assert snomed_ct_id_problem(wrong) is not None, wrong


@settings(max_examples=300, deadline=None)
@given(st.text(DIGITS, min_size=1, max_size=17), st.data())
def test_verhoeff_property(payload: str, data: st.DataObject) -> None:
    number = payload + str(verhoeff_check_digit(payload))
    assert verhoeff_valid(number)
    wrong = data.draw(st.sampled_from(_substitutions(number)))
    assert not verhoeff_valid(wrong)
    transposed = _transpositions(number)
    if transposed:
        assert not verhoeff_valid(data.draw(st.sampled_from(transposed)))


@pytest.mark.parametrize(("code", "message"), [
    ("22298006X", "SNOMED CT id 22298006X is not 6 to 18 digits"),
    ("22298005", "SNOMED CT id 22298005: check digit is 5, expected 6"),
    ("138875006", "SNOMED CT id 138875006: check digit is 6, expected 5"),
    ("12345", "SNOMED CT id 12345 is not 6 to 18 digits"),
    ("1" * 19, f"SNOMED CT id {'1' * 19} is not 6 to 18 digits"),
    ("022298006", "SNOMED CT id 022298006 starts with 0"),
    (" 22298006", "SNOMED CT id ' 22298006' is not 6 to 18 digits"),
    ("２２２９８００６", "SNOMED CT id ２２２９８００６ is not 6 to 18 digits"),
    ("", "SNOMED CT id is empty"),
])
def test_snomed_messages(code: str, message: str) -> None:
    assert snomed_ct_id_problem(code) == message


def _with_check_digit(payload: str) -> str:
    return payload + str(verhoeff_check_digit(payload))


def test_partition_identifier() -> None:
    bad_partition = _with_check_digit("12345")  # partition 45
    assert snomed_ct_id_problem(bad_partition) == (
        f"SNOMED CT id {bad_partition} has partition identifier 45 (2nd and 3rd digits from the "
        "right); valid are 00, 01, 02, 10, 11, 12")
    description, relationship = _with_check_digit("700000101"), _with_check_digit("800000102")
    assert snomed_ct_id_problem(description) is None
    assert snomed_ct_id_problem(relationship) is None
    assert "is a description id (partition 01)" in (snomed_ct_concept_id_problem(description) or "")
    assert "is a relationship id (partition 02)" in (snomed_ct_concept_id_problem(relationship) or "")
    extension_description = _with_check_digit("1100020211")  # item 1, namespace 1000202, partition 11
    assert snomed_ct_id_problem(extension_description) is None
    assert "description id" in (snomed_ct_concept_id_problem(extension_description) or "")


def test_long_format_needs_a_namespace() -> None:
    short = _with_check_digit("123410")  # partition 10 but no room for a 7-digit namespace
    assert snomed_ct_id_problem(short) == (
        f"SNOMED CT id {short} has extension partition 10, which needs a 7-digit namespace "
        "identifier: at least 11 digits")


# --------------------------------------------------------------------------------------- LOINC
KNOWN_LOINC = ["8867-4", "8480-6", "8462-4", "2345-7", "29463-7", "85354-9", "8302-2", "1-8"]
KNOWN_LOINC_OTHER = ["LA33-6", "LA32-8", "LL361-7", "LP7839-6"]  # answers, answer list, part


def _guide_check_digit(number: str) -> int:
    """The LOINC Users' Guide's eight steps, literally (an independent oracle)."""
    reversed_digits = number[::-1]
    odd = reversed_digits[0::2][::-1]           # steps 1-2: odd positions from the right
    doubled = str(int(odd) * 2) if odd else ""  # step 3
    even = reversed_digits[1::2][::-1]          # step 4
    total = sum(int(d) for d in even + doubled)  # steps 5-6
    return (10 - total % 10) % 10               # steps 7-8


def test_guide_example() -> None:
    assert _guide_check_digit("12345") == 5
    assert loinc_check_digit("12345") == 5


@pytest.mark.parametrize("code", KNOWN_LOINC + KNOWN_LOINC_OTHER)
def test_known_loinc_codes(code: str) -> None:
    assert loinc_problem(code) is None
    body, check = code.rsplit("-", 1)
    for digit in DIGITS.replace(check, ""):
        assert loinc_problem(f"{body}-{digit}") == (
            f"LOINC code {body}-{digit}: check digit is {digit}, expected {check}")


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=9_999_999), st.data())
def test_loinc_check_digit_matches_guide_and_detects_single_digit_errors(number: int,
                                                                          data: st.DataObject) -> None:
    body = str(number)
    check = loinc_check_digit(body)
    assert check == _guide_check_digit(body)
    assert loinc_problem(f"{body}-{check}") is None
    wrong = data.draw(st.sampled_from([s for s in _substitutions(body) if s[0] != "0"] or [None]))
    if wrong is not None and f"{wrong}-{check}" not in LOINC_INVALID_CHECK_DIGITS:  # deprecated codes LOINC
        assert loinc_problem(f"{wrong}-{check}") is not None                          # publishes with wrong digits


def test_deprecated_codes_with_published_wrong_check_digits_are_accepted() -> None:
    assert len(LOINC_INVALID_CHECK_DIGITS) == 14
    for code in LOINC_INVALID_CHECK_DIGITS:
        body, check = code.split("-")
        assert loinc_check_digit(body) != int(check), code
        assert loinc_problem(code) is None


@pytest.mark.parametrize(("code", "message"), [
    ("8867_4", "LOINC code 8867_4 is not 1 to 7 digits, a hyphen and a check digit (like 8867-4)"),
    ("8867", "LOINC code 8867 is not 1 to 7 digits, a hyphen and a check digit (like 8867-4)"),
    ("8867-45", "LOINC code 8867-45 is not 1 to 7 digits, a hyphen and a check digit (like 8867-4)"),
    ("12345678-9", "LOINC code 12345678-9 is not 1 to 7 digits, a hyphen and a check digit (like 8867-4)"),
    ("la33-6", "LOINC code la33-6 is not 1 to 7 digits, a hyphen and a check digit (like 8867-4)"),
    ("8867-4 ", "LOINC code '8867-4 ' is not 1 to 7 digits, a hyphen and a check digit (like 8867-4)"),
    ("08867-4", "LOINC code 08867-4 starts with 0"),
    ("LA33-7", "LOINC code LA33-7: check digit is 7, expected 6"),
    ("", "LOINC code is empty"),
])
def test_loinc_messages(code: str, message: str) -> None:
    assert loinc_problem(code) == message


def test_format_checks_by_system() -> None:
    assert set(FORMAT_CHECKS) == {"http://snomed.info/sct", "http://loinc.org", "urn:ietf:bcp:13"}
    snomed, loinc = FORMAT_CHECKS["http://snomed.info/sct"], FORMAT_CHECKS["http://loinc.org"]
    assert snomed("22298006") is None
    assert "description id" in (snomed(_with_check_digit("700000101")) or "")
    assert loinc("8867-4") is None and loinc("8867-5") is not None
    assert snomed("8867-4") is not None and loinc("22298006") is not None
