"""The embedded default: FHIR packages that ship with samsvar (``embedded/packages.toml``).

A wheel carries them as ``samsvar/embedded/fhir/ID-VERSION.zip`` (one zip per package: its
``package/*.json`` and an ``.index.json``, checked against the pins when the wheel was built),
each with an index file beside it, and ``samsvar/embedded/manifest.json``. A run reads a
package's index only when a definition of it is needed and then only the members it asks for:
nothing is unpacked, nothing is written.

An editable install (a source checkout) has the pins but no zips: there the same tarballs are
found at run time by their pinned names in ``$SAMSVAR_EMBED_FROM`` or ``../shared/data/
fhir-packages`` beside the checkout, checked against the pinned SHA-256 and read as ``--ig``
tarballs are (with the disk cache of unpacked packages).

The embedded default is the last place a package is looked for: ``--ig`` and the user's FHIR
package cache (``~/.fhir/packages``, ``$SAMSVAR_FHIR_HOME``) come first.
"""

from __future__ import annotations

import binascii
import bisect
import json
import os
import struct
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..issues import EnvironmentProblem
from .embedding import MANIFEST_FILE, PINS_FILE, PLACE, Pin, index_name, read_pins

EMBEDDED_DIR = Path(__file__).resolve().parent.parent.parent / "embedded"
SHARED_PACKAGES = EMBEDDED_DIR.parent.parent / "shared" / "data" / "fhir-packages"
ORIGIN = "embedded"


class ZipPackage:
    """A package of the embedded default, read from its zip in the installed files.

    Its index file (``ID-VERSION.index.json``, written by the build beside the zip) gives the
    manifest, the ``.index.json`` entries and where each member lies in the zip: a member is read
    by seeking to it and inflating it, and checked against its CRC-32."""

    origin = ORIGIN

    def __init__(self, path: Path, pin: Pin) -> None:
        self.path = path
        self.pin = pin
        self.id, self.version = pin.id, pin.version
        self._index: list[dict[str, Any]] | None = None
        self._manifest: dict[str, Any] | None = None
        self._places = b""

    @property
    def ref(self) -> str:
        return f"{self.id}#{self.version}"

    @property
    def sha256(self) -> str:
        """The pinned SHA-256 of the published tarball this copy was made from (and checked against)."""
        return self.pin.sha256

    def _open_index(self) -> None:
        side = self.path.with_name(index_name(self.path.name))
        try:
            document = json.loads(side.read_bytes())
            manifest, entries = dict(document["manifest"]), list(document["files"])
            places = binascii.a2b_base64(document["places"])
            if len(places) != PLACE.size * len(entries):
                raise ValueError("the places do not match the entries")
        except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise EnvironmentProblem(f"the embedded package {self.ref} has no readable index ({side}): {exc}",
                                     hint="reinstall samsvar") from None
        self._manifest, self._index, self._places = manifest, entries, places

    def _place(self, filename: str) -> tuple[int, int, int, int]:
        """Offset, compressed size, size and CRC-32 of a member (entries are sorted by file name)."""
        if self._index is None:
            self._open_index()
        entries = self._index or []
        at = bisect.bisect_left(entries, filename, key=lambda entry: entry["filename"])
        if at == len(entries) or entries[at]["filename"] != filename:
            raise KeyError(filename)
        return PLACE.unpack_from(self._places, at * PLACE.size)

    @property
    def manifest(self) -> dict[str, Any]:
        if self._manifest is None:
            self._open_index()
        return self._manifest  # type: ignore[return-value]

    @property
    def dependencies(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.manifest.get("dependencies") or {}).items()}

    @property
    def index(self) -> list[dict[str, Any]]:
        if self._index is None:
            self._open_index()
        return self._index  # type: ignore[return-value]

    def _read(self, filename: str) -> bytes:
        try:
            offset, compressed, size, crc = self._place(filename)
            with self.path.open("rb") as handle:
                handle.seek(offset)
                header = handle.read(30)
                if header[:4] != b"PK\x03\x04":
                    raise ValueError("no zip entry at its recorded offset")
                name_length, extra_length = struct.unpack("<HH", header[26:30])
                handle.seek(offset + 30 + name_length + extra_length)
                data = zlib.decompress(handle.read(compressed), -15)
        except (KeyError, OSError, ValueError, zlib.error, struct.error) as exc:
            raise EnvironmentProblem(f"cannot read {filename} of the embedded package {self.ref}: {exc}",
                                     hint="reinstall samsvar") from None
        if len(data) != size or zlib.crc32(data) != crc:
            raise EnvironmentProblem(f"{filename} of the embedded package {self.ref} is damaged (size or CRC differ)",
                                     hint="reinstall samsvar")
        return data

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
            from .tarball import TarballPackage

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
    manifest_file = folder / MANIFEST_FILE
    if manifest_file.is_file():  # an installed wheel: the zips it was built with, pins and all
        try:
            built = json.loads(manifest_file.read_text(encoding="utf-8")).get("packages", [])
            pins = [(Pin(id=e["id"], version=e["version"], file=e["tarball"], sha256=e["sha256"],
                         resources_sha256=e["resources_sha256"], license=e.get("license", "")), folder / e["file"])
                    for e in built]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return ()
        return tuple((pin.ref, ZipPackage(path, pin)) for pin, path in pins if path.is_file())
    try:
        pinned = read_pins(folder / PINS_FILE)
    except (OSError, ValueError):
        return ()
    found: list[tuple[str, EmbeddedPackage]] = []
    places = [Path(embed_from)] if embed_from else []
    places.append(SHARED_PACKAGES)
    for pin in pinned:  # a source checkout: the pinned tarballs beside it
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
