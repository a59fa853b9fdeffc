"""The vital-signs profiles FHIR R4 requires of an Observation by its code.

FHIR R4 says (Observation, "Vital Signs"): an Observation whose code is one of the vital-signs
codes SHALL conform to that sign's profile of the core package (``bodyweight``, ``heartrate``,
...). HL7's validator applies them by itself, from the LOINC or SNOMED CT code of
``Observation.code``, and says so in a note; samsvar does the same, with the same codes. The
first sign whose codes match wins, as in HL7's validator (a code listed under two signs counts
for the first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..rules import declared

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
CORE = "http://hl7.org/fhir/StructureDefinition/"

VITAL_SIGNS_PROFILE = declared("FHIR-VITALS-001")


@dataclass(frozen=True, slots=True)
class Sign:
    profile: str
    name: str
    loinc: frozenset[str]
    snomed: frozenset[str]


def _sign(profile: str, name: str, loinc: str, snomed: str) -> Sign:
    return Sign(CORE + profile, name, frozenset(loinc.split()), frozenset(snomed.split()))


SIGNS: tuple[Sign, ...] = (
    _sign("vitalspanel", "Vital Signs Panel", "85353-1", "46680005"),
    _sign("resprate", "Respiratory Rate", "9279-1 76170-0 76172-6 76171-8 19840-8 33438-3 76270-8 11291-2",
          "86290005 271625008 271306003"),
    _sign("heartrate", "Heart rate",
          "60978-4 73795-7 73799-9 76476-1 76477-9 8867-4 8889-8 8890-6 8891-4 8892-2 8893-0 40443-4 55425-3 "
          "68999-2 11328-2 69000-8 8886-4",
          "271306003 249043002 444981005 399017001 251670001 429525003 429614003"),
    _sign("oxygensat", "Oxygen saturation", "2708-6 19224-5 20564-1 2709-4 2710-2 2713-6 51733-4 59408-5 59417-6 "
          "89276-0 97549-0", "442476006 431314004"),
    _sign("bodytemp", "Body temperature", "8310-5 60834-9 60835-6 60836-4 60838-0 60955-2 61009-7 75539-7 75987-8 "
          "76010-8 76011-6 76278-1 8309-7 8328-7 8329-5 8330-3 8331-1 8332-9 8333-7 8334-5 91371-5 98657-0 "
          "98663-8", "386725007 276885007 300076005 1222808002 364246006 307047009 708499008 431598003 698831002 "
          "698832009 415882003 415974002 415929009 415945006"),
    _sign("bodyheight", "Body height", "8302-2 3137-7 3138-5 8306-3 8308-9",
          "1153637007 1162419008 50373000 1162418000 1230278008 1162392001 1162417005"),
    _sign("headcircum", "Head circumference", "9843-4 8287-5", "363812007 169876006 1269262007 363811000"),
    _sign("bodyweight", "Body weight", "29463-7 3141-9 3142-7 75292-3 79348-9 8350-1 8351-9",
          "735395000 425024002 424927000 784399000 1162416001 1162415002"),
    _sign("bmi", "Body mass index", "39156-5 89270-3", "60621009"),
    _sign("bp", "Blood pressure systolic and diastolic", "85354-9 35094-2 8459-0 76534-7 55284-4 8480-6",
          "251076008 163033001 163035008 386534000 386536003 271649006 271650006 407556006 407554009 716579001 "
          "399304008"),
)


@dataclass(frozen=True, slots=True)
class Implied:
    profile: str
    note: str


def _codes(resource: dict[str, Any], system: str) -> list[str]:
    code = resource.get("code")
    codings = code.get("coding") if isinstance(code, dict) else None
    return [c["code"] for c in codings or [] if isinstance(c, dict) and c.get("system") == system
            and isinstance(c.get("code"), str)] if isinstance(codings, list) else []


def vital_signs_profile(resource: dict[str, Any]) -> Implied | None:
    """The vital-signs profile an Observation must conform to by its code, or None. LOINC codes
    are looked at first, then SNOMED CT ones."""
    if resource.get("resourceType") != "Observation":
        return None
    for system, label, attribute in ((LOINC, "LOINC", "loinc"), (SNOMED, "SNOMED CT", "snomed")):
        codes = _codes(resource, system)
        for sign in SIGNS:
            found = next((c for c in codes if c in getattr(sign, attribute)), None)
            if found is not None:
                return Implied(sign.profile, f"Observation checked against the {sign.name} profile ({sign.profile}), "
                                             f"which FHIR requires because of its {label} code {found}")
    return None
