"""The README's editor recipe, followed in a temporary copy of the repository: add a profile with
``samsvar profiles new``, add a requirement to the catalogue as data, and the copy's own lint, profile,
fixture and requirement tests pass, with no Python edited and nothing skipped."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO
from .shared import shared_root

README = (REPO / "README.md").read_text(encoding="utf-8")


def _recipe() -> tuple[list[str], dict]:
    """The README's recipe: the ``samsvar profiles new`` command of "Add a profile" and the JSON entry
    of "Add a requirement" (the test follows the README, not a copy of it)."""
    profile = README.split("## Add a profile (standards editors)", 1)[1].split("\n## ", 1)[0]
    command = next(line.strip().removeprefix("$ samsvar ") for line in profile.splitlines()
                   if line.strip().startswith("$ samsvar profiles new"))
    section = README.split("## Add a requirement", 1)[1].split("\n## ", 1)[0]
    entry = json.loads(section.split("```json", 1)[1].split("```", 1)[0])
    return command.split(), entry


COMMAND, REQUIREMENT = _recipe()
NAME = COMMAND[2]
BASE = COMMAND[COMMAND.index("--base") + 1]
URL = "http://samsvar.no/fhir/StructureDefinition/samsvar-" + NAME
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", ".ci-venv", ".ci-sekmet", "__pycache__", "*.egg-info",
                                    ".pytest_cache", ".ci-skips.jsonl")


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository copied (no .git, no virtual environments) as a package folder named samsvar."""
    root = tmp_path_factory.mktemp("editor") / "samsvar"
    shutil.copytree(REPO, root, ignore=NOT_COPIED, symlinks=True)
    return root


def _env(copy: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(copy.parent), SAMSVAR_FHIR_HOME=str(cache),
               SAMSVAR_CACHE_DIR=str(copy.parent / "cache"))
    env.pop("SAMSVAR_SKIP_REPORT", None)
    shared = shared_root()
    if shared is not None:  # the copy is not beside ../shared: say where it is
        env["SAMSVAR_SHARED"] = str(shared)
    return env


def _samsvar(copy: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The copy's samsvar (its own code and data), as a user runs it."""
    return subprocess.run([sys.executable, "-c", "from samsvar.cli import cli; cli()", *args], cwd=copy,
                          env=_env(copy, cache), capture_output=True, text=True, timeout=600)


def test_add_a_profile_and_a_requirement_as_data_alone(copy: Path, fhir_cache: Path) -> None:
    # 1. the scaffold writes the profile, two fixtures and their expected.toml entries
    made = _samsvar(copy, fhir_cache, *COMMAND)
    assert made.returncode == 0, made.stderr + made.stdout
    assert "still raises" not in made.stdout, made.stdout  # the valid fixture is valid as written
    profile = copy / "profiles" / "fhir" / f"StructureDefinition-samsvar-{NAME}.json"
    assert json.loads(profile.read_text(encoding="utf-8"))["baseDefinition"] == BASE
    # 2. a requirement, as data in the catalogue
    catalogue_file = copy / "profiles" / "requirements" / "catalogue.json"
    catalogue = json.loads(catalogue_file.read_text(encoding="utf-8"))
    assert REQUIREMENT["verification"][0]["profile"] == URL
    catalogue["requirements"].append(REQUIREMENT)
    catalogue_file.write_text(json.dumps(catalogue, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    # 3. the editor's checks: lint and the catalogue
    lint = _samsvar(copy, fhir_cache, "profiles", "lint")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert URL in {row["url"] for row in json.loads(_samsvar(copy, fhir_cache, "profiles", "list", "--json").stdout)}
    checked = _samsvar(copy, fhir_cache, "requirements", "check", "--lang", "en")
    assert checked.returncode == 0 and f"valid: {len(catalogue['requirements'])} requirements" in checked.stdout
    # 4. the requirement is judged on the new profile's findings
    fixtures = copy / "fixtures" / "fhir" / "samsvar-profiles"
    for name, verdict in (("valid-home-care-appointment.json", "pass"),
                          ("home-care-appointment-without-narrative.json", "fail")):
        run = _samsvar(copy, fhir_cache, "validate", "--ig", str(copy / "profiles" / "fhir"), "--ig",
                       "hl7.fhir.no.basis#2.2.2", "-f", "json", "--no-config", str(fixtures / name))
        verdicts = {v["id"]: v["verdict"] for v in json.loads(run.stdout)["requirements"]}
        assert verdicts[REQUIREMENT["id"]] == verdict, (name, run.stdout[-2000:])
    # 5. the copy's own tests of profiles, fixtures and requirements: green, nothing skipped
    cases = [f"tests/test_fixtures.py::test_fixture_raises_exactly_its_rules[fhir/samsvar-profiles/{name}]"
             for name in ("valid-home-care-appointment.json", "home-care-appointment-without-narrative.json")]
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:randomly", "-p", "no:cacheprovider", *cases,
         "tests/test_fixtures.py::test_every_manifest_names_existing_files_and_every_file_is_listed",
         "tests/test_samsvar_profiles.py", "tests/test_profiles_lint.py", "tests/test_requirements.py::"
         "test_shipped_catalogue_validates_and_is_grounded_in_samsvar_rules",
         "tests/test_profile_requirements.py::test_every_own_profile_is_named_by_a_requirement"],
        cwd=copy, env=_env(copy, fhir_cache), capture_output=True, text=True, timeout=1200)
    summary = tests.stdout.strip().splitlines()[-1] if tests.stdout.strip() else tests.stderr
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert "skipped" not in summary and "passed" in summary, summary
