"""Human text, one line per issue (``path:line:column: severity RULE message``), like a linter.

Colour is plain ANSI SGR (a few styles need no terminal library: the text report is what most
one-file runs print, and it should not pay for importing one).
"""

from __future__ import annotations

from ...validators.issues import Issue, Severity
from ..report import GROUP_SHOWN, Grouping, Report, dominant_rules

_SGR = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "magenta": "35", "cyan": "36"}
_CONTROL = dict.fromkeys((7, 8, 11, 12, 13))
"""Bell, backspace, vertical tab, form feed and carriage return are dropped from printed text."""


class Text:
    """Styled pieces of one printed line (or a few), rendered with or without colour."""

    def __init__(self, text: str = "", style: str = "") -> None:
        self.parts: list[tuple[str, str]] = []
        if text:
            self.append(text, style)

    def append(self, text: str, style: str = "") -> None:
        self.parts.append((text.translate(_CONTROL), style))

    def render(self, color: bool) -> str:
        if not color:
            return "".join(text for text, _ in self.parts)
        return "".join(f"\x1b[{';'.join(_SGR[s] for s in style.split())}m{text}\x1b[0m" if style else text
                       for text, style in self.parts)

_STYLES = {
    Severity.FATAL: "bold red",
    Severity.ERROR: "red",
    Severity.WARNING: "yellow",
    Severity.INFORMATION: "cyan",
}


def _issue_line(path: str, issue: Issue) -> Text:
    where = path
    if issue.line is not None:
        where += f":{issue.line}:{issue.column or 1}"
    line = Text()
    line.append(where + ": ", style="bold")
    line.append(issue.severity.code, style=_STYLES[issue.severity])
    line.append(" ")
    line.append(issue.rule, style="bold")
    line.append(" " + issue.message)
    if issue.expression:
        line.append(f"\n    at {issue.expression}", style="dim")
    if issue.waiver is not None:
        line.append(f"\n    (waived: {issue.waiver.owner}, until {issue.waiver.expires}: {issue.waiver.reason})",
                    style="dim")
    return line


_STATUS = {"pass": ("PASS ", "green"), "fail": ("FAIL ", "bold red"), "skip": ("SKIP ", "yellow"),
           "error": ("ERROR", "bold magenta")}


def _test_line(result: object) -> Text:
    """``PASS  fhir-api/create  Create answers 201 …  (3 exchanges)`` for a live test."""
    status = getattr(result, "status", "pass")
    label, style = _STATUS.get(status, (status, "bold"))
    line = Text()
    line.append(label, style=style)
    line.append(f" {getattr(result, 'path')}", style="bold")
    line.append(f"  {getattr(result, 'title', '')}")
    count = len(getattr(result, "exchanges", []))
    line.append(f"  ({count} exchange{'s' if count != 1 else ''})", style="dim")
    return line


def summary_line(report: Report) -> str:
    summary = report.summary()
    if report.live:
        statuses = [getattr(result, "status") for result in report.results]
        counts = {status: statuses.count(status) for status in ("pass", "fail", "error", "skip")}
        tests = "test" if len(statuses) == 1 else "tests"
        return (f"{len(statuses)} {tests} run: {counts['pass']} passed, {counts['fail']} failed, "
                f"{counts['error']} broke, {counts['skip']} skipped")
    counts = summary["issues"]
    files = summary["files"]
    noun = "file" if files == 1 else "files"
    parts = ", ".join(f"{counts[s.code]:,} {s.code}" for s in sorted(Severity, reverse=True))
    line = (f"{files:,} {noun} checked: {summary['files_failed']:,} failed (fail level: {summary['fail_on']}) "
            f"- {parts}, {counts['waived']:,} waived")
    total = sum(counts.values())
    dominant = dominant_rules(report)
    if total and dominant:
        line += "; most: " + ", ".join(f"{rule} {count:,} ({count / total:.0%})" for rule, count in dominant)
    return line


def _group_line(rule: str, severity: Severity, count: int, artifacts: int) -> Text:
    line = Text()
    line.append("grouped: ", style="bold")
    line.append(rule, style="bold")
    line.append(f" ({severity.code}) ", style=_STYLES[severity])
    where = f"{artifacts:,} file{'s' if artifacts != 1 else ''}"
    line.append(f"{count:,} findings in {where}; the first {min(count, GROUP_SHOWN)} are shown above. "
                "List every one with --no-group, or with --format json (also sarif, junit, operationoutcome).")
    return line


def render(report: Report, *, color: bool = False, group: bool = True) -> str:
    """One line per finding; with ``group`` a rule with many findings shows its first few and one
    line with the count (see :class:`~samsvar.conformance.report.Grouping`)."""
    lines: list[Text] = []
    grouping = Grouping(report, enabled=group)
    for result in report.results:
        if hasattr(result, "status"):
            lines.append(_test_line(result))
        for issue in sorted(result.issues, key=lambda i: (i.line or 0, i.column or 0)):
            if grouping.show(issue):
                lines.append(_issue_line(getattr(result, "source", None) or result.path, issue))  # NDJSON: FILE:LINE:COL
    for found in grouping.groups.values():
        lines.append(_group_line(found.rule, found.severity, found.count, found.artifacts))
    for notice in report.notices:
        lines.append(Text("note: " + notice, style="dim"))
    lines.append(Text(summary_line(report), style="bold green" if report.passed else "bold red"))
    text = "".join(line.render(color) + "\n" for line in lines)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
