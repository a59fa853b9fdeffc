"""Check digits and formats of Norwegian identifiers.

Person numbers (fødselsnummer, D-nummer, H-nummer, felles hjelpenummer) are 11 digits:
six date digits, a three-digit individual number and two control digits K1 and K2 (mod 11).
From 2032 K1 may take any of four values (Skatteetaten: "rest 0, 1, 2 or 3"); systems must
accept both the old and the new rule, so K1 is valid when ``(sum + K1) mod 11`` is 0 to 3.
K2 is unchanged. Synthetic test identities add 40 (NAV Dolly) or 80 (Skatteetaten Tenor)
to the month.
"""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass
from datetime import date
from typing import Callable, Literal

K1_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2)
K2_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
ORGNR_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)

ProblemKind = Literal["format", "date", "checksum", "kind", "synthetic"]


@dataclass(frozen=True, slots=True)
class Problem:
    kind: ProblemKind
    message: str


class PersonKind(enum.Enum):
    FNR = "fødselsnummer"
    DNR = "D-nummer"
    HNR = "H-nummer"
    FHN = "felles hjelpenummer"


Synthetic = Literal["nav", "tenor"]


@dataclass(frozen=True, slots=True)
class PersonNumber:
    value: str
    kind: PersonKind
    birth_date: date | None
    synthetic: Synthetic | None = None


def _digits(value: str) -> list[int]:
    return [int(c) for c in value]


def person_control_digits(first_nine: str) -> tuple[int, int] | None:
    """Classic K1 and K2 (rest 0) for nine digits, or None when no valid K1 exists."""
    digits = _digits(first_nine)
    k1 = (11 - sum(w * d for w, d in zip(K1_WEIGHTS, digits)) % 11) % 11
    if k1 == 10:
        return None
    k2 = (11 - sum(w * d for w, d in zip(K2_WEIGHTS, [*digits, k1])) % 11) % 11
    if k2 == 10:
        return None
    return k1, k2


def _control_digits_ok(value: str) -> bool:
    digits = _digits(value)
    k1_rest = (sum(w * d for w, d in zip(K1_WEIGHTS, digits[:9])) + digits[9]) % 11
    k2_rest = sum(w * d for w, d in zip(K2_WEIGHTS, digits[:10])) % 11
    expected_k2 = (11 - k2_rest) % 11
    return k1_rest in (0, 1, 2, 3) and expected_k2 != 10 and expected_k2 == digits[10]


def _centuries(individual: int, year: int) -> list[int]:
    """Centuries the individual-number series allows for a two-digit year (HIS 1001)."""
    found = []
    if individual <= 499:
        found.append(1900)
    if 500 <= individual <= 749 and year >= 54:
        found.append(1800)
    if individual >= 500 and year <= 39:
        found.append(2000)
    if individual >= 900 and year >= 40:
        found.append(1900)
    # Synthetic and some historic numbers do not follow the series: any century then.
    return found or [1800, 1900, 2000]


def _birth_date(day: int, month: int, year: int, individual: int) -> date | None:
    for century in _centuries(individual, year):
        full_year = century + year
        if 1 <= month <= 12 and 1 <= day <= calendar.monthrange(full_year, month)[1]:
            return date(full_year, month, day)
    return None


def classify_person_number(value: str) -> tuple[PersonNumber | None, list[Problem]]:
    """Decode an 11-digit person number: its kind, birth date and synthetic marker."""
    if len(value) != 11 or not value.isascii() or not value.isdigit():
        return None, [Problem("format", f"{value!r} is not 11 digits.")]
    problems: list[Problem] = []
    if not _control_digits_ok(value):
        problems.append(Problem("checksum", f"{value} has wrong control digits (K1/K2, mod 11)."))
    first = int(value[0])
    if first >= 8:
        return PersonNumber(value, PersonKind.FHN, None), problems
    day, month, year = int(value[0:2]), int(value[2:4]), int(value[4:6])
    individual = int(value[6:9])
    kind = PersonKind.FNR
    if day > 40:
        kind, day = PersonKind.DNR, day - 40
    synthetic: Synthetic | None = None
    if month > 80:
        synthetic, month = "tenor", month - 80
    elif month > 40:
        # Month + 40 is both the H-nummer rule and NAV's synthetic test numbers; the system
        # the number is used under decides which (see check_person_number).
        synthetic, month = "nav", month - 40
    birth = _birth_date(day, month, year, individual)
    if birth is None:
        problems.append(Problem("date", f"{value} does not start with a valid date (DDMMYY)."))
    return PersonNumber(value, kind, birth, synthetic), problems


def check_person_number(value: str, allowed: frozenset[PersonKind]) -> list[Problem]:
    """Problems of ``value`` used under a system that admits the kinds in ``allowed``."""
    number, problems = classify_person_number(value)
    if number is None:
        return problems
    kind = number.kind
    if number.synthetic == "nav" and PersonKind.HNR in allowed and kind is PersonKind.FNR:
        return problems  # a genuine H-nummer
    if kind not in allowed:
        expected = " or ".join(k.value for k in sorted(allowed, key=lambda k: k.name))
        problems.append(Problem("kind", f"{value} is a {kind.value}, but this system expects a {expected}."))
    if number.synthetic is not None:
        source = "Skatteetaten Tenor (month + 80)" if number.synthetic == "tenor" else "NAV (month + 40)"
        problems.append(Problem("synthetic", f"{value} is a synthetic test identity from {source}."))
    return problems


def orgnr_check_digit(first_eight: str) -> int | None:
    rest = sum(w * d for w, d in zip(ORGNR_WEIGHTS, _digits(first_eight))) % 11
    check = (11 - rest) % 11
    return None if check == 10 else check


def check_orgnr(value: str) -> list[Problem]:
    """Organisasjonsnummer (Enhetsregisteret): 9 digits, mod 11 with weights 3,2,7,6,5,4,3,2."""
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        return [Problem("format", f"{value!r} is not 9 digits.")]
    if orgnr_check_digit(value[:8]) != int(value[8]):
        return [Problem("checksum", f"{value} has a wrong control digit (mod 11).")]
    return []


def _digits_only(name: str, max_length: int) -> Callable[[str], list[Problem]]:
    def check(value: str) -> list[Problem]:
        if not value.isascii() or not value.isdigit() or not 1 <= len(value) <= max_length:
            return [Problem("format", f"{value!r} is not a {name}: expected 1 to {max_length} digits.")]
        if int(value) == 0:
            return [Problem("format", f"{value!r} is not a {name}: it is zero.")]
        return []

    check.__doc__ = f"{name}: digits only, at most {max_length}; no public check digit rule exists."
    return check


check_hpr = _digits_only("HPR-nummer", 9)
check_her_id = _digits_only("HER-id", 9)
check_resh = _digits_only("RESH-id", 9)
check_duf = _digits_only("DUF-nummer", 12)
check_ako = _digits_only("apotekkonsesjonsnummer", 9)


@dataclass(frozen=True, slots=True)
class IdentifierScheme:
    name: str
    check: Callable[[str], list[Problem]]
    person: bool = False


def _persons(*kinds: PersonKind) -> Callable[[str], list[Problem]]:
    allowed = frozenset(kinds)
    return lambda value: check_person_number(value, allowed)


_OID = "urn:oid:2.16.578.1.12.4.1"
IDENTIFIER_SYSTEMS: dict[str, IdentifierScheme] = {
    f"{_OID}.4.1": IdentifierScheme("fødselsnummer", _persons(PersonKind.FNR), person=True),
    f"{_OID}.4.2": IdentifierScheme("D-nummer", _persons(PersonKind.DNR), person=True),
    f"{_OID}.4.3": IdentifierScheme("felles hjelpenummer", _persons(PersonKind.FHN), person=True),
    f"{_OID}.4.4": IdentifierScheme("HPR-nummer", check_hpr),
    f"{_OID}.4.5": IdentifierScheme("DUF-nummer", check_duf),
    f"{_OID}.4.101": IdentifierScheme("organisasjonsnummer", check_orgnr),
    f"{_OID}.4.102": IdentifierScheme("RESH-id", check_resh),
    f"{_OID}.4.107": IdentifierScheme("apotekkonsesjonsnummer", check_ako),
    f"{_OID}.2": IdentifierScheme("HER-id", check_her_id),
}
"""Identifier systems (no-basis NamingSystems, preferred ``urn:oid`` form) and their checks."""
