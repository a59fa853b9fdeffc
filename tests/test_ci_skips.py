"""CI holds skips to .ci/allowed-skips.toml (.ci/check-skips), and tests/shared.py is the one place
that decides whether a test needing ../shared or FHIR packages skips."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from . import shared
from .conftest import REPO

CHECK = REPO / ".ci" / "check-skips"


def _check(tmp_path: Path, *skips: tuple[str, str]) -> subprocess.CompletedProcess[str]:
    report = tmp_path / "skips.jsonl"
    report.write_text("".join(json.dumps({"test": t, "reason": r}) + "\n" for t, r in skips), encoding="utf-8")
    return subprocess.run([sys.executable, str(CHECK), str(report)], capture_output=True, text=True, timeout=60)


def test_allowed_skips_pass_and_are_printed_with_their_reason(tmp_path: Path) -> None:
    outcome = _check(tmp_path, ("tests/test_live_runner.py::a", "SEKMET is not installed (...)"))
    assert outcome.returncode == 0, outcome.stderr
    assert "tests/test_live_runner.py::a: SEKMET is not installed" in outcome.stdout


def test_a_skip_not_listed_fails_naming_the_test(tmp_path: Path) -> None:
    outcome = _check(tmp_path, ("tests/test_fixtures.py::x", shared.NO_SHARED))
    assert outcome.returncode == 1
    assert "not allowed to skip: tests/test_fixtures.py::x" in outcome.stderr


def test_more_skips_than_allowed_fail(tmp_path: Path) -> None:
    outcome = _check(tmp_path, *[(f"t::{n}", "SEKMET is not installed") for n in range(3)])
    assert outcome.returncode == 1 and "3 tests skipped because 'SEKMET is not installed'" in outcome.stderr


def test_no_skips_pass(tmp_path: Path) -> None:
    assert _check(tmp_path).returncode == 0


def test_an_empty_samsvar_shared_means_there_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMSVAR_SHARED", "")
    assert shared.shared_root() is None
    with pytest.raises(pytest.skip.Exception, match="SAMSVAR_SHARED"):
        shared.shared_path("no")


def test_without_shared_the_package_cache_the_readme_fills_is_used(tmp_path: Path, fhir_cache: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """No ../shared, but `samsvar packages install` has filled the FHIR package cache: the tests use it."""
    monkeypatch.setenv("SAMSVAR_SHARED", "")
    monkeypatch.setenv("SAMSVAR_FHIR_HOME", str(fhir_cache))
    root = shared.fhir_package_cache(tmp_path / "cache")
    assert sorted(p.name for p in root.iterdir()) == ["hl7.fhir.no.basis#2.2.2", "hl7.fhir.r4.core#4.0.1"]
    assert all(p.is_symlink() for p in root.iterdir())  # the user's cache is linked, never written
    assert shared.fhir_package("hl7.fhir.r4.core#4.0.1").index


def test_without_shared_nor_packages_the_skip_says_where_it_looked(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMSVAR_SHARED", "")
    monkeypatch.setenv("SAMSVAR_FHIR_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(shared, "_embedded", lambda ref: None)
    with pytest.raises(pytest.skip.Exception, match="neither in ../shared.*nor in the FHIR package cache"):
        shared.fhir_package_cache(tmp_path / "cache", ("hl7.fhir.r4.core#4.0.1",))
