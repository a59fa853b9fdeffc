"""JUnit XML: one test case per artifact (failing at the fail level is a ``<failure>``), or per
live test (``<failure>``, ``<error>`` when it broke, ``<skipped>``, the evidence in ``<system-out>``)."""

from __future__ import annotations

from lxml import etree

from ...validators.issues import Issue
from ...validators.runner import Result
from ..report import Report


def _line(path: str, issue: Issue) -> str:
    where = f"{path}:{issue.line}:{issue.column or 1}" if issue.line is not None else path
    text = f"{where}: {issue.severity.code} {issue.rule} {issue.message}"
    if issue.expression:
        text += f" (at {issue.expression})"
    if issue.waiver is not None:
        text += f" [waived: {issue.waiver.owner}, until {issue.waiver.expires}]"
    return text


def _clean(text: str) -> str:
    """XML 1.0 cannot carry control characters or lone surrogates; escape them visibly."""
    return "".join(c if (c in "\t\n\r" or 0x20 <= ord(c) < 0xD800 or 0xE000 <= ord(c) <= 0xFFFD
                         or ord(c) >= 0x10000) else f"\\u{ord(c):04x}" for c in text)


def _live_case(suite: etree._Element, result: Result, report: Report) -> None:
    """A live test: classname ``suite.group``, time, and its status as failure/error/skipped."""
    status = getattr(result, "status")
    case = etree.SubElement(suite, "testcase", classname=f"{result.kind.name}.{getattr(result, 'group', '')}",
                            name=_clean(result.path), time=f"{getattr(result, 'duration_ms', 0.0) / 1000:.3f}")
    failing = [i for i in result.issues if i.severity >= report.fail_on and not i.waived]
    lines = "\n".join(_line(result.path, i) for i in result.issues)
    if status == "skip":
        etree.SubElement(case, "skipped", message=_clean("; ".join(i.message for i in result.issues)[:500]))
    elif status in ("fail", "error"):
        element = etree.SubElement(case, "failure" if status == "fail" else "error",
                                   type=(failing or result.issues)[0].rule if (failing or result.issues) else status,
                                   message=_clean((failing or result.issues)[0].message[:500]
                                                  if (failing or result.issues) else status))
        element.text = _clean(lines)
    evidence = [*getattr(result, "notes", []), *(e.summary for e in getattr(result, "exchanges", []))]
    if evidence or (lines and status == "pass"):
        out = etree.SubElement(case, "system-out")
        out.text = _clean("\n".join(evidence + ([lines] if lines and status == "pass" else [])))


def render(report: Report) -> str:
    failures = sum(1 for r in report.results if report.failing(r) and getattr(r, "status", "fail") != "error")
    errors = sum(1 for r in report.results if getattr(r, "status", None) == "error")
    skipped = sum(1 for r in report.results if getattr(r, "status", None) == "skip")
    name = f"samsvar run {report.results[0].kind.name}" if report.live else "samsvar validate"
    suites = etree.Element("testsuites", name="samsvar", tests=str(len(report.results)),
                           failures=str(failures), errors=str(errors))
    suite = etree.SubElement(suites, "testsuite", name=name, tests=str(len(report.results)),
                             failures=str(failures), errors=str(errors), skipped=str(skipped))
    properties = etree.SubElement(suite, "properties")
    repro = report.reproducibility
    etree.SubElement(properties, "property", name="samsvar.version", value=repro.samsvar)
    for package in repro.packages:
        etree.SubElement(properties, "property", name=f"package.{package.id}#{package.version}",
                         value=f"sha256:{package.sha256}")
        etree.SubElement(properties, "property", name=f"package.{package.id}#{package.version}.source",
                         value=package.source)
    etree.SubElement(properties, "property", name="config.sha256", value=repro.config_sha256)
    etree.SubElement(properties, "property", name="fail_on", value=report.fail_on.code)
    for verdict in report.verdicts:
        etree.SubElement(properties, "property", name=f"requirement.{verdict['id']}", value=verdict["verdict"])
    for result in report.results:
        if hasattr(result, "status"):
            _live_case(suite, result, report)
            continue
        case = etree.SubElement(suite, "testcase", classname="samsvar", name=_clean(result.path))
        failing = [i for i in result.issues if i.severity >= report.fail_on and not i.waived]
        rest = [i for i in result.issues if i not in failing]
        if failing:
            failure = etree.SubElement(case, "failure", type=failing[0].rule, message=_clean(
                f"{len(failing)} issue{'s' if len(failing) != 1 else ''} at or above {report.fail_on.code}"))
            failure.text = _clean("\n".join(_line(result.path, i) for i in failing))
        if rest:
            out = etree.SubElement(case, "system-out")
            out.text = _clean("\n".join(_line(result.path, i) for i in rest))
    return etree.tostring(suites, encoding="UTF-8", xml_declaration=True, pretty_print=True).decode("utf-8")
