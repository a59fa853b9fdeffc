"""Code Climate JSON, the format of GitLab's code quality report (``artifacts:reports:codequality``).

One object per finding: ``description``, ``check_name`` (the rule code), ``fingerprint`` (stable
across runs and line moves: path, rule, location expression, message and occurrence), ``severity``
(``info | minor | major | critical | blocker``) and ``location`` (``path`` and ``lines.begin``).
Waived findings are left out: the format has no way to say that one was accepted.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePath
from typing import Any

from ...validators.issues import Severity
from ..report import Report

SEVERITIES = {Severity.FATAL: "blocker", Severity.ERROR: "critical", Severity.WARNING: "minor",
              Severity.INFORMATION: "info"}


def _path(path: str) -> str:
    return "stdin" if path == "-" else PurePath(path).as_posix()


def build(report: Report) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for result in report.results:
        path = _path(result.path)
        for issue in result.issues:
            if issue.waived:
                continue
            key = "\0".join((path, issue.rule, issue.expression or "", issue.message))
            seen[key] = occurrence = seen.get(key, 0) + 1
            fingerprint = hashlib.sha256(f"{key}\0{occurrence}".encode("utf-8", "surrogatepass")).hexdigest()
            findings.append({
                "type": "issue",
                "check_name": issue.rule,
                "description": f"{issue.rule} {issue.message}" + (f" (at {issue.expression})" if issue.expression else ""),
                "categories": ["Bug Risk"],
                "severity": SEVERITIES[issue.severity],
                "fingerprint": fingerprint,
                "location": {"path": path, "lines": {"begin": issue.line or 1}},
            })
    return findings


def render(report: Report) -> str:
    # Lone surrogates (legal in JSON escapes) cannot be written as UTF-8: keep them escaped.
    text = json.dumps(build(report), indent=2, ensure_ascii=False)
    return text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n"
