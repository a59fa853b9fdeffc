"""Every rule is proven: by a fixture manifest that lists it, or by a named test here or elsewhere."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from samsvar.validators import Options, Severity, Validator
from samsvar.validators.rules import all_rules

from .conftest import FIXTURES

PROVEN_BY_TESTS = {
    "CONFIG-001": "tests/test_cli.py (expired waivers in the configuration)",
    "INPUT-005": "tests/test_hostile.py::test_size_limit_is_configurable",
    "INPUT-011": "tests/test_rule_coverage.py::test_unreadable_file_is_a_located_fatal_issue",
    "SAMSVAR-001": "tests/test_rule_coverage.py::test_a_crash_in_a_check_costs_one_file_not_the_run",
    "FHIR-INV-004": "tests/test_constraint_sweep.py::test_a_failure_inside_the_fhirpath_layer_is_its_own_finding",
    "FHIR-STRUCT-014": "tests/test_cli.py::test_must_support_is_reported_only_on_request",
    "MSG-001": "tests/test_message_schemas.py::test_unsupported_namespace_is_msg_001_and_has_no_schema",
    "MSG-XSD-001": "tests/test_message_schemas.py::test_envelope_error_missing_msgid",
    "MSG-XSD-002": "tests/test_message_schemas.py::test_no_pack_installed_is_one_warning_that_says_how_to_install",
    "MSG-APPREC-001": "tests/test_message_rules.py::test_a_receipt_that_is_not_an_apprec",
    "MSG-APPREC-002": "tests/test_message_rules.py::test_status_and_error_codes_are_compared",
    "MSG-APPREC-003": "tests/test_message_rules.py::test_status_and_error_codes_are_compared",
    "MSG-APPREC-004": "tests/test_message_rules.py::test_status_and_error_codes_are_compared",
    "MSG-APPREC-005": "tests/test_message_rules.py::test_original_message_id_must_refer_to_the_message",
    "MSG-APPREC-006": "tests/test_message_rules.py::test_parties_must_be_swapped",
    "LIVE-001": "tests/test_live_runner.py::test_each_outcome_of_a_live_test_has_its_rule",
    "LIVE-002": "tests/test_live_runner.py::test_each_outcome_of_a_live_test_has_its_rule",
    "LIVE-003": "tests/test_live_runner.py::test_each_outcome_of_a_live_test_has_its_rule",
    "LIVE-004": "tests/test_live_runner.py::test_each_outcome_of_a_live_test_has_its_rule",
    "DECL-001": "tests/test_declaration.py::test_a_tampered_verdict_is_refused (and the wrong key)",
    "DECL-002": "tests/test_declaration.py::test_an_expired_certificate_is_refused (and another CA, key usage)",
    "DECL-003": "tests/test_declaration.py::test_a_swapped_evidence_file_is_refused",
    "DECL-004": "tests/test_declaration.py::test_missing_evidence_is_an_environment_problem_and_evidence_can_be_elsewhere",
    "DECL-005": "tests/test_declaration.py::test_a_waiver_past_its_expiry_is_refused",
}


def _codes_in_manifests() -> set[str]:
    codes: set[str] = set()
    for manifest in FIXTURES.rglob("expected.toml"):
        for listed in tomllib.loads(manifest.read_text(encoding="utf-8"))["expected"].values():
            codes.update(listed)
    return codes


def test_every_rule_has_a_fixture_or_a_named_test() -> None:
    in_fixtures = _codes_in_manifests()
    unproven = [r.code for r in all_rules() if r.code not in in_fixtures and r.code not in PROVEN_BY_TESTS]
    assert not unproven, f"rules with no fixture that trips them: {unproven}"
    stale = [code for code in PROVEN_BY_TESTS if code in in_fixtures]
    assert not stale, f"listed as proven by tests but now in fixtures (drop them here): {stale}"


def test_unreadable_file_is_a_located_fatal_issue(tmp_path: Path) -> None:
    dangling = tmp_path / "patient.json"
    os.symlink(tmp_path / "gone.json", dangling)
    results = list(Validator(Options()).validate_paths([str(dangling)]))
    assert [(i.rule, i.severity, i.line) for i in results[0].issues] == [("INPUT-011", Severity.FATAL, 1)]


def test_a_crash_in_a_check_costs_one_file_not_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from samsvar.validators import runner

    def broken(_document: object) -> None:  # an injected fault: the only fake this suite allows
        raise RuntimeError("injected")

    monkeypatch.setattr(runner, "detect", broken)
    result = Validator(Options()).validate_bytes("x.json", b'{"resourceType": "Patient"}')
    assert [i.rule for i in result.issues] == ["SAMSVAR-001"]
    assert "injected" in result.issues[0].message and result.issues[0].line == 1
