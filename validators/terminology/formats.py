"""Format and check-digit tests for code systems samsvar cannot hold in full.

SNOMED CT and LOINC are licensed and large, so samsvar does not ship them. Their identifiers
still carry enough structure to catch typos offline; the functions here check that structure
and nothing else (a well-formed code may still not exist). Each ``*_problem`` function returns
None for a well-formed code, otherwise one message a person can act on.

SNOMED CT identifiers (SCTIDs) -- SNOMED International, *SNOMED CT Technical Implementation
Guide*, section "SCTID" (https://confluence.ihtsdotools.org/display/DOCTIG/6.1+SCTID+Data+Type,
and its Verhoeff appendix):

* 6 to 18 decimal digits, no leading zero;
* the last digit is a Verhoeff check digit over all the digits before it;
* the two digits before the check digit are the partition identifier: ``00`` concept,
  ``01`` description, ``02`` relationship in the short (International) format, and ``10``,
  ``11``, ``12`` for the same in the long format, where a 7-digit namespace identifier (e.g. the
  Norwegian namespace) precedes the partition, so a long-format id has at least 11 digits.

LOINC codes -- Regenstrief Institute, *LOINC Users' Guide*, "Calculating Mod 10 check digits"
(https://loinc.org/kb/users-guide/calculating-mod-10-check-digits/):

* 1 to 7 digits, a hyphen and one check digit, e.g. ``8867-4``;
* the check digit is the guide's mod 10 algorithm (the Luhn algorithm) over the digits;
* fourteen deprecated codes are published with check digits that do not follow the algorithm;
  they are real LOINC codes, so they are accepted (:data:`LOINC_INVALID_CHECK_DIGITS`);
* LOINC Part, Answer, answer-list and group identifiers (``LP7839-6``, ``LA33-6``,
  ``LL361-7``, ``LG100-4``) are also coded in ``http://loinc.org``; the guide computes their
  check digit with the OpenMRS variant of Luhn, where each character counts as its ASCII value
  minus 48. For digits the variant is identical to the guide's algorithm, so one function
  covers both.

MIME types (``urn:ietf:bcp:13``, FHIR's ``mimetypes`` value set) -- the IANA media types
registry is open-ended and not held offline, but a media type has a grammar, so a code that
breaks it cannot be one (RFC 6838 section 4.2):

* ``type/subtype``: each name 1 to 127 characters, a letter or digit followed by letters,
  digits and ``! # $ & - ^ _ . +``; case does not matter;
* optionally parameters after a ``;`` (``application/fhir+json; fhirVersion=4.0``). These are
  not judged: RFC 9110 wants ``name=value`` with a quoted value where it has spaces, but HL7's
  own examples write ``application/dicom; variant=DICOM WADO-RS`` and HL7's terminology server
  looks only at what comes before the ``;``, so samsvar does the same;
* in FHIR R4's own ``mimetypes`` value set, ``xml``, ``json`` and ``ttl`` are allowed too
  (:data:`FHIR_FORMAT_SHORTHANDS`).

Grammars are facts about every code of a system, so :data:`SYNTAX_CHECKS` apply whatever the
policy; check digits (:data:`FORMAT_CHECKS`) are used only where the policy says trust-format.
"""

from __future__ import annotations

import re
from collections.abc import Callable

SNOMED_CT_SYSTEM = "http://snomed.info/sct"
LOINC_SYSTEM = "http://loinc.org"

# Verhoeff's tables: multiplication in the dihedral group D5, the permutation applied to a digit
# by its position (a power of one permutation of order 8) and each element's inverse.
_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P1 = (1, 5, 7, 6, 2, 8, 3, 0, 9, 4)


def _permutation_powers(first: tuple[int, ...], count: int) -> tuple[tuple[int, ...], ...]:
    """Rows 0..count-1 of Verhoeff's permutation table: row i applies ``first`` i times."""
    rows = [tuple(range(10))]
    while len(rows) < count:
        rows.append(tuple(first[digit] for digit in rows[-1]))
    return tuple(rows)


_VERHOEFF_P = _permutation_powers(_VERHOEFF_P1, 8)
_VERHOEFF_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)

SCTID_PARTITIONS = {
    "00": "concept",
    "01": "description",
    "02": "relationship",
    "10": "concept",
    "11": "description",
    "12": "relationship",
}
_CONCEPT_PARTITIONS = ("00", "10")
_SCTID_DIGITS = re.compile(r"[0-9]{6,18}")

_LOINC = re.compile(r"(L[APLG])?([0-9]{1,7})-([0-9])")
LOINC_INVALID_CHECK_DIGITS = frozenset({
    "11491-6", "11501-6", "5895-7", "5896-5", "5897-3", "5928-1", "6028-3",
    "6415-5", "6580-7", "6645-7", "6646-5", "6647-3", "6648-1", "6649-9",
})
"""Deprecated LOINC codes published with check digits that break the algorithm (Users' Guide)."""


def _shown(code: str) -> str:
    """The code as it should appear in a message: quoted when blank or padded."""
    return code if code and code.strip() == code and code.isprintable() else repr(code)


def _verhoeff_sum(digits: str, offset: int) -> int:
    check = 0
    for position, digit in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[(position + offset) % 8][int(digit)]]
    return check


def verhoeff_check_digit(payload: str) -> int:
    """The Verhoeff check digit to append to the decimal digits ``payload``."""
    return _VERHOEFF_INV[_verhoeff_sum(payload, 1)]


def verhoeff_valid(number: str) -> bool:
    """True when the last digit of ``number`` (decimal digits) is its Verhoeff check digit."""
    return bool(number) and _verhoeff_sum(number, 0) == 0


def snomed_ct_id_problem(code: str) -> str | None:
    """None for a well-formed SCTID (concept, description or relationship), else why not."""
    shown = _shown(code)
    if not code:
        return "SNOMED CT id is empty"
    if not _SCTID_DIGITS.fullmatch(code):
        return f"SNOMED CT id {shown} is not 6 to 18 digits"
    if code[0] == "0":
        return f"SNOMED CT id {shown} starts with 0"
    expected = verhoeff_check_digit(code[:-1])
    if int(code[-1]) != expected:
        return f"SNOMED CT id {shown}: check digit is {code[-1]}, expected {expected}"
    partition = code[-3:-1]
    if partition not in SCTID_PARTITIONS:
        return (f"SNOMED CT id {shown} has partition identifier {partition} (2nd and 3rd digits "
                f"from the right); valid are {', '.join(SCTID_PARTITIONS)}")
    if partition[0] == "1" and len(code) < 11:
        return (f"SNOMED CT id {shown} has extension partition {partition}, which needs a 7-digit "
                "namespace identifier: at least 11 digits")
    return None


def snomed_ct_concept_id_problem(code: str) -> str | None:
    """As :func:`snomed_ct_id_problem`, and the id must be a concept id (partition 00 or 10)."""
    problem = snomed_ct_id_problem(code)
    if problem is not None:
        return problem
    partition = code[-3:-1]
    if partition not in _CONCEPT_PARTITIONS:
        return (f"SNOMED CT id {code} is a {SCTID_PARTITIONS[partition]} id (partition "
                f"{partition}), not a concept id (partition 00 or 10)")
    return None


def loinc_check_digit(body: str) -> int:
    """The LOINC mod 10 check digit for ``body``: digits, or a prefixed id such as ``LA33``.

    Luhn from the right: every other character starting with the rightmost is doubled and its
    digits summed, the rest count as they are; characters count as their ASCII value minus 48.
    """
    total = 0
    for position, character in enumerate(reversed(body)):
        value = ord(character) - 48
        total += 2 * value - (value // 5) * 9 if position % 2 == 0 else value
    return (10 - total % 10) % 10


def loinc_problem(code: str) -> str | None:
    """None for a well-formed LOINC code (``8867-4``, or ``LP``/``LA``/``LL``/``LG`` ids)."""
    shown = _shown(code)
    if not code:
        return "LOINC code is empty"
    match = _LOINC.fullmatch(code)
    if match is None:
        return f"LOINC code {shown} is not 1 to 7 digits, a hyphen and a check digit (like 8867-4)"
    prefix, number, check = match.groups()
    if number[0] == "0":
        return f"LOINC code {shown} starts with 0"
    if code in LOINC_INVALID_CHECK_DIGITS:
        return None
    expected = loinc_check_digit((prefix or "") + number)
    if int(check) != expected:
        return f"LOINC code {shown}: check digit is {check}, expected {expected}"
    return None


MIME_TYPE_SYSTEM = "urn:ietf:bcp:13"
_RESTRICTED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&\-^_.+]{0,126}")
_NAME_RULE = "1 to 127 letters, digits and ! # $ & - ^ _ . +, starting with a letter or digit"


def mime_type_problem(code: str) -> str | None:
    """None for a well-formed media type (``text/plain``, ``application/fhir+json; fhirVersion=4.0``)."""
    shown = f"'{code}'" if _shown(code) == code else _shown(code)
    if not code:
        return "MIME type is empty"
    name, slash, subtype = code.partition(";")[0].rstrip(" \t").partition("/")
    if not slash:
        return (f"MIME type {shown} is not of the form type/subtype (RFC 6838), like 'application/pdf' or "
                "'application/fhir+json'")
    if not _RESTRICTED_NAME.fullmatch(name):
        return f"MIME type {shown}: the type name '{name}' is not {_NAME_RULE} (RFC 6838 section 4.2)"
    if not _RESTRICTED_NAME.fullmatch(subtype):
        return f"MIME type {shown}: the subtype name '{subtype}' is not {_NAME_RULE} (RFC 6838 section 4.2)"
    return None


FORMAT_CHECKS: dict[str, Callable[[str], str | None]] = {
    SNOMED_CT_SYSTEM: snomed_ct_concept_id_problem,
    LOINC_SYSTEM: loinc_problem,
    MIME_TYPE_SYSTEM: mime_type_problem,
}
"""Code system URI -> format check for codes of systems whose content samsvar does not hold."""

FHIR_FORMAT_SHORTHANDS = {"xml": "application/fhir+xml", "json": "application/fhir+json",
                          "ttl": "application/fhir+turtle"}
"""Codes FHIR R4 allows in its ``mimetypes`` value set besides media types: the simple encodings
of the specification (CapabilityStatement.format: "xml", "json" and "ttl" are allowed ...).
HL7's validator accepts them there, before R6."""
FHIR_MIME_TYPES_VALUE_SET = "http://hl7.org/fhir/ValueSet/mimetypes"

ISO_3166_2_SYSTEM = "urn:iso:std:iso:3166:-2"
M49_SYSTEM = "http://unstats.un.org/unsd/methods/m49/m49.htm"
_ISO_3166_2 = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
_M49 = re.compile(r"^[0-9]{3}$")


def iso_3166_2_problem(code: str) -> str | None:
    """An ISO 3166-2 subdivision code is the country's alpha-2 code, a hyphen and 1-3 letters or digits."""
    return None if _ISO_3166_2.match(code) else (
        f"'{code}' is not an ISO 3166-2 subdivision code (the country's 2 letters, '-' and up to 3 letters or digits)")


def m49_problem(code: str) -> str | None:
    """A UN M49 area code is three digits."""
    return None if _M49.match(code) else f"'{code}' is not a UN M49 area code (three digits)"


SYNTAX_CHECKS: dict[str, Callable[[str], str | None]] = {
    MIME_TYPE_SYSTEM: mime_type_problem,
    ISO_3166_2_SYSTEM: iso_3166_2_problem,
    M49_SYSTEM: m49_problem,
}
"""Code systems defined by a grammar: a code that breaks it is not a code of the system under
any policy (a well-formed one is still only as checked as the policy allows)."""
