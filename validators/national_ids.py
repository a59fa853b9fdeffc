"""Rules for Norwegian identifiers, shared by every format that carries them (FHIR, messages)."""

from __future__ import annotations

from .identifiers import IDENTIFIER_SYSTEMS, IdentifierScheme, Problem
from .issues import Issue, Path, Severity
from .rules import Rule, declared


ID_FORMAT = declared("NO-ID-001")
ID_DATE = declared("NO-ID-002")
ID_CHECKSUM = declared("NO-ID-003")
ID_KIND = declared("NO-ID-004")
ID_SYNTHETIC = declared("NO-ID-005")
ID_NO_VALUE = declared("NO-ID-006")

RULE_BY_PROBLEM: dict[str, Rule] = {
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
    chosen = RULE_BY_PROBLEM[problem.kind]
    severity = None
    message = f"Invalid {scheme.name}: {problem.message}"
    if problem.kind == "synthetic":
        message = problem.message + (" Not allowed with --production." if production else "")
        severity = Severity.ERROR if production else None
    return chosen.issue(message, path=path, severity=severity)
