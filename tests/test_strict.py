"""A gate that cannot pass by mistake: ``--strict`` (``strict = true``) makes anything not checked an
error, through one mechanism (rules declared ``not_checked``, re-graded by the policy); samsvar's
own profiles are loaded by default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from samsvar.validators.issues import Issue, Severity
from samsvar.validators.policy import Policy, load_policy
from samsvar.validators.rules import all_rules, not_checked_codes

from .conftest import FIXTURES

PROFILES = FIXTURES / "fhir" / "samsvar-profiles"
VALID = FIXTURES / "fhir" / "identifiers" / "valid-fnr.json"
DIALOG = next((FIXTURES / "messages" / "rules").glob("*.xml"))

NOT_CHECKED_WORDS = ("could not", "not checked", "not available", "not installed", "unsupported")


def test_every_rule_that_reports_something_unchecked_is_declared_so() -> None:
    """The set is declared with each rule, and no rule that says 'not checked' is left out of it."""
    said = {r.code for r in all_rules() if any(word in r.title.lower() for word in NOT_CHECKED_WORDS)
            and r.severity < Severity.ERROR}
    assert said <= not_checked_codes(), said - not_checked_codes()
    assert {"FHIR-PROF-003", "FHIR-BIND-003", "FHIR-INV-002", "MSG-XSD-002", "FHIR-TX-004"} <= not_checked_codes()


def test_the_policy_regrades_not_checked_rules_only_in_strict_mode() -> None:
    unchecked = Issue("FHIR-PROF-003", Severity.WARNING, "Profile x is not in the loaded packages")
    finding = Issue("FHIR-INV-003", Severity.WARNING, "dom-6")
    assert [i.severity for i in Policy().apply("a.json", [unchecked, finding])] == [Severity.WARNING] * 2
    graded = Policy(strict=True).apply("a.json", [unchecked, finding])
    assert [i.severity for i in graded] == [Severity.ERROR, Severity.WARNING]
    assert "strict" in graded[0].message
    # an explicit [severity] still applies, strict is the floor; ignore still drops
    assert Policy(strict=True, severity={"FHIR-PROF": Severity.FATAL}).apply("a.json", [unchecked])[0].severity \
        == Severity.FATAL
    assert Policy(strict=True, ignore=("FHIR-PROF-003",)).apply("a.json", [unchecked]) == []


def _unknown_profile(tmp_path: Path) -> Path:
    resource = json.loads(VALID.read_text())
    resource["meta"] = {"profile": ["https://example.no/fhir/StructureDefinition/not-loaded"]}
    path = tmp_path / "patient.json"
    path.write_text(json.dumps(resource))
    return path


def test_an_unknown_declared_profile_fails_a_strict_gate(run, tmp_path: Path) -> None:
    patient = _unknown_profile(tmp_path)
    lenient = run("validate", str(patient))
    assert lenient.exit_code == 0 and "warning FHIR-PROF-003" in lenient.stdout
    strict = run("validate", str(patient), "--strict")
    assert strict.exit_code == 1, strict.stdout
    assert "error FHIR-PROF-003" in strict.stdout
    (tmp_path / "samsvar.toml").write_text("strict = true\n")
    assert run("validate", str(patient)).exit_code == 1
    assert run("validate", str(patient), "--no-strict").exit_code == 0
    (tmp_path / "samsvar.toml").write_text('strict = "yes"\n')
    assert run("validate", str(patient)).exit_code == 2


def test_strict_in_pyproject_and_in_the_reproducibility_block(run, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.samsvar]\nstrict = true\n")
    assert load_policy(tmp_path / "pyproject.toml").strict
    outcome = run("validate", str(_unknown_profile(tmp_path)), "-f", "json")
    assert outcome.exit_code == 1
    assert json.loads(outcome.stdout)["reproducibility"]["options"]["strict"] is True


def test_a_message_without_a_schema_pack_fails_a_strict_gate(run) -> None:
    lenient = run("validate", str(DIALOG), "--select", "MSG-XSD")
    assert lenient.exit_code == 0 and "warning MSG-XSD-002" in lenient.stdout
    strict = run("validate", str(DIALOG), "--select", "MSG-XSD", "--strict")
    assert strict.exit_code == 1 and "error MSG-XSD-002" in strict.stdout


def test_a_code_not_checkable_offline_fails_a_strict_gate(run) -> None:
    document = PROFILES / "valid-document-reference.json"
    lenient = run("validate", str(document))
    assert lenient.exit_code == 0 and "warning FHIR-BIND-003" in lenient.stdout
    strict = run("validate", str(document), "--strict")
    assert strict.exit_code == 1 and "error FHIR-BIND-003" in strict.stdout


def test_samsvars_own_profiles_are_loaded_without_ig(run) -> None:
    """A core-based samsvar profile is checked after a plain install, without --ig profiles/fhir."""
    bad = run("validate", str(PROFILES / "lab-report-radiology-code.json"))
    assert bad.exit_code == 1 and "FHIR-BIND-001" in bad.stdout
    assert run("validate", str(PROFILES / "valid-lab-report.json")).exit_code == 0
    # loading the folder again with --ig (as before) changes nothing
    again = run("validate", str(PROFILES / "lab-report-radiology-code.json"), "--ig", str(FIXTURES.parent / "profiles" / "fhir"))
    assert again.exit_code == 1 and again.stdout.count("FHIR-BIND-001") == bad.stdout.count("FHIR-BIND-001")


def test_a_samsvar_profile_on_no_basis_names_the_package_it_needs(run) -> None:
    patient = PROFILES / "valid-patient-fnr.json"
    without = run("validate", str(patient))
    assert without.exit_code == 0, without.stdout
    assert "FHIR-PROF-003" in without.stdout and "samsvar packages install hl7.fhir.no.basis#2.2.2" in without.stdout
    assert run("validate", str(patient), "--strict").exit_code == 1
    withbasis = run("validate", str(patient), "--ig", "hl7.fhir.no.basis#2.2.2", "--strict")
    assert withbasis.exit_code == 0, withbasis.stdout
    assert "FHIR-PROF-003" not in withbasis.stdout


@pytest.mark.parametrize("code", sorted(not_checked_codes()))
def test_not_checked_rules_are_below_error_by_default(code: str) -> None:
    """Strict mode has something to do only for rules that are not errors already."""
    from samsvar.validators.rules import get_rule

    assert get_rule(code).severity < Severity.ERROR
