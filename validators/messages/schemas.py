"""XML Schema validation of Norwegian health messages, with installed *schema packs*.

A schema pack is a folder of XSDs (for example the Directorate's ``sarepta-skjema``) copied
into samsvar's cache by :func:`install_schemas` (``samsvar messages install-schemas PATH``),
with an index from ``targetNamespace`` to the file that defines it. The published XSDs point
at each other with inconsistent ``schemaLocation`` values (``kith.xsd``,
``../felleskomponenter/kith.xsd``, ``http://www.kith.no/xmlstds/kith.xsd``), so imports and
includes are resolved *by file basename* inside the pack, by :class:`PackResolver`, which
serves only the pack's indexed XSDs (stripped of any DOCTYPE), never reads another file and
never touches the network; an unknown location gets an empty schema instead.

A MsgHead envelope declares ``Content`` as ``xs:any processContents="strict"``, so payloads
are validated in the same pass as the envelope: :class:`SchemaSet` compiles one in-memory
wrapper schema that imports the schema of every namespace the message uses, and caches the
compiled result per set of schema files. Each schema error becomes an ``MSG-XSD-001`` issue;
a namespace with no installed schema becomes one ``MSG-XSD-002`` warning per message.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import posixpath
import re
import shutil
import stat
import tempfile
import threading
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from lxml import etree

from ..issues import Issue
from ..load import safe_xml_parser
from ..rules import declared
from .standards import describe, element_path, standard_for

XS_NS = "http://www.w3.org/2001/XMLSchema"
SCHEMA_HOME_ENV = "SAMSVAR_SCHEMA_HOME"
INDEX_NAME = ".samsvar-schema-index.json"
INDEX_FORMAT = 1
INSTALL_HINT = "samsvar messages install-schemas PATH"
MAX_ZIP_BYTES = 512 * 1024 * 1024
MAX_ZIP_MEMBERS = 50_000

MISMATCH = declared("MSG-XSD-001")
NOT_INSTALLED = declared("MSG-XSD-002")

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


def _basename(location: str) -> str:
    return unquote(location.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1])


def _scan_file(path: Path) -> _Scanned:
    """targetNamespace, global element count, includes and imports of one XSD (safe parser)."""
    root = etree.parse(str(path), safe_xml_parser()).getroot()
    if root.tag != f"{{{XS_NS}}}schema":
        raise ValueError(f"the root element is {root.tag}, not xs:schema")
    includes = [_basename(el.get("schemaLocation", "")) for el in root.iterchildren(f"{{{XS_NS}}}include")]
    imports = [(el.get("namespace", ""), _basename(el.get("schemaLocation", "")))
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


# ---------------------------------------------------------------- resolving inside the pack


def _sanitized(path: Path) -> bytes:
    """The schema document without DOCTYPE or internal subset, parsed with the safe parser."""
    return etree.tostring(etree.parse(str(path), safe_xml_parser()).getroot())


def _stub(namespace: str | None) -> bytes:
    target = f' targetNamespace="{_attr(namespace)}"' if namespace else ""
    return f'<xs:schema xmlns:xs="{XS_NS}"{target}/>'.encode()


def _local_path(url: str) -> str | None:
    """The file system path a URL names, or None for a URL with a network scheme."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return os.path.normpath(unquote(parts.path))
    if parts.scheme and len(parts.scheme) > 1:
        return None
    return os.path.normpath(unquote(url))


@functools.lru_cache(maxsize=16)
def _names(files: tuple[str, ...]) -> dict[str, list[str]]:
    """A pack's files by basename; built once per pack, not for every schema set compiled."""
    names: dict[str, list[str]] = {}
    for relative in files:
        names.setdefault(PurePosixPath(relative).name, []).append(relative)
    return names


@functools.lru_cache(maxsize=16)
def _file_set(files: tuple[str, ...]) -> frozenset[str]:
    return frozenset(files)


class PackResolver(etree.Resolver):
    """Resolves every schema document lxml asks for to an indexed XSD of the packs, by basename.

    It never returns None (which would let libxml2 load the URL itself): a location that is not
    in a pack gets an empty schema, so nothing outside the packs is ever read, and nothing is
    fetched from the network.
    """

    def __init__(self, packs: Sequence[SchemaPackInfo], documents: dict[Path, bytes] | None = None) -> None:
        super().__init__()
        self._packs = list(packs)
        self._documents = {} if documents is None else documents
        self._lock = threading.Lock()
        self._by_name = [_names(pack.files) for pack in self._packs]
        self._files = [_file_set(pack.files) for pack in self._packs]
        self.served: list[tuple[str, Path | None]] = []
        """Every request and the pack file it was given (None: refused, an empty schema)."""

    def _order(self, local: str | None) -> list[int]:
        """Pack indexes to search: the pack the requesting location is in first."""
        first = [i for i, p in enumerate(self._packs) if local and local.startswith(str(p.root) + os.sep)]
        return first + [i for i in range(len(self._packs)) if i not in first]

    def _exact(self, index: int, local: str | None) -> Path | None:
        root = str(self._packs[index].root) + os.sep
        if local and local.startswith(root):
            relative = PurePosixPath(*Path(local[len(root):]).parts).as_posix()
            if relative in self._files[index]:
                return self._packs[index].root / relative
        return None

    def _by_basename(self, index: int, name: str, local: str | None) -> Path | None:
        candidates = self._by_name[index].get(name)
        if not candidates:
            return None
        pack = self._packs[index]
        near = local[len(str(pack.root)) + 1:] if local and local.startswith(str(pack.root) + os.sep) else ""

        def shared(relative: str) -> int:
            return len(os.path.commonprefix([relative, near.replace(os.sep, "/")]))

        return pack.root / min(candidates, key=lambda rel: (-shared(rel), rel))

    def locate(self, url: str) -> Path | None:
        """The pack file that answers a schema location, or None."""
        local, name = _local_path(url), _basename(url)
        order = self._order(local)
        for index in order:
            found = self._exact(index, local) or self._by_basename(index, name, local)
            if found is not None:
                return found
        for index in order:
            namespace = self._packs[index].import_hints.get(name)
            found = self._packs[index].schema_file(namespace) if namespace else None
            if found is not None:
                return found
        return None

    def _hint(self, url: str) -> str | None:
        name = _basename(url)
        return next((p.import_hints[name] for p in self._packs if name in p.import_hints), None)

    def document(self, path: Path) -> bytes:
        with self._lock:
            data = self._documents.get(path)
            if data is None:
                data = self._documents[path] = _sanitized(path)
            return data

    def resolve(self, url: str, pubid: str | None, context: object):  # noqa: ANN201 (lxml's type)
        target = self.locate(url)
        self.served.append((url, target))
        if target is None:
            return self.resolve_string(_stub(self._hint(url)), context)
        try:
            return self.resolve_string(self.document(target), context, base_url=str(target))
        except (etree.XMLSyntaxError, OSError):
            return self.resolve_string(_stub(self._hint(url)), context)


# ---------------------------------------------------------------- validating


def _wrapper(files: Iterable[tuple[str, Path]]) -> bytes:
    imports = "".join(
        f'<xs:import namespace="{_attr(ns)}" schemaLocation="{_attr(path.as_uri())}"/>' for ns, path in files)
    return f'<xs:schema xmlns:xs="{XS_NS}">{imports}</xs:schema>'.encode()


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _namespaces_in(root: etree._Element) -> list[str]:
    """Every element namespace in the message, once each (sorted)."""
    tags = {el.tag for el in root.iter(etree.Element)}  # a message has a few dozen distinct tags
    return sorted({tag[1:tag.index("}")] if tag[0] == "{" else "" for tag in tags})


def _label(namespace: str) -> str:
    standard = standard_for(namespace)
    shown = namespace or "(no namespace)"
    return f"{shown} ({standard.title})" if standard else shown


@dataclass
class _Compiled:
    schema: etree.XMLSchema | None
    problem: str | None = None


class SchemaSet:
    """The schemas of one or more packs, compiled on demand and cached per set of namespaces."""

    def __init__(self, packs: Sequence[SchemaPackInfo]) -> None:
        self.packs: tuple[SchemaPackInfo, ...] = tuple(packs)
        self._documents: dict[Path, bytes] = {}
        self._compiled: dict[tuple[tuple[str, str], ...], _Compiled] = {}
        self._files: dict[str, Path | None] = {}
        self._usable: dict[tuple[str, ...], tuple[list[str], dict[str, str]]] = {}
        self._lock = threading.Lock()
        self._validating = threading.Lock()  # a compiled schema's error log is shared state

    @classmethod
    def from_folder(cls, folder: Path) -> "SchemaSet":
        """A set read straight from a folder of XSDs (nothing is copied or written)."""
        return cls([scan_pack(Path(folder))])

    @classmethod
    def installed(cls, home: Path | None = None) -> "SchemaSet | None":
        packs = installed_packs(home)
        return cls(packs) if packs else None

    def schema_file(self, namespace: str) -> Path | None:
        """The file that defines a namespace, from the first pack that has one."""
        try:
            return self._files[namespace]
        except KeyError:
            found = next((f for f in (p.schema_file(namespace) for p in self.packs) if f is not None), None)
            return self._files.setdefault(namespace, found)

    def resolver(self) -> PackResolver:
        return PackResolver(self.packs, self._documents)

    def compile(self, namespaces: Iterable[str]) -> etree.XMLSchema:
        """One schema that imports the schema of every given namespace (those with a schema).

        Raises ``etree.XMLSchemaParseError`` when the pack's schemas do not compile together.
        """
        compiled = self._compile(namespaces)
        if compiled.schema is None:
            raise etree.XMLSchemaParseError(compiled.problem or "schema does not compile")
        return compiled.schema

    def _compile(self, namespaces: Iterable[str]) -> _Compiled:
        files = tuple((ns, str(f)) for ns in dict.fromkeys(namespaces) if (f := self.schema_file(ns)) is not None)
        key = tuple(sorted(files))
        with self._lock:
            cached = self._compiled.get(key)
            if cached is None:
                cached = self._compiled[key] = self._build([(ns, Path(f)) for ns, f in key])
        return cached

    def _build(self, files: list[tuple[str, Path]]) -> _Compiled:
        parser = safe_xml_parser()
        parser.resolvers.add(self.resolver())
        base = self.packs[0].root / "__samsvar_wrapper__.xsd"
        try:
            wrapper = etree.fromstring(_wrapper(files), parser, base_url=str(base))
            return _Compiled(etree.XMLSchema(wrapper.getroottree()))
        except etree.XMLSchemaParseError as exc:
            return _Compiled(None, str(exc))

    def usable(self, namespaces: Iterable[str]) -> tuple[list[str], dict[str, str]]:
        """The namespaces whose schemas compile together, and why the others cannot be used
        (remembered per set of namespaces, as the compiled schemas are)."""
        key = tuple(dict.fromkeys(namespaces))
        found = self._usable.get(key)
        if found is None:
            found = self._usable[key] = self._find_usable(key)
        return list(found[0]), dict(found[1])

    def _find_usable(self, namespaces: Iterable[str]) -> tuple[list[str], dict[str, str]]:
        present = [ns for ns in dict.fromkeys(namespaces) if self.schema_file(ns) is not None]
        if self._compile(present).schema is not None:
            return present, {}
        broken = {ns: c.problem or "" for ns in present if (c := self._compile([ns])).schema is None}
        usable = [ns for ns in present if ns not in broken]
        together = self._compile(usable)
        if together.schema is None:
            return [], {ns: broken.get(ns, together.problem or "") for ns in present}
        return usable, broken

    def validate(self, root: etree._Element) -> list[Issue]:
        """MSG-XSD-001 for each schema error of the envelope and its payloads, in one pass;
        one MSG-XSD-002 when the root's or a payload's namespace has no usable schema."""
        root_namespace = etree.QName(root).namespace or ""
        needed = list(dict.fromkeys([root_namespace, *describe(root).namespaces]))
        usable, broken = self.usable(_namespaces_in(root))
        missing = [ns for ns in needed if ns not in usable]
        issues = [_not_installed(root, missing, self, broken)] if missing else []
        if root_namespace not in usable:
            return issues
        schema = self._compile(usable).schema
        assert schema is not None  # usable() compiled exactly this set
        with self._validating:
            return issues + _errors(schema, root, set(missing))


def _errors(schema: etree.XMLSchema, root: etree._Element, missing: set[str]) -> list[Issue]:
    if schema.validate(root):
        return []
    issues = []
    prefixes: dict[str, str] | None = None
    for error in schema.error_log:
        if prefixes is None and error.path:
            prefixes = _prefixes(root)
        element = _element_at(root, error.path, prefixes or {})
        if element is not None and _missing_declaration(error, element, missing):
            continue  # already reported once as MSG-XSD-002
        issues.append(MISMATCH.issue(
            error.message,
            expression=element_path(element) if element is not None else (error.path or None),
            line=error.line or (element.sourceline if element is not None else None),
            column=error.column or None))
    return issues


def _missing_declaration(error: etree._LogEntry, element: etree._Element, missing: set[str]) -> bool:
    """A strict wildcard's complaint about an element whose namespace has no usable schema."""
    return error.type_name == "SCHEMAV_CVC_ELT_1" and (etree.QName(element).namespace or "") in missing


def _prefixes(root: etree._Element) -> dict[str, str]:
    """Each namespace prefix of the message and the first namespace it is bound to."""
    prefixes: dict[str, str] = {}
    for element in root.iter(etree.Element):
        for prefix, uri in element.nsmap.items():
            if prefix:
                prefixes.setdefault(prefix, uri)
    return prefixes


def _element_at(root: etree._Element, path: str | None, prefixes: dict[str, str]) -> etree._Element | None:
    """The element an lxml error path (``/*/*[3]/mh:Document``) points at, if it can be found."""
    if not path:
        return None
    try:
        context = root.getroottree() if root.getparent() is None else etree.ElementTree(root)
        found = context.xpath(path, namespaces=prefixes)
    except (etree.XPathError, TypeError):
        return None
    return found[0] if isinstance(found, list) and found and isinstance(found[0], etree._Element) else None


def _not_installed(root: etree._Element, missing: list[str], schemas: SchemaSet | None,
                   broken: dict[str, str] | None = None) -> Issue:
    broken = broken or {}
    listed = "; ".join(
        _label(ns) + (f" (its schema in the pack does not compile: {broken[ns]})" if ns in broken else "")
        for ns in missing)
    first = next((el for el in root.iter(etree.Element) if (etree.QName(el).namespace or "") in missing), root)
    if schemas is None or not schemas.packs:
        where = "No XML Schema pack is installed"
    else:
        where = "No installed schema pack has a usable schema for it"
    return NOT_INSTALLED.issue(
        f"Not checked against an XML Schema: {listed}. {where}; install one with `{INSTALL_HINT}` "
        "(a folder or zip of the official XSDs).",
        expression=element_path(first), line=first.sourceline)


def schema_issues(root: etree._Element, schemas: SchemaSet | None) -> list[Issue]:
    """Schema-layer issues for one message: validated if a schema set is given, else MSG-XSD-002."""
    if schemas is not None:
        return schemas.validate(root)
    needed = list(dict.fromkeys([etree.QName(root).namespace or "", *describe(root).namespaces]))
    return [_not_installed(root, needed, None)]


_DEFAULT: dict[tuple, SchemaSet] = {}


def default_schema_set(home: Path | None = None) -> SchemaSet | None:
    """The packs installed under :func:`schema_home`, as one set (kept while the packs are unchanged).

    Called for every message, so it only lists the home folder and stats each pack's index (plain
    ``os`` calls): a pack installed, replaced or removed meanwhile is picked up by the next message.
    """
    home = schema_home() if home is None else home
    folder = str(home)
    try:
        entries = sorted(entry.name for entry in os.scandir(folder) if entry.is_dir())
    except OSError:  # no home folder (nothing installed), or not a folder
        return None
    stamps = []
    for name in entries:
        index = os.path.join(folder, name, INDEX_NAME)
        try:
            status = os.stat(index)
        except OSError:
            continue
        if stat.S_ISREG(status.st_mode):
            stamps.append((index, status.st_mtime_ns))
    if not stamps:
        return None
    key = (folder, *stamps)
    found = _DEFAULT.get(key)
    if found is None:
        _DEFAULT.clear()
        found = _DEFAULT[key] = SchemaSet([load_pack(Path(index).parent) for index, _ in stamps])
    return found
