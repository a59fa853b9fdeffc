"""Every ``fhir-api`` test can fail: against the sandbox all pass; with one fault switched on,
exactly the tests that verify that behaviour fail (and the requirement verdict follows)."""

from __future__ import annotations

import pytest
import requests

from samsvar.conformance.catalogue import load_catalogue
from samsvar.conformance.judge import judge
from samsvar.conformance.runner import RunRequest, run_suite
from samsvar.conformance.sandbox import FAULTS, SandboxConfig, serve_in_thread
from samsvar.conformance.testdata import TAG_SYSTEM

FHIR_API_FAULTS: dict[str | None, set[str]] = {
    None: set(),
    "wrong-status": {"fhir-api/create"},
    "no-operationoutcome": {"fhir-api/errors-as-operationoutcome", "fhir-api/unknown-id-404"},
    "accept-invalid": {"fhir-api/errors-as-operationoutcome"},
    "invalid-resource": {"fhir-api/response-bodies-validate"},
    "no-versioning": {"fhir-api/update-versioning"},
    "no-paging": {"fhir-api/paging"},
    # faults of other interfaces leave the FHIR API conformant
    "no-apprec": set(),
    "wrong-apprec-status": set(),
    "no-auth": set(),
    **dict.fromkeys(("dpop-proof-optional", "dpop-request-unchecked", "dpop-replay", "dpop-key-unchecked",
                     "dpop-ath-unchecked", "dpop-iat-unchecked", "dpop-nonce-unchecked"), set()),
    # SMART faults act only in a sandbox with smart=True (the smart suite's, tests/test_suite_smart.py)
    **{name: set() for name in FAULTS if name.startswith("smart-")},
}
"""Fault → the fhir-api tests it must fail (None: the conformant sandbox)."""


def test_the_fault_table_covers_every_sandbox_fault() -> None:
    assert set(FHIR_API_FAULTS) - {None} == set(FAULTS)


@pytest.mark.parametrize("fault", [f for f in FHIR_API_FAULTS if not (f or "").startswith("smart-")],
                         ids=lambda f: f or "conformant")
def test_each_fault_fails_exactly_the_tests_that_verify_it(fault: str | None, env_cache) -> None:
    with serve_in_thread(SandboxConfig(faults=frozenset({fault} if fault else ()))) as sandbox:
        report = run_suite(RunRequest("fhir-api", sandbox.fhir_url, seed=5))
        tag = f"{TAG_SYSTEM}|{report.reproducibility.options['tag']}"
        left = sum(len(requests.get(f"{sandbox.fhir_url}/{kind}", params={"_tag": tag}, timeout=10).json().get("entry") or [])
                   for kind in ("Patient", "Practitioner", "Organization"))
    failed = {result.path for result in report.results if result.status != "pass"}
    assert failed == FHIR_API_FAULTS[fault], [
        (r.path, r.status, [i.message for i in r.issues][:2]) for r in report.results if r.status != "pass"]
    verdicts = {v["id"]: v["verdict"] for v in judge(load_catalogue(), report, run="run")
                if v["id"] in ("R-STD-012", "R-IDENT-006")}
    assert verdicts["R-STD-012"] == ("fail" if failed else "pass")
    assert verdicts["R-IDENT-006"] == "pass"
    assert report.notices[-1].startswith("Clean-up: deleted"), report.notices
    assert left == 0, "the run's tagged test data was not cleaned up"
