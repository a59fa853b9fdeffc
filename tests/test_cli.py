"""The command line: exit codes, formats, outputs, stdin, folders, configuration, reproducibility."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


from samsvar import __version__

from .conftest import FIXTURES

IDS = FIXTURES / "fhir" / "identifiers"
VALID = IDS / "valid-fnr.json"
BAD = IDS / "fnr-wrong-checksum.json"
SYNTHETIC = IDS / "synthetic-tenor.json"


def test_version_and_help(run) -> None:
    version = run("--version")
    assert version.exit_code == 0 and __version__ in version.stdout
    helped = run("--help")
    assert helped.exit_code == 0
    for command in ("validate", "packages", "rules"):
        assert command in helped.stdout
    assert "Exit codes" in helped.stdout
    assert "--fail-on" in run("validate", "--help").stdout


def test_exit_0_on_a_clean_file(run) -> None:
    outcome = run("validate", str(VALID))
    assert outcome.exit_code == 0, outcome.stdout
    assert "1 file" in outcome.stdout


def test_exit_1_on_findings_with_location(run) -> None:
    outcome = run("validate", str(BAD))
    assert outcome.exit_code == 1
    assert "NO-ID-003" in outcome.stdout
    assert f"{BAD}:7:7:" in outcome.stdout  # the "value" key of the identifier
    assert "Patient.identifier[0].value" in outcome.stdout


def test_exit_2_on_usage_errors(run) -> None:
    assert run("validate").exit_code == 2
    assert run("validate", "no/such/file.json").exit_code == 2
    assert run("validate", str(VALID), "--no-such-option").exit_code == 2
    assert run("validate", str(VALID), "--format", "pdf").exit_code == 2
    assert run("validate", str(VALID), "-f", "json", "-f", "sarif").exit_code == 2  # two to stdout
    assert run("rules", "explain", "NOPE-999").exit_code == 2


def test_exit_5_when_a_folder_holds_nothing_to_check(run, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "notes.txt").write_text("not a resource")
    (folder / ".hidden.json").write_text("{}")
    outcome = run("validate", str(folder))
    assert outcome.exit_code == 5, (outcome.stdout, outcome.stderr)
    assert "nothing to check" in outcome.stderr and "*.json, *.xml, *.ndjson" in outcome.stderr
    assert str(folder) in outcome.stderr and "--allow-empty" in outcome.stderr
    # one empty folder among good paths is still a mistake in the job
    assert run("validate", str(VALID), str(folder)).exit_code == 5
    allowed = run("validate", str(folder), "--allow-empty")
    assert allowed.exit_code == 0 and "0 files checked" in allowed.stdout
    empty_export = tmp_path / "Patient.ndjson"
    empty_export.write_text("\n\n")
    assert run("validate", str(empty_export)).exit_code == 5
    helped = run("--help").stdout
    assert "5 nothing to check" in " ".join(helped.split())


def test_an_empty_cache_uses_the_embedded_core_and_says_so(run, tmp_path: Path) -> None:
    empty = tmp_path / "empty-cache"
    empty.mkdir()
    outcome = run("validate", str(VALID), "--cache", str(empty), "-f", "json")
    assert outcome.exit_code == 0, outcome.stderr
    packages = json.loads(outcome.stdout)["reproducibility"]["packages"]
    assert [(p["id"], p["source"]) for p in packages] == [("hl7.fhir.r4.core", "embedded")]


def test_exit_3_when_a_package_is_neither_cached_nor_embedded(run, tmp_path: Path) -> None:
    empty = tmp_path / "empty-cache"
    empty.mkdir()
    outcome = run("validate", str(VALID), "--cache", str(empty), "--ig", "hl7.fhir.r4.examples#4.0.1")
    assert outcome.exit_code == 3
    assert "hl7.fhir.r4.examples" in outcome.stderr and "samsvar packages install" in outcome.stderr


def test_exit_3_when_an_ig_package_is_missing(run) -> None:
    outcome = run("validate", str(VALID), "--ig", "example.not.installed#1.0.0")
    assert outcome.exit_code == 3


def test_exit_3_when_a_profile_is_unknown(run) -> None:
    outcome = run("validate", str(VALID), "--profile", "http://example.org/StructureDefinition/nope")
    assert outcome.exit_code == 3
    assert "nope" in outcome.stderr


def test_known_profile_is_accepted_and_the_gap_is_said(run) -> None:
    outcome = run("validate", str(VALID), "--ig", "hl7.fhir.no.basis#2.2.2",
                  "--profile", "http://hl7.no/fhir/StructureDefinition/no-basis-Patient", "-f", "json")
    assert outcome.exit_code == 0, outcome.stderr
    report = json.loads(outcome.stdout)
    assert any("generated from the differential" in n for n in report["notices"])
    assert any("Not implemented yet" in n for n in report["notices"])
    assert {p["id"] for p in report["reproducibility"]["packages"]} >= {"hl7.fhir.r4.core", "hl7.fhir.no.basis"}


def test_must_support_is_reported_only_on_request(run) -> None:
    profiles = FIXTURES / "fhir" / "profiles"
    args = ("validate", str(profiles / "valid-patient.json"), "--ig", str(profiles / "definitions"), "-f", "json")
    quiet = json.loads(run(*args).stdout)
    asked = run(*args, "--must-support")
    assert asked.exit_code == 0, asked.stderr
    codes = [(i["rule"], i["expression"]) for r in json.loads(asked.stdout)["results"] for i in r["issues"]]
    assert ("FHIR-STRUCT-014", "Patient") in codes
    assert not any(i["rule"] == "FHIR-STRUCT-014" for r in quiet["results"] for i in r["issues"])
    assert json.loads(asked.stdout)["reproducibility"]["options"]["must_support"] is True


def test_contained_findings_can_be_left_out_from_the_command_line_or_the_config(run, tmp_path: Path) -> None:
    source = FIXTURES / "fhir" / "contained-not-reported" / "condition-with-bad-contained-id.json"
    checked = run("validate", str(source), "--ignore", "FHIR-INV-003")
    assert checked.exit_code == 1 and "FHIR-STRUCT-007" in checked.stdout
    left_out = run("validate", str(source), "--ignore", "FHIR-INV-003", "--no-contained", "-f", "json")
    assert left_out.exit_code == 0, left_out.stdout
    assert json.loads(left_out.stdout)["reproducibility"]["options"]["contained"] is False
    (tmp_path / "samsvar.toml").write_text("contained = false\nignore = [\"FHIR-INV-003\"]\n", encoding="utf-8")
    assert run("validate", str(source)).exit_code == 0


def test_malformed_input_is_a_finding_not_a_crash(run, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"resourceType": "Patient",\n  "active": tru}')
    outcome = run("validate", str(broken), "-f", "json")
    assert outcome.exit_code == 1
    issue = json.loads(outcome.stdout)["results"][0]["issues"][0]
    assert issue["rule"] == "INPUT-001" and issue["severity"] == "fatal"
    assert (issue["line"], issue["column"]) == (2, 13)


def test_stdin(run) -> None:
    outcome = run("validate", "-", "-f", "json", "--ignore", "FHIR-INV-003", input=BAD.read_bytes())
    assert outcome.exit_code == 1
    result = json.loads(outcome.stdout)["results"][0]
    assert result["path"] == "-" and result["issues"][0]["rule"] == "NO-ID-003"


def test_folders_are_walked_recursively_for_json_and_xml(run, tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "p.json").write_bytes(VALID.read_bytes())
    (tmp_path / "a" / "p.xml").write_bytes((IDS / "fnr-wrong-checksum.xml").read_bytes())
    (tmp_path / "a" / "notes.txt").write_text("not validated")
    (tmp_path / "a" / ".hidden.json").write_text("{broken")
    outcome = run("validate", str(tmp_path / "a"), "-f", "json", "--ignore", "FHIR-INV-003")
    results = json.loads(outcome.stdout)["results"]
    assert sorted(Path(r["path"]).name for r in results) == ["p.json", "p.xml"]
    xml = next(r for r in results if r["path"].endswith(".xml"))
    assert xml["kind"] == "fhir:Patient" and xml["format"] == "xml"
    assert xml["issues"][0]["rule"] == "NO-ID-003"
    assert (xml["issues"][0]["line"], xml["issues"][0]["column"]) == (5, 5)


def test_every_format_to_its_own_file_and_text_to_stdout(run, tmp_path: Path) -> None:
    outputs = {fmt: tmp_path / f"out.{fmt}" for fmt in ("json", "sarif", "junit", "operationoutcome")}
    args = ["validate", str(BAD), str(VALID)]
    for fmt, path in outputs.items():
        args += ["-f", fmt, "-o", str(path)]
    outcome = run(*args, "-f", "text")
    assert outcome.exit_code == 1
    assert "NO-ID-003" in outcome.stdout
    assert json.loads(outputs["json"].read_text())["summary"]["files"] == 2
    assert json.loads(outputs["sarif"].read_text())["version"] == "2.1.0"
    assert outputs["junit"].read_text().lstrip().startswith("<")
    assert json.loads(outputs["operationoutcome"].read_text())["resourceType"] == "Bundle"


def test_json_report_shape(run) -> None:
    report = json.loads(run("validate", str(BAD), "-f", "json").stdout)
    assert set(report) >= {"tool", "results", "summary", "reproducibility"}
    assert report["tool"]["version"] == __version__
    issue = report["results"][0]["issues"][0]
    assert set(issue) >= {"rule", "severity", "message", "expression", "line", "column"}
    repro = report["reproducibility"]
    core = next(p for p in repro["packages"] if p["id"] == "hl7.fhir.r4.core")
    assert core["version"] == "4.0.1" and len(core["sha256"]) == 64
    assert len(repro["config"]["sha256"]) == 64 and repro["config"]["file_sha256"] is None
    other = json.loads(run("validate", str(BAD), "-f", "json", "--ignore", "NO-ID-005").stdout)
    assert other["reproducibility"]["config"]["sha256"] != repro["config"]["sha256"]


def test_fail_on_warning_and_production(run) -> None:
    assert run("validate", str(SYNTHETIC)).exit_code == 0  # information only
    assert run("validate", str(SYNTHETIC), "--fail-on", "information").exit_code == 1
    prod = run("validate", str(SYNTHETIC), "--production", "-f", "json", "--ignore", "FHIR-INV-003")
    assert prod.exit_code == 1
    assert json.loads(prod.stdout)["results"][0]["issues"][0]["severity"] == "error"


def test_select_and_ignore(run) -> None:
    assert run("validate", str(BAD), "--ignore", "NO-ID-003").exit_code == 0
    assert run("validate", str(BAD), "--ignore", "NO-ID").exit_code == 0
    assert run("validate", str(BAD), "--select", "INPUT").exit_code == 0
    assert run("validate", str(BAD), "--select", "NO-ID-003").exit_code == 1


def _config(folder: Path, text: str, name: str = "samsvar.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_config_regrades_and_is_hashed(run, tmp_path: Path) -> None:
    _config(tmp_path, '[severity]\n"NO-ID-003" = "warning"\n')
    outcome = run("validate", str(BAD), "-f", "json")
    report = json.loads(outcome.stdout)
    assert outcome.exit_code == 0
    assert report["results"][0]["issues"][0]["severity"] == "warning"
    assert report["reproducibility"]["config"]["path"].endswith("samsvar.toml")
    assert len(report["reproducibility"]["config"]["file_sha256"]) == 64
    assert run("validate", str(BAD), "--no-config").exit_code == 1


def test_config_in_pyproject(run, tmp_path: Path) -> None:
    _config(tmp_path, '[project]\nname = "x"\n\n[tool.samsvar]\nignore = ["NO-ID-003"]\n', "pyproject.toml")
    assert run("validate", str(BAD)).exit_code == 0


def test_waivers_and_expired_waivers(run, tmp_path: Path) -> None:
    waiver = '[[waiver]]\nrule = "NO-ID-003"\nowner = "epj-team@example.no"\nreason = "legacy data"\nexpires = {date}\n'
    _config(tmp_path, waiver.format(date="2999-01-01"))
    active = run("validate", str(BAD), "-f", "json", "--ignore", "FHIR-INV-003")
    assert active.exit_code == 0
    issue = json.loads(active.stdout)["results"][0]["issues"][0]
    assert issue["waived"]["owner"] == "epj-team@example.no"

    _config(tmp_path, waiver.format(date="2001-01-01"))
    expired = run("validate", str(BAD), "-f", "json", "--ignore", "FHIR-INV-003")
    assert expired.exit_code == 1
    results = json.loads(expired.stdout)["results"]
    config = next(r for r in results if r["kind"] == "config:samsvar")
    assert config["issues"][0]["rule"] == "CONFIG-001" and config["issues"][0]["line"] == 1
    assert "waived" not in results[0]["issues"][0]


def test_bad_config_is_a_usage_error(run, tmp_path: Path) -> None:
    _config(tmp_path, 'fail-on = "sometimes"\n')
    outcome = run("validate", str(VALID))
    assert outcome.exit_code == 2 and "fail-on" in outcome.stderr + outcome.stdout
    _config(tmp_path, '[[waiver]]\nrule = "NO-ID-003"\n')
    assert run("validate", str(VALID)).exit_code == 2


def test_rules_list_and_explain(run) -> None:
    listed = run("rules", "list")
    assert listed.exit_code == 0
    for code in ("INPUT-001", "INPUT-007", "NO-ID-003", "NO-ID-005", "CONFIG-001", "FHIR-001"):
        assert code in listed.stdout
    explained = run("rules", "explain", "no-id-003")
    assert explained.exit_code == 0
    assert "Example (bad)" in explained.stdout and "Example (good)" in explained.stdout
    catalogue = json.loads(run("rules", "list", "--json").stdout)
    assert all(r["code"] and r["title"] and r["severity"] for r in catalogue)


def test_the_installed_entry_point_runs_without_traceback(fhir_cache: Path, tmp_path: Path) -> None:
    """The real console script, in a real process, with stdin and the text renderer."""
    env = {"SAMSVAR_FHIR_HOME": str(fhir_cache), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", "from samsvar.cli import main; main()", "validate", "-"],
                          input=b"{not json", capture_output=True, env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 1
    assert b"INPUT-001" in proc.stdout
    assert b"Traceback" not in proc.stderr
    assert b"\x1b[" not in proc.stdout  # no colour when not a terminal


def test_exit_3_on_a_broken_cache(run, tmp_path: Path) -> None:
    broken = tmp_path / "cache" / "hl7.fhir.r4.core#4.0.1" / "package"
    broken.mkdir(parents=True)
    (broken / "package.json").write_text("{not json")
    outcome = run("validate", str(VALID), "--cache", str(tmp_path / "cache"))
    assert outcome.exit_code == 3 and "package.json" in outcome.stderr
    assert run("validate", str(VALID), "--cache", str(VALID)).exit_code == 2  # a file is not a cache folder


def test_jobs_give_the_same_report_in_the_same_order(run, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for source in sorted((FIXTURES / "fhir" / "structure").glob("*.json"))[:12]:
        (folder / source.name).write_bytes(source.read_bytes())
    one = json.loads(run("validate", str(folder), "-f", "json").stdout)
    two = json.loads(run("validate", str(folder), "-f", "json", "--jobs", "2").stdout)
    assert [r["path"] for r in one["results"]] == [r["path"] for r in two["results"]]
    assert [[i["rule"] for i in r["issues"]] for r in one["results"]] == \
        [[i["rule"] for i in r["issues"]] for r in two["results"]]
    assert one["summary"] == two["summary"]


def test_a_reader_that_goes_away_is_not_an_internal_error() -> None:
    """`samsvar rules list | head -1`: a closed pipe ends the command quietly, not as an internal error."""
    import subprocess
    import sys
    from pathlib import Path

    samsvar = Path(sys.executable).parent / "samsvar"
    child = subprocess.Popen([str(samsvar), "rules", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # the reader is gone before samsvar has written its first line
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=60) == 141
    assert "internal error" not in stderr and "Traceback" not in stderr


def _rules(outcome) -> list[str]:
    return sorted(issue["rule"] for result in json.loads(outcome.stdout)["results"] for issue in result["issues"])


def test_hl7_option_flags_reach_the_engine(run) -> None:
    """--security-checks, --html-in-markdown, --reference-policy/--reference-target and --hl7-paths
    are the command line's way to the options the configuration file and the API also set."""
    text = FIXTURES / "fhir" / "text-content-security"
    plain = run("validate", "--no-config", "-f", "json", str(text / "markdown-with-html.json"))
    strict = run("validate", "--no-config", "-f", "json", "--security-checks", "--html-in-markdown", "error",
                 str(text / "markdown-with-html.json"))
    assert plain.exit_code == 0 and strict.exit_code == 1, (plain.stdout, strict.stdout)
    assert _rules(strict) == ["FHIR-STRUCT-019", "FHIR-STRUCT-020"]

    policy = FIXTURES / "fhir" / "reference-policy"
    unresolved = str(policy / "unresolved-beneficiary.json")
    ignored = run("validate", "--no-config", "-f", "json", unresolved)
    checked = run("validate", "--no-config", "-f", "json", "--reference-policy", "exists",
                  "--reference-target", str(policy / "targets" / "patient-2.json"), unresolved)
    assert "FHIR-REF-006" not in _rules(ignored) and _rules(checked).count("FHIR-REF-006") == 1
    resolved = run("validate", "--no-config", "--reference-policy", "exists",
                   "--reference-target", str(policy / "targets" / "patient-2.json"),
                   str(policy / "valid-resolved-beneficiary.json"))
    assert resolved.exit_code == 0, resolved.stdout


def test_hl7_paths_moves_fullurl_findings_to_the_first_entry(run, tmp_path: Path) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:8f2b6c1e-3c7a-4d5e-9b1a-2f4e6d8c0a11", "resource": {"resourceType": "Basic",
                                                                                 "code": {"text": "a"}}},
        {"fullUrl": "http://example.org/fhir/Basic/2", "resource": {"resourceType": "Basic", "id": "3",
                                                                    "code": {"text": "b"}}}]}
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))

    def locations(*flags: str) -> set[str]:
        outcome = run("validate", "--no-config", "-f", "json", *flags, str(path))
        return {issue["expression"] for result in json.loads(outcome.stdout)["results"]
                for issue in result["issues"] if issue["rule"].startswith("FHIR-BUNDLE")}

    assert locations() == {"Bundle.entry[1]"}
    assert locations("--hl7-paths") == {"Bundle.entry[0]"}
