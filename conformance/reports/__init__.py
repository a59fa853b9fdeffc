"""Renderers: one report model, many readers. ``render(report, "sarif")`` and friends.

A renderer's module is imported when it is first used, so a run that writes text never loads
Jinja (HTML) or the SARIF rule catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..report import Report


@dataclass(frozen=True, slots=True)
class Renderer:
    name: str
    description: str
    suffix: str
    module: str
    """Module of this package with a ``render(report, ...)`` function."""

    @property
    def render(self) -> Callable[..., str]:
        return import_module(f"{__name__}.{self.module}").render


FORMATS: dict[str, Renderer] = {
    r.name: r
    for r in (
        Renderer("text", "human-readable, colour on a terminal", ".txt", "text"),
        Renderer("json", "samsvar's JSON report (tool, reproducibility, results, summary)", ".json", "json_report"),
        Renderer("operationoutcome", "FHIR R4 OperationOutcome (a Bundle of them for several inputs)", ".json",
                 "operationoutcome"),
        Renderer("junit", "JUnit XML for CI test reports", ".xml", "junit"),
        Renderer("sarif", "SARIF 2.1.0 for code scanning annotations", ".sarif", "sarif"),
        Renderer("codequality", "Code Climate JSON for GitLab's code quality report", ".json", "codequality"),
        Renderer("html", "self-contained HTML report for a certifier (print-ready, Bokmål or English)", ".html", "html"),
        Renderer("testreport", "FHIR R4 TestReport (one test per requirement, or per artifact)", ".json",
                 "testreport"),
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
