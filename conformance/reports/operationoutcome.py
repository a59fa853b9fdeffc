"""FHIR R4 OperationOutcome, readable by tools that read HL7's validator output.

One input gives one OperationOutcome; several give a ``collection`` Bundle of them. Locations
use the extensions HL7's validator uses (``operationoutcome-issue-line``/``-col``,
``operationoutcome-file``, ``operationoutcome-message-id`` from the FHIR extensions pack).
A Bundle is a Resource, not a DomainResource, and cannot carry extensions, so every
OperationOutcome carries the reproducibility block itself.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from ...validators.issues import Issue
from ...validators.runner import Result
from ..report import Report

EXT = "http://hl7.org/fhir/StructureDefinition/"
SAMSVAR_EXT = "https://samsvar.no/fhir/StructureDefinition/"
RULES_SYSTEM = "https://samsvar.no/fhir/CodeSystem/rules"

# IssueType (http://hl7.org/fhir/issue-type) for each rule or rule family; default "processing".
ISSUE_TYPES: dict[str, str] = {
    "INPUT-001": "structure",
    "INPUT-002": "structure",
    "INPUT-003": "structure",
    "INPUT-004": "required",
    "INPUT-005": "too-costly",
    "INPUT-006": "too-costly",
    "INPUT-007": "security",
    "INPUT-008": "not-supported",
    "INPUT-009": "structure",
    "INPUT-010": "duplicate",
    "INPUT-011": "exception",
    "FHIR-001": "structure",
    "FHIR-XML": "structure",
    "FHIR-STRUCT": "structure",
    "FHIR-SLICE": "structure",
    "FHIR-PROF": "structure",
    "FHIR-EXT": "structure",
    "FHIR-INV": "invariant",
    "FHIR-BIND": "code-invalid",
    "FHIR-TX": "code-invalid",
    "FHIR-BIND-003": "not-found",
    "MSG-XSD": "structure",
    "MSG-RULE": "business-rule",
    "NO-ID": "value",
    "CONFIG-001": "expired",
    "SAMSVAR-001": "exception",
}


def issue_type(code: str) -> str:
    if code in ISSUE_TYPES:
        return ISSUE_TYPES[code]
    family = code.rsplit("-", 1)[0]
    return ISSUE_TYPES.get(family, "processing")


def _issue(issue: Issue) -> dict[str, Any]:
    extensions: list[dict[str, Any]] = []
    if issue.line is not None:
        extensions.append({"url": EXT + "operationoutcome-issue-line", "valueInteger": issue.line})
        extensions.append({"url": EXT + "operationoutcome-issue-col", "valueInteger": issue.column or 1})
    extensions.append({"url": EXT + "operationoutcome-issue-source", "valueString": f"samsvar/{issue.source}"})
    extensions.append({"url": EXT + "operationoutcome-message-id", "valueString": issue.rule})
    if issue.waiver is not None:
        extensions.append({"url": SAMSVAR_EXT + "waiver", "extension": [
            {"url": "owner", "valueString": issue.waiver.owner},
            {"url": "reason", "valueString": issue.waiver.reason},
            {"url": "expires", "valueDate": issue.waiver.expires},
        ]})
    out: dict[str, Any] = {
        "extension": extensions,
        "severity": issue.severity.code,
        "code": issue_type(issue.rule),
        "details": {"coding": [{"system": RULES_SYSTEM, "code": issue.rule}], "text": issue.message},
        "diagnostics": issue.message,
    }
    if issue.expression:
        out["expression"] = [issue.expression]
    return out


def _reproducibility(report: Report) -> dict[str, Any]:
    repro = report.reproducibility
    parts: list[dict[str, Any]] = [{"url": "samsvar", "valueString": repro.samsvar}]
    parts += [{"url": "package", "valueString": f"{p.id}#{p.version} sha256:{p.sha256} source:{p.source}"} for p in repro.packages]
    parts.append({"url": "config-sha256", "valueString": repro.config_sha256})
    return {"url": SAMSVAR_EXT + "reproducibility", "extension": parts}


def operation_outcome(report: Report, result: Result) -> dict[str, Any]:
    issues = [_issue(issue) for issue in result.issues]
    if not issues:
        issues = [{"severity": "information", "code": "informational", "diagnostics": "No issues found"}]
    return {
        "resourceType": "OperationOutcome",
        "id": _uuid(result.path),
        "extension": [
            {"url": EXT + "operationoutcome-file", "valueString": result.path},
            _reproducibility(report),
        ],
        "issue": issues,
    }


def _uuid(path: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "samsvar:" + path))


def build(report: Report) -> dict[str, Any]:
    if len(report.results) == 1:
        return operation_outcome(report, report.results[0])
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{_uuid(r.path)}", "resource": operation_outcome(report, r)}
                  for r in report.results],
    }


def render(report: Report) -> str:
    text = json.dumps(build(report), indent=2, ensure_ascii=False)
    return text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n"
