"""The rule catalogue: every check has a stable code, a title, a default severity and an
explanation with a bad and a good example (``samsvar rules explain CODE``).

Check modules declare their rules at import time with :func:`rule` and raise issues through
the returned :class:`Rule`, so a code can never be raised without being catalogued.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from .issues import Issue, Path, Severity


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    title: str
    severity: Severity
    explanation: str
    bad: str
    good: str
    implemented: bool = True

    @property
    def family(self) -> str:
        return self.code.rsplit("-", 1)[0]

    def issue(
        self,
        message: str,
        *,
        path: Path | None = None,
        expression: str | None = None,
        line: int | None = None,
        column: int | None = None,
        severity: Severity | None = None,
        source: str | None = None,
    ) -> Issue:
        """An issue of this rule, at its default severity unless told otherwise."""
        return Issue(
            rule=self.code,
            severity=self.severity if severity is None else severity,
            message=message,
            expression=expression,
            line=line,
            column=column,
            source=source or self.family,
            path=path,
        )


_REGISTRY: dict[str, Rule] = {}


def rule(
    code: str,
    title: str,
    severity: Severity,
    explanation: str,
    *,
    bad: str,
    good: str,
    implemented: bool = True,
) -> Rule:
    """Declare a rule. Codes are unique across samsvar."""
    if code in _REGISTRY:
        raise ValueError(f"rule {code} is declared twice")
    declared = Rule(
        code=code,
        title=title,
        severity=severity,
        explanation=textwrap.dedent(explanation).strip(),
        bad=textwrap.dedent(bad).strip(),
        good=textwrap.dedent(good).strip(),
        implemented=implemented,
    )
    _REGISTRY[code] = declared
    return declared


def all_rules() -> list[Rule]:
    """Every catalogued rule, sorted by code (imports every check module first)."""
    from . import catalogue  # noqa: F401  (registers the rules of every check module)

    return sorted(_REGISTRY.values(), key=lambda r: r.code)


def get_rule(code: str) -> Rule | None:
    from . import catalogue  # noqa: F401

    return _REGISTRY.get(code.strip().upper())
