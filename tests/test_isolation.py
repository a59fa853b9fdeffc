"""The tests do not depend on the user's home: a sample of the suite gives the same outcome, test
by test, with a populated home (an installed schema pack, a package cache with a broken core
package, a disk cache full of junk, a configuration that ignores every rule, the user's switches)
as with the empty one the suite's autouse fixture gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from junitparser import JUnitXml

from samsvar.validators.messages.schema_packs import install_schemas

from .conftest import REPO, USER_STATE_VARIABLES
from .shared import shared_path

SAMPLE = [
    "tests/test_message_schemas.py",  # reads the schema home
    "tests/test_requirements.py",     # messages without a pack, the catalogue judged on a run
    "tests/test_message_fast_paths.py::test_two_jobs_give_the_results_of_one",  # no pack: MSG-XSD-002
    "tests/test_cache.py",            # the disk caches and SAMSVAR_NO_CACHE
    "tests/test_cli.py::test_exit_0_on_a_clean_file",
    "tests/test_cli.py::test_exit_1_on_findings_with_location",
    "tests/test_cli.py::test_exit_5_when_a_folder_holds_nothing_to_check",
    "tests/test_cli.py::test_an_empty_cache_uses_the_embedded_core_and_says_so",  # the package cache
    "tests/test_cli.py::test_exit_3_when_a_package_is_neither_cached_nor_embedded",  # a package neither cached nor embedded
]


def _populated_home(root: Path) -> dict[str, str]:
    """A user's state as a real machine may have it, under ``root``."""
    home = root / "home"
    schemas = home / ".samsvar" / "schemas"
    install_schemas(shared_path("no", "xsd", "sarepta-skjema"), schemas)
    broken_core = home / ".fhir" / "packages" / "hl7.fhir.r4.core#4.0.1" / "package"
    broken_core.mkdir(parents=True)
    (broken_core / "package.json").write_text('{"name": "hl7.fhir.r4.core", "version": "4.0.1"}')
    cache = home / ".cache" / "samsvar"
    for folder in ("fhirpath", "snapshots", "tarballs"):
        (cache / folder).mkdir(parents=True)
        (cache / folder / "junk").write_bytes(b"\x00not a cache entry")
    (home / "samsvar.toml").write_text('fail-on = "fatal"\nignore = ["ALL"]\n')
    return {
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "SAMSVAR_FHIR_HOME": str(home / ".fhir" / "packages"),
        "SAMSVAR_SCHEMA_HOME": str(schemas),
        "SAMSVAR_CACHE_DIR": str(cache),
        "SAMSVAR_NO_CACHE": "1",
        "SAMSVAR_DEBUG": "1",
        "SAMSVAR_VERIFY_FAST_PATH": "1",
        "SAMSVAR_PACKAGE_REGISTRY": "http://127.0.0.1:9/",
    }


def _outcomes(run_dir: Path, env: dict[str, str], cwd: Path) -> dict[str, str]:
    """Each test of the sample and its outcome (passed / failed / skipped), from JUnit XML."""
    run_dir.mkdir(parents=True)
    junit = run_dir / "junit.xml"
    process = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         f"--basetemp={run_dir / 'tmp'}", f"--junitxml={junit}", f"--rootdir={REPO}",
         *(str(REPO / test) for test in SAMPLE)],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert junit.is_file(), process.stdout + process.stderr
    outcomes = {}
    for suite in JUnitXml.fromfile(str(junit)):
        for case in suite:
            kinds = {type(r).__name__ for r in case.result}
            outcomes[f"{case.classname}::{case.name}"] = (
                "failed" if kinds & {"Failure", "Error"} else "skipped" if "Skipped" in kinds else "passed")
    return outcomes


def test_a_populated_home_changes_no_test_result(tmp_path: Path) -> None:
    clean_env = dict(os.environ)
    assert all(name in clean_env for name in USER_STATE_VARIABLES)  # the autouse fixture's empty home
    user_env = {**clean_env, **_populated_home(tmp_path / "user")}
    clean = _outcomes(tmp_path / "clean", clean_env, Path.cwd())
    populated = _outcomes(tmp_path / "populated", user_env, Path(user_env["HOME"]))
    assert len(clean) >= 40 and set(clean.values()) == {"passed"}, clean
    assert populated == clean, {test: outcome for test, outcome in populated.items() if clean.get(test) != outcome}
