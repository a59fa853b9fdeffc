"""FHIR NPM packages in the cache layout SUSHI and HL7's validator share:
``ROOT/ID#VERSION/package/`` with ``package.json``, the resources and ``.index.json``.

Opening a package reads only its manifest and index; resources are parsed on demand.
Installing by id is the only thing here that uses the network, and only when asked.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..issues import EnvironmentProblem

DEFAULT_REGISTRY = "https://packages.fhir.org"
SHA_SIDECAR = ".samsvar-sha256"
Progress = Callable[[int, int | None], None]
Fallback = Callable[[str, "str | None"], Any]

_REF = re.compile(r"^(?P<id>[A-Za-z0-9][A-Za-z0-9._-]*)(?:[#@](?P<version>[A-Za-z0-9][A-Za-z0-9.+_-]*))?$")


def default_cache_root() -> Path:
    env = os.environ.get("SAMSVAR_FHIR_HOME")
    return Path(env) if env else Path.home() / ".fhir" / "packages"


def default_registry() -> str:
    return os.environ.get("SAMSVAR_PACKAGE_REGISTRY") or DEFAULT_REGISTRY


def parse_package_ref(ref: str) -> tuple[str, str | None]:
    """``hl7.fhir.r4.core#4.0.1`` (or ``@4.0.1``, or no version) to id and version."""
    match = _REF.match(ref.strip())
    if not match:
        raise ValueError(f"not a package reference: {ref!r} (expected ID#VERSION)")
    return match.group("id"), match.group("version")


def _version_key(version: str) -> tuple:
    parts = re.split(r"[.+-]", version)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


@dataclass(frozen=True, slots=True)
class PackageInfo:
    id: str
    version: str
    path: Path
    fhir_versions: list[str] = field(default_factory=list)
    dependencies: dict[str, str] = field(default_factory=dict)
    canonical: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.id}#{self.version}"


def _read_manifest(package_dir: Path) -> dict[str, Any]:
    try:
        with (package_dir / "package.json").open("rb") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError) as exc:
        raise EnvironmentProblem(f"cannot read {package_dir / 'package.json'}: {exc}") from None
    if not isinstance(manifest, dict) or not manifest.get("name") or not manifest.get("version"):
        raise EnvironmentProblem(f"{package_dir / 'package.json'} has no name and version")
    return manifest


def _info(folder: Path, manifest: dict[str, Any]) -> PackageInfo:
    return PackageInfo(
        id=str(manifest["name"]),
        version=str(manifest["version"]),
        path=folder,
        fhir_versions=[str(v) for v in manifest.get("fhirVersions") or manifest.get("fhir-version-list") or []],
        dependencies={str(k): str(v) for k, v in (manifest.get("dependencies") or {}).items()},
        canonical=manifest.get("canonical"),
    )


def build_index(package_dir: Path) -> dict[str, Any]:
    """A ``.index.json`` (index-version 1) for the resources in ``package_dir``."""
    files = []
    for path in sorted(package_dir.glob("*.json")):
        if path.name in ("package.json", ".index.json"):
            continue
        try:
            resource = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
            entry = {"filename": path.name}
            entry.update({k: resource[k] for k in ("resourceType", "id", "url", "version", "kind", "type")
                          if isinstance(resource.get(k), str)})
            files.append(entry)
    return {"index-version": 1, "files": files}


def content_sha256(folder: Path) -> str:
    """Deterministic hash of a package folder: sorted relative paths and file bytes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != SHA_SIDECAR):
        relative = path.relative_to(folder).as_posix()
        if relative == "package/.index.json":
            continue  # written by tools on first use; not part of the published content
        digest.update(relative.encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


class Package:
    """An installed package, opened lazily (manifest and index only)."""

    origin = "cache"
    """Where the copy came from, for the reproducibility block: the package cache (``--ig`` sets "ig")."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.package_dir = folder / "package" if (folder / "package" / "package.json").is_file() else folder
        self.manifest = _read_manifest(self.package_dir)
        self.info = _info(folder, self.manifest)
        self._index: list[dict[str, Any]] | None = None
        self._sha256: str | None = None

    @property
    def ref(self) -> str:
        """``id#version``: which package a definition came from (``Definitions.source``)."""
        return self.info.ref

    @property
    def dependencies(self) -> dict[str, str]:
        return self.info.dependencies

    @property
    def index(self) -> list[dict[str, Any]]:
        if self._index is None:
            index_file = self.package_dir / ".index.json"
            try:
                self._index = list(json.loads(index_file.read_bytes()).get("files", []))
            except (OSError, ValueError, AttributeError):
                built = build_index(self.package_dir)
                try:
                    index_file.write_text(json.dumps(built, indent=1), encoding="utf-8")
                except OSError:
                    pass  # a read-only cache still works, just without the saved index
                self._index = built["files"]
        return self._index

    def resources(self, resource_type: str | None = None) -> Iterator[dict[str, Any]]:
        return (e for e in self.index if resource_type is None or e.get("resourceType") == resource_type)

    def load(self, filename: str) -> dict[str, Any]:
        try:
            with (self.package_dir / filename).open("rb") as handle:
                return json.load(handle)
        except (OSError, ValueError) as exc:
            raise EnvironmentProblem(f"cannot read {filename} of package {self.info.ref}: {exc}") from None

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            sidecar = self.folder / SHA_SIDECAR
            try:
                self._sha256 = sidecar.read_text(encoding="ascii").strip() or None
            except OSError:
                self._sha256 = None
            if self._sha256 is None:
                self._sha256 = content_sha256(self.folder)
                try:
                    sidecar.write_text(self._sha256, encoding="ascii")
                except OSError:
                    pass
        return self._sha256


class PackageCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_root()

    # -- reading ------------------------------------------------------------------------
    def list(self) -> list[PackageInfo]:
        if not self.root.exists():
            return []
        try:
            folders = sorted(self.root.iterdir())
        except OSError as exc:
            raise EnvironmentProblem(f"cannot read the package cache {self.root}: {exc}") from None
        infos = []
        for folder in folders:
            if (folder / "package" / "package.json").is_file():
                try:
                    infos.append(_info(folder, _read_manifest(folder / "package")))
                except EnvironmentProblem:
                    continue
        return sorted(infos, key=lambda i: (i.id, _version_key(i.version)))

    def get(self, package_id: str, version: str | None = None) -> Package | None:
        if version is not None:
            folder = self.root / f"{package_id}#{version}"
            return Package(folder) if (folder / "package" / "package.json").is_file() else None
        candidates = [i for i in self.list() if i.id == package_id]
        return Package(candidates[-1].path) if candidates else None

    def require(self, package_id: str, version: str | None) -> Package:
        package = self.get(package_id, version)
        if package is None:
            ref = f"{package_id}#{version}" if version else package_id
            raise EnvironmentProblem(
                f"FHIR package {ref} is not installed in {self.root} (offline: nothing is downloaded during validation)",
                hint=f"samsvar packages install {ref}  (or, offline: samsvar packages install "
                     f"path/to/{package_id}-{version or 'VERSION'}.tgz)")
        return package

    def missing_dependencies(self, info: PackageInfo) -> list[str]:
        return [f"{dep}#{version}" for dep, version in info.dependencies.items()
                if self.get(dep, _exact(version)) is None]

    # -- installing ---------------------------------------------------------------------
    def install(self, source: str, *, registry: str | None = None, progress: Progress | None = None,
                with_dependencies: bool = True) -> list[PackageInfo]:
        path = Path(source)
        if path.is_file():
            return [self.install_tgz(path)]
        if path.is_dir():
            return [self.install_folder(path)]
        try:
            package_id, version = parse_package_ref(source)
        except ValueError:
            raise EnvironmentProblem(f"{source} is neither a file, a folder nor a package ID#VERSION") from None
        return self._install_ref(package_id, version, registry or default_registry(), progress, with_dependencies, set())

    def _install_ref(self, package_id: str, version: str | None, registry: str, progress: Progress | None,
                     with_dependencies: bool, seen: set[str]) -> list[PackageInfo]:
        installed = []
        existing = self.get(package_id, version) if version else None
        info = existing.info if existing else self.install_from_registry(package_id, version, registry, progress)
        if not existing:
            installed.append(info)
        seen.add(info.ref)
        if with_dependencies:
            for dep, dep_version in info.dependencies.items():
                ref = f"{dep}#{_exact(dep_version)}"
                if ref not in seen and self.get(dep, _exact(dep_version)) is None:
                    installed += self._install_ref(dep, _exact(dep_version), registry, progress, True, seen)
        return installed

    def install_tgz(self, path: Path) -> PackageInfo:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise EnvironmentProblem(f"cannot read {path}: {exc}") from None
        return self._install_tarball(data, str(path))

    def install_folder(self, path: Path) -> PackageInfo:
        path = Path(path)
        package_dir = path / "package" if (path / "package" / "package.json").is_file() else path
        manifest = _read_manifest(package_dir)
        with self._staging() as staging:
            shutil.copytree(package_dir, staging / "package")
            return self._commit(staging, manifest, None)

    def install_from_registry(self, package_id: str, version: str | None, registry: str,
                              progress: Progress | None = None, timeout: float = 30) -> PackageInfo:
        import requests

        base = registry.rstrip("/")
        url, shasum = f"{base}/{package_id}/{version}", None
        try:
            meta = requests.get(f"{base}/{package_id}", timeout=timeout, headers={"Accept": "application/json"})
            if meta.status_code == 200:
                document = meta.json()
                version = version or (document.get("dist-tags") or {}).get("latest")
                dist = ((document.get("versions") or {}).get(version) or {}).get("dist") or {}
                url = dist.get("tarball") or f"{base}/{package_id}/{version}"
                shasum = dist.get("shasum")
        except ValueError:
            pass  # no usable metadata: the plain ID/VERSION address below
        except requests.RequestException as exc:
            raise _unreachable(registry, package_id, version, exc) from None
        if version is None:
            raise EnvironmentProblem(f"package {package_id} not found at {registry} (no version given or listed)")
        try:
            with requests.get(url, stream=True, timeout=timeout) as response:
                if response.status_code == 404:
                    raise EnvironmentProblem(f"package {package_id}#{version} not found at {registry}")
                response.raise_for_status()
                total = int(response.headers["Content-Length"]) if response.headers.get("Content-Length", "").isdigit() else None
                buffer = io.BytesIO()
                for chunk in response.iter_content(chunk_size=65536):
                    buffer.write(chunk)
                    if progress is not None:
                        progress(buffer.tell(), total)
        except requests.RequestException as exc:
            raise _unreachable(registry, package_id, version, exc) from None
        data = buffer.getvalue()
        if shasum and hashlib.sha1(data).hexdigest() != shasum.lower():
            raise EnvironmentProblem(f"download of {package_id}#{version} from {url} does not match its shasum {shasum}")
        return self._install_tarball(data, url)

    # -- internals ----------------------------------------------------------------------
    def _install_tarball(self, data: bytes, origin: str) -> PackageInfo:
        try:
            archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise EnvironmentProblem(f"{origin} is not a package tarball: {exc}") from None
        with archive, self._staging() as staging:
            members = archive.getmembers()
            for member in members:
                name = member.name
                if name.startswith(("/", "\\")) or ".." in Path(name).parts or member.islnk() or member.issym() \
                        or member.isdev():
                    raise EnvironmentProblem(f"{origin} contains an unsafe entry {name!r}; refusing to install it")
            try:
                archive.extractall(staging, filter="data")
            except (tarfile.TarError, OSError) as exc:
                raise EnvironmentProblem(f"cannot extract {origin}: {exc}") from None
            if not (staging / "package" / "package.json").is_file():
                raise EnvironmentProblem(f"{origin} is not a FHIR package: it has no package/package.json")
            return self._commit(staging, _read_manifest(staging / "package"), hashlib.sha256(data).hexdigest())

    def _staging(self) -> "_Staging":
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EnvironmentProblem(f"cannot create the package cache {self.root}: {exc}") from None
        return _Staging(self.root)

    def _commit(self, staging: Path, manifest: dict[str, Any], _tar_sha256: str | None) -> PackageInfo:
        package_dir = staging / "package"
        if not (package_dir / ".index.json").is_file():
            (package_dir / ".index.json").write_text(json.dumps(build_index(package_dir), indent=1), encoding="utf-8")
        digest = content_sha256(staging)
        (staging / SHA_SIDECAR).write_text(digest, encoding="ascii")
        target = self.root / f"{manifest['name']}#{manifest['version']}"
        if target.exists():
            try:
                same = (target / SHA_SIDECAR).read_text(encoding="ascii").strip() == digest
            except OSError:
                same = False
            if same:
                return _info(target, manifest)
            shutil.rmtree(target)
        try:
            os.replace(staging, target)
        except OSError as exc:
            raise EnvironmentProblem(f"cannot install into {target}: {exc}") from None
        return _info(target, manifest)


class _Staging:
    """A temporary folder inside the cache root, removed unless it was moved into place."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path: Path | None = None

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix=".install-", dir=self.root))
        return self.path

    def __exit__(self, *_exc: object) -> None:
        if self.path is not None and self.path.exists():
            shutil.rmtree(self.path, ignore_errors=True)


def _exact(version: str) -> str:
    """Dependency versions may be ranges like ``4.0.x``; the cache needs an exact one."""
    return version.replace(".x", ".0") if version.endswith(".x") else version


def _unreachable(registry: str, package_id: str, version: str | None, exc: Exception) -> EnvironmentProblem:
    ref = f"{package_id}#{version}" if version else package_id
    return EnvironmentProblem(
        f"could not reach the package registry {registry}: {type(exc).__name__}: {exc}",
        hint=f"Offline? Download {package_id}-{version or 'VERSION'}.tgz elsewhere and run: "
             f"samsvar packages install {package_id}-{version or 'VERSION'}.tgz  ({ref})")


def load_packages(cache: PackageCache, refs: list[str], *, provided: Iterable[str] = (),
                  fallback: Fallback | None = None) -> list[Any]:
    """The packages named and their dependencies, dependencies first. Never uses the network.

    A package is taken from the cache; what the cache lacks from ``fallback`` (the embedded
    default), which is asked for the exact version first and, for a dependency only, for
    another version of the same package; refs in ``provided`` (packages given with ``--ig``)
    are left to their ``--ig`` copy."""
    ordered: dict[str, Any] = {}
    given = set(provided)
    given_ids = {ref.split("#", 1)[0] for ref in given}

    def find(package_id: str, version: str | None, dependency: bool) -> Any:
        package = cache.get(package_id, version)
        if package is None and fallback is not None:
            package = fallback(package_id, version)
            if package is None and dependency and version is not None:
                package = fallback(package_id, None)
        return package if package is not None else cache.require(package_id, version)

    def visit(ref: str, trail: tuple[str, ...], dependency: bool) -> None:
        package_id, version = parse_package_ref(ref)
        if (f"{package_id}#{version}" if version else package_id) in given or (version is None and package_id in given_ids):
            return
        package = find(package_id, version, dependency)
        if package.ref in ordered or package.ref in trail or package.ref in given:
            return
        for dep, dep_version in package.dependencies.items():
            visit(f"{dep}#{_exact(dep_version)}", (*trail, package.ref), True)
        ordered[package.ref] = package

    for ref in refs:
        visit(ref, (), False)
    return list(ordered.values())
