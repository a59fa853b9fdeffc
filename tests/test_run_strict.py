"""``samsvar run --strict``: a gate that never passes on what it did not check, against the sandbox.

Without ``--strict`` a run whose tests all pass or skip is exit 0; with it, a skipped test or a
requirement the run's tests verify that got no verdict makes the exit code 1, and standard error
names each of them. A run that judged everything it selected passes either way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from samsvar.conformance.sandbox import RunningSandbox, SandboxConfig, serve_in_thread


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    # auth on, no client registered: a request without a token is refused (a test that passes), and
    # the tests that need a client's key skip.
    with serve_in_thread(SandboxConfig(data_dir=tmp_path_factory.mktemp("sandbox"), auth=True)) as running:
        yield running


def test_skipped_tests_pass_a_plain_run_and_fail_a_strict_one(run, sandbox: RunningSandbox, tmp_path: Path) -> None:
    # Without a client key the security suite's DPoP tests cannot run: they skip; the tokenless request passes.
    args = ("run", "security", "-t", sandbox.fhir_url, "-k", "dpop", "--no-validate", "--lang", "en")
    plain = run(*args, "-f", "json", "-o", str(tmp_path / "report.json"))
    assert plain.exit_code == 0, plain.stdout + plain.stderr
    statuses = {r["test"]["status"] for r in json.loads((tmp_path / "report.json").read_text("utf-8"))["results"]}
    assert statuses == {"pass", "skip"}
    assert "strict:" not in plain.stderr

    strict = run(*args, "--strict")
    assert strict.exit_code == 1, strict.stdout + strict.stderr
    assert "not judged, so the run does not pass" in strict.stderr
    assert "test security/dpop-nonce: skip" in strict.stderr
    assert "requirement R-SEC-007: not-tested" in strict.stderr


def test_a_strict_run_that_judged_everything_passes(run, tmp_path: Path) -> None:
    with serve_in_thread(SandboxConfig(data_dir=tmp_path / "sandbox")) as conformant:
        strict = run("run", "messaging", "-t", conformant.messaging_url, "--no-validate", "--strict")
    assert strict.exit_code == 0, strict.stdout + strict.stderr
    assert "strict:" not in strict.stderr
