"""What ``--ig`` loads: installed packages by id, package tarballs and folders, and loose
conformance resources (JSON files or folders of them). Never touches the network."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from lxml import etree

from ..issues import EnvironmentProblem
from ..load import load_bytes
from .definitions import Definitions
from .xmlformat import FHIR_NS, read_fhir_xml
from .embedded import embedded_get
from .tarball import TarballPackage
from .packages import Package, PackageCache, load_packages, parse_package_ref


class ProjectResources:
    """samsvar's own conformance resources (``profiles/terminology/``, ``profiles/extensions/``):
    always loaded, read lazily.

    The index comes from the head of each file (resourceType, url, version), so start-up does
    not parse the large code systems (ICD-10) until a code is looked up in them.
    """

    def __init__(self, folder: Path, ref: str = "samsvar.profiles#local", requires_hint: str | None = None) -> None:
        self.folder = folder
        self.ref = ref
        self.requires_hint = requires_hint
        """What a resource of this folder needs that may be missing (said when it cannot be used)."""
        self._index: list[dict[str, Any]] | None = None

    @property
    def index(self) -> list[dict[str, Any]]:
        if self._index is None:
            self._index = [meta for meta in (_head(p) for p in sorted(self.folder.glob("*.json"))) if meta]
        return self._index

    def load(self, filename: str) -> dict[str, Any]:
        return json.loads((self.folder / filename).read_text(encoding="utf-8"))


_HEAD_FIELD = re.compile(r'"(resourceType|url|version|id)"\s*:\s*"([^"]*)"')


def _head(path: Path) -> dict[str, Any] | None:
    with path.open("rb") as handle:
        head = handle.read(4096).decode("utf-8", "replace")
    meta: dict[str, Any] = {"filename": path.name}
    for key, value in _HEAD_FIELD.findall(head):
        meta.setdefault(key, value)
    return meta if meta.get("url") and meta.get("resourceType") else None


PROJECT_TERMINOLOGY = Path(__file__).resolve().parent.parent.parent / "profiles" / "terminology"
PROJECT_EXTENSIONS = PROJECT_TERMINOLOGY.parent / "extensions"
"""The extensions samsvar's own outputs use (the OperationOutcome's reproducibility and waiver)."""
PROJECT_PROFILES = PROJECT_TERMINOLOGY.parent / "fhir"
"""samsvar's own profiles and the value sets they bind to: always loaded, like its terminology, so a
resource that declares one in ``meta.profile`` is checked against it after a plain install."""
PROJECT_PROFILES_BASE = "hl7.fhir.no.basis#2.2.2"
"""The package samsvar's own profiles build on (where it has the resource)."""


def project_resources() -> list[ProjectResources]:
    """samsvar's own conformance resources, loaded by every run: terminology, extensions, profiles."""
    base = PROJECT_PROFILES_BASE
    sources = [ProjectResources(PROJECT_TERMINOLOGY), ProjectResources(PROJECT_EXTENSIONS),
               ProjectResources(PROJECT_PROFILES, "samsvar.profiles.fhir#local", requires_hint=(
                   f"samsvar's own profiles build on {base}: install it once (samsvar packages install {base}, "
                   f"or from its .tgz) and load it with --ig {base} (or ig = [\"{base}\"] in samsvar.toml)"))]
    return [source for source in sources if source.folder.is_dir()]


def _loose_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in (".json", ".xml") and p.is_file())
    return [path]


def _read_loose(file: Path, definitions: Definitions) -> dict[str, Any] | None:
    """A conformance resource from a JSON or FHIR XML file (XML is read with the definitions so far)."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise EnvironmentProblem(f"--ig {file}: cannot read it ({exc})") from None
    loaded = load_bytes(str(file), data)
    document = loaded.document
    if document is None:
        reason = loaded.issues[0].message if loaded.issues else "unreadable"
        raise EnvironmentProblem(f"--ig {file}: not a readable conformance resource ({reason})")
    if document.format == "json":
        return document.tree if isinstance(document.tree, dict) and "resourceType" in document.tree else None
    if etree.QName(document.tree).namespace != FHIR_NS:
        return None
    resource, _ = read_fhir_xml(document.tree, definitions, document.locator)  # type: ignore[arg-type]
    return resource


def read_resource_file(file: Path, definitions: Definitions) -> dict[str, Any] | None:
    """One resource file (JSON or FHIR XML), or None when it holds no resource; a file that cannot
    be read is an environment problem (the user named it)."""
    try:
        return _read_loose(file, definitions)
    except EnvironmentProblem as exc:
        raise EnvironmentProblem(str(exc).replace("--ig ", "reference target ", 1)) from None


def load_definitions(core: str, igs: tuple[str, ...], cache_root: Path | None) -> tuple[Definitions, list[Any]]:
    """Definitions of the core package, then of every ``--ig`` in order; and the packages used."""
    cache = PackageCache(cache_root)
    refs = [core]
    tarballs: list[TarballPackage] = []
    folders: list[Package] = []
    loose: list[Path] = []
    for ig in igs:
        path = Path(ig)
        if path.is_file() and path.name.endswith((".tgz", ".tar.gz")):
            tarball = TarballPackage(path)
            tarballs.append(tarball)
            refs.extend(f"{dep}#{version}" for dep, version in (tarball.manifest.get("dependencies") or {}).items())
        elif path.is_dir() and ((path / "package" / "package.json").is_file() or (path / "package.json").is_file()):
            folder = Package(path)  # read in place; nothing is installed into the cache
            folder.origin = "ig"
            folders.append(folder)
            refs.extend(f"{dep}#{version}" for dep, version in folder.info.dependencies.items())
        elif path.exists():
            loose.extend(_loose_files(path))
        else:
            try:
                package_id, version = parse_package_ref(ig)
            except ValueError:
                raise EnvironmentProblem(f"--ig {ig}: no such file or folder, and not a package id#version") from None
            refs.append(f"{package_id}#{version}" if version else package_id)
    provided = [tarball.ref for tarball in tarballs] + [folder.ref for folder in folders]
    packages: list[Any] = list(load_packages(cache, _unique(refs), provided=provided, fallback=embedded_get))
    packages.extend(folders)
    packages.extend(tarballs)
    definitions = Definitions([*project_resources(), *packages])
    for file in loose:
        resource = _read_loose(file, definitions)
        if resource is not None:
            definitions.add_resource(resource)
    return definitions, packages


def _unique(refs: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for ref in refs:
        seen.setdefault(ref, None)
    return list(seen)
