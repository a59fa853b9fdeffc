"""Norwegian identifiers: person numbers, organisation numbers and register ids.

Pure functions with no dependencies on the rest of samsvar. Each ``check_*`` returns the
problems it found as :class:`Problem` values (an empty list means valid); callers map them to
rule codes. Rules and sources: ``../shared/data/no/identifiers/IDENTIFIERS.md``.
"""

from .norwegian import (
    IDENTIFIER_SYSTEMS,
    IdentifierScheme,
    PersonKind,
    PersonNumber,
    Problem,
    check_her_id,
    check_hpr,
    check_orgnr,
    check_person_number,
    check_resh,
    classify_person_number,
    orgnr_check_digit,
    person_control_digits,
)

__all__ = [
    "IDENTIFIER_SYSTEMS",
    "IdentifierScheme",
    "PersonKind",
    "PersonNumber",
    "Problem",
    "check_her_id",
    "check_hpr",
    "check_orgnr",
    "check_person_number",
    "check_resh",
    "classify_person_number",
    "orgnr_check_digit",
    "person_control_digits",
]
