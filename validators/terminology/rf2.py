"""SNOMED CT RF2 snapshot files in SQLite, so an edition's is-a hierarchy works offline.

RF2 (Release Format 2) is SNOMED International's distribution format: UTF-8, tab-separated text
files with a header row and CRLF line ends, one file per component type
(*SNOMED CT Release File Specifications*, https://confluence.ihtsdotools.org/display/DOCRELFMT).
Every row is a version of a component; the row with the latest ``effectiveTime`` is the current
one, and ``active`` says whether the component is in use. A *snapshot* file holds one row per
component, but folders that combine releases (an international and a national edition) can hold
several, so the latest row wins here whatever the file layout (between rows with the same id and
effectiveTime, the one read last: files in path order, rows in file order).

Files read, found anywhere under the folder, and their columns (by header name):

* ``sct2_Concept_Snapshot*.txt``: id, effectiveTime, active, moduleId, definitionStatusId;
* ``sct2_Description_Snapshot*.txt``: id, effectiveTime, active, moduleId, conceptId,
  languageCode, typeId (900000000000003001 fully specified name, 900000000000013009 synonym),
  term, caseSignificanceId;
* ``sct2_Relationship_Snapshot*.txt`` (inferred relationships): id, effectiveTime, active,
  moduleId, sourceId, destinationId, relationshipGroup, typeId (116680003 is a),
  characteristicTypeId, modifierId;
* with ``language_refset``, ``der2_cRefset_LanguageSnapshot*.txt``: id, effectiveTime, active,
  moduleId, refsetId, referencedComponentId (a description), acceptabilityId
  (900000000000548007 preferred, 900000000000549004 acceptable). Without a language reference set
  RF2 does not say which synonym is preferred.

The database keeps every concept with its current status, active descriptions, active is-a
relationships and their transitive closure (``closure``: one row per concept and proper ancestor),
so ``is_a`` is one indexed lookup. :func:`load_rf2` builds it in a temporary file beside the
target and moves it into place, so a rebuild never leaves a half-written database behind.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

FSN = 900000000000003001
SYNONYM = 900000000000013009
IS_A = 116680003
PREFERRED = 900000000000548007
ACCEPTABLE = 900000000000549004

SCHEMA_VERSION = "1"
_MAX_SCTID_DIGITS = 18
_LANGUAGE_FALLBACKS = {"nb": ("no",)}
"""RF2 language codes to try after the requested one: Norwegian Bokmål is coded ``no``."""


@dataclass(frozen=True, slots=True)
class Rf2Summary:
    """What :func:`load_rf2` stored."""

    files: int
    concepts: int
    active_concepts: int
    descriptions: int
    is_a: int
    closure: int
    language_members: int


@dataclass(frozen=True, slots=True)
class _FileKind:
    label: str
    pattern: str
    columns: tuple[str, ...]


_CONCEPT = _FileKind("concept", "sct2_Concept_Snapshot*.txt",
                     ("id", "effectiveTime", "active", "moduleId", "definitionStatusId"))
_DESCRIPTION = _FileKind("description", "sct2_Description_Snapshot*.txt",
                         ("id", "effectiveTime", "active", "moduleId", "conceptId", "languageCode",
                          "typeId", "term", "caseSignificanceId"))
_RELATIONSHIP = _FileKind("relationship", "sct2_Relationship_Snapshot*.txt",
                          ("id", "effectiveTime", "active", "moduleId", "sourceId", "destinationId",
                           "relationshipGroup", "typeId", "characteristicTypeId", "modifierId"))
_LANGUAGE = _FileKind("language reference set", "der2_cRefset_LanguageSnapshot*.txt",
                      ("id", "effectiveTime", "active", "moduleId", "refsetId",
                       "referencedComponentId", "acceptabilityId"))

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE concept (
    id INTEGER PRIMARY KEY, effective_time INTEGER NOT NULL, active INTEGER NOT NULL,
    module_id INTEGER NOT NULL, definition_status_id INTEGER NOT NULL);
CREATE TABLE description (
    id INTEGER PRIMARY KEY, concept_id INTEGER NOT NULL, language_code TEXT NOT NULL,
    type_id INTEGER NOT NULL, term TEXT NOT NULL, case_significance_id INTEGER NOT NULL);
CREATE TABLE acceptability (description_id INTEGER PRIMARY KEY, acceptability_id INTEGER NOT NULL);
CREATE TABLE isa (
    source_id INTEGER NOT NULL, destination_id INTEGER NOT NULL,
    PRIMARY KEY (source_id, destination_id)) WITHOUT ROWID;
CREATE TABLE closure (
    descendant INTEGER NOT NULL, ancestor INTEGER NOT NULL,
    PRIMARY KEY (descendant, ancestor)) WITHOUT ROWID;
CREATE TEMP TABLE raw_concept (
    id INTEGER, effective_time INTEGER, active INTEGER, module_id INTEGER,
    definition_status_id INTEGER, seq INTEGER);
CREATE TEMP TABLE raw_description (
    id INTEGER, effective_time INTEGER, active INTEGER, concept_id INTEGER, language_code TEXT,
    type_id INTEGER, term TEXT, case_significance_id INTEGER, seq INTEGER);
CREATE TEMP TABLE raw_relationship (
    id INTEGER, effective_time INTEGER, active INTEGER, source_id INTEGER,
    destination_id INTEGER, type_id INTEGER, seq INTEGER);
CREATE TEMP TABLE raw_language (
    id TEXT, effective_time INTEGER, active INTEGER, referenced_component_id INTEGER,
    acceptability_id INTEGER, seq INTEGER);
"""

_INDEXES = (
    "CREATE INDEX description_concept ON description (concept_id, type_id, language_code)",
    "CREATE INDEX isa_destination ON isa (destination_id, source_id)",
    "CREATE INDEX closure_ancestor ON closure (ancestor, descendant)",
)


def _latest(table: str, columns: str, where: str = "1") -> str:
    """Rows of a staging table that are the latest version of their id (file order breaks ties)."""
    return (f"SELECT {columns} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY id "
            f"ORDER BY effective_time DESC, seq DESC) AS version FROM temp.{table}) "
            f"WHERE version = 1 AND {where}")


_RESOLVE = (
    "INSERT INTO concept " + _latest(
        "raw_concept", "id, effective_time, active, module_id, definition_status_id"),
    "INSERT INTO description " + _latest(
        "raw_description", "id, concept_id, language_code, type_id, term, case_significance_id",
        "active = 1"),
    "INSERT OR IGNORE INTO isa " + _latest(
        "raw_relationship", "source_id, destination_id", f"active = 1 AND type_id = {IS_A}"),
    "INSERT OR REPLACE INTO acceptability " + _latest(
        "raw_language", "referenced_component_id, acceptability_id", "active = 1"),
)

_CLOSURE = """
INSERT INTO closure (descendant, ancestor)
WITH RECURSIVE up (descendant, ancestor) AS (
    SELECT source_id, destination_id FROM isa
    UNION
    SELECT up.descendant, isa.destination_id FROM up JOIN isa ON isa.source_id = up.ancestor
)
SELECT descendant, ancestor FROM up ORDER BY descendant, ancestor
"""


class _Reader:
    """Rows of one RF2 file as strings in the order of ``kind.columns``, with line numbers."""

    def __init__(self, path: Path, kind: _FileKind) -> None:
        self.path = path
        self.kind = kind
        self.line = 0

    def error(self, message: str) -> ValueError:
        return ValueError(f"{self.path}:{self.line}: {message}")

    def rows(self) -> Iterator[list[str]]:
        with self.path.open("rb") as handle:
            lines = (self._decode(raw) for raw in handle)
            header = next(lines, None)
            if header is None:
                raise ValueError(f"{self.path}: empty file; expected an RF2 {self.kind.label} "
                                 f"header ({_tabs(self.kind.columns)})")
            positions = self._positions(header.lstrip("\ufeff").split("\t"))
            width = len(header.split("\t"))
            for text in lines:
                if not text:
                    continue
                fields = text.split("\t")
                if len(fields) != width:
                    raise self.error(f"expected {width} tab-separated columns, found {len(fields)}")
                yield [fields[position] for position in positions]

    def _decode(self, raw: bytes) -> str:
        self.line += 1
        try:
            return raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as error:
            raise self.error(f"not UTF-8 ({error.reason} at byte {error.start})") from None

    def _positions(self, header: list[str]) -> list[int]:
        missing = [name for name in self.kind.columns if name not in header]
        if missing:
            raise self.error(f"missing RF2 {self.kind.label} column(s) {', '.join(missing)}; "
                             f"expected a header row with {_tabs(self.kind.columns)}")
        return [header.index(name) for name in self.kind.columns]

    def sctid(self, column: str, value: str) -> int:
        if not (value.isascii() and value.isdigit()) or len(value) > _MAX_SCTID_DIGITS or value[0] == "0":
            raise self.error(f"{column} {value!r} is not a SNOMED CT identifier "
                             "(1 to 18 digits, no leading zero)")
        return int(value)

    def effective_time(self, value: str) -> int:
        if len(value) != 8 or not (value.isascii() and value.isdigit()):
            raise self.error(f"effectiveTime {value!r} is not a date as YYYYMMDD")
        return int(value)

    def active(self, value: str) -> int:
        if value not in ("0", "1"):
            raise self.error(f"active {value!r} is not 0 or 1")
        return int(value)

    def text(self, column: str, value: str) -> str:
        if not value.strip():
            raise self.error(f"{column} is empty")
        return value


def _tabs(columns: Sequence[str]) -> str:
    return " <tab> ".join(columns)


def _concept_rows(reader: _Reader, seq: Iterator[int]) -> Iterator[tuple[object, ...]]:
    for id_, time, active, module, status in reader.rows():
        yield (reader.sctid("id", id_), reader.effective_time(time), reader.active(active),
               reader.sctid("moduleId", module), reader.sctid("definitionStatusId", status), next(seq))


def _description_rows(reader: _Reader, seq: Iterator[int]) -> Iterator[tuple[object, ...]]:
    for id_, time, active, _module, concept, language, type_, term, case in reader.rows():
        yield (reader.sctid("id", id_), reader.effective_time(time), reader.active(active),
               reader.sctid("conceptId", concept), reader.text("languageCode", language).lower(),
               reader.sctid("typeId", type_), reader.text("term", term),
               reader.sctid("caseSignificanceId", case), next(seq))


def _relationship_rows(reader: _Reader, seq: Iterator[int]) -> Iterator[tuple[object, ...]]:
    for id_, time, active, _module, source, destination, _group, type_, _kind, _mod in reader.rows():
        yield (reader.sctid("id", id_), reader.effective_time(time), reader.active(active),
               reader.sctid("sourceId", source), reader.sctid("destinationId", destination),
               reader.sctid("typeId", type_), next(seq))


def _language_rows(refset: int) -> Callable[[_Reader, Iterator[int]], Iterator[tuple[object, ...]]]:
    def rows(reader: _Reader, seq: Iterator[int]) -> Iterator[tuple[object, ...]]:
        for id_, time, active, _module, refset_id, component, acceptability in reader.rows():
            if reader.sctid("refsetId", refset_id) != refset:
                continue
            yield (reader.text("id", id_), reader.effective_time(time), reader.active(active),
                   reader.sctid("referencedComponentId", component),
                   reader.sctid("acceptabilityId", acceptability), next(seq))
    return rows


def _find(folder: Path, kind: _FileKind) -> list[Path]:
    return sorted(path for path in folder.rglob(kind.pattern) if path.is_file())


def _refset_id(language_refset: str | None) -> int | None:
    if language_refset is None:
        return None
    if not (language_refset.isascii() and language_refset.isdigit()):
        raise ValueError(f"language_refset {language_refset!r} is not a SNOMED CT identifier")
    return int(language_refset)


@dataclass(frozen=True, slots=True)
class _Source:
    kind: _FileKind
    table: str
    files: list[Path]
    rows: Callable[[_Reader, Iterator[int]], Iterator[tuple[object, ...]]]


def _sources(folder: Path, refset: int | None) -> list[_Source]:
    if not folder.is_dir():
        raise FileNotFoundError(f"RF2 folder {folder} does not exist or is not a folder")
    sources = [_Source(_CONCEPT, "raw_concept", _find(folder, _CONCEPT), _concept_rows),
               _Source(_DESCRIPTION, "raw_description", _find(folder, _DESCRIPTION), _description_rows),
               _Source(_RELATIONSHIP, "raw_relationship", _find(folder, _RELATIONSHIP),
                       _relationship_rows)]
    if refset is not None:
        sources.append(_Source(_LANGUAGE, "raw_language", _find(folder, _LANGUAGE), _language_rows(refset)))
    missing = [source.kind.pattern for source in sources if not source.files]
    if missing:
        raise ValueError(f"no {' and no '.join(missing)} under {folder}")
    return sources


def _stage(connection: sqlite3.Connection, sources: Iterable[_Source]) -> None:
    seq = itertools.count()
    for source in sources:
        width = len(connection.execute(f"SELECT * FROM temp.{source.table} LIMIT 0").description)
        insert = f"INSERT INTO temp.{source.table} VALUES ({', '.join('?' * width)})"
        for path in source.files:
            connection.executemany(insert, source.rows(_Reader(path, source.kind), seq))


def _check_acyclic(connection: sqlite3.Connection) -> None:
    row = connection.execute("SELECT descendant FROM closure WHERE descendant = ancestor LIMIT 1").fetchone()
    if row is not None:
        raise ValueError(f"active is-a relationships form a cycle through concept {row[0]}")


def _count(connection: sqlite3.Connection, query: str) -> int:
    return int(connection.execute(query).fetchone()[0])


def _build(database: Path, sources: list[_Source], refset: int | None) -> Rf2Summary:
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = MEMORY")
        connection.execute("PRAGMA synchronous = OFF")
        connection.executescript(_SCHEMA)
        connection.execute("BEGIN")
        _stage(connection, sources)
        for statement in _RESOLVE:
            connection.execute(statement)
        if refset is not None and not _count(connection, "SELECT count(*) FROM acceptability"):
            raise ValueError(f"no active members of language reference set {refset} in "
                             f"{_LANGUAGE.pattern} files")
        connection.execute(_CLOSURE)
        _check_acyclic(connection)
        for statement in _INDEXES:
            connection.execute(statement)
        connection.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("schema", SCHEMA_VERSION),
            ("language_refset", "" if refset is None else str(refset)),
            ("release", str(_count(connection, "SELECT coalesce(max(effective_time), 0) FROM concept"))),
        ])
        connection.execute("COMMIT")
        return Rf2Summary(
            files=sum(len(source.files) for source in sources),
            concepts=_count(connection, "SELECT count(*) FROM concept"),
            active_concepts=_count(connection, "SELECT count(*) FROM concept WHERE active = 1"),
            descriptions=_count(connection, "SELECT count(*) FROM description"),
            is_a=_count(connection, "SELECT count(*) FROM isa"),
            closure=_count(connection, "SELECT count(*) FROM closure"),
            language_members=_count(connection, "SELECT count(*) FROM acceptability"),
        )
    finally:
        connection.close()


def _flush(path: Path, mode: int) -> None:
    os.chmod(path, mode)
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def load_rf2(folder: Path, database: Path, *, language_refset: str | None = None) -> Rf2Summary:
    """Load the RF2 snapshot files under ``folder`` into the SQLite file ``database``.

    ``language_refset`` (a refsetId such as 900000000000509007, US English) marks which synonyms
    are preferred, for :meth:`SnomedStore.display`. An existing database is replaced only once
    the new one is complete. Raises ValueError naming file and line for malformed input.
    """
    folder, database = Path(folder), Path(database)
    refset = _refset_id(language_refset)
    sources = _sources(folder, refset)
    mode = database.stat().st_mode & 0o777 if database.exists() else 0o644
    handle, name = tempfile.mkstemp(prefix=f".{database.name}.", suffix=".tmp", dir=database.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        summary = _build(temporary, sources, refset)
        _flush(temporary, mode)
        os.replace(temporary, database)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return summary


def _key(code: str) -> int | None:
    """The integer id for a code in canonical SCTID spelling, else None (never in the store)."""
    if not (code.isascii() and code.isdigit()) or code[0] == "0" or len(code) > _MAX_SCTID_DIGITS:
        return None
    return int(code)


class SnomedStore:
    """Read-only queries on a database built by :func:`load_rf2`.

    Codes are strings as in FHIR; a code that is not a canonical SCTID is simply not found.
    Inactive concepts are known (``has_concept`` is true, ``active`` is False) but have no active
    is-a relationships, so they are descendants of nothing.
    """

    def __init__(self, database: Path | str) -> None:
        self.path = Path(database)
        if not self.path.is_file():
            raise FileNotFoundError(f"SNOMED CT database {self.path} does not exist; build it with load_rf2")
        self._connection = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = self._connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.DatabaseError:
            row = None
        if row is None or row[0] != SCHEMA_VERSION:
            self._connection.close()
            raise ValueError(f"{self.path} is not a samsvar SNOMED CT database (schema {SCHEMA_VERSION}); "
                             "rebuild it with load_rf2")

    def _one(self, query: str, *parameters: object) -> tuple[object, ...] | None:
        row: tuple[object, ...] | None = self._connection.execute(query, parameters).fetchone()
        return row

    def has_concept(self, code: str) -> bool:
        """True when the concept is in the store, active or not."""
        key = _key(code)
        return key is not None and self._one("SELECT 1 FROM concept WHERE id = ?", key) is not None

    def active(self, code: str) -> bool | None:
        """The concept's current status, or None when it is not in the store."""
        key = _key(code)
        row = None if key is None else self._one("SELECT active FROM concept WHERE id = ?", key)
        return None if row is None else bool(row[0])

    def is_a(self, code: str, ancestor: str) -> bool:
        """True when ``code`` is ``ancestor`` (and in the store) or a descendant of it."""
        key, ancestor_key = _key(code), _key(ancestor)
        if key is None or ancestor_key is None:
            return False
        if key == ancestor_key:
            return self.has_concept(code)
        query = "SELECT 1 FROM closure WHERE descendant = ? AND ancestor = ?"
        return self._one(query, key, ancestor_key) is not None

    def descendants(self, code: str, include_self: bool = False) -> Iterator[str]:
        """Every concept below ``code`` by active is-a relationships, in id order."""
        key = _key(code)
        if key is None:
            return
        if include_self and self.has_concept(code):
            yield code
        query = "SELECT descendant FROM closure WHERE ancestor = ? ORDER BY descendant"
        for (descendant,) in self._connection.execute(query, (key,)):
            yield str(descendant)

    def display(self, code: str, language: str | None = None) -> str | None:
        """The preferred synonym in ``language`` (e.g. ``no``, ``en``) if there is one, else the FSN.

        Among several synonyms in the language, the one the loaded language reference set marks
        preferred wins, then acceptable ones, then the lowest description id. Without a language,
        the loaded reference set's preferred synonym (if any) is returned, else the FSN.
        """
        key = _key(code)
        if key is None:
            return None
        languages = _languages(language)
        term = self._synonym(key, languages) if languages else self._preferred(key)
        return term if term is not None else self._fsn(key, languages)

    def _synonym(self, key: int, languages: Sequence[str]) -> str | None:
        query = ("SELECT d.term FROM description d LEFT JOIN acceptability a ON a.description_id = d.id "
                 "WHERE d.concept_id = ? AND d.type_id = ? AND d.language_code = ? "
                 "ORDER BY CASE a.acceptability_id WHEN ? THEN 0 WHEN ? THEN 1 ELSE 2 END, d.id LIMIT 1")
        for language in languages:
            row = self._one(query, key, SYNONYM, language, PREFERRED, ACCEPTABLE)
            if row is not None:
                return str(row[0])
        return None

    def _preferred(self, key: int) -> str | None:
        query = ("SELECT d.term FROM description d JOIN acceptability a ON a.description_id = d.id "
                 "WHERE d.concept_id = ? AND d.type_id = ? AND a.acceptability_id = ? ORDER BY d.id LIMIT 1")
        row = self._one(query, key, SYNONYM, PREFERRED)
        return None if row is None else str(row[0])

    def _fsn(self, key: int, languages: Sequence[str]) -> str | None:
        """The FSN in the first of ``languages`` that has one, else in English, else any."""
        query = ("SELECT term FROM description WHERE concept_id = ?1 AND type_id = ?2 "
                 "AND (?3 IS NULL OR language_code = ?3) ORDER BY id LIMIT 1")
        for language in (*languages, "en", None):
            row = self._one(query, key, FSN, language)
            if row is not None:
                return str(row[0])
        return None

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> SnomedStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _languages(language: str | None) -> tuple[str, ...]:
    """RF2 language codes to look for: the primary subtag of a BCP 47 tag, then its fallbacks."""
    if not language:
        return ()
    primary = language.strip().lower().replace("_", "-").split("-")[0]
    return (primary, *_LANGUAGE_FALLBACKS.get(primary, ()))
