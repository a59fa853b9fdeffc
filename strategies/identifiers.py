"""Norwegian identifiers with valid control digits, drawn for generated resources.

Person numbers are synthetic by default (Skatteetaten Tenor: month + 80), so that generated test
data can never be a real person's number; samsvar reports them as NO-ID-005 (information).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from hypothesis import strategies as st

from ..validators.identifiers import norwegian as no

_OID = "urn:oid:2.16.578.1.12.4.1"
FNR, DNR, FHN = f"{_OID}.4.1", f"{_OID}.4.2", f"{_OID}.4.3"
HPR, DUF, ORGNR, RESH, AKO, HER = f"{_OID}.4.4", f"{_OID}.4.5", f"{_OID}.4.101", f"{_OID}.4.102", f"{_OID}.4.107", f"{_OID}.2"

Draw = Callable[[st.SearchStrategy[Any]], Any]


def _individuals(year: int) -> range:
    """Individual numbers of the series for a birth year (HIS 1001)."""
    if 1900 <= year <= 1999:
        return range(0, 500)
    return range(500, 1000)  # 2000-2039


def person_number(draw: Draw, system: str, synthetic: bool = True) -> str:
    """A fødselsnummer, D-nummer or felles hjelpenummer with valid K1 and K2."""
    if system == FHN:
        while True:
            first_nine = str(draw(st.integers(8, 9))) + "".join(map(str, draw(st.lists(st.integers(0, 9), min_size=8,
                                                                                        max_size=8))))
            digits = no.person_control_digits(first_nine)
            if digits is not None:
                return first_nine + "".join(map(str, digits))
            first_nine = None  # another draw
    born = draw(st.dates(dt.date(1920, 1, 1), dt.date(2023, 12, 31)))
    day = born.day + (40 if system == DNR else 0)
    month = born.month + (80 if synthetic else 0)
    series = _individuals(born.year)
    start = draw(st.integers(0, len(series) - 1))
    for step in range(len(series)):
        individual = series[(start + step) % len(series)]
        first_nine = f"{day:02d}{month:02d}{born.year % 100:02d}{individual:03d}"
        digits = no.person_control_digits(first_nine)
        if digits is not None:
            return first_nine + "".join(map(str, digits))
    raise AssertionError("every individual number of a series cannot fail the control digits")


def orgnr(draw: Draw) -> str:
    while True:
        first_eight = str(draw(st.integers(8, 9))) + "".join(map(str, draw(st.lists(st.integers(0, 9), min_size=7,
                                                                                     max_size=7))))
        check = no.orgnr_check_digit(first_eight)
        if check is not None:
            return first_eight + str(check)


def identifier_value(draw: Draw, system: str, synthetic: bool = True) -> str | None:
    """A valid value for a Norwegian identifier system, or None for another system."""
    if system in (FNR, DNR, FHN):
        return person_number(draw, system, synthetic)
    if system == ORGNR:
        return orgnr(draw)
    if system in (HPR, RESH, AKO, HER):
        return str(draw(st.integers(1, 999_999_999)))
    if system == DUF:
        return str(draw(st.integers(100_000_000_000, 999_999_999_999)))
    return None


def broken_control_digit(value: str) -> str:
    """The same number with its last digit changed: a person number's K2 and an organisasjonsnummer's
    check digit have exactly one right value, so this one is wrong."""
    return value[:-1] + str((int(value[-1]) + 1) % 10)


CHECKED_BY_DIGITS = (FNR, DNR, FHN, ORGNR)
"""Systems whose last digit is a control digit (a broken one is NO-ID-003)."""
