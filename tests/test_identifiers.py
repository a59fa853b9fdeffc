"""Norwegian identifiers against public test vectors and as properties."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samsvar.validators.identifiers import (
    IDENTIFIER_SYSTEMS,
    PersonKind,
    check_orgnr,
    check_person_number,
    classify_person_number,
    orgnr_check_digit,
    person_control_digits,
)

from .shared import shared_path

ALL_PERSON_KINDS = frozenset(PersonKind)


def _vectors() -> list[tuple[str, str, str, str]]:
    rows = []
    for line in shared_path("no", "identifiers", "test-vectors.tsv").read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        value, expected, kind, reason, *_ = line.split("\t") + ["", ""]
        rows.append((value, expected, kind, reason))
    return rows


def test_public_test_vectors() -> None:
    rows = _vectors()
    assert len(rows) > 50
    for value, expected, kind, reason in rows:
        if kind == "orgnr":
            problems = check_orgnr(value)
        else:
            _, problems = classify_person_number(value)
        real = [p for p in problems if p.kind != "synthetic"]
        assert (not real) == (expected == "valid"), (value, expected, kind, reason, problems)


def test_kinds_and_synthetic_markers() -> None:
    assert classify_person_number("13097248022")[0].kind is PersonKind.FNR
    assert classify_person_number("53097248016")[0].kind is PersonKind.DNR
    assert classify_person_number("81234567802")[0].kind is PersonKind.FHN
    assert classify_person_number("17912099997")[0].synthetic == "tenor"
    assert classify_person_number("15507600333")[0].synthetic == "nav"
    assert classify_person_number("13097248022")[0].birth_date == dt.date(1972, 9, 13)


def test_hnr_accepted_as_h_nummer_only_where_hnr_is_allowed() -> None:
    hnr = "13527248013"
    assert check_person_number(hnr, frozenset({PersonKind.FNR, PersonKind.HNR})) == []
    assert [p.kind for p in check_person_number(hnr, frozenset({PersonKind.FNR}))] == ["synthetic"]


def test_2032_rule_accepts_four_k1_values_but_old_numbers_still_valid() -> None:
    assert not classify_person_number("30108299920")[1]
    assert not classify_person_number("30108299939")[1]
    assert [p.kind for p in classify_person_number("02013299987")[1]] == ["checksum"]


def test_every_system_has_a_check() -> None:
    assert set(IDENTIFIER_SYSTEMS) == {
        f"urn:oid:2.16.578.1.12.4.1.4.{n}" for n in (1, 2, 3, 4, 5, 101, 102, 107)
    } | {"urn:oid:2.16.578.1.12.4.1.2"}


@st.composite
def fodselsnummer(draw: st.DrawFn) -> str:
    """A valid classic fødselsnummer (or D-nummer, or synthetic) with a real birth date."""
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(1999, 12, 31)))
    individual = draw(st.integers(0, 499))
    day_offset = draw(st.sampled_from([0, 40]))
    month_offset = draw(st.sampled_from([0, 40, 80]))
    nine = f"{born.day + day_offset:02d}{born.month + month_offset:02d}{born.year % 100:02d}{individual:03d}"
    digits = person_control_digits(nine)
    if digits is None:
        nine = nine[:8] + str((int(nine[8]) + 1) % 10)
        digits = person_control_digits(nine)
    from hypothesis import assume

    assume(digits is not None)
    return nine + "".join(map(str, digits))


@st.composite
def orgnr(draw: st.DrawFn) -> str:
    eight = draw(st.from_regex(r"\A[89][0-9]{7}\Z"))
    check = orgnr_check_digit(eight)
    from hypothesis import assume

    assume(check is not None)
    return eight + str(check)


def _single_digit_changes(value: str) -> list[str]:
    return [value[:i] + d + value[i + 1:] for i in range(len(value)) for d in "0123456789" if d != value[i]]


@settings(max_examples=200, deadline=None)
@given(fodselsnummer())
def test_generated_person_numbers_pass_and_every_single_digit_change_fails(value: str) -> None:
    assert [p for p in classify_person_number(value)[1] if p.kind != "synthetic"] == []
    for changed in _single_digit_changes(value):
        problems = [p for p in classify_person_number(changed)[1] if p.kind != "synthetic"]
        assert problems, f"{changed} (one digit from {value}) was accepted"


@settings(max_examples=200, deadline=None)
@given(orgnr())
def test_generated_orgnr_pass_and_every_single_digit_change_fails(value: str) -> None:
    assert check_orgnr(value) == []
    for changed in _single_digit_changes(value):
        assert check_orgnr(changed), f"{changed} (one digit from {value}) was accepted"


@pytest.mark.parametrize("value", ["", " 13097248022", "1309724802２", "130972480221", "abcdefghijk"])
def test_format_problems(value: str) -> None:
    assert [p.kind for p in classify_person_number(value)[1]] == ["format"]
