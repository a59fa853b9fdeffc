"""samsvar's JSON report: ``{"tool", "reproducibility", "results", "summary", "notices"}``."""

from __future__ import annotations

import json

from ..report import Report


def render(report: Report) -> str:
    # Lone surrogates (legal in JSON escapes) cannot be written as UTF-8: keep them escaped.
    text = json.dumps(report.as_dict(), indent=2, ensure_ascii=False)
    return text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n"
