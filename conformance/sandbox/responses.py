"""FHIR JSON responses and OperationOutcomes, with the ``no-operationoutcome`` fault in one place."""

from __future__ import annotations

import json
from html import escape
from collections.abc import Iterable, Mapping
from email.utils import format_datetime
from datetime import datetime
from typing import Any

from starlette.responses import PlainTextResponse, Response

from ...validators.issues import Issue, Severity
from ..reports.operationoutcome import RULES_SYSTEM, issue_type
from .config import SandboxConfig

FHIR_JSON = "application/fhir+json; charset=utf-8"


def fhir_response(body: Mapping[str, Any] | None, status: int = 200,
                  headers: Mapping[str, str] | None = None) -> Response:
    """A FHIR JSON response (``body=None``: no content)."""
    if body is None:
        return Response(status_code=status, headers=dict(headers or {}))
    content = json.dumps(body, ensure_ascii=False).encode("utf-8")
    return Response(content, status_code=status, headers=dict(headers or {}), media_type=FHIR_JSON)


def outcome_issue(severity: str, code: str, diagnostics: str, expression: str | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return issue


def issue_entry(issue: Issue) -> dict[str, Any]:
    """A validation finding as an OperationOutcome.issue (rule code in details, as samsvar validate writes it).

    The position in the body goes into the diagnostics: HL7's line/column extensions live in
    the FHIR extensions pack, which a client validating the answer against the core may not have.
    """
    where = f" (line {issue.line}, column {issue.column or 1})" if issue.line is not None else ""
    entry: dict[str, Any] = {
        "severity": issue.severity.code,
        "code": issue_type(issue.rule),
        "details": {"coding": [{"system": RULES_SYSTEM, "code": issue.rule}], "text": issue.message},
        "diagnostics": issue.message + where,
    }
    if issue.expression:
        entry["expression"] = [issue.expression]
    return entry


def narrative(text: str) -> dict[str, str]:
    """A generated narrative holding ``text`` (resources the sandbox writes itself carry one: dom-6)."""
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{escape(text)}</p></div>'}


def operation_outcome(issues: Iterable[dict[str, Any]]) -> dict[str, Any]:
    issues = list(issues)
    if not issues:
        issues = [outcome_issue("information", "informational", "All OK")]
    summary = "; ".join(f"{issue['severity']}: {issue.get('diagnostics', issue['code'])}" for issue in issues)
    return {"resourceType": "OperationOutcome", "text": narrative(summary), "issue": issues}


def validation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    """The findings, the most severe first."""
    ordered = sorted(issues, key=lambda issue: -int(issue.severity))
    return operation_outcome(issue_entry(issue) for issue in ordered)


def error_response(config: SandboxConfig, status: int, diagnostics: str, *, code: str = "processing",
                   issues: Iterable[dict[str, Any]] | None = None, headers: Mapping[str, str] | None = None,
                   severity: str = "error") -> Response:
    """An error answered with an OperationOutcome, or with plain text under ``no-operationoutcome``."""
    entries = list(issues) if issues is not None else [outcome_issue(severity, code, diagnostics)]
    if config.has("no-operationoutcome"):
        return PlainTextResponse(diagnostics + "\n", status_code=status, headers=dict(headers or {}))
    return fhir_response(operation_outcome(entries), status, headers)


def http_date(instant: str) -> str:
    """An R4 instant as an HTTP date (``Last-Modified``)."""
    return format_datetime(datetime.fromisoformat(instant.replace("Z", "+00:00")), usegmt=True)


def is_error(issue: Issue) -> bool:
    return issue.severity >= Severity.ERROR and not issue.waived
