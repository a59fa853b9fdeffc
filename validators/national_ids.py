"""Rules for Norwegian identifiers, shared by every format that carries them (FHIR, messages)."""

from __future__ import annotations

from .identifiers import IDENTIFIER_SYSTEMS, IdentifierScheme, Problem
from .issues import Issue, Path, Severity
from .rules import Rule, rule


ID_FORMAT = rule(
    "NO-ID-001", "Norwegian identifier has the wrong format", Severity.ERROR,
    """
    The value does not have the shape its identifier system prescribes: person numbers
    (fødselsnummer, D-nummer, felles hjelpenummer) are exactly 11 digits, organisasjonsnummer
    9 digits, HPR-nummer, HER-id and RESH-id 1 to 9 digits. Spaces, dashes and letters are
    not part of the value.
    """,
    bad='{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "130972 48022"}',
    good='{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "13097248022"}',
)
ID_DATE = rule(
    "NO-ID-002", "Person number does not start with a valid date", Severity.ERROR,
    """
    The first six digits of a fødselsnummer are the birth date DDMMYY (D-nummer: day + 40;
    H-nummer and NAV test numbers: month + 40; Skatteetaten test numbers: month + 80). The
    individual number decides the century, so 29 February must fall in a leap year.
    """,
    bad='{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "32127248022"}',
    good='{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "13097248022"}',
)
ID_CHECKSUM = rule(
    "NO-ID-003", "Identifier control digits are wrong", Severity.ERROR,
    """
    Person numbers carry two mod-11 control digits (K1 with weights 3,7,6,1,8,9,4,5,2 and K2
    with 5,4,3,2,7,6,5,4,3,2; from 2032 K1 may leave a remainder of 0 to 3, and both rules are
    accepted). Organisasjonsnummer carries one mod-11 digit (weights 3,2,7,6,5,4,3,2). A
    wrong control digit almost always means a typing error: the number identifies someone else
    or no one.
    """,
    bad='{"system": "urn:oid:2.16.578.1.12.4.1.4.101", "value": "123456784"}',
    good='{"system": "urn:oid:2.16.578.1.12.4.1.4.101", "value": "123456785"}',
)
ID_KIND = rule(
    "NO-ID-004", "Person number of the wrong kind for its system", Severity.ERROR,
    """
    Each kind of person number has its own system: fødselsnummer
    ``urn:oid:2.16.578.1.12.4.1.4.1``, D-nummer ``…4.2`` (day + 40), felles hjelpenummer
    ``…4.3`` (first digit 8 or 9). A D-nummer sent as a fødselsnummer is looked up in the wrong
    register.
    """,
    bad='{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "53097248016"}',
    good='{"system": "urn:oid:2.16.578.1.12.4.1.4.2", "value": "53097248016"}',
)
ID_SYNTHETIC = rule(
    "NO-ID-005", "Synthetic test identity", Severity.INFORMATION,
    """
    The person number is a synthetic test identity (month + 40 from NAV's Dolly/Identpool,
    month + 80 from Skatteetaten's Tenor test population). That is right in test data and
    reported for information; with ``--production`` it is an error, because a test identity
    must never reach a production system.
    """,
    bad='(with --production) {"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "17912099997"}',
    good='{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "13097248022"}',
)
ID_NO_VALUE = rule(
    "NO-ID-006", "Norwegian identifier system without a value", Severity.WARNING,
    """
    The identifier names a national identifier system but carries no value, so nobody can look
    the person or organisation up. Leave the identifier out, or add the value.
    """,
    bad='{"system": "urn:oid:2.16.578.1.12.4.1.4.1"}',
    good='{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "13097248022"}',
)

_BY_PROBLEM: dict[str, Rule] = {
    "format": ID_FORMAT,
    "date": ID_DATE,
    "checksum": ID_CHECKSUM,
    "kind": ID_KIND,
    "synthetic": ID_SYNTHETIC,
}


def scheme_for(system: str) -> IdentifierScheme | None:
    return IDENTIFIER_SYSTEMS.get(system)


def identifier_issues(system: str, value: object, *, path: Path, production: bool = False) -> list[Issue]:
    """Issues for one identifier (system and value), located at ``path`` (the value's path)."""
    scheme = IDENTIFIER_SYSTEMS.get(system)
    if scheme is None:
        return []
    if value is None or value == "":
        return [ID_NO_VALUE.issue(f"{scheme.name} identifier ({system}) has no value.", path=path)]
    if not isinstance(value, str):
        return [ID_FORMAT.issue(f"{scheme.name} must be a string of digits, found {value!r}.", path=path)]
    return [_to_issue(problem, scheme, path, production) for problem in scheme.check(value)]


def _to_issue(problem: Problem, scheme: IdentifierScheme, path: Path, production: bool) -> Issue:
    chosen = _BY_PROBLEM[problem.kind]
    severity = None
    message = f"Invalid {scheme.name}: {problem.message}"
    if problem.kind == "synthetic":
        message = problem.message + (" Not allowed with --production." if production else "")
        severity = Severity.ERROR if production else None
    return chosen.issue(message, path=path, severity=severity)
