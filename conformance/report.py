"""The report of a run: tool and reproducibility block, one result per artifact, a summary.

Every renderer (text, JSON, OperationOutcome, JUnit, SARIF) reads this one model.
"""

from __future__ import annotations

import collections
import hashlib
import json
import platform
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..validators.issues import Issue, Severity
from ..validators.runner import Result


EXIT_NOTHING_TO_CHECK = 5
"""Exit code of a run that had nothing to check (as pytest's "no tests collected"): a mistyped
path or ``-k`` in a CI job must not pass as a clean run."""


class NothingToCheck(Exception):
    """The input held nothing to check (an empty folder, an empty NDJSON file, a ``-k`` that
    selects no test). Exit code :data:`EXIT_NOTHING_TO_CHECK` unless the run allows it."""

    exit_code = EXIT_NOTHING_TO_CHECK


GROUP_AFTER = 10
"""A rule with more findings than this in one report is grouped in the text and HTML reports."""
GROUP_SHOWN = 3
"""Of a grouped rule, this many findings (the first in the report) are shown in full."""


@dataclass(slots=True)
class RuleGroup:
    """All findings of one rule in a report, for the readers that group them (text, HTML)."""

    rule: str
    count: int = 0
    severity: Severity = Severity.INFORMATION
    """The highest severity among them."""
    artifacts: int = 0
    shown: int = 0


class Grouping:
    """Which findings a human-facing report shows in full: every one of a rule with at most
    :data:`GROUP_AFTER` findings, the first :data:`GROUP_SHOWN` of a rule with more. Walk the
    findings in report order and ask :meth:`show` for each; machine formats keep every finding."""

    def __init__(self, report: "Report", enabled: bool = True) -> None:
        groups: dict[str, RuleGroup] = {}
        for result in report.results:
            seen: set[str] = set()
            for issue in result.issues:
                group = groups.get(issue.rule) or groups.setdefault(issue.rule, RuleGroup(issue.rule))
                group.count += 1
                group.severity = max(group.severity, issue.severity)
                if issue.rule not in seen:
                    seen.add(issue.rule)
                    group.artifacts += 1
        self.enabled = enabled
        self.groups = {rule: g for rule, g in groups.items() if enabled and g.count > GROUP_AFTER}
        """The grouped rules, by code, most findings first."""
        self.groups = dict(sorted(self.groups.items(), key=lambda item: (-item[1].count, item[0])))

    def show(self, issue: Issue) -> bool:
        group = self.groups.get(issue.rule)
        if group is None:
            return True
        group.shown += 1
        return group.shown <= GROUP_SHOWN


def dominant_rules(report: "Report", top: int = 3) -> list[tuple[str, int]]:
    """The rules with the most findings (waived ones included), most first: what a summary names."""
    counts = collections.Counter(issue.rule for result in report.results for issue in result.issues)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]


@dataclass(frozen=True, slots=True)
class PackageRecord:
    id: str
    version: str
    sha256: str
    source: str = "cache"
    """Which copy was used: "ig" (given with --ig), "cache" (the FHIR package cache) or "embedded"
    (shipped with samsvar); ``sha256`` is that copy's (for embedded, the pinned published tarball's)."""

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "version": self.version, "sha256": self.sha256, "source": self.source}


@dataclass(slots=True)
class Reproducibility:
    samsvar: str = __version__
    packages: list[PackageRecord] = field(default_factory=list)
    config_path: str | None = None
    config_file_sha256: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def config_sha256(self) -> str:
        """Hash of the effective configuration: the file's hash and every option in force."""
        canonical = json.dumps({"file": self.config_file_sha256, "options": self.options}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        return {
            "samsvar": self.samsvar,
            "packages": [p.as_dict() for p in self.packages],
            "config": {"path": self.config_path, "file_sha256": self.config_file_sha256,
                       "sha256": self.config_sha256},
            "options": self.options,
        }


@dataclass(slots=True)
class Tally:
    """Artifacts with findings that a run counted but did not keep (a bulk run writing parquet
    keeps its rows on disk, not in memory): how many, how many failed, issues by severity."""

    artifacts: int = 0
    failed: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, other: "Tally") -> None:
        self.artifacts += other.artifacts
        self.failed += other.failed
        for key, value in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + value


@dataclass(slots=True)
class Report:
    results: list[Result]
    fail_on: Severity = Severity.ERROR
    reproducibility: Reproducibility = field(default_factory=Reproducibility)
    notices: list[str] = field(default_factory=list)
    """What was not checked and why (features not implemented yet), for every reader."""
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    """Per requirement of the catalogue: ``{"id", "title", "level", "verdict", "evidence": [...]}``
    with verdict one of pass / fail / not-tested / manual (filled by the judge)."""
    clean: int = 0
    """Artifacts checked without a finding that the run counted but did not keep (a text report of
    a long NDJSON export needs only their number: memory stays flat)."""
    unkept: Tally = field(default_factory=Tally)
    """Artifacts with findings counted but not kept (see :class:`Tally`); the summary counts them."""
    declaration: dict[str, Any] | None = None
    """The signed declaration of conformity that lists this report (``--declare``): its id, file,
    signer and status, for the reports to show."""

    @property
    def issues(self) -> list[Issue]:
        return [issue for result in self.results for issue in result.issues]

    def counts(self) -> dict[str, int]:
        counts = {severity.code: 0 for severity in sorted(Severity, reverse=True)}
        for issue in self.issues:
            if not issue.waived:
                counts[issue.severity.code] += 1
        counts["waived"] = sum(1 for issue in self.issues if issue.waived)
        for key, value in self.unkept.counts.items():
            counts[key] = counts.get(key, 0) + value
        return counts

    def failing(self, result: Result) -> bool:
        return any(i.severity >= self.fail_on and not i.waived for i in result.issues)

    @property
    def live(self) -> bool:
        """A report of a live run (``samsvar run``): every result is a suite test with a status."""
        return bool(self.results) and all(hasattr(result, "status") for result in self.results)

    @property
    def passed(self) -> bool:
        return not self.unkept.failed and not any(self.failing(result) for result in self.results)

    def summary(self) -> dict[str, Any]:
        return {
            "files": len(self.results) + self.clean + self.unkept.artifacts,
            "files_failed": sum(1 for result in self.results if self.failing(result)) + self.unkept.failed,
            "issues": self.counts(),
            "fail_on": self.fail_on.code,
            "passed": self.passed,
        }

    def tool(self) -> dict[str, Any]:
        return {
            "name": "samsvar",
            "version": __version__,
            "python": platform.python_version(),
        }

    def as_dict(self) -> dict[str, Any]:
        """The JSON report: ``{"tool", "results", "summary"}`` plus reproducibility and notices."""
        return {
            "tool": self.tool(),
            "reproducibility": self.reproducibility.as_dict(),
            "results": [result.as_dict() for result in self.results],
            "summary": self.summary(),
            "notices": list(self.notices),
            **({"requirements": list(self.verdicts)} if self.verdicts else {}),
            **({"declaration": dict(self.declaration)} if self.declaration else {}),
        }
