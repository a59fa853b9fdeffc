"""The embedded default: pins, precedence (--ig > cache > embedded), and the wheel that carries it.

The wheel tests build samsvar from a copy of this checkout that has no ``../shared`` beside it
(the tarballs come in through ``$SAMSVAR_EMBED_FROM``), install the wheel into a fresh virtual
environment (dependencies from the package index), and run it from a folder outside the
checkout with an empty FHIR package cache.
"""

from __future__ import annotations

import http.server
import json
import threading
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from samsvar.validators.fhir import embedded as embedded_module
from samsvar.validators.fhir.embedding import (
    file_sha256, index_name, is_resource_name, read_pins, resources_digest, tgz_resources, write_zip, zip_resources,
)
from samsvar.validators.fhir.igs import load_definitions
from samsvar.validators.fhir.packages import PackageCache

from .checkout import clean_env, source_copy
from .shared import shared_path

REPO = Path(__file__).resolve().parent.parent
PINS = read_pins(REPO / "embedded" / "packages.toml")
PATIENT = REPO / "fixtures" / "fhir" / "identifiers" / "fnr-wrong-checksum.json"
MESSAGE = REPO / "fixtures" / "messages" / "live" / "dialogmelding-patient-fnr-wrong.xml"
LAUNCH = "from samsvar.cli import main; main()"


def test_the_pins_name_the_four_packages_of_the_issue() -> None:
    assert [pin.ref for pin in PINS] == ["hl7.fhir.r4.core#4.0.1", "hl7.fhir.no.basis#2.2.2",
                                         "hl7.terminology.r4#7.0.1", "hl7.fhir.uv.extensions.r4#5.3.0-ballot-tc1"]


@pytest.mark.parametrize("pin", PINS, ids=lambda pin: pin.ref)
def test_each_pin_matches_the_published_tarball(pin) -> None:
    tarball = shared_path("fhir-packages", pin.file)
    assert file_sha256(tarball) == pin.sha256
    files = tgz_resources(tarball.read_bytes())
    assert resources_digest((n, b) for n, b in files.items() if is_resource_name(n)) == pin.resources_sha256


def test_a_tarball_that_is_not_the_pinned_one_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from samsvar.validators.issues import EnvironmentProblem

    impostor = tmp_path / PINS[1].file  # no-basis' name, core's bytes
    shutil.copy(shared_path("fhir-packages", PINS[0].file), impostor)
    monkeypatch.setattr(embedded_module, "SHARED_PACKAGES", tmp_path / "nowhere")
    monkeypatch.setenv("SAMSVAR_EMBED_FROM", str(tmp_path))
    embedded_module._available.cache_clear()
    try:
        package = embedded_module.embedded_get("hl7.fhir.no.basis", "2.2.2")
        assert package is not None
        with pytest.raises(EnvironmentProblem, match="not the pinned hl7.fhir.no.basis#2.2.2"):
            package.index
    finally:
        embedded_module._available.cache_clear()


def test_a_zip_package_reads_what_the_tarball_holds_and_refuses_damage(tmp_path: Path) -> None:
    from samsvar.validators.issues import EnvironmentProblem

    pin = PINS[1]  # no-basis: small
    files = tgz_resources(shared_path("fhir-packages", pin.file).read_bytes())
    write_zip(files, tmp_path / pin.zip_name)
    package = embedded_module.ZipPackage(tmp_path / pin.zip_name, pin)
    assert package.manifest == json.loads(files["package.json"])
    assert {e["filename"] for e in package.index} == {n for n in files if is_resource_name(n)} - {"package.json"}
    for entry in package.index:
        assert package.load(entry["filename"]) == json.loads(files[entry["filename"]])
    assert package.sha256 == pin.sha256 and package.origin == "embedded"

    victim = package.index[0]["filename"]
    offset, compressed, _, _ = package._place(victim)
    data = bytearray((tmp_path / pin.zip_name).read_bytes())
    data[offset + 30 + len(victim) + compressed // 2] ^= 0xFF
    (tmp_path / pin.zip_name).write_bytes(bytes(data))
    with pytest.raises(EnvironmentProblem, match="embedded package hl7.fhir.no.basis#2.2.2"):
        embedded_module.ZipPackage(tmp_path / pin.zip_name, pin).load(victim)


def _sources(igs: tuple[str, ...], cache: Path) -> dict[str, str]:
    _, packages = load_definitions("hl7.fhir.r4.core#4.0.1", igs, cache)
    return {package.ref: package.origin for package in packages}


def test_an_empty_cache_takes_every_package_from_the_embedded_default(tmp_path: Path) -> None:
    refs = ("hl7.fhir.no.basis#2.2.2", "hl7.terminology.r4#7.0.1")
    # terminology 7.0.1 names extensions 5.2.0 (and that one terminology 6.5.0): the embedded
    # versions of the same packages stand in for dependencies that are nowhere else
    assert _sources(refs, tmp_path) == {
        "hl7.fhir.r4.core#4.0.1": "embedded", "hl7.fhir.no.basis#2.2.2": "embedded",
        "hl7.fhir.uv.extensions.r4#5.3.0-ballot-tc1": "embedded", "hl7.terminology.r4#7.0.1": "embedded"}


def test_the_cache_wins_over_the_embedded_copy(fhir_cache: Path) -> None:
    assert _sources(("hl7.fhir.no.basis#2.2.2",), fhir_cache) == {
        "hl7.fhir.r4.core#4.0.1": "cache", "hl7.fhir.no.basis#2.2.2": "cache"}


def test_an_ig_tarball_wins_over_cache_and_embedded(fhir_cache: Path) -> None:
    basis = str(shared_path("fhir-packages", "hl7.fhir.no.basis-2.2.2.tgz"))
    assert _sources((basis,), fhir_cache) == {"hl7.fhir.r4.core#4.0.1": "cache", "hl7.fhir.no.basis#2.2.2": "ig"}
    core = str(shared_path("fhir-packages", "hl7.fhir.r4.core-4.0.1.tgz"))
    assert _sources((core,), PackageCache(fhir_cache).root) == {"hl7.fhir.r4.core#4.0.1": "ig"}


# -- the build step ------------------------------------------------------------------------------

def _build_step(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("_samsvar_embed_step", REPO / "build_support" / "embed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "SHARED", tmp_path / "no-shared-here")
    for name in ("SAMSVAR_EMBED_FROM", "SAMSVAR_EMBED_DOWNLOAD", "SAMSVAR_EMBED_REQUIRE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "empty-home").mkdir()
    monkeypatch.setenv("SAMSVAR_FHIR_HOME", str(tmp_path / "empty-home"))
    return module


class _Registry(http.server.ThreadingHTTPServer):
    tarballs: dict[str, bytes]


class _Serve(http.server.BaseHTTPRequestHandler):
    server: _Registry

    def log_message(self, *_args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        data = self.server.tarballs.get(self.path)
        self.send_response(200 if data is not None else 404)
        self.send_header("Content-Length", str(len(data or b"")))
        self.end_headers()
        self.wfile.write(data or b"")


def test_the_build_step_downloads_only_when_asked_and_checks_the_pin(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path, capsys) -> None:
    step = _build_step(monkeypatch, tmp_path)
    core, basis = PINS[0], PINS[1]
    server = _Registry(("127.0.0.1", 0), _Serve)
    server.tarballs = {f"/{core.id}/{core.version}": shared_path("fhir-packages", core.file).read_bytes(),
                       f"/{basis.id}/{basis.version}": shared_path("fhir-packages", PINS[2].file).read_bytes()}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        offline = step.embed_into(tmp_path / "offline")
        assert offline["packages"] == [] and len(offline["missing"]) == 4  # no network unless asked
        monkeypatch.setenv("SAMSVAR_EMBED_DOWNLOAD", f"http://127.0.0.1:{server.server_address[1]}")
        manifest = step.embed_into(tmp_path / "online")
    finally:
        server.shutdown()
        server.server_close()
    assert [(p["id"], p["from"]) for p in manifest["packages"]] == [(core.id, "registry")]
    why = {m["ref"]: m["why"] for m in manifest["missing"]}
    assert "not the pinned tarball" in why[basis.ref]  # served, but not the bytes pinned
    assert "404" in why[PINS[3].ref]
    assert resources_digest(zip_resources(tmp_path / "online" / "fhir" / core.zip_name)) == core.resources_sha256
    monkeypatch.setenv("SAMSVAR_EMBED_REQUIRE", "1")
    monkeypatch.delenv("SAMSVAR_EMBED_DOWNLOAD")
    with pytest.raises(SystemExit, match="incomplete"):
        step.embed_into(tmp_path / "required")
    assert "NOT embedding hl7.fhir.r4.core#4.0.1" in capsys.readouterr().err


# -- the wheel ------------------------------------------------------------------------------------

def _build(source: Path, out: Path, env: dict[str, str]) -> tuple[Path, str]:
    done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(source)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return next(out.glob("samsvar-*.whl")), done.stdout + done.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    packages = shared_path("fhir-packages")
    source = source_copy(tmp / "src")
    # pure Python (the compiled engine is test_wheel_plugin's): the wheel any platform installs
    built, log = _build(source, tmp / "dist", clean_env(tmp, SAMSVAR_EMBED_FROM=str(packages), SAMSVAR_PURE="1"))
    for pin in PINS:
        assert f"embedding {pin.ref}" in log
    assert "SAMSVAR_PURE is set" in log and built.name.endswith("-py3-none-any.whl")
    return built


@pytest.mark.slow
def test_the_wheel_carries_the_pinned_packages_and_nothing_else_from_shared(wheel: Path, tmp_path: Path) -> None:
    tracked = set(subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                                 check=True, capture_output=True, text=True).stdout.split())
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.startswith("samsvar/")]
        embedded = sorted(n for n in names if n.startswith("samsvar/embedded/"))
        assert embedded == sorted(["samsvar/embedded/packages.toml", "samsvar/embedded/manifest.json",
                                   *(f"samsvar/embedded/fhir/{pin.zip_name}" for pin in PINS),
                                   *(f"samsvar/embedded/fhir/{index_name(pin.zip_name)}" for pin in PINS)])
        # every other file of the package is one of ours, from the repository
        assert sorted(n.removeprefix("samsvar/") for n in names if n not in embedded
                      if n.removeprefix("samsvar/") not in tracked) == []
        manifest = json.loads(archive.read("samsvar/embedded/manifest.json"))
        assert manifest["missing"] == []
        for pin in PINS:
            zipped = tmp_path / pin.zip_name
            zipped.write_bytes(archive.read(f"samsvar/embedded/fhir/{pin.zip_name}"))
            assert resources_digest(zip_resources(zipped)) == pin.resources_sha256
            with zipfile.ZipFile(zipped) as inner:
                assert ".index.json" in inner.namelist() and "package.json" in inner.namelist()
    print(f"wheel size: {wheel.stat().st_size / 1e6:.1f} MB")


@pytest.mark.slow
def test_a_build_without_the_packages_works_and_says_what_is_missing(tmp_path: Path) -> None:
    source = source_copy(tmp_path / "src")
    built, log = _build(source, tmp_path / "dist", clean_env(tmp_path, SAMSVAR_EMBED_FROM=str(tmp_path / "none"),
                                                              SAMSVAR_PURE="1"))
    for pin in PINS:
        assert f"NOT embedding {pin.ref}" in log
    with zipfile.ZipFile(built) as archive:
        manifest = json.loads(archive.read("samsvar/embedded/manifest.json"))
        assert not [n for n in archive.namelist() if n.endswith(".zip")]
    assert [m["ref"] for m in manifest["missing"]] == [pin.ref for pin in PINS]


def _findings(command: list[str], cwd: Path, env: dict[str, str]) -> dict:
    done = subprocess.run([*command, "validate", "--no-config", "-f", "json", "patient.json", "dialogmelding.xml"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr  # both files have a wrong fødselsnummer
    report = json.loads(done.stdout)
    return {"results": [(r["path"], [(i["rule"], i["severity"], i["message"], i.get("line"), i.get("column"),
                                      i.get("expression")) for i in r["issues"]]) for r in report["results"]],
            "packages": report["reproducibility"]["packages"]}


@pytest.mark.slow
def test_the_installed_wheel_validates_offline_like_the_development_install(wheel: Path, tmp_path: Path) -> None:
    venv.EnvBuilder(with_pip=True, clear=True).create(tmp_path / "clean")
    python = tmp_path / "clean" / "bin" / "python"
    env = clean_env(tmp_path)
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], env=env,
                             capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert install.returncode == 0, install.stderr[-3000:]
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(PATIENT, work / "patient.json")
    shutil.copy(MESSAGE, work / "dialogmelding.xml")
    where = subprocess.run([str(python), "-c", "import samsvar; print(samsvar.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(tmp_path / "clean"), where  # not the checkout

    installed = _findings([str(tmp_path / "clean" / "bin" / "samsvar")], work, env)
    development = _findings([sys.executable, "-c", LAUNCH], work,
                            {**env, "SAMSVAR_EMBED_FROM": str(shared_path("fhir-packages"))})
    assert installed == development
    rules = {rule for _, issues in installed["results"] for rule, *_ in issues}
    assert "NO-ID-003" in rules
    assert installed["packages"] == [{"id": "hl7.fhir.r4.core", "version": "4.0.1", "sha256": PINS[0].sha256,
                                      "source": "embedded"}]
    listed = subprocess.run([str(tmp_path / "clean" / "bin" / "samsvar"), "packages", "list", "--json"], cwd=work,
                            env=env, capture_output=True, text=True, check=True)
    assert [(p["id"], p["version"], p["source"], p["sha256"]) for p in json.loads(listed.stdout)] == [
        (pin.id, pin.version, "embedded", pin.sha256) for pin in PINS]
