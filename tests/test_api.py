"""The Python API (samsvar.Validator, samsvar.validate): inputs of every kind, the same findings as
``samsvar validate -f json``, per-call profiles, the CLI's report writers, configuration, threads."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from lxml import etree

import samsvar
from samsvar.api import Finding, ValidationResult, Validator
from samsvar.validators import EnvironmentProblem

from .conftest import FIXTURES, REPO

IDENTIFIERS = FIXTURES / "fhir" / "identifiers"
OWN_PROFILES = REPO / "profiles" / "fhir"
NO_BASIS = "hl7.fhir.no.basis#2.2.2"
SAMSVAR_PATIENT = "http://samsvar.no/fhir/StructureDefinition/samsvar-Patient"
NO_BASIS_PATIENT = "http://hl7.no/fhir/StructureDefinition/no-basis-Patient"


@pytest.fixture(scope="module")
def validator(fhir_cache: Path) -> Validator:
    return Validator(cache=fhir_cache)


@pytest.fixture(scope="module")
def profiled(fhir_cache: Path) -> Validator:
    return Validator(cache=fhir_cache, igs=[str(OWN_PROFILES), NO_BASIS])


def _bad_fnr() -> dict:
    return json.loads((IDENTIFIERS / "fnr-wrong-checksum.json").read_text(encoding="utf-8"))


def _codes(result: ValidationResult) -> set[str]:
    return {finding.code for finding in result.issues}


def test_every_kind_of_input_gives_the_same_findings(validator: Validator, tmp_path: Path) -> None:
    resource = _bad_fnr()
    path = IDENTIFIERS / "fnr-wrong-checksum.json"
    xml_path = IDENTIFIERS / "fnr-wrong-checksum.xml"
    sources = [resource, json.dumps(resource), json.dumps(resource).encode(), str(path), path,
               io.BytesIO(path.read_bytes()), etree.parse(str(xml_path)).getroot(), etree.parse(str(xml_path)),
               xml_path.read_text(encoding="utf-8")]
    for source in sources:
        result = validator.validate(source)
        assert result.kind == "fhir:Patient", (type(source), result.issues)
        assert "NO-ID-003" in _codes(result), (type(source), result.issues)
        assert not result.ok
        bad = next(f for f in result.issues if f.code == "NO-ID-003")
        assert bad.severity == "error" and bad.expression == "Patient.identifier[0].value"
        assert bad.line is not None and bad.column is not None


def test_a_fhir_resources_model_is_validated_through_model_dump(validator: Validator) -> None:
    from fhir.resources.R4B.patient import Patient

    good = Patient(id="p1", gender="female", birthDate="1980-01-02",
                   identifier=[{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "13097248022"}])
    assert validator.validate(good).ok, validator.validate(good).explain()
    assert validator.validate(good).name == "Patient/p1"
    bad = Patient(id="p2", identifier=[{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "13097248023"}])
    result = validator.validate(bad)
    assert "NO-ID-003" in _codes(result) and not result.ok


def test_a_message_goes_through_the_same_entry(validator: Validator) -> None:
    folder = FIXTURES / "messages" / "rules"
    good = validator.validate(folder / "valid-dialogmelding.xml")
    assert good.kind.startswith("message:"), good.kind
    assert not {f.code for f in good.failures("error")}, good.explain()
    bad = validator.validate(folder / "unknown-message-type.xml")
    assert "MSG-RULE-001" in bad.codes and not bad.ok


def test_the_api_agrees_with_the_command_line(validator: Validator, run) -> None:
    """Every file of these fixture folders: the same issues (code, severity, message, expression, line,
    column) through ``samsvar validate -f json`` and through the API."""
    folders = [IDENTIFIERS, FIXTURES / "fhir" / "structure", FIXTURES / "hostile", FIXTURES / "messages" / "rules"]
    outcome = run("validate", "-f", "json", "--jobs", "1", *map(str, folders))
    assert outcome.exit_code == 1, outcome.stderr
    cli = {r["path"]: r["issues"] for r in json.loads(outcome.stdout)["results"]}
    api = {r.name: [f.__dict__ if hasattr(f, "__dict__") else _as_dict(f) for f in r.issues]
           for r in validator.validate_paths(folders)}
    assert len(cli) > 80 and set(cli) == set(api)
    for name, issues in cli.items():
        assert [_strip(i) for i in issues] == [_strip(i) for i in api[name]], name
    # and one at a time, from bytes rather than paths, where the input is a file of its own
    for name in sorted(cli)[:40]:
        data = Path(name).read_bytes()
        assert [_strip(i) for i in cli[name]] == [_strip(_as_dict(f)) for f in validator.validate(data, name=name).issues]


def _as_dict(finding: Finding) -> dict:
    return {"rule": finding.code, "severity": finding.severity, "message": finding.message,
            "expression": finding.expression, "line": finding.line, "column": finding.column}


def _strip(issue: dict) -> tuple:
    return (issue.get("rule"), issue["severity"], issue["message"], issue["expression"], issue["line"], issue["column"])


def test_profile_per_call_and_meta_profile(profiled: Validator) -> None:
    folder = FIXTURES / "fhir" / "samsvar-profiles"
    resource = json.loads((folder / "patient-without-birth-date.json").read_text(encoding="utf-8"))
    assert "FHIR-STRUCT-002" in profiled.validate(resource).codes  # meta.profile names it
    del resource["meta"]
    assert "FHIR-STRUCT-002" not in profiled.validate(resource).codes  # base Patient: birthDate optional
    by_call = profiled.validate(resource, profile=SAMSVAR_PATIENT)
    assert "FHIR-STRUCT-002" in by_call.codes and not by_call.ok
    assert "FHIR-STRUCT-002" in profiled.validate(resource, profile=[SAMSVAR_PATIENT, NO_BASIS_PATIENT]).codes
    with pytest.raises(EnvironmentProblem, match="not defined in the loaded packages"):
        profiled.validate(resource, profile="http://example.org/StructureDefinition/nothing")


def test_missing_package_is_an_environment_problem(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="not installed"):
        Validator(cache=tmp_path, igs=["hl7.fhir.no.basis#9.9.9"]).validate({"resourceType": "Patient"})


def test_bad_arguments_say_what_is_accepted(validator: Validator, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="give a dict, JSON or XML text"):
        validator.validate(42)
    with pytest.raises(IsADirectoryError, match="validate_paths"):
        validator.validate(tmp_path)
    with pytest.raises(TypeError, match="not JSON data"):
        validator.validate({"resourceType": "Patient", "birthDate": object()})
    missing = validator.validate(tmp_path / "missing.json")
    assert missing.codes == {"INPUT-011"} and not missing.ok


def test_reports_use_the_cli_writers(validator: Validator, tmp_path: Path) -> None:
    result = validator.validate(_bad_fnr())
    outcome = result.to_operation_outcome()
    assert outcome["resourceType"] == "OperationOutcome"
    assert any(i["details"]["coding"][0]["code"] == "NO-ID-003" and i["expression"] == ["Patient.identifier[0].value"]
               for i in outcome["issue"])
    # a FHIR OperationOutcome by the core definitions (its extensions come from the extensions pack)
    checked = validator.validate(outcome)
    assert checked.kind == "fhir:OperationOutcome" and {f.code for f in checked.failures()} <= {"FHIR-EXT-002", "FHIR-URL-003"}, checked.explain()
    junit = result.write(tmp_path / "r.xml")
    assert etree.parse(str(junit)).getroot().tag in ("testsuites", "testsuite")
    html = result.write(tmp_path / "r.html").read_text(encoding="utf-8")
    assert "NO-ID-003" in html and "<html" in html
    report = json.loads(result.render("json"))
    assert report["summary"]["passed"] is False
    assert report["reproducibility"]["packages"][0]["id"] == "hl7.fhir.r4.core"
    several = validator.report([result, validator.validate(IDENTIFIERS / "valid-fnr.json")])
    assert len(several.results) == 2 and not several.passed
    with pytest.raises(ValueError, match="report format"):
        result.write(tmp_path / "r.pdf")


def test_configuration_file_and_explicit_options(fhir_cache: Path, tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.samsvar]\nignore = ["NO-ID-003"]\nfail-on = "warning"\n', encoding="utf-8")
    from_file = Validator(cache=fhir_cache, config=config)
    result = from_file.validate(_bad_fnr())
    assert "NO-ID-003" not in result.codes
    assert not result.ok  # dom-6 is a warning, and the fail level is warning
    assert result.failures("error") == []
    monkeypatch.chdir(tmp_path)
    assert "NO-ID-003" not in Validator(cache=fhir_cache, config=True).validate(_bad_fnr()).codes
    assert "NO-ID-003" in Validator(cache=fhir_cache).validate(_bad_fnr()).codes  # no config by default
    explicit = Validator(cache=fhir_cache, config=config, fail_on="error", select=["NO-ID"])
    assert explicit.validate(_bad_fnr()).ok and explicit.validate(_bad_fnr()).codes == set()


def test_assert_conforms_lists_one_issue_per_line(validator: Validator) -> None:
    with pytest.raises(AssertionError) as caught:
        validator.assert_conforms(_bad_fnr())
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("Patient/") and "does not conform" in lines[0] and "at or above error" in lines[0]
    assert lines[1].startswith("  Patient.identifier[0].value (") and "error NO-ID-003" in lines[1]
    assert validator.assert_conforms(json.loads((IDENTIFIERS / "valid-fnr.json").read_text())).ok
    with pytest.raises(AssertionError, match="FHIR-INV-003"):  # the dom-6 warning counts at fail_on=warning
        validator.assert_conforms(json.loads((IDENTIFIERS / "valid-fnr.json").read_text()), fail_on="warning")


def test_one_call_shortcut_reuses_its_validator(fhir_cache: Path) -> None:
    first = samsvar.validate(_bad_fnr(), cache=fhir_cache)
    second = samsvar.validate(_bad_fnr(), cache=fhir_cache)
    assert "NO-ID-003" in first.codes and first.validator is second.validator


def test_threads_share_one_validator(fhir_cache: Path) -> None:
    """Eight threads validate at once on a fresh validator (so they also race for the first load):
    every result is what one thread alone finds."""
    files = sorted(IDENTIFIERS.glob("*.json")) + sorted((FIXTURES / "fhir" / "samsvar-profiles").glob("*.json"))[:12] \
        + sorted((FIXTURES / "messages" / "rules").glob("*.xml"))[:8]
    expected = {f.name: [_as_dict(i) for i in Validator(cache=fhir_cache, igs=[str(OWN_PROFILES), NO_BASIS])
                         .validate(f).issues] for f in files}
    shared = Validator(cache=fhir_cache, igs=[str(OWN_PROFILES), NO_BASIS])
    found: dict[str, list] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(offset: int) -> None:
        try:
            barrier.wait()
            for f in files[offset:] + files[:offset]:
                got = [_as_dict(i) for i in shared.validate(f).issues]
                assert got == expected[f.name], f.name
                found[f"{offset}:{f.name}"] = got
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n * 3,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not errors, errors
    assert len(found) == 8 * len(files)


def test_import_samsvar_stays_cheap() -> None:
    """``import samsvar`` loads neither the API nor the engine; the first use of samsvar.Validator does."""
    code = ("import sys, samsvar; before = {m for m in sys.modules if m.startswith('samsvar')}; "
            "samsvar.Validator; after = {m for m in sys.modules if m.startswith('samsvar')}; "
            "print(sorted(before)); print('samsvar.api' in after)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["['samsvar']", "True"]
