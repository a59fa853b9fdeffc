"""The pytest plugin, run in pytester sessions: the ``samsvar`` fixture with ``[tool.samsvar]`` options,
``assert_conforms`` failure messages, the ``samsvar_validate`` marker and ``--samsvar-report``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from .conftest import FIXTURES

pytest_plugins = ["pytester"]

GOOD = (FIXTURES / "fhir" / "identifiers" / "valid-fnr.json").read_text(encoding="utf-8")
BAD = (FIXTURES / "fhir" / "identifiers" / "fnr-wrong-checksum.json").read_text(encoding="utf-8")


@pytest.fixture()
def project(pytester: pytest.Pytester, fhir_cache: Path) -> pytest.Pytester:
    pytester.makepyprojecttoml(f'''
[tool.samsvar]
cache = "{fhir_cache}"
ignore = ["FHIR-INV-003"]
''')
    pytester.makepyfile(resources=f"GOOD = {json.loads(GOOD)!r}\nBAD = {json.loads(BAD)!r}\n")
    return pytester


def test_fixture_and_assert_conforms(project: pytest.Pytester) -> None:
    project.makepyfile(test_vendor='''
import copy
from resources import GOOD, BAD

def test_good(samsvar):
    assert samsvar.assert_conforms(GOOD).ok

def test_bad(samsvar):
    samsvar.assert_conforms(BAD)

def test_the_fixture_is_one_validator_with_the_project_options(samsvar, request):
    assert samsvar is request.getfixturevalue("samsvar")
    assert samsvar.validate(GOOD).codes == set()  # [tool.samsvar] ignores FHIR-INV-003 (dom-6)

def test_fail_on_warning(samsvar):
    patient = copy.deepcopy(GOOD)
    patient["identifier"][0]["value"] = ""
    samsvar.assert_conforms(patient, fail_on="warning")
''')
    result = project.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines([
        "*does not conform: 1 issue at or above error",
        "*Patient.identifier[[]0[]].value (*): error NO-ID-003 Invalid fødselsnummer*",
    ])
    result.stdout.fnmatch_lines(["*at or above warning*", "*warning NO-ID-006*"])
    assert "Traceback" not in result.stdout.str()


def test_marker_validates_what_the_test_returns(project: pytest.Pytester) -> None:
    project.makepyfile(test_marker='''
import pytest
from resources import GOOD, BAD

@pytest.mark.samsvar_validate
def test_returns_good():
    return GOOD

@pytest.mark.samsvar_validate(profile="http://hl7.org/fhir/StructureDefinition/Patient")
def test_returns_several(samsvar):
    return [GOOD, BAD]

@pytest.mark.samsvar_validate
def test_returns_nothing():
    pass
''')
    result = project.runpytest("-p", "no:randomly", "-W", "error::pytest.PytestReturnNotNoneWarning")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*test_returns_several[[]1[]] (fhir:Patient) does not conform to http://hl7.org/fhir/StructureDefinition/Patient*",
        "*error NO-ID-003*",
        "*returned no resource to validate*",
    ])


@pytest.mark.parametrize("suffix", [".xml", ".html", ".json"])
def test_session_report(project: pytest.Pytester, suffix: str) -> None:
    project.makepyfile(test_report='''
from resources import GOOD, BAD

def test_good(samsvar):
    samsvar.assert_conforms(GOOD)

def test_bad(samsvar):
    samsvar.validate(BAD)
''')
    target = project.path / f"samsvar-report{suffix}"
    result = project.runpytest("-p", "no:randomly", f"--samsvar-report={target}")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"samsvar: report of 2 validated artifact(s) written to *samsvar-report{suffix}"])
    text = target.read_text(encoding="utf-8")
    assert "test_report.py::test_bad: Patient/" in text and "NO-ID-003" in text
    if suffix == ".xml":
        root = etree.fromstring(text.encode())
        failures = root.findall(".//failure")
        assert len(root.findall(".//testcase")) == 2 and len(failures) == 1
    elif suffix == ".json":
        report = json.loads(text)
        assert report["summary"]["files"] == 2 and report["summary"]["passed"] is False
    else:
        assert text.lstrip().lower().startswith("<!doctype html")


def test_bad_report_suffix_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makepyfile(test_x="def test_x():\n    pass\n")
    result = project.runpytest("--samsvar-report=out.pdf")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--samsvar-report: cannot tell the report format of out.pdf*"])


def test_bad_configuration_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.samsvar]\nnot-a-key = 1\n')
    pytester.makepyfile(test_x="def test_x(samsvar):\n    pass\n")
    result = pytester.runpytest()
    assert result.ret != 0
    assert "unknown key(s) not-a-key" in result.stdout.str() + result.stderr.str()


def test_fhir_resources_models_in_a_vendor_test(project: pytest.Pytester) -> None:
    project.makepyfile(test_models='''
import pytest
from fhir.resources.R4B.patient import Patient

def patient(fnr):
    return Patient(id="p1", gender="female", birthDate="1972-09-13",
                   identifier=[{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": fnr}])

def test_model_conforms(samsvar):
    samsvar.assert_conforms(patient("13097248022"))

@pytest.mark.samsvar_validate
def test_model_returned():
    return patient("13097248023")
''')
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_model_returned (fhir:Patient) does not conform*", "*NO-ID-003*"])
