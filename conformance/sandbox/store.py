"""Versioned FHIR resources in SQLite: every version is kept, a delete is a version too.

Two tables: ``versions`` holds each version's JSON (or none, for a delete), ``resources`` the
current version of each resource and its creation order (the order search results come in).
One connection, guarded by a lock, so the store can be used from the server's threads.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    current INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    UNIQUE (type, id)
);
CREATE TABLE IF NOT EXISTS versions (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    body TEXT,
    PRIMARY KEY (type, id, version)
);
"""


def now_instant() -> str:
    """An R4 ``instant`` for now, in UTC with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Version:
    """One version of a resource; ``resource`` is None for a delete."""

    type: str
    id: str
    version: int
    last_updated: str
    deleted: bool
    resource: dict[str, Any] | None

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'


class ResourceStore:
    """Create, read, update, delete with versions, and the current resources of a type."""

    def __init__(self, path: Path | str) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- reading ------------------------------------------------------------------------
    def current(self, type_: str, id_: str) -> Version | None:
        """The latest version (a delete included), or None when the resource never existed."""
        with self._lock:
            row = self._db.execute(
                "SELECT v.type, v.id, v.version, v.last_updated, v.deleted, v.body FROM resources r "
                "JOIN versions v ON v.type = r.type AND v.id = r.id AND v.version = r.current "
                "WHERE r.type = ? AND r.id = ?", (type_, id_)).fetchone()
        return _version(row) if row else None

    def version(self, type_: str, id_: str, version: int) -> Version | None:
        with self._lock:
            row = self._db.execute(
                "SELECT type, id, version, last_updated, deleted, body FROM versions "
                "WHERE type = ? AND id = ? AND version = ?", (type_, id_, version)).fetchone()
        return _version(row) if row else None

    def history(self, type_: str, id_: str) -> list[Version]:
        """Every version, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT type, id, version, last_updated, deleted, body FROM versions "
                "WHERE type = ? AND id = ? ORDER BY version DESC", (type_, id_)).fetchall()
        return [_version(row) for row in rows]

    def live(self, type_: str) -> Iterator[Version]:
        """The current, not deleted, resources of a type in the order they were created."""
        with self._lock:
            rows = self._db.execute(
                "SELECT v.type, v.id, v.version, v.last_updated, v.deleted, v.body FROM resources r "
                "JOIN versions v ON v.type = r.type AND v.id = r.id AND v.version = r.current "
                "WHERE r.type = ? AND r.deleted = 0 ORDER BY r.seq", (type_,)).fetchall()
        return (_version(row) for row in rows)

    # -- writing ------------------------------------------------------------------------
    def create(self, type_: str, resource: dict[str, Any]) -> Version:
        """Store a new resource under a new server-assigned id, as version 1."""
        return self.put(type_, str(uuid.uuid4()), resource)

    def put(self, type_: str, id_: str, resource: dict[str, Any], *, versioned: bool = True) -> Version:
        """A new version (1 for a new resource). ``versioned=False`` overwrites version 1 instead."""
        return self._write(type_, id_, resource, versioned)

    def delete(self, type_: str, id_: str, *, versioned: bool = True) -> Version | None:
        """A delete version; None when the resource never existed. Deleting twice changes nothing."""
        current = self.current(type_, id_)
        if current is None:
            return None
        if current.deleted:
            return current
        return self._write(type_, id_, None, versioned)

    def _write(self, type_: str, id_: str, resource: dict[str, Any] | None, versioned: bool) -> Version:
        with self._lock:
            row = self._db.execute("SELECT current FROM resources WHERE type = ? AND id = ?",
                                   (type_, id_)).fetchone()
            number = 1 if row is None or not versioned else row[0] + 1
            stamp = now_instant()
            body = None
            if resource is not None:
                resource = dict(resource, id=id_)
                meta = dict(resource.get("meta") or {})
                meta["versionId"] = str(number)
                meta["lastUpdated"] = stamp
                resource["meta"] = meta
                body = json.dumps(resource, ensure_ascii=False)
            deleted = int(resource is None)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO versions (type, id, version, last_updated, deleted, body) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (type_, id_, number, stamp, deleted, body))
                if row is None:
                    self._db.execute("INSERT INTO resources (type, id, current, deleted) VALUES (?, ?, ?, ?)",
                                     (type_, id_, number, deleted))
                else:
                    self._db.execute("UPDATE resources SET current = ?, deleted = ? WHERE type = ? AND id = ?",
                                     (number, deleted, type_, id_))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return Version(type_, id_, number, stamp, bool(deleted), resource)


def _version(row: tuple[Any, ...]) -> Version:
    type_, id_, number, stamp, deleted, body = row
    return Version(type_, id_, number, stamp, bool(deleted), json.loads(body) if body is not None else None)
