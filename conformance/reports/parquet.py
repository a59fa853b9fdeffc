"""Parquet output: one row per issue, for runs read with DuckDB or pandas rather than a web page.

A run writes a folder of part files (``part-00000.parquet``, ...), one per task of a bulk run or
one for a plain run; readers take the folder as one table (``SELECT ... FROM 'DIR/*.parquet'``).
A part is written under a temporary name and renamed, so a task that is run again after a lost
worker replaces its part whole: no row is lost or counted twice.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Iterable

from ...validators.runner import Result

COLUMNS: tuple[tuple[str, str], ...] = (
    ("file", "string"),
    ("line", "int64"),
    ("column", "int64"),
    ("artifact", "string"),
    ("resource_type", "string"),
    ("id", "string"),
    ("rule", "string"),
    ("severity", "string"),
    ("waived", "bool_"),
    ("expression", "string"),
    ("message", "string"),
)
"""Column, Arrow type. ``file`` is the file (an NDJSON line's file); ``line`` and ``column``
locate the issue in it; ``artifact`` is what was validated (``FILE`` or ``FILE:LINE``)."""


def rows(results: Iterable[Result]) -> dict[str, list[Any]]:
    """The issues of ``results`` as columns."""
    table: dict[str, list[Any]] = {name: [] for name, _ in COLUMNS}
    for result in results:
        resource_type = result.kind.name if result.kind.family == "fhir" else None
        for issue in result.issues:
            table["file"].append(result.source or result.path)
            table["line"].append(issue.line)
            table["column"].append(issue.column)
            table["artifact"].append(result.path)
            table["resource_type"].append(resource_type)
            table["id"].append(result.resource_id)
            table["rule"].append(issue.rule)
            table["severity"].append(issue.severity.code)
            table["waived"].append(bool(issue.waived))
            table["expression"].append(issue.expression)
            table["message"].append(issue.message)
    return table


def schema() -> Any:
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, kind)()) for name, kind in COLUMNS])


def write_part(results: Iterable[Result], folder: str | Path, part: int) -> Path:
    """Write the issues of ``results`` as ``folder/part-NNNNN.parquet`` (atomically); returns the path."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - the dask extra brings it
        raise RuntimeError("parquet output needs pyarrow: pip install 'samsvar[dask]'") from exc
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"part-{part:05d}.parquet"
    temporary = folder / f".{target.name}.{uuid.uuid4().hex}.tmp"
    pq.write_table(pa.table(rows(results), schema=schema()), temporary)
    os.replace(temporary, target)
    return target
