"""XML Schema validation of Norwegian health messages, with the installed schema packs.

A MsgHead envelope declares ``Content`` as ``xs:any processContents="strict"``, so payloads
are validated in the same pass as the envelope: :class:`SchemaSet` compiles one in-memory
wrapper schema that imports the schema of every namespace the message uses, and caches the
compiled result per set of schema files. Each schema error becomes an ``MSG-XSD-001`` issue;
a namespace with no installed schema becomes one ``MSG-XSD-002`` warning per message.

The packs themselves (installing, indexing, the schema home) are
:mod:`~samsvar.validators.messages.schema_packs`; resolving imports inside them is
:mod:`~samsvar.validators.messages.schema_resolver`.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from ..issues import Issue
from ..load import safe_xml_parser
from ..rules import declared
from .schema_packs import (INDEX_NAME, INSTALL_HINT, XS_NS, SchemaPackInfo, installed_packs, load_pack, scan_pack,
                           schema_home)
from .schema_resolver import PackResolver, xml_attribute
from .standards import describe, element_path, standard_for

MISMATCH = declared("MSG-XSD-001")
NOT_INSTALLED = declared("MSG-XSD-002")


# ---------------------------------------------------------------- validating


def _wrapper(files: Iterable[tuple[str, Path]]) -> bytes:
    imports = "".join(
        f'<xs:import namespace="{xml_attribute(ns)}" schemaLocation="{xml_attribute(path.as_uri())}"/>' for ns, path in files)
    return f'<xs:schema xmlns:xs="{XS_NS}">{imports}</xs:schema>'.encode()


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
