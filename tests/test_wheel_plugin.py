"""SLOW (about a minute or two; marked ``wheel``): the pytest plugin in a throw-away vendor project.

samsvar is built as a wheel from this checkout, installed with its dependencies into a fresh
virtual environment (no system site-packages, no editable install), and a vendor's test file
there uses the ``samsvar`` fixture, the marker and ``--samsvar-report`` without any conftest: the
``pytest11`` entry point of the installed wheel is what loads the plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = [pytest.mark.wheel, pytest.mark.timeout(900)]


def _run(*args: str | Path, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "VIRTUAL_ENV", "PYTHONPATH"))}
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def test_plugin_from_the_wheel_in_a_fresh_project(tmp_path: Path, fhir_cache: Path) -> None:
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", REPO)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("samsvar-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "samsvar/py.typed" in names and "samsvar/validators/rules.toml" in names and "samsvar/api/pytest_plugin.py" in names
    assert "[pytest11]" in entry_points and "samsvar.api.pytest_plugin" in entry_points

    venv = tmp_path / "venv"
    assert _run(sys.executable, "-m", "venv", venv).returncode == 0
    python = venv / "bin" / "python"
    installed = _run(python, "-m", "pip", "install", "-q", wheel, "pytest>=8,<10", "fhir.resources>=8,<9")
    assert installed.returncode == 0, installed.stderr[-3000:]

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
