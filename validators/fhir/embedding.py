"""The embedded default's pins and its one conversion: standard library only.

The wheel build (``build_support/embed.py``, which loads this file by path because the package
is not importable while it is being built) and the run-time lookup (``embedded.py``) share it:

- ``embedded/packages.toml`` pins every package of the embedded default by the SHA-256 of its
  published ``.tgz`` and by ``resources_sha256``, a digest of the resource files samsvar reads
  (``package/*.json``, without ``.index.json``), so an unpacked copy in a FHIR package cache can
  be checked as well as a tarball;
- ``write_zip`` turns the checked files into what goes into the wheel: a zip of the same
  resource files, deflated one by one with fixed times (a reproducible build) with an
  ``.index.json``, and beside it an index with each member's offset, sizes and CRC, so a run
  reads the index and then only the members it needs.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

PINS_FILE = "packages.toml"
MANIFEST_FILE = "manifest.json"
INDEX_FIELDS = ("resourceType", "id", "url", "version", "kind", "type")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Pin:
    id: str
    version: str
    file: str
    """The published tarball's usual name (as in ../shared/data/fhir-packages and registries)."""
    sha256: str
    """SHA-256 of that tarball."""
    resources_sha256: str
    """``resources_digest`` of its ``package/*.json``."""
    license: str

    @property
    def ref(self) -> str:
        return f"{self.id}#{self.version}"

    @property
    def zip_name(self) -> str:
        return f"{self.id}-{self.version}.zip"


def read_pins(path: Path) -> list[Pin]:
    """The pins of ``packages.toml``; ValueError when the file is not what it should be."""
    import tomllib

    with path.open("rb") as handle:
        document = tomllib.load(handle)
    pins = []
    for entry in document.get("package", []):
        try:
            pins.append(Pin(id=entry["id"], version=entry["version"], file=entry["file"],
                            sha256=entry["sha256"].lower(), resources_sha256=entry["resources_sha256"].lower(),
                            license=entry.get("license", "")))
        except (KeyError, AttributeError) as exc:
            raise ValueError(f"{path}: a [[package]] lacks {exc}") from None
    return pins


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def is_resource_name(name: str) -> bool:
    """A file samsvar reads from a package: ``package/NAME.json``, not in a subfolder, not the index."""
    return name.endswith(".json") and "/" not in name and name != ".index.json"


def resources_digest(files: Iterable[tuple[str, bytes]]) -> str:
    """SHA-256 over the resource files (name, bytes), sorted by name, each length-prefixed."""
    hasher = hashlib.sha256()
    for name, data in sorted(files):
        encoded = name.encode("utf-8")
        hasher.update(len(encoded).to_bytes(8, "little") + encoded)
        hasher.update(len(data).to_bytes(8, "little") + data)
    return hasher.hexdigest()


def tgz_resources(data: bytes) -> dict[str, bytes]:
    """``package/*.json`` of a package tarball (and its ``.index.json`` when there is one)."""
    import io
    import tarfile

    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        for member in archive:
            name = member.name.removeprefix("./")
            if not member.isfile() or not name.startswith("package/"):
                continue
            inner = name[len("package/"):]
            if is_resource_name(inner) or inner == ".index.json":
                handle = archive.extractfile(member)
                if handle is not None:
                    files[inner] = handle.read()
    return files


def folder_resources(package_dir: Path) -> dict[str, bytes]:
    """The same files from an unpacked package folder (a FHIR package cache's ``ID#VERSION/package``)."""
    return {path.name: path.read_bytes() for path in sorted(package_dir.glob("*.json")) if is_resource_name(path.name)}


def build_index(files: dict[str, bytes]) -> dict[str, object]:
    """A ``.index.json`` (index-version 1) of the resource files."""
    entries = []
    for name in sorted(files):
        if not is_resource_name(name):
            continue
        try:
            resource = json.loads(files[name])
        except ValueError:
            continue
        if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
            entry = {"filename": name}
            entry.update({k: resource[k] for k in INDEX_FIELDS if isinstance(resource.get(k), str)})
            entries.append(entry)
    return {"index-version": 1, "files": entries}


PLACE = struct.Struct("<IIII")
"""Where an index entry's member lies in the zip: offset of its local header, compressed size,
size, CRC-32; one per entry of ``files``, in that order (sorted by file name), base64 in
``places`` of the index file."""


def index_name(zip_name: str) -> str:
    return zip_name.removesuffix(".zip") + ".index.json"


def write_zip(files: dict[str, bytes], target: Path) -> None:
    """The resource files and a fresh ``.index.json`` as a reproducible zip, and beside it
    ``index_name(target)``: ``package.json``, the index and each member's place in the zip,
    so a run reads one member without parsing the zip's directory of thousands of entries.
    Both are written atomically."""
    import zipfile

    resources = {name: data for name, data in files.items() if is_resource_name(name)}
    index = build_index(resources)
    index_bytes = json.dumps(index, indent=1, ensure_ascii=False).encode("utf-8")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in [(".index.json", index_bytes), *sorted(resources.items())]:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
        placed = {info.filename: info for info in archive.infolist()}
    places = b"".join(PLACE.pack(placed[e["filename"]].header_offset, placed[e["filename"]].compress_size,
                                 placed[e["filename"]].file_size, placed[e["filename"]].CRC) for e in index["files"])
    sidecar = {"index-version": 1, "manifest": json.loads(resources["package.json"]), "files": index["files"],
               "places": binascii.b2a_base64(places, newline=False).decode("ascii")}
    side_target = target.with_name(index_name(target.name))
    side_temporary = side_target.with_name(f".{side_target.name}.{os.getpid()}.tmp")
    side_temporary.write_text(json.dumps(sidecar, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    os.replace(temporary, target)
    os.replace(side_temporary, side_target)


def zip_resources(path: Path) -> Iterator[tuple[str, bytes]]:
    """The resource files of an embedded zip (for checking it against its pin)."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if is_resource_name(name):
                yield name, archive.read(name)
