"""The issue model: one finding of one check, mapped one-to-one to OperationOutcome.issue.

An issue is ``(rule, severity, message, location, source)``. Checks yield issues that point
into the parsed document with ``path`` (a tuple of keys and indexes); the runner resolves that
path to a FHIRPath/XPath expression and a line and column once, and only for the issues that
are reported, so that clean documents never pay for source positions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any


class Severity(enum.IntEnum):
    """FHIR's issue severities, ordered so that ``>=`` means "at least as bad"."""

    INFORMATION = 0
    WARNING = 1
    ERROR = 2
    FATAL = 3

    @property
    def code(self) -> str:
        """The FHIR ``IssueSeverity`` code."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> "Severity":
        try:
            return cls[text.strip().upper()]
        except KeyError:
            allowed = ", ".join(s.code for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of: {allowed})") from None


Path = tuple[str | int, ...]
"""A pointer into a parsed document: dict keys and list indexes, from the root."""


@dataclass(frozen=True, slots=True)
class Waiver:
    """An accepted finding: who accepted it, why, and until when."""

    rule: str
    owner: str
    reason: str
    expires: str  # ISO date
    path: str | None = None
    expression: str | None = None


@dataclass(slots=True)
class Issue:
    """One finding. ``expression``/``line``/``column`` form its location."""

    rule: str
    severity: Severity
    message: str
    expression: str | None = None
    line: int | None = None
    column: int | None = None
    source: str = "samsvar"
    path: Path | None = field(default=None, compare=False, repr=False)
    waiver: Waiver | None = field(default=None, compare=False)
    profile: str | None = field(default=None, compare=False)
    """The profile (canonical URL) whose walk raised the issue; None for the base specification's checks."""
    constraint: str | None = field(default=None, compare=False)
    """The key of the constraint (invariant) that failed or could not be evaluated (``samsvar-pat-1``)."""

    @property
    def waived(self) -> bool:
        return self.waiver is not None

    def with_severity(self, severity: Severity) -> "Issue":
        return replace(self, severity=severity)

    def as_dict(self) -> dict[str, Any]:
        """The shape of an issue in the JSON report."""
        out: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity.code,
            "message": self.message,
            "expression": self.expression,
            "line": self.line,
            "column": self.column,
        }
        if self.profile is not None:
            out["profile"] = self.profile
        if self.constraint is not None:
            out["constraint"] = self.constraint
        if self.waiver is not None:
            out["waived"] = {
                "owner": self.waiver.owner,
                "reason": self.waiver.reason,
                "expires": self.waiver.expires,
            }
        return out


class EnvironmentProblem(Exception):
    """The run cannot be trusted because of the machine, not the input (exit code 3).

    Examples: a required FHIR package is not installed and the run is offline, the package
    cache is unreadable, a registry cannot be reached during ``packages install``.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
