"""SARIF 2.1.0 for code-scanning annotations (GitHub, GitLab, Azure DevOps)."""

from __future__ import annotations

import json
import re
from pathlib import PurePath
from typing import Any

from ... import __version__
from ...validators.issues import Issue, Severity
from ...validators.rules import get_rule
from ..catalogue import load_catalogue
from ..report import Report

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {Severity.FATAL: "error", Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFORMATION: "note"}


def _uri(path: str) -> str:
    return "stdin" if path == "-" else PurePath(path).as_posix()


def _rule_descriptor(code: str, catalogue: Any) -> dict[str, Any]:
    rule = get_rule(code)
    if rule is None:
        return {"id": code}
    name = "".join(word.capitalize() for word in re.findall(r"[A-Za-z0-9]+", rule.title))
    return {
        "id": rule.code,
        "name": name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.explanation},
        "help": {"text": f"{rule.explanation}\n\nBad:\n{rule.bad}\n\nGood:\n{rule.good}"},
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
        "properties": {"samsvarSeverity": rule.severity.code,
                       "requirements": [r.id for r in catalogue.verified_by(rule.code)]},
    }


def _result(issue: Issue, path: str, rule_index: int) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(path)}}
    if issue.line is not None:
        physical["region"] = {"startLine": issue.line, "startColumn": issue.column or 1}
    location: dict[str, Any] = {"physicalLocation": physical}
    if issue.expression:
        location["logicalLocations"] = [{"fullyQualifiedName": issue.expression}]
    out: dict[str, Any] = {
        "ruleId": issue.rule,
        "ruleIndex": rule_index,
        "level": _LEVELS[issue.severity],
        "message": {"text": issue.message},
        "locations": [location],
        "properties": {"severity": issue.severity.code},
    }
    if issue.waiver is not None:
        out["suppressions"] = [{
            "kind": "external",
            "justification": issue.waiver.reason,
            "properties": {"owner": issue.waiver.owner, "expires": issue.waiver.expires},
        }]
    return out


def build(report: Report) -> dict[str, Any]:
    codes = sorted({issue.rule for issue in report.issues})
    index = {code: i for i, code in enumerate(codes)}
    catalogue = load_catalogue()
    results = [_result(issue, result.path, index[issue.rule])
               for result in report.results for issue in result.issues]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "samsvar",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_rule_descriptor(code, catalogue) for code in codes],
            }},
            "invocations": [{"executionSuccessful": True}],
            "artifacts": [{"location": {"uri": _uri(result.path)}} for result in report.results],
            "results": results,
            "properties": {"reproducibility": report.reproducibility.as_dict(), "summary": report.summary()},
        }],
    }


def render(report: Report) -> str:
    text = json.dumps(build(report), indent=2, ensure_ascii=False)
    return text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n"
