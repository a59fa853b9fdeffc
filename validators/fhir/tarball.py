"""A FHIR package read straight from its ``.tgz`` (``--ig x.tgz``), with the disk cache of
unpacked packages (``validators/cache.py``): nothing is installed into the package cache."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from ..issues import EnvironmentProblem


class TarballPackage:
    """A package read straight from its ``.tgz`` (nothing is installed into the cache)."""

    origin = "ig"

    def __init__(self, path: Path) -> None:
        from .. import cache

        self.path = path
        try:
            self._sha256 = cache.file_sha256(path)
        except OSError as exc:
            raise EnvironmentProblem(f"cannot read package {path}: {exc}") from None
        unpacked = cache.cached_tarball(self._sha256)  # an earlier run unpacked and indexed it
        if unpacked is not None:
            self._files: Any = unpacked[0]
            self.manifest: dict[str, Any] = unpacked[1]["manifest"]
            self._index = unpacked[1]["index"]
        else:
            self._files = self._read_tarball()
            self.manifest = json.loads(self._files["package.json"])
            self._index = self._read_index()
            cache.store_tarball(self._sha256, self._files, self.manifest, self._index)
        self.id = str(self.manifest.get("name"))
        self.version = str(self.manifest.get("version"))

    def _read_tarball(self) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        try:
            with tarfile.open(self.path, "r:gz") as archive:
                for member in archive:
                    name = member.name.removeprefix("./")
                    if member.isfile() and name.startswith("package/") and name.endswith(".json") and "/" not in name[8:]:
                        handle = archive.extractfile(member)
                        if handle is not None:
                            files[name[8:]] = handle.read()
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise EnvironmentProblem(f"cannot read package {self.path}: {exc}") from None
        if "package.json" not in files:
            raise EnvironmentProblem(f"{self.path} is not a FHIR package: it has no package/package.json")
        return files

    @property
    def ref(self) -> str:
        return f"{self.id}#{self.version}"

    @property
    def sha256(self) -> str:
        return self._sha256

    @property
    def dependencies(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.manifest.get("dependencies") or {}).items()}

    def _read_index(self) -> list[dict[str, Any]]:
        if ".index.json" in self._files:
            return list(json.loads(self._files[".index.json"]).get("files", []))
        index = []
        for filename, raw in self._files.items():
            if filename in ("package.json", ".index.json"):
                continue
            try:
                resource = json.loads(raw)
            except ValueError:
                continue
            if isinstance(resource, dict) and "resourceType" in resource:
                index.append({"filename": filename, **{k: resource.get(k) for k in ("resourceType", "id", "url", "version", "kind", "type")}})
        return index

    @property
    def index(self) -> list[dict[str, Any]]:
        return self._index

    def load(self, filename: str) -> dict[str, Any]:
        try:
            data = self._files[filename]
        except OSError:  # the unpacked copy in the samsvar cache went missing: the tarball itself
            self._files = self._read_tarball()
            data = self._files[filename]
        return json.load(io.BytesIO(data))
