"""Renderers: one report model, many readers. ``render(report, "sarif")`` and friends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..report import Report
from . import html, json_report, junit, operationoutcome, sarif, testreport, text


@dataclass(frozen=True, slots=True)
class Renderer:
    name: str
    description: str
    suffix: str
    render: Callable[..., str]


FORMATS: dict[str, Renderer] = {
    r.name: r
    for r in (
        Renderer("text", "human-readable, colour on a terminal", ".txt", text.render),
        Renderer("json", "samsvar's JSON report (tool, reproducibility, results, summary)", ".json", json_report.render),
        Renderer("operationoutcome", "FHIR R4 OperationOutcome (a Bundle of them for several inputs)", ".json",
                 operationoutcome.render),
        Renderer("junit", "JUnit XML for CI test reports", ".xml", junit.render),
        Renderer("sarif", "SARIF 2.1.0 for code scanning annotations", ".sarif", sarif.render),
        Renderer("html", "self-contained HTML report for a certifier (print-ready, Bokmål or English)", ".html", html.render),
        Renderer("testreport", "FHIR R4 TestReport (one test per requirement, or per artifact)", ".json",
                 testreport.render),
    )
}


def render(report: Report, fmt: str, *, color: bool = False, lang: str = "nb", group: bool = True) -> str:
    """``report`` in format ``fmt``; ``color`` applies to text, ``lang`` (``nb``/``en``) to HTML,
    ``group`` (many findings of one rule shown as their first few and a count) to text and HTML;
    the machine formats keep every finding."""
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}") from None
    if fmt == "text":
        return renderer.render(report, color=color, group=group)
    if fmt == "html":
        return renderer.render(report, lang=lang, group=group)
    return renderer.render(report)
