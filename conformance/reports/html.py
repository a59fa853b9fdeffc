"""A self-contained HTML report a vendor can hand to a certifier.

One file, no scripts, no external fonts, images or style sheets: the CSS is inline and has a
print layout (A4, a page break between sections). It shows the run's verdict at the fail
level, the summary, the requirement verdicts of the catalogue (when the judge filled them),
every artifact's findings with the rule, the location and an excerpt of the source read from
disk, what was not checked (the notices) and the reproducibility block.

The output is deterministic: it holds no timestamp or anything else the report does not carry,
so the same report renders to the same bytes. UI texts come in Bokmål (``nb``) and English
(``en``) from :mod:`samsvar.conformance.texts` (the ``html`` area); findings are shown as the validators wrote them.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Mapping

import jinja2

from ...validators.issues import Issue, Severity
from ...validators.rules import get_rule
from ...validators.runner import Result
from ..report import GROUP_SHOWN, Grouping, Report, dominant_rules
from ..texts import LANGUAGES, table

EXCERPT_CONTEXT = 2
"""Lines shown before and after the line of a finding."""
MAX_EXCERPTS_PER_ARTIFACT = 200
"""Past this many findings in one artifact the rest are listed without a source excerpt."""
MAX_EXCERPT_WIDTH = 160
"""A longer source line (minified JSON) is cut to a window of this many characters around the column."""
VERDICTS = ("pass", "fail", "not-tested", "manual")

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


# -- view model -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ExcerptLine:
    """One source line; on the line of the finding, ``mark`` is the character at its column."""

    number: int
    before: str
    mark: str
    after: str
    focus: bool


@dataclass(frozen=True, slots=True)
class IssueView:
    severity: str
    rule: str
    rule_title: str | None
    message: str
    expression: str | None
    position: str | None
    waiver: str | None
    failing: bool
    excerpt: tuple[ExcerptLine, ...]


@dataclass(frozen=True, slots=True)
class ExchangeView:
    """One HTTP exchange of a live test, as evidence (secrets were redacted when recorded)."""

    summary: str
    request: str
    response: str


@dataclass(frozen=True, slots=True)
class TestView:
    """What a live test adds to its artifact: its status, title, requirements and evidence."""

    status: str
    title: str
    verifies: str
    notes: tuple[str, ...]
    exchanges: tuple[ExchangeView, ...]

    __test__ = False


@dataclass(frozen=True, slots=True)
class ArtifactView:
    anchor: str
    path: str
    kind: str
    format: str | None
    failing: bool
    counts: dict[str, int]
    issues: tuple[IssueView, ...]
    excerpts_capped: bool
    test: TestView | None = None
    grouped: tuple[str, ...] = ()
    """One line per grouped rule with findings here that are not listed."""


@dataclass(frozen=True, slots=True)
class EvidenceView:
    """An evidence item or artefact: plain text, or the fields of a dict; a link when it names an artifact."""

    text: str | None
    fields: tuple[tuple[str, str, str], ...]
    """(key, label in the report's language, value)."""
    anchor: str | None


@dataclass(frozen=True, slots=True)
class VerdictView:
    id: str
    title: str
    level: str
    principle: str
    verdict: str
    evidence: tuple[EvidenceView, ...]
    artefacts: tuple[EvidenceView, ...]


# -- source excerpts ------------------------------------------------------------------------
def read_lines(path: str, upto: int) -> list[str] | None:
    """The first ``upto`` lines of the file at ``path`` (decoded leniently), or None when unreadable.

    Standard input (``-``) and anything that is not a regular file give None.
    """
    if path == "-" or upto < 1:
        return None
    file = Path(path)
    try:
        if not file.is_file():
            return None
        with file.open("rb") as handle:
            raw = list(islice(handle, upto))
    except OSError:
        return None
    lines = [line.decode("utf-8", "replace").rstrip("\r\n") for line in raw]
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    return lines


def _window(text: str, column: int | None) -> tuple[str, int | None]:
    """Cut a long line to :data:`MAX_EXCERPT_WIDTH` characters around ``column`` (1-based)."""
    if len(text) <= MAX_EXCERPT_WIDTH:
        return text, column
    centre = (column or 1) - 1
    start = max(0, min(centre - MAX_EXCERPT_WIDTH // 2, len(text) - MAX_EXCERPT_WIDTH))
    cut = text[start:start + MAX_EXCERPT_WIDTH]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + MAX_EXCERPT_WIDTH < len(text) else ""
    new_column = None if column is None else column - start + len(prefix)
    return prefix + cut + suffix, new_column


def _excerpt_line(number: int, text: str, column: int | None, focus: bool) -> ExcerptLine:
    text, column = _window(text, column)  # the same window on every line, so they stay aligned
    if not focus or column is None or not 1 <= column <= len(text):
        return ExcerptLine(number, text, "", "", focus)
    index = column - 1
    return ExcerptLine(number, text[:index], text[index], text[index + 1:], focus)


def excerpt(lines: list[str] | None, line: int | None, column: int | None) -> tuple[ExcerptLine, ...]:
    """The lines around ``line`` (1-based) with the finding's line marked; empty when unknown."""
    if not lines or line is None or not 1 <= line <= len(lines):
        return ()
    first = max(1, line - EXCERPT_CONTEXT)
    last = min(len(lines), line + EXCERPT_CONTEXT)
    return tuple(_excerpt_line(n, lines[n - 1], column, n == line) for n in range(first, last + 1))


# -- building the view ----------------------------------------------------------------------
def _position(issue: Issue) -> str | None:
    if issue.line is None:
        return None
    return f"{issue.line}:{issue.column or 1}"


def _waiver_text(issue: Issue, texts: Mapping[str, str]) -> str | None:
    if issue.waiver is None:
        return None
    return texts["waiver"].format(owner=issue.waiver.owner, expires=issue.waiver.expires, reason=issue.waiver.reason)


def _issue_view(issue: Issue, report: Report, lines: list[str] | None, texts: Mapping[str, str]) -> IssueView:
    rule = get_rule(issue.rule)
    return IssueView(
        severity=issue.severity.code,
        rule=issue.rule,
        rule_title=rule.title if rule is not None else None,
        message=issue.message,
        expression=issue.expression,
        position=_position(issue),
        waiver=_waiver_text(issue, texts),
        failing=issue.severity >= report.fail_on and not issue.waived,
        excerpt=excerpt(lines, issue.line, issue.column),
    )


def _counts(issues: list[Issue]) -> dict[str, int]:
    counts = {severity.code: 0 for severity in sorted(Severity, reverse=True)}
    for issue in issues:
        if not issue.waived:
            counts[issue.severity.code] += 1
    counts["waived"] = sum(1 for issue in issues if issue.waived)
    return counts


def _artifact_view(index: int, result: Result, report: Report, texts: Mapping[str, str],
                   grouping: Grouping | None = None) -> ArtifactView:
    issues = sorted(result.issues, key=lambda i: (i.line or 0, i.column or 0))
    hidden: dict[str, int] = {}
    if grouping is not None:
        listed = []
        for issue in issues:
            if grouping.show(issue):
                listed.append(issue)
            else:
                hidden[issue.rule] = hidden.get(issue.rule, 0) + 1
        issues = listed
    with_source = issues[:MAX_EXCERPTS_PER_ARTIFACT]
    upto = max((i.line or 0 for i in with_source), default=0) + EXCERPT_CONTEXT
    test = _test_view(result)
    lines = read_lines(result.path, upto) if upto > EXCERPT_CONTEXT and test is None else None
    views = tuple(_issue_view(issue, report, lines if n < MAX_EXCERPTS_PER_ARTIFACT else None, texts)
                  for n, issue in enumerate(issues))
    return ArtifactView(
        anchor=f"artifact-{index + 1}",
        path=texts["stdin"] if result.path == "-" else result.path,
        kind=str(result.kind),
        format=result.format,
        failing=report.failing(result),
        counts=_counts(result.issues),
        issues=views,
        excerpts_capped=len(issues) > MAX_EXCERPTS_PER_ARTIFACT and lines is not None,
        test=test,
        grouped=tuple(texts["grouped_here"].format(count=f"{count:,}".replace(",", "\u00a0"), rule=rule)
                      for rule, count in hidden.items()),
    )


MAX_BODY_SHOWN = 4000
"""Characters of a request or response body shown per exchange in the HTML report."""


def _message_text(headers: Mapping[str, str], body: str | None) -> str:
    head = "\n".join(f"{name}: {value}" for name, value in headers.items())
    if body:
        shown = body if len(body) <= MAX_BODY_SHOWN else body[:MAX_BODY_SHOWN] + f"\n… ({len(body) - MAX_BODY_SHOWN} more characters)"
        head += "\n\n" + shown
    return head


def _test_view(result: Result) -> TestView | None:
    status = getattr(result, "status", None)
    if status is None:
        return None
    exchanges = tuple(
        ExchangeView(summary=e.summary,
                     request=f"{e.method} {e.url}\n" + _message_text(e.request_headers, e.request_body),
                     response=(f"HTTP {e.status}\n" + _message_text(e.response_headers, e.response_body))
                     if e.status is not None else f"no response: {e.error}")
        for e in getattr(result, "exchanges", []))
    return TestView(status=status, title=getattr(result, "title", ""), verifies=", ".join(getattr(result, "verifies", ())),
                    notes=tuple(getattr(result, "notes", [])), exchanges=exchanges)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


_CODED_FIELDS = ("result", "severity")


def _evidence_view(item: Any, anchors: Mapping[str, str], lang: str = "en") -> EvidenceView:
    if isinstance(item, Mapping):
        labels, values = table("evidence.label", lang), table("evidence.value", lang)
        fields = tuple((str(key), labels.get(str(key), str(key).replace("_", " ")),
                        values.get(value, value) if key in _CODED_FIELDS and isinstance(value, str) else _scalar(value))
                       for key, value in item.items())
        named = item.get("path") or item.get("artifact") or item.get("file") or item.get("test")
        return EvidenceView(None, fields, anchors.get(named) if isinstance(named, str) else None)
    text = _scalar(item)
    return EvidenceView(text, (), anchors.get(text))


def localised(text: Any, lang: str) -> str:
    """A catalogue text: a plain string, or ``{"nb": ..., "en": ...}`` read in ``lang`` (else the other)."""
    if isinstance(text, Mapping):
        for key in (lang, "en", "nb", *text):
            if isinstance(text.get(key), str):
                return text[key]
        return ""
    return "" if text is None else str(text)


def _verdict_view(verdict: Mapping[str, Any], anchors: Mapping[str, str], lang: str) -> VerdictView:
    value = str(verdict.get("verdict", "not-tested"))
    return VerdictView(
        id=str(verdict.get("id", "")),
        title=localised(verdict.get("title"), lang),
        level=str(verdict.get("level") or ""),
        principle=str(verdict.get("principle") or ""),
        verdict=value if value in VERDICTS else "not-tested",
        evidence=tuple(_evidence_view(item, anchors, lang) for item in verdict.get("evidence") or ()),
        artefacts=tuple(_evidence_view(item, anchors, lang) for item in verdict.get("artefacts") or ()),
    )


def _verdict_counts(verdicts: tuple[VerdictView, ...]) -> dict[str, int]:
    return {value: sum(1 for v in verdicts if v.verdict == value) for value in VERDICTS}


def _options(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(key, _scalar(options[key])) for key in sorted(options)]


def context(report: Report, lang: str, group: bool = True) -> dict[str, Any]:
    """Everything the template shows, already in display form (the template only lays it out)."""
    texts = table("html", lang)
    if report.live:  # tests, not artefacts
        texts = {**texts, **table("html.live", lang)}
    grouping = Grouping(report, enabled=group)
    artifacts = tuple(_artifact_view(n, result, report, texts, grouping) for n, result in enumerate(report.results))
    anchors = {result.path: view.anchor for result, view in zip(report.results, artifacts)}
    verdicts = tuple(_verdict_view(v, anchors, lang) for v in report.verdicts)
    summary = report.summary()
    repro = report.reproducibility
    return {
        "lang": lang,
        "t": texts,
        "tool": report.tool(),
        "summary": summary,
        "verdict_line": texts["verdict_line"].format(
            level=texts[report.fail_on.code], failed=summary["files_failed"], files=summary["files"]),
        "severities": [s.code for s in sorted(Severity, reverse=True)],
        "artifacts": artifacts,
        "verdicts": verdicts,
        "verdict_counts": _verdict_counts(verdicts),
        "notices": list(report.notices),
        "repro": repro,
        "declaration": _declaration_view(report.declaration),
        "options": _options(repro.options),
        "max_excerpts": MAX_EXCERPTS_PER_ARTIFACT,
        "groups": tuple(grouping.groups.values()),
        "grouped_intro": texts["grouped_intro"].format(shown=GROUP_SHOWN),
        "dominant": dominant_rules(report),
    }


def _declaration_view(declaration: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The declaration that lists this report, in display form (None: there is none)."""
    if not declaration:
        return None
    system = declaration.get("system") or {}
    named = " ".join(str(system[k]) for k in ("name", "version") if system.get(k))
    if system.get("vendor"):
        named = f"{named} ({system['vendor']})".strip()
    certificate = declaration.get("certificate") or {}
    signer = certificate.get("subject") or f"key {declaration.get('key_thumbprint')}"
    return {"id": str(declaration.get("id")), "file": str(declaration.get("file")),
            "status": str(declaration.get("status")), "issued": str(declaration.get("issued")),
            "signer": f"{signer} ({declaration.get('algorithm')})", "system": named,
            "command": f"samsvar verify {declaration.get('file')} --key PUB | --trust CA.pem"}


# -- rendering ------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader(__package__ or "samsvar.conformance.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _visible_controls(text: str) -> str:
    """Control characters are not allowed in HTML text: show them as ``\\uXXXX``."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def render(report: Report, *, lang: str = "nb", group: bool = True) -> str:
    """The report as one self-contained HTML document, with UI texts in ``lang`` (``nb`` or ``en``)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
    html = _environment().get_template("report.html.j2").render(context(report, lang, group))
    # Lone surrogates (from JSON escapes in the input) cannot be written as UTF-8: keep them escaped.
    return _visible_controls(html).encode("utf-8", "backslashreplace").decode("utf-8")
