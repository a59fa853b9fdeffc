"""The requirements catalogue, the judge and ``samsvar requirements``.

The shipped catalogue must validate; broken copies written to ``tmp_path`` must fail with the
file, the JSON path and the line of the fault; the judge runs on real ``validate`` runs over the
fixtures (and on a real AppRec comparison) and must give pass / fail / not-tested / manual for
specific requirements; the CLI and the traceability matrix are driven through click's runner.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any, Callable

import jsonschema
import pytest
from click.testing import CliRunner

from samsvar.conformance.catalogue import (
    CATALOGUE_FILE, REQUIREMENTS_DIR, Catalogue, CatalogueError, expand_rules, load_catalogue, load_schema,
    registered_rule_codes,
)
from samsvar.cli.requirements import requirements
from samsvar.conformance.judge import (
    MAX_ISSUE_EVIDENCE, VERDICTS, coverage, judge, to_csv, to_html, traceability_rows,
)
from samsvar.conformance.report import Report
from samsvar.conformance.session import ValidateRequest, run_validate
from samsvar.validators.detect import Kind
from samsvar.validators.issues import Severity
from samsvar.validators.load import load_bytes
from samsvar.validators.runner import Options, Result, Validator

from .conftest import FIXTURES
from .shared import shared_path

IDENTIFIERS = FIXTURES / "fhir" / "identifiers"
RULES = FIXTURES / "messages" / "rules"
BAD_FNR = IDENTIFIERS / "fnr-wrong-checksum.json"
GOOD_FNR = IDENTIFIERS / "valid-fnr.json"
DIALOG = RULES / "valid-dialogmelding.xml"
VERDICT_KEYS = {"id", "title", "level", "principle", "verdict", "evidence", "artefacts"}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture()
def catalogue_data() -> dict[str, Any]:
    """A fresh copy of the shipped catalogue document, to break."""
    return json.loads((REQUIREMENTS_DIR / CATALOGUE_FILE).read_text(encoding="utf-8"))


@pytest.fixture()
def validate(fhir_cache: Path) -> Callable[..., Report]:
    """A real ``validate`` run over fixture paths, without any schema pack unless a test installs one
    (the autouse ``isolated_user_state`` gives an empty schema home)."""

    def run(*paths: Path, **options: Any) -> Report:
        options.setdefault("use_config", False)
        return run_validate(ValidateRequest(paths=tuple(str(p) for p in paths), cache_root=fhir_cache, **options))

    return run


def _by_id(verdicts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {v["id"]: v for v in verdicts}


def _texts(verdict: dict[str, Any]) -> str:
    return "\n".join(item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
                     for item in verdict["evidence"])


# ----------------------------------------------------------------------- the shipped catalogue
def test_shipped_catalogue_validates_and_is_grounded_in_samsvar_rules(catalogue: Catalogue) -> None:
    assert catalogue.requirements
    ids = [r.id for r in catalogue.requirements]
    assert len(ids) == len(set(ids))
    principles = {p.id for p in catalogue.principles}
    assert {"P-STD", "P-IDENT", "P-TERM", "P-ACK", "P-SHARE", "P-SEC", "P-STEP"} <= principles
    assert all(catalogue.requirements_of(p) for p in principles), "every principle has requirements"
    codes = registered_rule_codes()
    for requirement in catalogue.requirements:
        assert requirement.principle in principles
        assert requirement.verification, requirement.id
        assert requirement.title.nb != requirement.title.en, f"{requirement.id} is not translated"
        for pattern in requirement.rules:
            assert expand_rules([pattern], codes), f"{requirement.id}: {pattern} matches no rule"
    assert {r.level for r in catalogue.requirements} == {"SHALL", "SHOULD", "MAY"}
    assert all(r.status == "proposed" for r in catalogue.requirements)


def test_the_examples_of_the_brief_are_verified_by_the_rules_that_check_them(catalogue: Catalogue) -> None:
    assert catalogue.verified_by("NO-ID-003") == (catalogue.requirement("R-IDENT-001"),)
    assert catalogue.requirement("R-STD-009").rules == ("MSG-XSD-001",)
    assert "FHIR-SLICE" in catalogue.requirement("R-STD-005").rules
    assert catalogue.requirement("R-SHARE-001").rules == ("FHIR-BUNDLE-005", "FHIR-BUNDLE-006")
    assert catalogue.requirement("R-SEC-003").rules == ("FHIR-XHTML",)
    helseid = catalogue.requirement("R-SEC-001")
    assert helseid.verification_kinds == ("test", "manual") and helseid.test_verifications[0].status == "available"
    assert catalogue.requirement("r-ident-001") is catalogue.find("R-IDENT-001")
    with pytest.raises(KeyError):
        catalogue.requirement("R-NOPE-001")


def test_the_shipped_files_validate_with_plain_jsonschema(catalogue_data: dict[str, Any]) -> None:
    """An editor's tool needs only the schema file, not samsvar."""
    schema = json.loads((REQUIREMENTS_DIR / "schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(catalogue_data, schema, cls=jsonschema.Draft202012Validator)
    assert catalogue_data["$schema"] == "./schema.json"
    assert load_schema() == schema


def test_a_folder_is_read_as_its_catalogue_json(catalogue_data: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / CATALOGUE_FILE).write_text(json.dumps(catalogue_data, ensure_ascii=False), encoding="utf-8")
    loaded = load_catalogue(tmp_path)
    assert loaded.source == tmp_path / CATALOGUE_FILE
    assert len(loaded.requirements) == len(catalogue_data["requirements"])


# ----------------------------------------------------------------------- broken copies
def _index(data: dict[str, Any], requirement_id: str) -> int:
    return next(n for n, r in enumerate(data["requirements"]) if r["id"] == requirement_id)


def _unknown_principle(data: dict[str, Any]) -> tuple[str, str, str]:
    n = _index(data, "R-STD-003")
    data["requirements"][n]["principle"] = "P-NOPE"
    return f"$.requirements[{n}].principle", "R-STD-003: unknown principle 'P-NOPE'", '"principle": "P-NOPE"'


def _unknown_rule(data: dict[str, Any]) -> tuple[str, str, str]:
    n = _index(data, "R-IDENT-001")
    rules = data["requirements"][n]["verification"][0]["rules"]
    rules.append("NO-ID-999")
    return (f"$.requirements[{n}].verification[0].rules[{len(rules) - 1}]",
            "R-IDENT-001: unknown rule code or prefix 'NO-ID-999'", '"NO-ID-999"')


def _half_a_code_is_no_prefix(data: dict[str, Any]) -> tuple[str, str, str]:
    n = _index(data, "R-SEC-004")
    data["requirements"][n]["verification"][0]["rules"] = ["INPUT-00"]
    return (f"$.requirements[{n}].verification[0].rules[0]", "unknown rule code or prefix 'INPUT-00'",
            '"INPUT-00"')


def _unknown_inconclusive_rule(data: dict[str, Any]) -> tuple[str, str, str]:
    n = _index(data, "R-STD-009")
    data["requirements"][n]["verification"][0]["inconclusive"] = ["MSG-XSD-404"]
    return (f"$.requirements[{n}].verification[0].inconclusive[0]", "unknown rule code or prefix 'MSG-XSD-404'",
            '"MSG-XSD-404"')


def _missing_verification(data: dict[str, Any]) -> tuple[str, str, Any]:
    n = _index(data, "R-STD-006")
    del data["requirements"][n]["verification"]
    return f"$.requirements[{n}]", "'verification' is a required property (in R-STD-006)", ('"id": "R-STD-006"', -1)


def _empty_verification(data: dict[str, Any]) -> tuple[str, str, str]:
    n = _index(data, "R-STD-006")
    data["requirements"][n]["verification"] = []
    return f"$.requirements[{n}].verification", "[] should be non-empty (in R-STD-006)", '"verification": []'


def _level_not_in_the_schema(data: dict[str, Any]) -> tuple[str, str, str]:
    n = _index(data, "R-STD-001")
    data["requirements"][n]["level"] = "MUST"
    return f"$.requirements[{n}].level", "'MUST' is not one of ['SHALL', 'SHOULD', 'MAY'] (in R-STD-001)", '"MUST"'


def _standard_without_url_or_oid(data: dict[str, Any]) -> tuple[str, str, Any]:
    n = _index(data, "R-STD-001")
    standard = data["requirements"][n]["standards"][0]
    del standard["url"]
    return (f"$.requirements[{n}].standards[0]", "needs one of the properties 'url', 'oid' (in R-STD-001)",
            (f'"name": "{standard["name"]}"', -1))


def _rule_entry_without_rules(data: dict[str, Any]) -> tuple[str, str, Any]:
    n = _index(data, "R-SEC-003")
    data["requirements"][n]["verification"][0] = {"kind": "rule"}
    return (f"$.requirements[{n}].verification[0]", "needs one of the properties 'rules', 'profile', 'constraints' (in R-SEC-003)",
            ('"kind": "rule"', -1, '"id": "R-SEC-003"'))


def _duplicate_id(data: dict[str, Any]) -> tuple[str, str, Any]:
    n = _index(data, "R-STD-002")
    data["requirements"][n]["id"] = "R-STD-001"
    return f"$.requirements[{n}].id", "duplicate id 'R-STD-001'; first used at $.requirements[0].id", None


def _kind_outside_the_artefacts(data: dict[str, Any]) -> tuple[str, str, str]:
    n = _index(data, "R-STD-010")
    data["requirements"][n]["verification"][0]["kinds"] = ["fhir:Bundle"]
    return (f"$.requirements[{n}].verification[0].kinds[0]",
            "R-STD-010: kind 'fhir:Bundle' is of the family 'fhir'", '"fhir:Bundle"')


def _line_of(text: str, marker: str, offset: int = 0, after: str | None = None) -> int:
    """The line of the first ``marker`` (after the line with ``after``), plus ``offset``."""
    lines = text.splitlines()
    start = next(n for n, content in enumerate(lines) if after in content) if after else 0
    return offset + next(n for n, content in enumerate(lines[start:], start + 1) if marker in content)


BROKEN = [_unknown_principle, _unknown_rule, _half_a_code_is_no_prefix, _unknown_inconclusive_rule,
          _missing_verification, _empty_verification, _level_not_in_the_schema, _standard_without_url_or_oid,
          _rule_entry_without_rules, _duplicate_id, _kind_outside_the_artefacts]


@pytest.mark.parametrize("breakage", BROKEN, ids=lambda f: f.__name__.strip("_"))
def test_a_broken_copy_names_the_file_the_place_and_the_fault(breakage: Callable[..., tuple[str, str, Any]],
                                                              catalogue_data: dict[str, Any], tmp_path: Path) -> None:
    where, what, marker = breakage(catalogue_data)
    text = json.dumps(catalogue_data, ensure_ascii=False, indent=2)
    broken = tmp_path / "broken-catalogue.json"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(broken)
    assert len(caught.value.problems) == 1, caught.value
    problem = caught.value.problems[0]
    assert problem.file == str(broken)
    assert problem.json_path == where
    assert what in problem.message
    message = str(caught.value)
    assert str(broken) in message and where in message and what in message
    if marker is not None:  # the line of the fault in the written file (an object: the line of its brace)
        line = _line_of(text, *(marker if isinstance(marker, tuple) else (marker,)))
        assert problem.line == line, (problem, marker)
        assert f"{broken}:{line}:" in message


def test_every_problem_is_reported_at_once(catalogue_data: dict[str, Any], tmp_path: Path) -> None:
    _unknown_principle(catalogue_data)
    _unknown_rule(catalogue_data)
    broken = tmp_path / "two-faults.json"
    broken.write_text(json.dumps(catalogue_data), encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(broken)
    assert [p.message.split(":")[0] for p in caught.value.problems] == ["R-STD-003", "R-IDENT-001"]
    assert str(caught.value).startswith("2 problems in the requirements catalogue")


@pytest.mark.parametrize("text, expected", [
    ('{"id": "x",\n  "version": }', "Not well-formed JSON"),
    ('{"id": "a", "id": "b"}', "Property 'id' appears more than once"),
    ("", "File is empty"),
])
def test_unreadable_json_is_a_located_problem(text: str, expected: str, tmp_path: Path) -> None:
    broken = tmp_path / "catalogue.json"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(broken)
    assert expected in str(caught.value) and str(broken) in str(caught.value)
    assert caught.value.problems[0].line is not None


def test_a_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot be read"):
        load_catalogue(tmp_path / "nowhere.json")


# ----------------------------------------------------------------------- the judge on real runs
def test_judge_on_a_run_over_fhir_and_a_message(catalogue: Catalogue, validate: Callable[..., Report]) -> None:
    report = validate(BAD_FNR, GOOD_FNR, DIALOG)
    verdicts = judge(catalogue, report)
    assert [v["id"] for v in verdicts] == [r.id for r in catalogue.requirements]
    assert all(set(v) == VERDICT_KEYS and v["verdict"] in VERDICTS for v in verdicts)
    by_id = _by_id(verdicts)

    identity = by_id["R-IDENT-001"]  # NO-ID-003 on the wrong checksum
    assert identity["verdict"] == "fail" and identity["principle"] == "P-IDENT" and identity["level"] == "SHALL"
    assert identity["evidence"][0] == {
        "file": str(BAD_FNR), "rule": "NO-ID-003", "severity": "error",
        "message": "Invalid fødselsnummer: 13097248032 has wrong control digits (K1/K2, mod 11).",
        "location": "7:7 Patient.identifier[0].value"}
    assert identity["artefacts"] == [str(BAD_FNR), str(GOOD_FNR), str(DIALOG)]

    patient_in_message = by_id["R-IDENT-004"]  # MSG-RULE-008/009 apply to the MsgHead message only
    assert patient_in_message["verdict"] == "pass"
    assert patient_in_message["evidence"][0]["artefacts_checked"] == 1
    assert patient_in_message["artefacts"] == [str(DIALOG)]

    narrative = by_id["R-SEC-003"]
    assert narrative["verdict"] == "pass" and narrative["evidence"][0]["artefacts_checked"] == 2
    assert "FHIR-XHTML-004" in narrative["evidence"][0]["rules_applied"]

    best_practice = by_id["R-STD-004"]  # dom-6 warnings are below the fail level: pass, and said
    assert best_practice["verdict"] == "pass"
    assert "Findings below the fail level (error): 2 warning." in best_practice["evidence"]

    schema = by_id["R-STD-009"]  # no XSD pack: MSG-XSD-002 makes the message not count as checked
    assert schema["verdict"] == "not-tested" and "MSG-XSD-002" in _texts(schema)
    assert by_id["R-ACK-004"]["verdict"] == "not-tested"  # no AppRec in the run
    assert "message:AppRec*" in _texts(by_id["R-ACK-004"])
    assert by_id["R-SHARE-001"]["verdict"] == "not-tested"  # no Bundle
    receipts = by_id["R-ACK-002"]  # MSG-APPREC-* belong to 'samsvar apprec --check'
    assert receipts["verdict"] == "not-tested" and "samsvar apprec MESSAGE --check RECEIVED" in _texts(receipts)
    helseid = by_id["R-SEC-001"]
    assert helseid["verdict"] == "not-tested" and "were not part of this run (samsvar run security" in _texts(helseid)
    assert "HelseID Selvbetjening" in _texts(helseid)  # the manual part is still shown
    national_services = by_id["R-SHARE-002"]
    assert national_services["verdict"] == "manual" and national_services["artefacts"] == []
    assert national_services["evidence"][0].startswith("Manual inspection: Inspect which information")


def test_clean_artefacts_pass_with_the_count_and_the_rules(catalogue: Catalogue,
                                                          validate: Callable[..., Report]) -> None:
    identity = _by_id(judge(catalogue, validate(GOOD_FNR, DIALOG)))["R-IDENT-001"]
    assert identity["verdict"] == "pass"
    assert identity["evidence"] == [{"artefacts_checked": 2, "by_family": "fhir 1, message 1",
                                     "rules_applied": "NO-ID-001, NO-ID-002, NO-ID-003, NO-ID-004"}]


def test_without_an_applicable_artefact_a_requirement_is_not_tested(catalogue: Catalogue,
                                                                   validate: Callable[..., Report]) -> None:
    by_id = _by_id(judge(catalogue, validate(DIALOG)))
    assert by_id["R-SEC-003"]["verdict"] == "not-tested"  # narratives: no FHIR resource in the run
    assert "No artefact in this run" in _texts(by_id["R-SEC-003"]) and by_id["R-SEC-003"]["artefacts"] == []
    assert by_id["R-IDENT-004"]["verdict"] == "pass"


def test_the_fail_level_of_the_report_decides(catalogue: Catalogue, validate: Callable[..., Report]) -> None:
    identity = _by_id(judge(catalogue, validate(BAD_FNR, fail_on="fatal")))["R-IDENT-001"]
    assert identity["verdict"] == "pass"
    assert "Findings below the fail level (fatal): 1 error." in identity["evidence"]


def test_a_waived_finding_does_not_fail_the_requirement(catalogue: Catalogue, validate: Callable[..., Report],
                                                        tmp_path: Path) -> None:
    config = tmp_path / "samsvar.toml"
    config.write_text('[[waiver]]\nrule = "NO-ID-003"\nowner = "epj@example.no"\nreason = "legacy test data"\n'
                      'expires = 2999-12-31\n', encoding="utf-8")
    report = validate(BAD_FNR, use_config=True, config_path=config)
    identity = _by_id(judge(catalogue, report))["R-IDENT-001"]
    assert identity["verdict"] == "pass"
    assert "Waived findings (not counted): 1." in identity["evidence"]


def test_rules_left_out_of_the_run_are_not_tested(catalogue: Catalogue, validate: Callable[..., Report]) -> None:
    by_id = _by_id(judge(catalogue, validate(BAD_FNR, DIALOG, ignore=("NO-ID", "MSG-XSD-002"))))
    assert by_id["R-IDENT-001"]["verdict"] == "not-tested"
    assert "Not selected in this run: NO-ID-001, NO-ID-002, NO-ID-003, NO-ID-004." in by_id["R-IDENT-001"]["evidence"]
    schema = by_id["R-STD-009"]  # ignoring the "not checked" marker must not turn into a pass
    assert schema["verdict"] == "not-tested" and "MSG-XSD-002" in _texts(schema)


def test_an_installed_schema_pack_lets_the_xsd_requirement_pass(catalogue: Catalogue,
                                                               validate: Callable[..., Report],
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    from samsvar.validators.messages.schema_packs import install_schemas

    home = tmp_path / "schema-home"
    install_schemas(shared_path("no", "xsd", "sarepta-skjema"), home)
    monkeypatch.setenv("SAMSVAR_SCHEMA_HOME", str(home))
    schema = _by_id(judge(catalogue, validate(DIALOG)))["R-STD-009"]
    assert schema["verdict"] == "pass", schema
    assert schema["evidence"][0]["rules_applied"] == "MSG-XSD-001"


def test_an_undetected_input_fails_only_the_requirements_of_its_rules(catalogue: Catalogue,
                                                                     validate: Callable[..., Report]) -> None:
    xxe = FIXTURES / "hostile" / "xxe-local-file.xml"
    by_id = _by_id(judge(catalogue, validate(xxe)))
    doctype = by_id["R-SEC-004"]
    assert doctype["verdict"] == "fail" and doctype["evidence"][0]["rule"] == "INPUT-007"
    assert doctype["artefacts"] == [str(xxe)]
    assert by_id["R-STD-002"]["verdict"] == "not-tested"  # it was never read as FHIR
    assert by_id["R-STD-001"]["verdict"] == "not-tested"


def test_evidence_is_capped_at_twenty_findings(catalogue: Catalogue, validate: Callable[..., Report]) -> None:
    report = validate(IDENTIFIERS, RULES)
    requirement = catalogue.requirement("R-IDENT-001")
    findings = [i for r in report.results for i in r.issues
                if requirement.rule_verifications[0].covers(i.rule) and i.severity >= Severity.ERROR]
    assert len(findings) > MAX_ISSUE_EVIDENCE, "the fixtures no longer have enough identifier errors"
    identity = _by_id(judge(catalogue, report))["R-IDENT-001"]
    issues = [e for e in identity["evidence"] if isinstance(e, dict)]
    assert identity["verdict"] == "fail" and len(issues) == MAX_ISSUE_EVIDENCE
    more = len(findings) - MAX_ISSUE_EVIDENCE
    assert any(isinstance(e, str) and e.startswith(f"... and {more} more finding") for e in identity["evidence"])


def _expected_apprec(message: Path) -> Any:
    from samsvar.validators.messages.apprec import expected_apprec

    data = message.read_bytes()
    issues = Validator(Options()).validate_bytes(str(message), data).issues
    return expected_apprec(load_bytes(str(message), data).document.tree, issues,
                           now=dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc))


def test_apprec_rules_are_judged_on_an_apprec_check(catalogue: Catalogue) -> None:
    """A receiver that answers OK to a message with an invalid HER-id gets the wrong status."""
    from samsvar.validators.messages.apprec import compare_apprec

    received = _expected_apprec(DIALOG)  # what an OK receiver would send for a valid message
    findings = compare_apprec(received, _expected_apprec(RULES / "her-id-with-dot.xml"))
    report = Report([Result("mottatt-apprec.xml", Kind("message", "AppRec 1.1"), "xml", findings)])
    by_id = _by_id(judge(catalogue, report, run="apprec-check"))
    assert by_id["R-ACK-002"]["verdict"] == "fail"
    assert by_id["R-ACK-002"]["evidence"][0]["rule"] == "MSG-APPREC-002"
    assert by_id["R-ACK-001"]["verdict"] == "pass"  # it does refer to the message
    naming = by_id["R-ACK-003"]  # SHOULD: the missing error code is a warning, below the fail level
    assert naming["verdict"] == "pass" and "Findings below the fail level (error): 1 warning." in naming["evidence"]
    assert by_id["R-IDENT-001"]["verdict"] == "not-tested"  # validate rules are not part of this run
    with pytest.raises(ValueError, match="unknown run"):
        judge(catalogue, report, run="suite")


def test_verdict_titles_follow_the_language(catalogue: Catalogue, validate: Callable[..., Report]) -> None:
    report = validate(GOOD_FNR)
    nb = _by_id(judge(catalogue, report, lang="nb"))["R-SEC-002"]
    en = _by_id(judge(catalogue, report, lang="en"))["R-SEC-002"]
    assert nb["title"] == catalogue.requirement("R-SEC-002").title.nb != en["title"]
    assert nb["evidence"][0].startswith("Manuell kontroll: ") and en["evidence"][0].startswith("Manual inspection: ")


# ----------------------------------------------------------------------- coverage and the matrix
def test_coverage_counts_the_catalogue(catalogue: Catalogue) -> None:
    counts = coverage(catalogue)
    reqs = catalogue.requirements
    assert counts["requirements"] == len(reqs) and counts["principles"] == len(catalogue.principles)
    assert counts["by_verification"] == {k: sum(1 for r in reqs if k in r.verification_kinds)
                                         for k in ("rule", "test", "manual")}
    assert counts["by_verification"]["rule"] >= 25, "most requirements are checked by samsvar's rules"
    assert counts["without_rule"] == [r.id for r in reqs if not r.rule_verifications]
    assert "R-SEC-002" in counts["without_rule"] and "R-IDENT-001" not in counts["without_rule"]
    assert sum(counts["by_level"].values()) == len(reqs)
    assert "security/access-is-audited" in counts["tests_planned"]
    assert "security/request-without-token-rejected" not in counts["tests_planned"]
    assert "NO-ID-003" in counts["rules_referenced"] and "MSG-XSD-002" in counts["rules_inconclusive"]
    assert "SAMSVAR-001" in counts["rules_not_referenced"]
    assert not set(counts["rules_referenced"]) & set(counts["rules_not_referenced"])


def test_matrix_rows_csv_and_html(catalogue: Catalogue) -> None:
    rows = traceability_rows(catalogue, "en")
    assert len(rows) == len(catalogue.requirements)
    ident = next(row for row in rows if row["requirement"] == "R-IDENT-001")
    assert ident["principle"] == "P-IDENT" and ident["rules"] == "NO-ID-001, NO-ID-002, NO-ID-003, NO-ID-004"
    apprec = next(row for row in rows if row["requirement"] == "R-ACK-002")
    assert "samsvar apprec MESSAGE --check RECEIVED" in apprec["rules"]
    assert "(available)" in next(row for row in rows if row["requirement"] == "R-SEC-001")["tests"]
    assert "(planned)" in next(row for row in rows if row["requirement"] == "R-SEC-005")["tests"]
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert parsed == rows
    html = to_html(rows, "en")
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "Traceability matrix" in html
    assert html.count("<tr class=") == len(rows)


def test_matrix_is_escaped_and_can_carry_verdicts(catalogue: Catalogue) -> None:
    rows = traceability_rows(catalogue, "nb", verdicts=[{"id": "R-IDENT-001", "verdict": "fail"}])
    assert rows[0]["verdict"] == "" and next(r for r in rows if r["requirement"] == "R-IDENT-001")["verdict"] == "fail"
    rows[0]["title"] = '<script>alert("x")</script> & "quoted", with comma'
    html = to_html(rows, "nb")
    assert "<script>" not in html and "&lt;script&gt;" in html and "Vurdering" in html
    assert list(csv.DictReader(io.StringIO(to_csv(rows))))[0]["title"] == rows[0]["title"]


# ----------------------------------------------------------------------- the CLI
def _cli(*args: str) -> Any:
    result = CliRunner().invoke(requirements, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_cli_list_in_both_languages(catalogue: Catalogue) -> None:
    nb = _cli("list")
    assert nb.exit_code == 0 and len(nb.output.splitlines()) == len(catalogue.requirements)
    line = next(line for line in nb.output.splitlines() if line.startswith("R-IDENT-001"))
    assert "SHALL" in line and "rule" in line and catalogue.requirement("R-IDENT-001").title.nb in line
    en = _cli("list", "--lang", "en", "--principle", "p-sec", "--json")
    listed = json.loads(en.output)
    assert {r["id"] for r in listed} == {r.id for r in catalogue.requirements_of("P-SEC")}
    assert listed[0]["title"] == catalogue.requirements_of("P-SEC")[0].title.en
    assert _cli("list", "--principle", "P-NOPE").exit_code == 2
    assert _cli("list", "--lang", "sv").exit_code == 2


def test_cli_show_one_requirement(catalogue: Catalogue) -> None:
    shown = _cli("show", "r-ident-001", "--lang", "en")
    assert shown.exit_code == 0
    requirement = catalogue.requirement("R-IDENT-001")
    for expected in (requirement.text.en, "P-IDENT", "NO-ID-003", "Identifier control digits are wrong",
                     "urn:oid:2.16.578.1.12.4.1.4.1", "fhir, message"):
        assert expected in shown.output
    manual = _cli("show", "R-SEC-002")
    assert "manuell kontroll:" in manual.output and "HelseID" in manual.output
    as_json = json.loads(_cli("show", "R-STD-009", "--json").output)
    assert as_json["verification"][0] == {"kind": "rule", "rules": ["MSG-XSD-001"], "kinds": [],
                                          "inconclusive": ["MSG-XSD-002"], "run": "validate"}
    missing = _cli("show", "R-NOPE-001")
    assert missing.exit_code == 2 and "no requirement 'R-NOPE-001'" in missing.output
    assert "Traceback" not in missing.output


def test_cli_coverage(catalogue: Catalogue) -> None:
    counts = coverage(catalogue)
    text = _cli("coverage", "--lang", "en")
    assert text.exit_code == 0
    assert text.output.startswith(f"{len(catalogue.requirements)} requirements under {len(catalogue.principles)}")
    assert f"Verified by rules: {counts['by_verification']['rule']}" in text.output
    assert f"Requirements without a rule ({len(counts['without_rule'])}):" in text.output
    assert json.loads(_cli("coverage", "--json").output) == counts


def test_cli_matrix_to_stdout_and_to_a_file(catalogue: Catalogue, tmp_path: Path) -> None:
    printed = _cli("matrix")
    assert printed.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(printed.output)))
    assert len(rows) == len(catalogue.requirements) and rows[0]["principle_title"] == catalogue.principles[0].title.nb
    target = tmp_path / "matrix.html"
    written = _cli("matrix", "--format", "html", "-o", str(target), "--lang", "en")
    assert written.exit_code == 0 and target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert 'lang="en"' in target.read_text(encoding="utf-8")
    unwritable = _cli("matrix", "-o", str(tmp_path / "no-such-folder" / "m.csv"))
    assert unwritable.exit_code == 2 and "kan ikke skrive" in unwritable.output  # the default language, nb
    assert _cli("matrix", "--format", "pdf").exit_code == 2


def test_cli_reports_a_broken_catalogue_with_exit_2(catalogue_data: dict[str, Any], tmp_path: Path) -> None:
    _unknown_rule(catalogue_data)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(catalogue_data, indent=2), encoding="utf-8")
    for command in ("check", "list", "coverage"):
        result = _cli(command, "--catalogue", str(broken), "--lang", "en")
        assert result.exit_code == 2, command
        assert str(broken) in result.output and "unknown rule code or prefix 'NO-ID-999'" in result.output
    good = _cli("check", "--lang", "en")
    assert good.exit_code == 0 and f"valid: {len(catalogue_data['requirements'])} requirements" in good.output


def test_the_judge_speaks_bokmal_and_english() -> None:
    from samsvar.conformance.judge import judge

    catalogue = load_catalogue()
    empty = Report(results=[])
    by_lang = {lang: {v["id"]: v for v in judge(catalogue, empty, lang=lang)} for lang in ("nb", "en")}
    assert any("Ingen artefakt i denne kjøringen" in str(e) for e in by_lang["nb"]["R-STD-002"]["evidence"])
    assert any("No artefact in this run" in str(e) for e in by_lang["en"]["R-STD-002"]["evidence"])
    assert any(str(e).startswith("Testene fhir-api/") for e in by_lang["nb"]["R-STD-012"]["evidence"])


def test_rules_name_the_requirements_they_verify_from_the_catalogue() -> None:
    from samsvar.cli import cli

    runner = CliRunner()
    explained = runner.invoke(cli, ["rules", "explain", "NO-ID-003"])
    assert explained.exit_code == 0
    assert "Verifies: R-IDENT-001 (SHALL)" in explained.output
    listed = json.loads(runner.invoke(cli, ["rules", "list", "--json"]).output)
    by_code = {r["code"]: r["requirements"] for r in listed}
    assert by_code["NO-ID-003"] == ["R-IDENT-001"] and by_code["MSG-XSD-001"] == ["R-STD-009"]


# --- requirements that point at a profile and a constraint --------------------------------------
OWN_PROFILES = FIXTURES.parent / "profiles" / "fhir"
SAMSVAR_PATIENT = "http://samsvar.no/fhir/StructureDefinition/samsvar-Patient"
PROFILE_FIXTURES = FIXTURES / "fhir" / "samsvar-profiles"


def _with_targeted_requirements(data: dict[str, Any], tmp_path: Path) -> Catalogue:
    base = data["requirements"][_index(data, "R-IDENT-001")]
    data["requirements"] += [
        {**base, "id": "R-PROF-901", "verification": [{"kind": "rule", "profile": SAMSVAR_PATIENT}]},
        {**base, "id": "R-PROF-902", "verification": [{"kind": "rule", "constraints": ["samsvar-pat-1"]}]},
    ]
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return load_catalogue(path)


def test_a_requirement_on_a_profile_is_judged_on_that_profiles_findings_alone(
        catalogue_data: dict[str, Any], validate: Callable[..., Report], tmp_path: Path) -> None:
    catalogue = _with_targeted_requirements(catalogue_data, tmp_path)
    igs = (str(OWN_PROFILES), "hl7.fhir.no.basis#2.2.2")
    by_name = {}
    for name in ("valid-patient-fnr.json", "patient-two-fnr.json", "patient-without-national-id.json",
                 "practitioner-without-hpr.json"):
        report = validate(PROFILE_FIXTURES / name, igs=igs, lang="en")
        by_name[name] = _by_id(judge(catalogue, report))
    assert by_name["valid-patient-fnr.json"]["R-PROF-901"]["verdict"] == "pass"
    assert by_name["valid-patient-fnr.json"]["R-PROF-901"]["evidence"][0]["profile"] == SAMSVAR_PATIENT
    failed = by_name["patient-two-fnr.json"]["R-PROF-901"]
    assert failed["verdict"] == "fail" and failed["evidence"][0]["rule"] == "FHIR-SLICE-003"
    # a Practitioner fails its own profile, not the Patient profile: not validated against it, not judged
    other = by_name["practitioner-without-hpr.json"]["R-PROF-901"]
    assert other["verdict"] == "not-tested" and SAMSVAR_PATIENT in _texts(other)
    # a constraint key: only findings about that constraint count
    assert by_name["patient-without-national-id.json"]["R-PROF-902"]["verdict"] == "fail"
    assert by_name["patient-two-fnr.json"]["R-PROF-902"]["verdict"] == "pass"


def test_issues_carry_the_profile_and_constraint_in_json(run, tmp_path: Path) -> None:
    outcome = run("validate", "--ig", str(OWN_PROFILES), "--ig", "hl7.fhir.no.basis#2.2.2", "-f", "json",
                  str(PROFILE_FIXTURES / "patient-without-national-id.json"))
    report = json.loads(outcome.stdout)
    result = report["results"][0]
    assert result["profiles"] == [SAMSVAR_PATIENT]
    failed = next(i for i in result["issues"] if i["rule"] == "FHIR-INV-001")
    assert failed["profile"] == SAMSVAR_PATIENT and failed["constraint"] == "samsvar-pat-1"
    # the requirement verdicts are in the JSON report too
    verdicts = {v["id"]: v["verdict"] for v in report["requirements"]}
    assert verdicts["R-IDENT-001"] in VERDICTS and len(verdicts) == len(load_catalogue().requirements)


def test_a_profile_on_a_requirement_without_fhir_artefacts_is_a_problem(catalogue_data: dict[str, Any],
                                                                      tmp_path: Path) -> None:
    n = _index(catalogue_data, "R-STD-009")
    catalogue_data["requirements"][n]["artefacts"] = ["message"]
    catalogue_data["requirements"][n]["verification"] = [{"kind": "rule", "profile": SAMSVAR_PATIENT}]
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(catalogue_data), encoding="utf-8")
    with pytest.raises(CatalogueError, match="a profile is for FHIR artefacts"):
        load_catalogue(path)


def test_check_speaks_one_language_per_run(catalogue_data: dict[str, Any], tmp_path: Path) -> None:
    n = _index(catalogue_data, "R-STD-002")
    catalogue_data["requirements"][n]["level"] = "MUST"
    catalogue_data["requirements"][0]["principle"] = "P-NOPE"
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(catalogue_data), encoding="utf-8")
    nb = CliRunner().invoke(requirements, ["check", "--catalogue", str(path), "--lang", "nb"])
    en = CliRunner().invoke(requirements, ["check", "--catalogue", str(path), "--lang", "en"])
    assert nb.exit_code == en.exit_code == 2
    assert "Feil: 1 feil i kravkatalogen" in nb.output and '"MUST" er ikke en av' in nb.output
    assert "Error" not in nb.output and "is not one of" not in nb.output and "engelsk" not in nb.output
    assert "Error: 1 problem in the requirements catalogue" in en.output and "'MUST' is not one of" in en.output
    assert "Feil" not in en.output
    n = _index(catalogue_data, "R-STD-002")
    catalogue_data["requirements"][n]["level"] = "SHALL"  # now the cross-check speaks
    path.write_text(json.dumps(catalogue_data), encoding="utf-8")
    nb = CliRunner().invoke(requirements, ["check", "--catalogue", str(path), "--lang", "nb"])
    assert "ukjent prinsipp 'P-NOPE'" in nb.output and "unknown" not in nb.output


def test_a_slice_minimum_not_checked_is_not_a_pass(catalogue: Catalogue, validate: Callable[..., Report]) -> None:
    """FHIR-SLICE-007 (a slice minimum that could not be decided offline) leaves the profile requirement not tested."""
    folder = FIXTURES / "fhir" / "profiles"
    report = validate(folder / "undecidable-slice-minimum-not-checked.json", igs=(str(folder / "definitions"),))
    verdict = _by_id(judge(catalogue, report))["R-STD-005"]
    assert verdict["verdict"] == "not-tested" and "FHIR-SLICE-007" in _texts(verdict)
    passed = _by_id(judge(catalogue, validate(folder / "valid-undecidable-slice-matched.json",
                                              igs=(str(folder / "definitions"),))))["R-STD-005"]
    assert passed["verdict"] == "pass"
