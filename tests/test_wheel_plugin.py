"""SLOW (a minute or two; marked ``wheel``): the wheel, built from this checkout and installed with
its dependencies into a fresh virtual environment (no system site-packages, no editable install).

- The pytest plugin in a throw-away vendor project: a vendor's test file uses the ``samsvar``
  fixture, the marker and ``--samsvar-report`` without any conftest; the ``pytest11`` entry point
  of the installed wheel is what loads the plugin.
- The engine the wheel compiles with mypyc (``validators/compiled.py``; the build is required to
  compile, ``SAMSVAR_COMPILE_REQUIRE=1``): every module listed runs from its C extension, and
  every fixture, and every 10th official example, gets the same issues from the installed wheel
  as from this checkout's pure Python."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest
from samsvar.validators.compiled import MODULES

from .conftest import REPO
from .shared import shared_path

pytestmark = [pytest.mark.wheel, pytest.mark.timeout(900)]

_NOW = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _run(*args: str | Path, cwd: Path | None = None, timeout: float = 600,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "VIRTUAL_ENV", "PYTHONPATH"))}
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
                          env={**clean, **(env or {})})


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, REPO,
                 env={"SAMSVAR_COMPILE_REQUIRE": "1"})
    assert built.returncode == 0, built.stderr[-3000:]
    return next(dist.glob("samsvar-*.whl"))


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("wheel-venv") / "venv"
    assert _run(sys.executable, "-m", "venv", where).returncode == 0
    installed = _run(where / "bin" / "python", "-m", "pip", "install", "-q", wheel, "pytest>=8,<10", "fhir.resources>=8,<9")
    assert installed.returncode == 0, installed.stderr[-3000:]
    return where


def test_plugin_from_the_wheel_in_a_fresh_project(tmp_path: Path, fhir_cache: Path, wheel: Path, venv: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "samsvar/py.typed" in names and "samsvar/validators/rules.toml" in names and "samsvar/api/pytest_plugin.py" in names
    assert "[pytest11]" in entry_points and "samsvar.api.pytest_plugin" in entry_points

    python = venv / "bin" / "python"

    project = tmp_path / "vendor"
    (project / "tests").mkdir(parents=True)
    (project / "pyproject.toml").write_text(textwrap.dedent(f'''
        [tool.samsvar]
        cache = "{fhir_cache}"
        ignore = ["FHIR-INV-003"]
        '''), encoding="utf-8")
    (project / "tests" / "test_epj.py").write_text(textwrap.dedent('''
        import pytest
        from fhir.resources.R4B.patient import Patient

        def patient(fnr):
            return Patient(id="p1", gender="female", birthDate="1972-09-13",
                           identifier=[{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": fnr}])

        def test_export_conforms(samsvar):
            samsvar.assert_conforms(patient("13097248022"))

        def test_export_with_a_typo(samsvar):
            samsvar.assert_conforms(patient("13097248023"))

        @pytest.mark.samsvar_validate(profile="http://hl7.org/fhir/StructureDefinition/Patient")
        def test_returned_resource():
            return patient("13097248022").model_dump(mode="json")
        '''), encoding="utf-8")
    ran = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--samsvar-report=samsvar.xml", cwd=project)
    out = ran.stdout
    assert ran.returncode == 1, out + ran.stderr
    assert "2 passed" in out and "1 failed" in out, out
    assert "does not conform: 1 issue at or above error" in out and "error NO-ID-003" in out, out
    assert "written to samsvar.xml" in out, out
    report = (project / "samsvar.xml").read_text(encoding="utf-8")
    assert report.count("<testcase") == 3 and report.count("<failure") == 1
    # the installed samsvar, not this checkout
    where = _run(python, "-c", "import samsvar; print(samsvar.__file__)", cwd=project).stdout
    assert str(venv) in where and str(REPO) not in where


def _issues(python: Path | str, target: Path, cwd: Path) -> list[dict[str, object]]:
    """What ``samsvar validate TARGET`` says of each file (path, kind, format, issues), run by ``python``."""
    report = cwd / f"report-{abs(hash(str(python)))}.json"
    ran = _run(python, "-c", "from samsvar.cli import main; main()", "validate", target, "--no-config",
               "-f", "json", "-o", report, cwd=cwd)
    assert ran.returncode in (0, 1), ran.stdout[-2000:] + ran.stderr[-2000:]
    # the one message that tells the time (a profile's maxValue relative to now) is judged apart from it
    results = json.loads(_NOW.sub("<now>", report.read_text(encoding="utf-8")))["results"]
    assert results
    return [{key: result.get(key) for key in ("path", "kind", "format", "issues")} for result in results]


def _engine(python: Path | str) -> str:
    return _run(python, "-c", "from samsvar.cli import main; main()", "--version", cwd=REPO.parent).stdout


def test_the_wheel_runs_the_engine_compiled(wheel: Path, venv: Path) -> None:
    assert "-cp3" in wheel.name and "none-any" not in wheel.name  # tagged for this interpreter and platform
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for source in MODULES:
        stem = f"samsvar/{source.removesuffix('.py')}"
        assert f"samsvar/{source}" in names  # the source stays beside its extension
        assert any(n.startswith(stem + ".") and n.endswith((".so", ".pyd")) for n in names), source
    assert f"compiled with mypyc ({len(MODULES)} of {len(MODULES)} modules)" in _engine(venv / "bin" / "python")
    assert "engine: pure Python" in _engine(sys.executable)  # this checkout: the comparison below is real


def test_the_compiled_wheel_judges_every_fixture_as_the_source(venv: Path, tmp_path: Path) -> None:
    pure = _issues(sys.executable, REPO / "fixtures", tmp_path)
    compiled = _issues(venv / "bin" / "python", REPO / "fixtures", tmp_path)
    assert len(pure) > 500 and sum(len(r["issues"]) for r in pure) > 500  # type: ignore[arg-type]
    assert compiled == pure


def test_the_compiled_wheel_judges_the_official_examples_as_the_source(venv: Path, tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    examples.mkdir()
    with tarfile.open(shared_path("fhir-packages", "hl7.fhir.r4.examples-4.0.1.tgz")) as archive:
        members = sorted((m for m in archive.getmembers() if m.isfile() and m.name.endswith(".json")
                          and not m.name.endswith(("package.json", ".index.json"))), key=lambda m: m.name)
        for member in members[::10]:
            (examples / Path(member.name).name).write_bytes(archive.extractfile(member).read())  # type: ignore[union-attr]
    pure = _issues(sys.executable, examples, tmp_path)
    compiled = _issues(venv / "bin" / "python", examples, tmp_path)
    assert len(pure) == len(list(examples.iterdir())) > 500
    assert compiled == pure
