"""The rule catalogue: every check has a stable code, a title, a default severity and an
explanation with a bad and a good example (``samsvar rules explain CODE``).

The catalogue is data: ``rules.toml`` beside this module declares every rule, including the
module that raises it. It is read without importing any check, so what exists never depends on
which modules happened to be imported. A check module takes its rules with :func:`declared` and
raises issues through the returned :class:`Rule`, so a code can never be raised without being
catalogued.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

from .issues import Issue, Path, Severity

CATALOGUE_FILE = FilePath(__file__).with_name("rules.toml")
STATUSES = ("implemented", "planned")
_KEYS = {"title", "severity", "module", "status", "not-checked", "explanation", "bad", "good"}
_REQUIRED = {"title", "severity", "module", "explanation", "bad", "good"}


class CatalogueError(ValueError):
    """``rules.toml`` is not a valid catalogue (a samsvar bug, found by the tests)."""


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    title: str
    severity: Severity
    explanation: str
    bad: str
    good: str
    module: str = ""
    status: str = "implemented"
    not_checked: bool = False
    """The finding says that something was *not* checked (a strict gate treats it as an error)."""

    @property
    def family(self) -> str:
        return self.code.rsplit("-", 1)[0]

    @property
    def implemented(self) -> bool:
        return self.status == "implemented"

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


def _rule_of(code: str, entry: Any) -> Rule:
    if not isinstance(entry, dict):
        raise CatalogueError(f"{CATALOGUE_FILE.name}: [{code}] is not a table")
    unknown = set(entry) - _KEYS
    missing = _REQUIRED - set(entry)
    if unknown or missing:
        raise CatalogueError(
            f"{CATALOGUE_FILE.name}: [{code}] has unknown keys {sorted(unknown)} or lacks {sorted(missing)}"
        )
    status = entry.get("status", "implemented")
    if status not in STATUSES:
        raise CatalogueError(f"{CATALOGUE_FILE.name}: [{code}] status {status!r} is not one of {STATUSES}")
    try:
        severity = Severity.parse(entry["severity"])
    except ValueError as error:
        raise CatalogueError(f"{CATALOGUE_FILE.name}: [{code}] {error}") from None
    return Rule(
        code=code,
        title=entry["title"],
        severity=severity,
        explanation=entry["explanation"].strip(),
        bad=entry["bad"].strip(),
        good=entry["good"].strip(),
        module=entry["module"],
        status=status,
        not_checked=bool(entry.get("not-checked", False)),
    )


@functools.cache
def _catalogue() -> dict[str, Rule]:
    with CATALOGUE_FILE.open("rb") as handle:
        data = tomllib.load(handle)
    return {code: _rule_of(code, entry) for code, entry in data.items()}


def declared(code: str) -> Rule:
    """The rule declared in the catalogue under ``code`` (a check module's way to get its rules)."""
    try:
        return _catalogue()[code]
    except KeyError:
        raise CatalogueError(f"rule {code} is not declared in {CATALOGUE_FILE.name}") from None


def all_rules() -> list[Rule]:
    """Every catalogued rule, sorted by code."""
    return sorted(_catalogue().values(), key=lambda r: r.code)


def get_rule(code: str) -> Rule | None:
    return _catalogue().get(code.strip().upper())


@functools.cache
def not_checked_codes() -> frozenset[str]:
    """The codes of the rules declared ``not-checked = true``: findings that say something was not
    checked (``--strict`` makes them errors)."""
    return frozenset(code for code, found in _catalogue().items() if found.not_checked)
