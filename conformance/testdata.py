"""Synthetic test data for live runs: never a real person, always recognisable and tagged.

Fødselsnummer are *synthetic* (month + 80, the convention of Norway's test registers), so a
server that receives them can tell, and samsvar's own rules flag them in production. Every
resource a suite creates carries the run's tag (:data:`TAG_SYSTEM`) so that cleanup can find it.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass
from typing import Any

from ..validators.identifiers.norwegian import person_control_digits

TAG_SYSTEM = "https://samsvar.no/fhir/CodeSystem/test-data"
FNR_SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.1"
HPR_SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.4"
ORGNR_SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.101"


def synthetic_fnr(rng: random.Random) -> str:
    """A synthetic fødselsnummer (birth month + 80) with valid control digits."""
    while True:
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 80))
        individual = rng.randrange(0, 500) if birth.year < 2000 else rng.randrange(500, 1000)
        first_nine = f"{birth.day:02d}{birth.month + 80:02d}{birth.year % 100:02d}{individual:03d}"
        digits = person_control_digits(first_nine)
        if digits is not None:
            return f"{first_nine}{digits[0]}{digits[1]}"


def hpr_number(rng: random.Random) -> str:
    """A made-up HPR-nummer (7–9 digits; the register has no check digit)."""
    return str(rng.randrange(9_000_000, 9_999_999))


@dataclass(frozen=True, slots=True)
class RunTag:
    """The tag every resource of one run carries (``meta.tag``), and its search form."""

    code: str

    @classmethod
    def new(cls) -> "RunTag":
        return cls(f"samsvar-run-{uuid.uuid4().hex[:12]}")

    @property
    def coding(self) -> dict[str, str]:
        return {"system": TAG_SYSTEM, "code": self.code, "display": "samsvar test data (delete me)"}

    @property
    def search(self) -> str:
        return f"{TAG_SYSTEM}|{self.code}"

    def apply(self, resource: dict[str, Any]) -> dict[str, Any]:
        meta = resource.setdefault("meta", {})
        meta.setdefault("tag", []).append(dict(self.coding))
        return resource


def patient(rng: random.Random, tag: RunTag, *, fnr: str | None = None, gender: str = "female") -> dict[str, Any]:
    """A minimal conformant Patient with a synthetic fødselsnummer."""
    number = fnr or synthetic_fnr(rng)
    day, month, year = int(number[:2]), int(number[2:4]) - 80, int(number[4:6])
    century = 1900 if int(number[6:9]) < 500 else 2000
    return tag.apply({
        "resourceType": "Patient",
        "identifier": [{"system": FNR_SYSTEM, "value": number}],
        "name": [{"family": "Testesen", "given": ["Samsvar"]}],
        "gender": gender,
        "birthDate": f"{century + year:04d}-{month:02d}-{day:02d}",
    })


def practitioner(rng: random.Random, tag: RunTag) -> dict[str, Any]:
    return tag.apply({
        "resourceType": "Practitioner",
        "identifier": [{"system": HPR_SYSTEM, "value": hpr_number(rng)}],
        "name": [{"family": "Legesen", "given": ["Test"]}],
    })
