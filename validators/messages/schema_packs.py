"""Schema packs: folders of message XSDs, installed into samsvar's cache and indexed.

A schema pack is a folder of XSDs (for example the Directorate's ``sarepta-skjema``) copied
into samsvar's cache by :func:`install_schemas` (``samsvar messages install-schemas PATH``),
with an index from ``targetNamespace`` to the file that defines it (:func:`scan_pack`). A zip is
unpacked member by member (no links, no paths outside the pack, bounded in size and count) and
a pack replaces an older one of the same name in one rename.
"""

from __future__ import annotations

import dataclasses
import json
import os
import posixpath
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from lxml import etree

from ..load import safe_xml_parser

XS_NS = "http://www.w3.org/2001/XMLSchema"
SCHEMA_HOME_ENV = "SAMSVAR_SCHEMA_HOME"
INDEX_NAME = ".samsvar-schema-index.json"
INDEX_FORMAT = 1
INSTALL_HINT = "samsvar messages install-schemas PATH"
MAX_ZIP_BYTES = 512 * 1024 * 1024
MAX_ZIP_MEMBERS = 50_000

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_LOOSE = re.compile(r"-loose\.xsd$", re.IGNORECASE)


# ---------------------------------------------------------------- packs and their index


@dataclass(frozen=True)
class SchemaPackInfo:
    """An installed (or directly read) schema pack and its namespace index."""

    name: str
    root: Path
    namespaces: dict[str, str]
    """targetNamespace → the file that defines it, relative to ``root`` (POSIX separators)."""
    files: tuple[str, ...]
    """Every readable XSD of the pack, relative to ``root``."""
    skipped: dict[str, str] = field(default_factory=dict)
    """XSDs that could not be read, with the reason."""
    import_hints: dict[str, str] = field(default_factory=dict)
    """schemaLocation basename → namespace, from the pack's own ``xs:import`` elements."""

    def schema_file(self, namespace: str) -> Path | None:
        relative = self.namespaces.get(namespace)
        return None if relative is None else self.root / relative


@dataclass
class _Scanned:
    namespace: str
    elements: int
    includes: list[str]
    imports: list[tuple[str, str]]


def _is_xsd(path: Path) -> bool:
    return path.suffix.lower() == ".xsd" and path.is_file() and not path.is_symlink()


def _xsd_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.rglob("*") if _is_xsd(p)), key=lambda p: p.relative_to(folder).as_posix())


def location_basename(location: str) -> str:
    """The file name a ``schemaLocation`` points at, whatever folders or URL it writes before it."""
    return unquote(location.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1])


def _scan_file(path: Path) -> _Scanned:
    """targetNamespace, global element count, includes and imports of one XSD (safe parser)."""
    root = etree.parse(str(path), safe_xml_parser()).getroot()
    if root.tag != f"{{{XS_NS}}}schema":
        raise ValueError(f"the root element is {root.tag}, not xs:schema")
    includes = [location_basename(el.get("schemaLocation", "")) for el in root.iterchildren(f"{{{XS_NS}}}include")]
    imports = [(el.get("namespace", ""), location_basename(el.get("schemaLocation", "")))
               for el in root.iterchildren(f"{{{XS_NS}}}import") if el.get("schemaLocation")]
    elements = sum(1 for _ in root.iterchildren(f"{{{XS_NS}}}element"))
    return _Scanned(root.get("targetNamespace", ""), elements, [i for i in includes if i], imports)


def _coverage(relative: str, scanned: dict[str, _Scanned], by_name: dict[str, list[str]]) -> int:
    """Global elements of a file and of the files it includes, transitively."""
    seen, stack, total = set(), [relative], 0
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        total += scanned[current].elements
        stack.extend(by_name[name][0] for name in scanned[current].includes if name in by_name)
    return total


def _choose(candidates: list[str], scanned: dict[str, _Scanned], by_name: dict[str, list[str]]) -> str:
    """Of several files with one namespace: the widest (with its includes), strict before loose."""
    return min(candidates, key=lambda rel: (-_coverage(rel, scanned, by_name), bool(_LOOSE.search(rel)), rel))


def scan_pack(folder: Path, name: str | None = None) -> SchemaPackInfo:
    """Index a folder of XSDs without copying it: namespaces, readable files, import hints."""
    folder = Path(os.path.abspath(folder))
    scanned: dict[str, _Scanned] = {}
    skipped: dict[str, str] = {}
    for path in _xsd_files(folder):
        relative = path.relative_to(folder).as_posix()
        try:
            scanned[relative] = _scan_file(path)
        except (etree.XMLSyntaxError, ValueError, OSError) as exc:
            skipped[relative] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    by_name: dict[str, list[str]] = {}
    for relative in scanned:
        by_name.setdefault(PurePosixPath(relative).name, []).append(relative)
    by_namespace: dict[str, list[str]] = {}
    for relative, info in scanned.items():
        if info.namespace:
            by_namespace.setdefault(info.namespace, []).append(relative)
    hints = {loc: ns for info in scanned.values() for ns, loc in info.imports if ns and loc}
    return SchemaPackInfo(
        name=name or folder.name,
        root=folder,
        namespaces={ns: _choose(files, scanned, by_name) for ns, files in sorted(by_namespace.items())},
        files=tuple(scanned),
        skipped=skipped,
        import_hints=dict(sorted(hints.items())),
    )


def _write_index(info: SchemaPackInfo) -> None:
    document = {
        "format": INDEX_FORMAT, "name": info.name, "namespaces": info.namespaces,
        "files": list(info.files), "skipped": info.skipped, "import_hints": info.import_hints,
    }
    (info.root / INDEX_NAME).write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")


def load_pack(folder: Path) -> SchemaPackInfo:
    """An installed pack from its index (re-scanned when the index is missing or unreadable)."""
    folder = Path(os.path.abspath(folder))
    try:
        document = json.loads((folder / INDEX_NAME).read_text(encoding="utf-8"))
        if document.get("format") != INDEX_FORMAT:
            raise ValueError("index format")
        files = tuple(f for f in document["files"] if _inside(f))  # an edited index cannot point out
        return SchemaPackInfo(
            name=document["name"], root=folder, files=files, skipped=dict(document["skipped"]),
            namespaces={ns: f for ns, f in document["namespaces"].items() if f in files},
            import_hints=dict(document["import_hints"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return scan_pack(folder)


def _inside(relative: str) -> bool:
    parts = PurePosixPath(relative).parts
    return bool(parts) and not relative.startswith("/") and ".." not in parts and "\\" not in relative


def schema_home() -> Path:
    """``$SAMSVAR_SCHEMA_HOME`` or ``~/.samsvar/schemas``: the folder that holds installed packs."""
    env = os.environ.get(SCHEMA_HOME_ENV)
    return Path(env).expanduser() if env else Path.home() / ".samsvar" / "schemas"


def installed_packs(home: Path | None = None) -> list[SchemaPackInfo]:
    """Every pack installed under ``home`` (sorted by name)."""
    home = schema_home() if home is None else home
    if not home.is_dir():
        return []
    return [load_pack(p) for p in sorted(home.iterdir()) if p.is_dir() and (p / INDEX_NAME).is_file()]


# ---------------------------------------------------------------- installing


def _pack_name(source: Path) -> str:
    stem = source.name if source.is_dir() else source.stem
    return _SAFE_NAME.sub("-", stem).strip(".-") or "schemas"


def _safe_member(name: str) -> str:
    """A zip member's relative path, or ValueError if it could land outside the target folder."""
    normalized = name.replace("\\", "/")
    parts = PurePosixPath(normalized).parts
    if (not normalized or normalized.startswith("/") or ".." in parts
            or re.match(r"^[A-Za-z]:", normalized) or "\x00" in normalized):
        raise ValueError(f"refusing zip entry {name!r}: its path leaves the pack folder (zip-slip)")
    return posixpath.normpath(normalized)


def _is_link(member: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(member.external_attr >> 16)


def _extract_zip(source: Path, target: Path) -> None:
    try:
        _extract_members(source, target)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise ValueError(f"{source} is not a readable zip file: {exc}") from exc


def _extract_members(source: Path, target: Path) -> None:
    with zipfile.ZipFile(source) as archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise ValueError(f"{source}: {len(members)} entries is more than a schema pack holds")
        wanted = [(m, _safe_member(m.filename)) for m in members]  # check every name before writing any
        if sum(m.file_size for m, _ in wanted) > MAX_ZIP_BYTES:
            raise ValueError(f"{source}: uncompressed size is over {MAX_ZIP_BYTES} bytes")
        for member, relative in wanted:
            if member.is_dir() or _is_link(member) or not relative.lower().endswith(".xsd"):
                continue
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as reader, destination.open("wb") as writer:
                shutil.copyfileobj(reader, writer)


def _copy_folder(source: Path, target: Path) -> None:
    for path in _xsd_files(source):
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)


def _replace(staging: Path, destination: Path) -> None:
    old = None
    if destination.exists():
        old = destination.with_name(f".{destination.name}.old-{os.getpid()}")
        destination.rename(old)
    staging.rename(destination)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def install_schemas(source: Path, root: Path | None = None) -> SchemaPackInfo:
    """Copy a folder or zip of XSDs into ``root/<pack-name>`` (default :func:`schema_home`), index it.

    Raises ValueError for a source that is neither a folder nor a zip, a zip entry whose path
    would leave the pack (zip-slip), or a source without any readable XSD. An installed pack of
    the same name is replaced only once the new one is complete.
    """
    source = Path(source)
    if not (source.is_dir() or (source.is_file() and zipfile.is_zipfile(source))):
        raise ValueError(f"{source} is not a folder or a zip file of XML Schemas")
    home = Path(os.path.abspath(schema_home() if root is None else Path(root)))
    name = _pack_name(source)
    if Path(os.path.abspath(source)).is_relative_to(home / name):
        raise ValueError(f"{source} is the installed pack {name} itself; install from a copy elsewhere")
    home.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=home))
    try:
        if source.is_dir():
            _copy_folder(source, staging)
        else:
            _extract_zip(source, staging)
        info = scan_pack(staging, name)
        if not info.files:
            raise ValueError(f"{source} holds no readable XML Schema (*.xsd)")
        _write_index(info)
        _replace(staging, home / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dataclasses.replace(info, root=home / name)
