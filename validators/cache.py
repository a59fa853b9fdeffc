"""Persistent caches on disk, keyed by content hash: what one run builds, the next run reads.

Three things are kept, each under its own folder of the samsvar cache directory
(``$SAMSVAR_CACHE_DIR``, else ``$XDG_CACHE_HOME/samsvar``, else ``~/.cache/samsvar``):

- ``fhirpath/``: parsed FHIRPath expressions (the parser is the slow part of compiling one),
  keyed by the expression and the parser's version;
- ``snapshots/``: snapshots generated from differentials, keyed by the profile's canonical URL,
  a fingerprint of every loaded definition (package hashes, loose resources' content) and the
  source of the snapshot generator, so a changed input or generator never reads a stale one;
- ``tarballs/``: packages given as ``.tgz`` (``--ig x.tgz``), unpacked with their index, keyed by
  the SHA-256 of the tarball: the next run reads the index and only the files it needs instead
  of decompressing and parsing the whole package.

Entries are written to a temporary file (or folder) beside their place and renamed into it, so
concurrent runs (``--jobs``, parallel CI jobs) never see half an entry; the last writer wins and
both wrote the same thing. Every entry carries the SHA-256 of its bytes: a truncated or corrupt
entry is removed and rebuilt, never trusted and never a crash. Values are stored with
``marshal`` (plain data only: dicts, lists, strings, numbers; ``Decimal`` is tagged), not
pickle, so reading a cache entry cannot run code. ``SAMSVAR_NO_CACHE=1`` turns it all off; a
read-only or full disk only makes the caches miss.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import shutil
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable

from .. import __version__

FORMAT = 1
"""Bumped when the layout of an entry changes."""
_MAGIC = b"SAMSVAR-CACHE\x01"
_PLAIN, _TAGGED = b"P", b"T"
_DECIMAL_TAG = "\x00decimal"

_STAMP = f"samsvar {__version__}; format {FORMAT}; python {sys.version_info[0]}.{sys.version_info[1]}; " \
         f"marshal {marshal.version}".encode()


def cache_dir() -> Path | None:
    """The samsvar cache directory, or None when caching is turned off (``SAMSVAR_NO_CACHE``)."""
    if os.environ.get("SAMSVAR_NO_CACHE", "").strip() not in ("", "0"):
        return None
    configured = os.environ.get("SAMSVAR_CACHE_DIR")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "samsvar"


def digest(*parts: bytes | str) -> str:
    """SHA-256 (hex) of the parts, each length-prefixed so that ("ab", "c") != ("a", "bc")."""
    hasher = hashlib.sha256(_STAMP)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "little"))
        hasher.update(data)
    return hasher.hexdigest()


def source_digest(*files: Path) -> str:
    """Fingerprint of source files (code whose output is cached), by content."""
    return digest(*(path.read_bytes() if path.is_file() else b"" for path in files))


# -- values --------------------------------------------------------------------------------------

def _tag(value: Any) -> Any:
    if isinstance(value, Decimal):
        return (_DECIMAL_TAG, str(value))
    if isinstance(value, dict):
        return {key: _tag(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_tag(item) for item in value]
    return value


def _untag(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == _DECIMAL_TAG:
        return Decimal(value[1])
    if isinstance(value, dict):
        return {key: _untag(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_untag(item) for item in value]
    return value


def encode(value: Any) -> bytes:
    """Bytes of an entry: magic, SHA-256 of the payload, a tag byte, the marshalled payload.
    Raises ValueError for values that are not plain data."""
    try:
        kind, payload = _PLAIN, marshal.dumps(value)
    except ValueError:  # Decimal (from parsed JSON) and nothing else we store
        kind, payload = _TAGGED, marshal.dumps(_tag(value))
    body = kind + payload
    return _MAGIC + hashlib.sha256(body).digest() + body


def decode(data: bytes) -> Any:
    """The value of an entry; ValueError when it is not one, truncated or altered."""
    head = len(_MAGIC)
    if not data.startswith(_MAGIC) or len(data) < head + 33:
        raise ValueError("not a samsvar cache entry")
    body = data[head + 32:]
    if hashlib.sha256(body).digest() != data[head:head + 32]:
        raise ValueError("cache entry does not match its checksum")
    try:
        value = marshal.loads(body[1:])
    except (EOFError, ValueError, TypeError) as exc:
        raise ValueError(f"unreadable cache entry: {exc}") from None
    return _untag(value) if body[:1] == _TAGGED else value


# -- files ---------------------------------------------------------------------------------------

def write_atomically(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` by way of a temporary file in the same folder and a rename."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    except OSError:
        return False
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
        return True
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return False


class Store:
    """One kind of entry (a folder of the cache directory), one file per key."""

    def __init__(self, namespace: str, root: Path | None = None) -> None:
        base = root if root is not None else cache_dir()
        self.folder = base / namespace if base is not None else None
        self.hits = self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.folder is not None

    def path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / key[2:]

    def get(self, key: str) -> Any | None:
        """The value stored under ``key``, or None (missing, unreadable, corrupt: removed)."""
        if self.folder is None:
            return None
        path = self.path(key)
        try:
            data = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        try:
            value = decode(data)
        except ValueError:
            self.misses += 1
            try:
                path.unlink()  # rebuilt by the caller, written anew
            except OSError:
                pass
            return None
        self.hits += 1
        return value

    def put(self, key: str, value: Any) -> bool:
        if self.folder is None:
            return False
        try:
            data = encode(value)
        except ValueError:
            return False
        return write_atomically(self.path(key), data)

    def get_or_build(self, key: str, build: Callable[[], Any]) -> Any:
        value = self.get(key)
        if value is None:
            value = build()
            if value is not None:
                self.put(key, value)
        return value

    def clear(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


_STORES: dict[tuple[str, str | None], Store] = {}


def store(namespace: str) -> Store:
    """The process's store for ``namespace`` in the current cache directory."""
    root = cache_dir()
    key = (namespace, str(root) if root else None)
    found = _STORES.get(key)
    if found is None:
        found = _STORES[key] = Store(namespace, root)
    return found


# -- FHIRPath ------------------------------------------------------------------------------------

def parsed_fhirpath(expression: str, parse: Callable[[str], Any], parser_version: str) -> Any:
    """fhirpathpy's parse tree of ``expression`` (plain dicts), from the cache or ``parse``."""
    cache = store("fhirpath")
    if not cache.enabled:
        return parse(expression)
    return cache.get_or_build(digest("fhirpath", parser_version, expression), lambda: parse(expression))


# -- generated snapshots -------------------------------------------------------------------------

_GENERATOR_SOURCES = ("snapshot.py", "definitions.py")


def _generator_digest() -> str:
    fhir = Path(__file__).resolve().parent / "fhir"
    return source_digest(*(fhir / name for name in _GENERATOR_SOURCES))


def definitions_fingerprint(packages: Iterable[Any], loose: Iterable[dict[str, Any]]) -> str:
    """What the loaded definitions are made of: each package by its content hash (or, for
    samsvar's own resource folders, by their files' names, sizes and times), then the loose
    resources by content."""
    import json

    parts: list[str] = []
    for package in packages:
        sha = getattr(package, "sha256", None)
        if isinstance(sha, str) and sha:
            parts.append(f"package {getattr(package, 'ref', '')} {sha}")
            continue
        folder = getattr(package, "folder", None)
        if isinstance(folder, Path) and folder.is_dir():
            stats = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.glob("*.json"))
            parts.append(f"folder {folder} {stats}")
        else:
            parts.append(f"unknown {type(package).__name__} {id(package)}")  # never shared between runs
    for resource in loose:
        parts.append("resource " + json.dumps(resource, sort_keys=True, default=str, ensure_ascii=False))
    return digest("definitions", *parts)


def snapshot_key(fingerprint: str, url: str) -> str:
    return digest("snapshot", _generator_digest(), fingerprint, url)


# -- tarballs ------------------------------------------------------------------------------------

class CachedFiles:
    """The JSON files of an unpacked package folder, read on demand, with a dict's read API."""

    def __init__(self, folder: Path, names: Iterable[str]) -> None:
        self.folder = folder
        self.names = set(names)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __getitem__(self, name: str) -> bytes:
        if name not in self.names:
            raise KeyError(name)
        return (self.folder / name).read_bytes()

    def keys(self) -> set[str]:
        return set(self.names)


def file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def cached_tarball(sha256: str) -> tuple[CachedFiles, dict[str, Any]] | None:
    """The files and ``{"manifest", "index"}`` of a tarball unpacked by an earlier run."""
    root = cache_dir()
    if root is None:
        return None
    folder = root / "tarballs" / sha256
    meta_path = folder / "meta.bin"
    try:
        meta = decode(meta_path.read_bytes())
    except OSError:
        return None
    except ValueError:
        shutil.rmtree(folder, ignore_errors=True)
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("index"), list) or not isinstance(meta.get("names"), list):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return CachedFiles(folder / "package", meta["names"]), meta


def store_tarball(sha256: str, files: dict[str, bytes], manifest: dict[str, Any], index: list[dict[str, Any]]) -> None:
    """Unpack a tarball's files into the cache with its index, as one folder renamed into place."""
    root = cache_dir()
    if root is None:
        return
    target = root / "tarballs" / sha256
    if (target / "meta.bin").is_file():
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    except OSError:
        return
    try:
        package = staging / "package"
        package.mkdir()
        for name, data in files.items():
            (package / name).write_bytes(data)
        (staging / "meta.bin").write_bytes(encode({"manifest": manifest, "index": index, "names": sorted(files)}))
        if target.exists():  # a broken earlier entry (no meta.bin): replace it
            shutil.rmtree(target, ignore_errors=True)
        os.rename(staging, target)
    except (OSError, ValueError):
        pass  # another run got there first, or the disk is full or read-only: next time
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
