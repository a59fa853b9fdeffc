"""Turn a public code list (CSV or JSON) into a FHIR R4 CodeSystem resource.

The resources are ours: built from the codes and display texts of a public list, with the
list named in ``description``. ``samsvar terminology import`` calls :func:`import_code_list`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol

Row = tuple[str, str]

CODE_KEYS = ("code", "kode", "v", "value")
"""Column or key names taken as the code, in order of preference (compared case-insensitively)."""
DISPLAY_KEYS = ("display", "text", "tekst", "dn", "navn", "term")
"""Column or key names taken as the display text, in order of preference."""
ENCODINGS = ("utf-8-sig", "latin-1")
CSV_DELIMITERS = ";,\t"

_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")
_VOLVEN_ARC = "2.16.578.1.12.4.1.1."
_NAMED_IDS = {
    _VOLVEN_ARC + "7110": "icd10-no",
    _VOLVEN_ARC + "7170": "icpc2-no",
}
"""Ids of the Volven code systems that are better known by their own name."""


def codesystem_id(oid: str) -> str:
    """The resource id for a code system OID: ``volven-8279`` for a Volven list, else ``oid-…``."""
    if not _OID.fullmatch(oid):
        raise ValueError(f"not an OID: {oid!r}")
    if oid in _NAMED_IDS:
        return _NAMED_IDS[oid]
    if oid.startswith(_VOLVEN_ARC) and "." not in oid[len(_VOLVEN_ARC):]:
        return "volven-" + oid[len(_VOLVEN_ARC):]
    resource_id = "oid-" + oid.replace(".", "-")
    if len(resource_id) > 64:
        raise ValueError(f"OID {oid} is too long to make a resource id from (64 characters at most)")
    return resource_id


def _concepts(rows: Iterable[Row]) -> list[dict[str, str]]:
    concepts: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for number, (code, display) in enumerate(rows, start=1):
        code, display = (code or "").strip(), (display or "").strip()
        if not code:
            raise ValueError(f"row {number} has an empty code")
        if code in seen:
            raise ValueError(f"duplicate code {code!r} in rows {seen[code]} and {number}")
        seen[code] = number
        concepts.append({"code": code, "display": display} if display else {"code": code})
    return concepts


def codesystem_from_rows(rows: Iterable[Row], *, oid: str, name: str, title: str,
                         version: str | None = None, source: str = "", date: str | None = None) -> dict[str, Any]:
    """A complete, case-sensitive Norwegian (``nb``) CodeSystem with the rows as its concepts.

    Codes and displays are stripped of surrounding white space; an empty display is left out.
    Raises ValueError for an empty or duplicate code, or a malformed OID.
    """
    concepts = _concepts(rows)
    url = f"urn:oid:{oid}"
    resource: dict[str, Any] = {
        "resourceType": "CodeSystem",
        "id": codesystem_id(oid),
        "language": "nb",
        "url": url,
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": url}],
    }
    if version:
        resource["version"] = version
    resource.update({
        "name": name,
        "title": title,
        "status": "active",
        **({"date": date} if date else {}),
        "description": (f"Codes and display texts from {source}." if source
                        else "Codes and display texts from an imported code list (source not stated)."),
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": concepts,
    })
    return resource


def _decode(path: Path) -> str:
    """The text of a file in the first of :data:`ENCODINGS` that decodes it (latin-1 always does)."""
    data = path.read_bytes()
    for encoding in ENCODINGS[:-1]:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode(ENCODINGS[-1])


def _find(names: list[str], wanted: str | None, candidates: tuple[str, ...]) -> int | None:
    """Index of the column/key named ``wanted`` (if given), else of the first known candidate name."""
    folded = [n.strip().casefold() for n in names]
    for name in (wanted,) if wanted is not None else candidates:
        if name.strip().casefold() in folded:
            return folded.index(name.strip().casefold())
    return None


class _CsvReader(Protocol):
    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...
    def __next__(self) -> list[str]: ...


def _csv_reader(text: str) -> _CsvReader:
    sample = "\n".join(text.splitlines()[:50])
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=CSV_DELIMITERS)
    except csv.Error:  # one column, or too little text to tell
        dialect = csv.excel
    return csv.reader(io.StringIO(text, newline=""), dialect)


def _csv_columns(header: list[str], code_column: str | None, display_column: str | None,
                 path: Path) -> tuple[int, int | None] | None:
    """Code and display column of a header row; None when the first row is data, not a header."""
    code_at = _find(header, code_column, CODE_KEYS)
    display_at = _find(header, display_column, DISPLAY_KEYS)
    if code_column is None and display_column is None:
        if code_at is not None and (display_at is not None or len(header) == 1):
            return code_at, display_at
        return None  # a header names the code and the display column
    for wanted, found, what in ((code_column, code_at, "code"), (display_column, display_at, "display")):
        if wanted is not None and found is None:
            raise ValueError(f"{path.name}, line 1: no {what} column {wanted!r} "
                             f"(columns: {', '.join(header)})")
    if code_at is None:
        raise ValueError(f"{path.name}, line 1: no code column (columns: {', '.join(header)})")
    return code_at, display_at


def _read_csv(path: Path, code_column: str | None, display_column: str | None) -> list[Row]:
    text = _decode(path)
    reader = _csv_reader(text)
    header = next(reader, None)
    if header is None:
        return []
    columns = _csv_columns(header, code_column, display_column, path)
    if columns is None:  # no header row: the code, then the display
        reader = _csv_reader(text)
        columns = (0, 1)
    code_at, display_at = columns
    rows: list[Row] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        code = cells[code_at].strip() if code_at < len(cells) else ""
        if not code:
            raise ValueError(f"{path.name}, line {reader.line_num}: row has no code")
        display = cells[display_at] if display_at is not None and display_at < len(cells) else ""
        rows.append((code, display.strip()))
    return rows


def _json_line(text: str, pointer: str) -> int | None:
    from ..positions import JsonLocator

    steps = tuple(int(p) if p.isdigit() else p for p in pointer.split("/")[1:]) if pointer else ()
    position = JsonLocator(text).locate(steps)
    return None if position is None else position[0]


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def _json_item(item: Any, code_column: str | None, display_column: str | None) -> Row:
    if not isinstance(item, dict):
        return "", ""
    keys = [str(k) for k in item]
    code_at = _find(keys, code_column, CODE_KEYS)
    display_at = _find(keys, display_column, DISPLAY_KEYS)
    code = _scalar(item[keys[code_at]]).strip() if code_at is not None else ""
    display = _scalar(item[keys[display_at]]).strip() if display_at is not None else ""
    return code, display


def _read_json(path: Path, code_column: str | None, display_column: str | None) -> list[Row]:
    text = _decode(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path.name}, line {error.lineno}: not JSON ({error.msg})") from None
    if isinstance(data, dict):
        items = [(f"/{str(k).replace('~', '~0').replace('/', '~1')}", str(k).strip(), _scalar(v).strip())
                 for k, v in data.items()]
    elif isinstance(data, list):
        items = [(f"/{i}", *_json_item(item, code_column, display_column))
                 for i, item in enumerate(data)]
    else:
        raise ValueError(f"{path.name}: expected a list of objects or an object of code: display")
    for pointer, code, _ in items:
        if not code:
            line = _json_line(text, pointer)
            where = f"line {line}" if line else f"entry {pointer}"
            raise ValueError(f"{path.name}, {where}: entry has no code")
    return [(code, display) for _, code, display in items]


def read_rows(path: Path, *, code_column: str | None = None,
              display_column: str | None = None) -> list[tuple[str, str]]:
    """(code, display) rows of a CSV or JSON code list, in file order.

    CSV: delimiter ``;``, ``,`` or tab (sniffed); UTF-8 (with or without BOM), else latin-1; a
    header row naming the columns (code/kode/v/value, display/text/tekst/dn/navn/term, or the
    names given), or no header and the code and display in the first two columns.
    JSON: a list of objects with such keys, or one object mapping code to display.
    Raises ValueError naming the file and line of a row without a code.
    """
    if path.suffix.lower() == ".json":
        return _read_json(path, code_column, display_column)
    return _read_csv(path, code_column, display_column)


def write_codesystem(resource: dict[str, Any], path: Path) -> None:
    """Write a resource as UTF-8 JSON, indented 2, keys and concepts in the order given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(resource, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def import_code_list(path: Path, *, oid: str, name: str, title: str, out: Path,
                     code_column: str | None = None, display_column: str | None = None) -> Path:
    """Read a code list, build its CodeSystem and write it; returns the written file.

    Raises ValueError, naming the file, for a row without a code or a duplicate code (rows are
    counted from the first data row).

    ``out`` is a directory (the file is named ``CodeSystem-<id>.json`` in it) or a ``.json`` path.
    """
    rows = read_rows(path, code_column=code_column, display_column=display_column)
    try:
        resource = codesystem_from_rows(rows, oid=oid, name=name, title=title, source=path.name)
    except ValueError as error:
        raise ValueError(f"{path.name}: {error}") from None
    target = out if out.suffix.lower() == ".json" else out / f"CodeSystem-{resource['id']}.json"
    write_codesystem(resource, target)
    return target
