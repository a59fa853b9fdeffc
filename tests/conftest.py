"""Shared fixtures: a FHIR package cache (tests/shared.py says where it comes from), and a CLI runner."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from samsvar.cli import cli

from .shared import fhir_package_cache

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


USER_STATE_VARIABLES = ("SAMSVAR_FHIR_HOME", "SAMSVAR_CACHE_DIR", "SAMSVAR_SCHEMA_HOME", "HOME",
                        "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")
"""Every place samsvar reads user state from: its own variables and the home-derived defaults
(``~/.fhir/packages``, ``~/.cache/samsvar`` or ``$XDG_CACHE_HOME/samsvar``, ``~/.samsvar/schemas``)."""
USER_SWITCHES = ("SAMSVAR_NO_CACHE", "SAMSVAR_DEBUG", "SAMSVAR_VERIFY_FAST_PATH", "SAMSVAR_PACKAGE_REGISTRY",
                 "SAMSVAR_EMBED_DOWNLOAD", "SAMSVAR_EMBED_REQUIRE", "SAMSVAR_SIGN_PASSWORD")
"""Variables a user may have set that change samsvar's behaviour; tests start without them."""


@pytest.fixture(scope="session", autouse=True)
def isolated_user_state(tmp_path_factory: pytest.TempPathFactory):  # -> Iterator[dict[str, Path]]
    """The one place tests leave the user's home alone: every user-state location points into this
    session's own folders (an empty home, an empty FHIR package cache and schema home, one disk cache
    kept for the session so snapshots and FHIRPath are built once), the user's switches are unset,
    and the working folder is an empty one, so no ``samsvar.toml`` of theirs is discovered.

    It is session-wide so that session fixtures are isolated too. A test that wants a package cache
    or a schema pack sets one up itself (``env_cache``, ``monkeypatch.setenv``)."""
    root = tmp_path_factory.mktemp("user-state")
    folders = {
        "HOME": root / "home",
        "XDG_CACHE_HOME": root / "home" / ".cache",
        "XDG_CONFIG_HOME": root / "home" / ".config",
        "XDG_DATA_HOME": root / "home" / ".local" / "share",
        "SAMSVAR_FHIR_HOME": root / "fhir-packages",
        "SAMSVAR_SCHEMA_HOME": root / "schemas",
        "SAMSVAR_CACHE_DIR": root / "samsvar-cache",
    }
    assert set(folders) == set(USER_STATE_VARIABLES)
    working = root / "work"
    for folder in (*folders.values(), working):
        folder.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        for name, folder in folders.items():
            patch.setenv(name, str(folder))
        for name in USER_SWITCHES:
            patch.delenv(name, raising=False)
        _embed_from_shared(patch)
        patch.chdir(working)
        yield folders


def _embed_from_shared(patch: pytest.MonkeyPatch) -> None:
    """An editable install finds the embedded default beside the checkout; ``$SAMSVAR_SHARED``
    may put ../shared elsewhere: then point the run-time lookup there too (never the user's own)."""
    from .shared import shared_root

    patch.delenv("SAMSVAR_EMBED_FROM", raising=False)
    root = shared_root()
    if root is not None:
        patch.setenv("SAMSVAR_EMBED_FROM", str(root / "data" / "fhir-packages"))


@pytest.fixture(scope="session")
def fhir_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package cache from which hl7.fhir.r4.core#4.0.1 and hl7.fhir.no.basis#2.2.2 load (see tests/shared.py)."""
    return fhir_package_cache(tmp_path_factory.mktemp("fhir-packages"))


@pytest.fixture()
def env_cache(fhir_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point SAMSVAR_FHIR_HOME at the session cache for this test."""
    monkeypatch.setenv("SAMSVAR_FHIR_HOME", str(fhir_cache))
    return fhir_cache


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture()
def run(env_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run the CLI in-process from an empty folder (no stray config); never let it raise."""
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, input: bytes | str | None = None) -> Outcome:
        runner = CliRunner()
        result = runner.invoke(cli, list(args), input=input, catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"samsvar raised {result.exception!r}") from result.exception
        return Outcome(result.exit_code, result.stdout, result.stderr)

    return invoke


def copy_fixture(name: str, dest: Path) -> Path:
    target = dest / Path(name).name
    shutil.copy(FIXTURES / name, target)
    return target


# --------------------------------------------------------------------------- skips, for .ci/run
SKIP_REPORT = "SAMSVAR_SKIP_REPORT"
"""When set, the file every skipped test is written to (one JSON object a line: test id and reason);
.ci/run holds it to .ci/allowed-skips.toml."""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    import json
    import os

    target = os.environ.get(SKIP_REPORT)
    if not target or not report.skipped or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    with open(target, "a", encoding="utf-8") as out:
        out.write(json.dumps({"test": report.nodeid, "reason": str(reason).removeprefix("Skipped: ")}) + "\n")


def _hypothesis_profiles() -> None:
    """``--hypothesis-profile=samsvar-full``: the property tests over profiles with 200 examples each
    (tests/test_strategies.py; without it they draw fewer, to keep CI within a few minutes)."""
    from hypothesis import HealthCheck, settings

    settings.register_profile("samsvar-full", max_examples=200, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


_hypothesis_profiles()
