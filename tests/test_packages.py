"""The FHIR package cache: real tarballs from ../shared, a real registry on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import shutil
import socket
import tarfile
import threading
from pathlib import Path
from typing import Iterator

import pytest

from samsvar.validators.fhir.packages import (
    Package,
    PackageCache,
    load_packages,
    parse_package_ref,
)
from samsvar.validators.issues import EnvironmentProblem

from .shared import shared_path


def _tgz(name: str) -> Path:
    """A published tarball (these tests are about reading and installing tarballs)."""
    return shared_path("fhir-packages", name)


def test_parse_package_ref() -> None:
    assert parse_package_ref("hl7.fhir.r4.core#4.0.1") == ("hl7.fhir.r4.core", "4.0.1")
    assert parse_package_ref("hl7.fhir.no.basis@2.2.2") == ("hl7.fhir.no.basis", "2.2.2")
    assert parse_package_ref("hl7.fhir.no.basis") == ("hl7.fhir.no.basis", None)
    with pytest.raises(ValueError):
        parse_package_ref("../etc/passwd#1")


def test_install_tgz_list_get_index_load(fhir_cache: Path) -> None:
    cache = PackageCache(fhir_cache)
    refs = [info.ref for info in cache.list()]
    assert "hl7.fhir.r4.core#4.0.1" in refs and "hl7.fhir.no.basis#2.2.2" in refs
    core = cache.get("hl7.fhir.r4.core", "4.0.1")
    assert core is not None and core.info.fhir_versions == ["4.0.1"]
    patient = next(e for e in core.resources("StructureDefinition") if e.get("id") == "Patient")
    assert core.load(patient["filename"])["url"] == "http://hl7.org/fhir/StructureDefinition/Patient"
    basis = cache.get("hl7.fhir.no.basis")  # highest installed version
    assert basis is not None and basis.info.dependencies.get("hl7.fhir.r4.core") == "4.0.1"


def test_sha256_is_stable_across_installs(tmp_path: Path) -> None:
    first, second = PackageCache(tmp_path / "a"), PackageCache(tmp_path / "b")
    first.install_tgz(_tgz("hl7.fhir.no.basis-2.2.2.tgz"))
    second.install_tgz(_tgz("hl7.fhir.no.basis-2.2.2.tgz"))
    a, b = first.get("hl7.fhir.no.basis", "2.2.2"), second.get("hl7.fhir.no.basis", "2.2.2")
    assert a is not None and b is not None
    assert a.sha256 == b.sha256 and len(a.sha256) == 64
    (a.folder / ".samsvar-sha256").unlink()
    assert Package(a.folder).sha256 == b.sha256  # recomputed from content


def test_reinstall_is_a_no_op_and_folder_install_works(tmp_path: Path) -> None:
    cache = PackageCache(tmp_path / "cache")
    info = cache.install_tgz(_tgz("hl7.fhir.no.basis-2.2.2.tgz"))
    marker = info.path / "package" / "marker"
    marker.write_text("kept")
    cache.install_tgz(_tgz("hl7.fhir.no.basis-2.2.2.tgz"))
    assert marker.exists()  # same content: nothing replaced

    extracted = tmp_path / "extracted"
    with tarfile.open(_tgz("hl7.fhir.no.basis-2.2.2.tgz")) as archive:
        archive.extractall(extracted, filter="data")
    other = PackageCache(tmp_path / "other")
    from_folder = other.install_folder(extracted)
    assert from_folder.ref == "hl7.fhir.no.basis#2.2.2"
    assert other.install_folder(extracted / "package").ref == "hl7.fhir.no.basis#2.2.2"


def test_missing_index_is_rebuilt(tmp_path: Path) -> None:
    cache = PackageCache(tmp_path)
    info = cache.install_tgz(_tgz("hl7.fhir.no.basis-2.2.2.tgz"))
    index_file = info.path / "package" / ".index.json"
    before = {e["filename"] for e in json.loads(index_file.read_text())["files"]}
    index_file.unlink()
    rebuilt = Package(info.path).index
    assert {e["filename"] for e in rebuilt} == before
    assert index_file.exists()


def test_missing_package_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem) as raised:
        load_packages(PackageCache(tmp_path), ["hl7.fhir.no.basis#2.2.2"])
    assert "samsvar packages install hl7.fhir.no.basis#2.2.2" in (raised.value.hint or "")


def test_dependencies_load_first(fhir_cache: Path) -> None:
    loaded = load_packages(PackageCache(fhir_cache), ["hl7.fhir.no.basis#2.2.2"])
    assert [p.info.ref for p in loaded] == ["hl7.fhir.r4.core#4.0.1", "hl7.fhir.no.basis#2.2.2"]


def test_unreadable_cache_root(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with pytest.raises(EnvironmentProblem):
        PackageCache(not_a_folder / "sub").install_tgz(_tgz("hl7.fhir.no.basis-2.2.2.tgz"))
    with pytest.raises(EnvironmentProblem):
        PackageCache(not_a_folder).list()


def _evil_tgz(path: Path, member: str) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        manifest = json.dumps({"name": "evil", "version": "1.0.0"}).encode()
        for name, data in (("package/package.json", manifest), (member, b"owned")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("member", ["../evil.txt", "/tmp/samsvar-evil.txt", "package/../../evil.txt"])
def test_hostile_tarball_is_refused(tmp_path: Path, member: str) -> None:
    cache = PackageCache(tmp_path / "cache")
    with pytest.raises(EnvironmentProblem, match="unsafe"):
        cache.install_tgz(_evil_tgz(tmp_path / "evil.tgz", member))
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/samsvar-evil.txt").exists()
    assert cache.list() == []


# -- a real registry on 127.0.0.1 ----------------------------------------------------------------
class _Registry(http.server.ThreadingHTTPServer):
    packages: dict[str, tuple[str, bytes]]  # id -> (version, tarball)
    metadata: bool = True
    bad_shasum: bool = False


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Registry

    def log_message(self, *_args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        parts = self.path.strip("/").split("/")
        host = f"http://127.0.0.1:{self.server.server_address[1]}"
        if len(parts) == 1 and self.server.metadata and parts[0] in self.server.packages:
            version, data = self.server.packages[parts[0]]
            shasum = "0" * 40 if self.server.bad_shasum else hashlib.sha1(data).hexdigest()
            body = json.dumps({"name": parts[0], "dist-tags": {"latest": version}, "versions": {version: {
                "dist": {"tarball": f"{host}/tarballs/{parts[0]}-{version}.tgz", "shasum": shasum}}}}).encode()
            return self._send(200, body, "application/json")
        if len(parts) == 2 and parts[0] == "tarballs":
            for package_id, (version, data) in self.server.packages.items():
                if parts[1] == f"{package_id}-{version}.tgz":
                    return self._send(200, data, "application/gzip")
        if len(parts) == 2 and parts[0] in self.server.packages and self.server.packages[parts[0]][0] == parts[1]:
            return self._send(200, self.server.packages[parts[0]][1], "application/gzip")
        self._send(404, b"not found", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def registry() -> Iterator[_Registry]:
    server = _Registry(("127.0.0.1", 0), _Handler)
    server.packages = {
        "hl7.fhir.no.basis": ("2.2.2", _tgz("hl7.fhir.no.basis-2.2.2.tgz").read_bytes()),
        "hl7.fhir.r4.core": ("4.0.1", _tgz("hl7.fhir.r4.core-4.0.1.tgz").read_bytes()),
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: _Registry) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_install_from_registry_with_dependencies_and_progress(registry: _Registry, tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    cache = PackageCache(tmp_path)
    installed = cache.install("hl7.fhir.no.basis#2.2.2", registry=_url(registry),
                              progress=lambda done, total: seen.append((done, total)))
    assert [i.ref for i in installed] == ["hl7.fhir.no.basis#2.2.2", "hl7.fhir.r4.core#4.0.1"]
    downloads: list[list[int]] = []
    for done, _total in seen:
        if not downloads or done <= downloads[-1][-1]:
            downloads.append([])
        downloads[-1].append(done)
    assert [d[-1] for d in downloads] == [len(registry.packages[p][1]) for p in ("hl7.fhir.no.basis", "hl7.fhir.r4.core")]
    assert all(d == sorted(d) for d in downloads) and len(downloads[1]) > 10
    assert cache.install("hl7.fhir.no.basis#2.2.2", registry=_url(registry)) == []  # already there


def test_install_latest_by_id(registry: _Registry, tmp_path: Path) -> None:
    installed = PackageCache(tmp_path).install("hl7.fhir.no.basis", registry=_url(registry), with_dependencies=False)
    assert [i.ref for i in installed] == ["hl7.fhir.no.basis#2.2.2"]


def test_registry_without_metadata_serves_id_slash_version(registry: _Registry, tmp_path: Path) -> None:
    registry.metadata = False
    installed = PackageCache(tmp_path).install("hl7.fhir.no.basis#2.2.2", registry=_url(registry),
                                               with_dependencies=False)
    assert installed[0].ref == "hl7.fhir.no.basis#2.2.2"


def test_checksum_mismatch_and_not_found(registry: _Registry, tmp_path: Path) -> None:
    registry.bad_shasum = True
    with pytest.raises(EnvironmentProblem, match="shasum"):
        PackageCache(tmp_path).install("hl7.fhir.no.basis#2.2.2", registry=_url(registry))
    with pytest.raises(EnvironmentProblem, match="not found"):
        PackageCache(tmp_path).install("example.unknown#1.0.0", registry=_url(registry))


def test_unreachable_registry_says_how_to_install_offline(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(EnvironmentProblem) as raised:
        PackageCache(tmp_path).install("hl7.fhir.no.basis#2.2.2", registry=f"http://127.0.0.1:{port}")
    assert "could not reach" in str(raised.value)
    assert "samsvar packages install hl7.fhir.no.basis-2.2.2.tgz" in (raised.value.hint or "")


def test_cli_install_and_list(run, tmp_path: Path, registry: _Registry) -> None:
    cache = tmp_path / "cli-cache"
    from_file = run("packages", "install", str(_tgz("hl7.fhir.no.basis-2.2.2.tgz")), "--cache", str(cache))
    assert from_file.exit_code == 0
    assert "installed hl7.fhir.no.basis#2.2.2" in from_file.stdout
    assert "hl7.fhir.r4.core#4.0.1" in from_file.stderr  # the missing dependency is named
    from_registry = run("packages", "install", "hl7.fhir.r4.core#4.0.1", "--cache", str(cache),
                        "--registry", _url(registry))
    assert from_registry.exit_code == 0
    listed = json.loads(run("packages", "list", "--cache", str(cache), "--json").stdout)
    assert {p["id"] for p in listed if p["source"] == "cache"} == {"hl7.fhir.no.basis", "hl7.fhir.r4.core"}
    embedded = {p["id"]: p["shadowed"] for p in listed if p["source"] == "embedded"}
    assert embedded["hl7.fhir.r4.core"] is True and embedded["hl7.terminology.r4"] is False
    offline = run("packages", "install", "hl7.fhir.uv.ips#1.1.0", "--cache", str(cache),
                  "--registry", "http://127.0.0.1:1")
    assert offline.exit_code == 3 and "Offline?" in offline.stderr
    shutil.rmtree(cache)
