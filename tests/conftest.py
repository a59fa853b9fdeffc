"""Shared fixtures: a FHIR package cache installed from ../shared, and a CLI runner."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from samsvar.cli import cli

from .shared import shared_path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


@pytest.fixture(scope="session", autouse=True)
def samsvar_cache_dir(tmp_path_factory: pytest.TempPathFactory):  # -> Iterator[Path]
    """samsvar's disk caches (FHIRPath, snapshots, tarballs) live in a folder of this session, not ~/.cache."""
    import os

    folder = tmp_path_factory.mktemp("samsvar-cache")
    previous = os.environ.get("SAMSVAR_CACHE_DIR")
    os.environ["SAMSVAR_CACHE_DIR"] = str(folder)
    _embed_from_shared()
    yield folder
    if previous is None:
        os.environ.pop("SAMSVAR_CACHE_DIR", None)
    else:
        os.environ["SAMSVAR_CACHE_DIR"] = previous


def _embed_from_shared() -> None:
    """An editable install finds the embedded default beside the checkout; ``$SAMSVAR_SHARED``
    may put ../shared elsewhere: then point the run-time lookup there too."""
    import os

    from .shared import shared_root

    root = shared_root()
    if root is not None and not os.environ.get("SAMSVAR_EMBED_FROM"):
        os.environ["SAMSVAR_EMBED_FROM"] = str(root / "data" / "fhir-packages")


@pytest.fixture(scope="session")
def fhir_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package cache with hl7.fhir.r4.core#4.0.1 and hl7.fhir.no.basis#2.2.2 installed."""
    from samsvar.validators.fhir.packages import PackageCache

    root = tmp_path_factory.mktemp("fhir-packages")
    cache = PackageCache(root)
    cache.install_tgz(shared_path("fhir-packages", "hl7.fhir.r4.core-4.0.1.tgz"))
    cache.install_tgz(shared_path("fhir-packages", "hl7.fhir.no.basis-2.2.2.tgz"))
    return root


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
