"""The embedded default: FHIR packages that ship with samsvar (``embedded/packages.toml``).

A wheel carries them as ``samsvar/embedded/fhir/ID-VERSION.zip`` (one zip per package: its
``package/*.json`` and an ``.index.json``, checked against the pins when the wheel was built) and
``samsvar/embedded/manifest.json``. A run opens the zip of a package only when a definition of it
is needed and reads only the members it asks for: nothing is unpacked, nothing is written.

An editable install (a source checkout) has the pins but no zips: there the same tarballs are
found at run time by their pinned names in ``$SAMSVAR_EMBED_FROM`` or ``../shared/data/
fhir-packages`` beside the checkout, checked against the pinned SHA-256 and read as ``--ig``
tarballs are (with the disk cache of unpacked packages).

The embedded default is the last place a package is looked for: ``--ig`` and the user's FHIR
package cache (``~/.fhir/packages``, ``$SAMSVAR_FHIR_HOME``) come first.
"""

from __future__ import annotations

import json
import os
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..issues import EnvironmentProblem
from .embedding import MANIFEST_FILE, PINS_FILE, Pin, read_pins

EMBEDDED_DIR = Path(__file__).resolve().parent.parent.parent / "embedded"
SHARED_PACKAGES = EMBEDDED_DIR.parent.parent / "shared" / "data" / "fhir-packages"
ORIGIN = "embedded"


class ZipPackage:
    """A package of the embedded default, read from its zip in the installed files."""

    origin = ORIGIN

    def __init__(self, path: Path, pin: Pin) -> None:
        self.path = path
        self.pin = pin
        self.id, self.version = pin.id, pin.version
        self._archive: zipfile.ZipFile | None = None
        self._index: list[dict[str, Any]] | None = None
        self._manifest: dict[str, Any] | None = None

    @property
    def ref(self) -> str:
        return f"{self.id}#{self.version}"

    @property
    def sha256(self) -> str:
        """The pinned SHA-256 of the published tarball this copy was made from (and checked against)."""
        return self.pin.sha256

    def _zip(self) -> zipfile.ZipFile:
        if self._archive is None:
            try:
                self._archive = zipfile.ZipFile(self.path)
            except (OSError, zipfile.BadZipFile) as exc:
                raise EnvironmentProblem(f"the embedded package {self.ref} ({self.path}) is unreadable: {exc}",
                                         hint="reinstall samsvar") from None
        return self._archive

    def _read(self, name: str) -> bytes:
        try:
            return self._zip().read(name)
        except (KeyError, OSError, zipfile.BadZipFile) as exc:
            raise EnvironmentProblem(f"cannot read {name} of the embedded package {self.ref}: {exc}") from None

    @property
    def manifest(self) -> dict[str, Any]:
        if self._manifest is None:
            self._manifest = json.loads(self._read("package.json"))
        return self._manifest

    @property
    def dependencies(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.manifest.get("dependencies") or {}).items()}

    @property
    def index(self) -> list[dict[str, Any]]:
        if self._index is None:
            self._index = list(json.loads(self._read(".index.json")).get("files", []))
        return self._index

    def load(self, filename: str) -> dict[str, Any]:
        try:
            return json.loads(self._read(filename))
        except ValueError as exc:
            raise EnvironmentProblem(f"{filename} of the embedded package {self.ref} is not JSON: {exc}") from None


class EmbeddedTarball:
    """An editable install's stand-in for a zip: the pinned tarball, found beside the checkout."""

    origin = ORIGIN

    def __init__(self, path: Path, pin: Pin) -> None:
        self.path = path
        self.pin = pin
        self.id, self.version = pin.id, pin.version
        self._tarball: Any = None

    @property
    def ref(self) -> str:
        return f"{self.id}#{self.version}"

    def _open(self) -> Any:
        if self._tarball is None:
            from .igs import TarballPackage

            tarball = TarballPackage(self.path)
            if tarball.sha256 != self.pin.sha256:
                raise EnvironmentProblem(
                    f"{self.path} is not the pinned {self.ref}: its SHA-256 is {tarball.sha256}, "
                    f"embedded/{PINS_FILE} pins {self.pin.sha256}",
                    hint="point $SAMSVAR_EMBED_FROM at the published tarball, or install the package into the cache")
            self._tarball = tarball
        return self._tarball

    @property
    def sha256(self) -> str:
        return self._open().sha256

    @property
    def manifest(self) -> dict[str, Any]:
        return self._open().manifest

    @property
    def dependencies(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.manifest.get("dependencies") or {}).items()}

    @property
    def index(self) -> list[dict[str, Any]]:
        return self._open().index

    def load(self, filename: str) -> dict[str, Any]:
        return self._open().load(filename)


EmbeddedPackage = ZipPackage | EmbeddedTarball


@lru_cache(maxsize=8)
def _available(folder: Path, embed_from: str | None) -> tuple[tuple[str, EmbeddedPackage], ...]:
    pins_file = folder / PINS_FILE
    try:
        pins = read_pins(pins_file)
    except (OSError, ValueError):
        return ()
    manifest_file = folder / MANIFEST_FILE
    found: list[tuple[str, EmbeddedPackage]] = []
    if manifest_file.is_file():  # an installed wheel: the zips it was built with
        try:
            built = {entry["id"] + "#" + entry["version"]: entry
                     for entry in json.loads(manifest_file.read_text(encoding="utf-8")).get("packages", [])}
        except (OSError, ValueError, KeyError, TypeError):
            built = {}
        for pin in pins:
            entry = built.get(pin.ref)
            if entry and entry.get("sha256") == pin.sha256 and (folder / entry["file"]).is_file():
                found.append((pin.ref, ZipPackage(folder / entry["file"], pin)))
        return tuple(found)
    places = [Path(embed_from)] if embed_from else []
    places.append(SHARED_PACKAGES)
    for pin in pins:  # a source checkout: the pinned tarballs beside it
        for place in places:
            if (place / pin.file).is_file():
                found.append((pin.ref, EmbeddedTarball(place / pin.file, pin)))
                break
    return tuple(found)


def embedded_packages() -> dict[str, EmbeddedPackage]:
    """The packages of the embedded default that this installation has, by ``id#version``."""
    return dict(_available(EMBEDDED_DIR, os.environ.get("SAMSVAR_EMBED_FROM") or None))


def embedded_pins() -> list[Pin]:
    """Every pinned package, whether this installation has it or not."""
    try:
        return read_pins(EMBEDDED_DIR / PINS_FILE)
    except (OSError, ValueError):
        return []


def embedded_get(package_id: str, version: str | None) -> EmbeddedPackage | None:
    """The embedded copy of ``package_id`` (at ``version``, or the only one when None)."""
    available = embedded_packages()
    if version is not None:
        return available.get(f"{package_id}#{version}")
    same = [package for package in available.values() if package.id == package_id]
    return same[-1] if same else None
