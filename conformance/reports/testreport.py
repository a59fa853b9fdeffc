"""FHIR R4 TestReport: the run as the FHIR world records a conformance test.

One ``test`` per requirement verdict of the catalogue when the judge filled them, otherwise one
per artifact; a live run (``samsvar run``) adds one per suite test, with an ``operation`` per
HTTP exchange and an ``assert`` per finding. Each test has one or more ``action.assert``:

* per requirement: the verdict (pass → ``pass``, fail → ``fail``, not-tested and manual →
  ``skip``), then one assert per evidence item (its own verdict, result or severity when it
  carries one, else the requirement's);
* per artifact: one assert per issue (at or above the fail level and not waived → ``fail``;
  waived, or warning and above below the fail level → ``warning``; information → ``pass``), or a
  single ``pass`` when the artifact has no issues.

``result`` is the run's verdict at the fail level (the exit code's), ``tester`` is
``samsvar <version>`` and ``testScript`` a display reference to samsvar's checks. The packages
and configuration that were in force go into ``setup`` as operations, so the reproducibility
block travels without an extension a reader would have to know. The output is valid R4 (samsvar
validates it in its tests), deterministic and carries a generated narrative.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import uuid
from typing import Any, Mapping

from ...validators.issues import Issue, Severity
from ...validators.runner import Result
from ..report import Report
from .html import localised

_ASSERT_BY_VERDICT = {"pass": "pass", "fail": "fail", "not-tested": "skip", "manual": "skip"}
_ASSERT_BY_RESULT = {"pass": "pass", "fail": "fail", "skip": "skip", "warning": "warning", "error": "error"}
_ASSERT_BY_SEVERITY = {"fatal": "fail", "error": "fail", "warning": "warning", "information": "pass"}
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_XHTML = "http://www.w3.org/1999/xhtml"


def _string(text: Any) -> str:
    """A FHIR string: no control characters (shown as ``\\uXXXX``), no surrounding whitespace."""
    value = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False, sort_keys=True, default=str)
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", value).strip()


def _assert(result: str, message: str, detail: str | None = None) -> dict[str, Any]:
    """One ``action`` holding an ``assert``; empty strings are left out, as FHIR requires."""
    body: dict[str, Any] = {"result": result}
    if _string(message):
        body["message"] = _string(message)
    if detail and _string(detail):
        body["detail"] = _string(detail)
    return {"assert": body}


# -- tests per artifact ---------------------------------------------------------------------
def _issue_result(issue: Issue, fail_on: Severity) -> str:
    if issue.severity >= fail_on and not issue.waived:
        return "fail"
    if issue.waived or issue.severity >= Severity.WARNING:
        return "warning"
    return "pass"


def _location(path: str, issue: Issue) -> str:
    where = "stdin" if path == "-" else path
    if issue.line is not None:
        where += f":{issue.line}:{issue.column or 1}"
    if issue.expression:
        where += f" at {issue.expression}"
    if issue.waiver is not None:
        where += f" (waived by {issue.waiver.owner} until {issue.waiver.expires}: {issue.waiver.reason})"
    return where


def _artifact_test(result: Result, report: Report) -> dict[str, Any]:
    issues = sorted(result.issues, key=lambda i: (i.line or 0, i.column or 0))
    actions = [_assert(_issue_result(i, report.fail_on), f"{i.severity.code} {i.rule}: {i.message}",
                       _location(result.path, i)) for i in issues]
    return {
        "name": _string(result.path) or "artifact",
        "description": _string(f"{result.kind} ({result.format or 'unreadable'})"),
        "action": actions or [_assert("pass", "No issues found", _string(result.path))],
    }


# -- tests per live test --------------------------------------------------------------------
_LIVE_RESULT = {"pass": "pass", "fail": "fail", "skip": "skip", "error": "error"}


def _live_test(result: Result, report: Report) -> dict[str, Any]:
    """A live test: an ``operation`` per exchange, then an ``assert`` per finding (or its status)."""
    status = getattr(result, "status", "pass")
    actions: list[dict[str, Any]] = [
        {"operation": {"result": "pass" if e.status is not None else "error", "message": _string(e.summary)}}
        for e in getattr(result, "exchanges", [])]
    findings = sorted(result.issues, key=lambda i: (i.line or 0, i.column or 0))
    actions += [_assert("skip" if status == "skip" else _issue_result(i, report.fail_on),
                        f"{i.severity.code} {i.rule}: {i.message}", i.expression) for i in findings]
    if not findings:
        actions.append(_assert(_LIVE_RESULT.get(status, "pass"), f"{result.path}: {status}"))
    verifies = ", ".join(getattr(result, "verifies", ()))
    about = " · ".join(part for part in (getattr(result, "title", ""), f"verifies {verifies}" if verifies else "") if part)
    test: dict[str, Any] = {"name": _string(result.path), "action": actions}
    if _string(about):
        test["description"] = _string(about)
    return test


# -- tests per requirement ------------------------------------------------------------------
def _evidence_result(item: Any, default: str) -> str:
    """An evidence dict's own outcome (its verdict, result or severity), else the requirement's."""
    if isinstance(item, Mapping):
        for key, table in (("verdict", _ASSERT_BY_VERDICT), ("result", _ASSERT_BY_RESULT),
                           ("severity", _ASSERT_BY_SEVERITY)):
            value = item.get(key)
            if isinstance(value, str) and value.lower() in table:
                return table[value.lower()]
    return default


def _evidence_text(item: Any) -> str:
    if isinstance(item, Mapping):
        return "; ".join(f"{key}: {_string(value)}" for key, value in item.items())
    return _string(item)


def _verdict_test(verdict: Mapping[str, Any]) -> dict[str, Any]:
    value = str(verdict.get("verdict", "not-tested"))
    result = _ASSERT_BY_VERDICT.get(value, "skip")
    ident = _string(verdict.get("id", "")) or "requirement"
    artefacts = ", ".join(_evidence_text(a) for a in verdict.get("artefacts") or ())
    actions = [_assert(result, f"{ident}: {value}", f"artefacts: {artefacts}" if artefacts else None)]
    actions += [_assert(_evidence_result(item, result), _evidence_text(item)) for item in verdict.get("evidence") or ()]
    about = [localised(verdict[k], "en") for k in ("title", "level", "principle") if verdict.get(k)]
    test: dict[str, Any] = {"name": ident, "action": actions}
    if _string(" · ".join(about)):
        test["description"] = _string(" · ".join(about))
    return test


# -- the resource ---------------------------------------------------------------------------
def _setup(report: Report) -> dict[str, Any]:
    """The reproducibility block as setup operations (``operation.detail`` is a uri in R4: unused)."""
    repro = report.reproducibility
    lines = [f"samsvar {repro.samsvar}"]
    lines += [f"package {p.id}#{p.version} sha256:{p.sha256} source:{p.source}" for p in repro.packages]
    lines.append(f"configuration sha256:{repro.config_sha256}"
                 + (f" from {repro.config_path} (file sha256:{repro.config_file_sha256})" if repro.config_path else ""))
    lines.append("options " + json.dumps(repro.options, ensure_ascii=False, sort_keys=True, default=str))
    return {"action": [{"operation": {"result": "pass", "message": _string(line)}} for line in lines]}


def _outcome(test: Mapping[str, Any]) -> str:
    results = {action["assert"]["result"] for action in test["action"] if "assert" in action}
    return "fail" if results & {"fail", "error"} else "skip" if results == {"skip"} else "pass"


def _score(tests: list[dict[str, Any]]) -> float | None:
    judged = [outcome for outcome in map(_outcome, tests) if outcome != "skip"]
    if not judged:
        return None
    return round(100 * judged.count("pass") / len(judged), 1)


def _narrative(report: Report, tests: list[dict[str, Any]]) -> dict[str, str]:
    items = "".join(f"<li>{html.escape(t['name'])}: {_outcome(t)}</li>" for t in tests)
    verdict = "passed" if report.passed else "failed"
    summary = (f"samsvar {report.reproducibility.samsvar}: {verdict} at fail level {report.fail_on.code}; "
               f"{len(tests)} test{'s' if len(tests) != 1 else ''}.")
    body = f"<p>{html.escape(summary)}</p>" + (f"<ul>{items}</ul>" if items else "")
    return {"status": "generated", "div": f'<div xmlns="{_XHTML}">{_string(body)}</div>'}


def _id(report: Report) -> str:
    canonical = json.dumps({"results": [r.as_dict() for r in report.results], "verdicts": report.verdicts,
                            "repro": report.reproducibility.as_dict()}, sort_keys=True, default=str)
    return str(uuid.UUID(hashlib.sha256(canonical.encode("utf-8", "backslashreplace")).hexdigest()[:32]))


def tests(report: Report) -> list[dict[str, Any]]:
    """One test per requirement verdict (then, for a live run, one per suite test), or per
    artifact when there are no verdicts."""
    live = [_live_test(r, report) for r in report.results if hasattr(r, "status")]
    if live:
        return [_verdict_test(v) for v in report.verdicts] + live
    if report.verdicts:
        return [_verdict_test(v) for v in report.verdicts]
    return [_artifact_test(r, report) for r in report.results]


def build(report: Report) -> dict[str, Any]:
    """The TestReport as a JSON-ready dict."""
    all_tests = tests(report)
    resource: dict[str, Any] = {
        "resourceType": "TestReport",
        "id": _id(report),
        "text": _narrative(report, all_tests),
        "name": "samsvar conformance run",
        "status": "completed",
        "testScript": {"display": f"samsvar {report.reproducibility.samsvar} conformance checks"},
        "result": "pass" if report.passed else "fail",
    }
    score = _score(all_tests)
    if score is not None:
        resource["score"] = score
    resource["tester"] = f"samsvar {report.reproducibility.samsvar}"
    resource["setup"] = _setup(report)
    if all_tests:
        resource["test"] = all_tests
    return resource


def render(report: Report) -> str:
    text = json.dumps(build(report), indent=2, ensure_ascii=False)
    return text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n"
