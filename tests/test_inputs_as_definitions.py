"""Canonical resources among a run's inputs define for every input of the run, as in HL7's validator."""

from __future__ import annotations

from pathlib import Path

import pytest

from samsvar.validators import Options, Validator

from .conftest import FIXTURES

FOLDER = FIXTURES / "fhir" / "inputs-as-definitions"


def _errors(fhir_cache: Path, paths: list[Path], *, jobs: int = 1, on: bool = True) -> dict[str, list[str]]:
    validator = Validator(Options(cache_root=fhir_cache, inputs_as_definitions=on))
    return {Path(r.path).name: sorted(i.rule for i in r.issues if i.severity.name in ("ERROR", "FATAL"))
            for r in validator.validate_paths([str(p) for p in paths], jobs=jobs)}


def test_a_report_that_mismatches_the_measure_beside_it(fhir_cache: Path) -> None:
    found = _errors(fhir_cache, [FOLDER / "measure-mismatch"])
    assert found["MeasureReport.json"] == ["FHIR-MEASURE-006", "FHIR-MEASURE-006"]
    assert found["Measure-screening.json"] == []  # its Library is among the inputs too


def test_the_report_alone_cannot_be_compared(fhir_cache: Path) -> None:
    assert _errors(fhir_cache, [FOLDER / "measure-mismatch" / "MeasureReport.json"]) == {"MeasureReport.json": []}


def test_turned_off_the_measure_beside_it_is_not_used(fhir_cache: Path) -> None:
    assert _errors(fhir_cache, [FOLDER / "measure-mismatch"], on=False)["MeasureReport.json"] == []


def test_a_matching_report_is_clean(fhir_cache: Path) -> None:
    assert _errors(fhir_cache, [FOLDER / "measure-match"]) == {
        "Library-screening-logic.json": [], "Measure-screening.json": [], "MeasureReport.json": []}


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_profile_beside_the_instance_that_claims_it(fhir_cache: Path, jobs: int) -> None:
    found = _errors(fhir_cache, [FOLDER / "profile-violated"], jobs=jobs)
    assert found == {"Practitioner.json": ["FHIR-STRUCT-002"], "StructureDefinition.json": []}
    clean = _errors(fhir_cache, [FOLDER / "profile-met"], jobs=jobs)
    assert clean == {"Practitioner.json": [], "StructureDefinition.json": []}


def test_the_order_of_the_inputs_does_not_matter(fhir_cache: Path) -> None:
    files = sorted((FOLDER / "measure-mismatch").iterdir())
    assert _errors(fhir_cache, files) == _errors(fhir_cache, list(reversed(files)))


def test_two_inputs_with_one_url_the_first_by_path_is_used(fhir_cache: Path, tmp_path: Path) -> None:
    source = FOLDER / "profile-violated" / "StructureDefinition.json"
    text = source.read_text(encoding="utf-8")
    (tmp_path / "a.json").write_text(text, encoding="utf-8")
    (tmp_path / "b.json").write_text(text.replace('"min": 1', '"min": 0'), encoding="utf-8")
    (tmp_path / "c.json").write_text((FOLDER / "profile-violated" / "Practitioner.json").read_text(), encoding="utf-8")
    validator = Validator(Options(cache_root=fhir_cache))
    results = {Path(r.path).name: r for r in validator.validate_paths([str(tmp_path)])}
    assert [i.rule for i in results["c.json"].issues if i.severity.name == "ERROR"] == ["FHIR-STRUCT-002"]
    run = validator.with_input_definitions([str(tmp_path)])
    assert [Path(p).name for p in run.input_definitions.used] == ["a.json"]
    assert [(Path(p).name, Path(first).name) for p, _, first in run.input_definitions.shadowed] == [("b.json", "a.json")]


def test_the_shared_definitions_are_not_changed(fhir_cache: Path) -> None:
    validator = Validator(Options(cache_root=fhir_cache))
    list(validator.validate_paths([str(FOLDER / "profile-violated")]))
    assert validator.definitions().get("http://samsvar.no/fhir/test/StructureDefinition/Practitioner-with-hpr") is None


def test_the_command_line_and_the_configuration(fhir_cache: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from samsvar.cli import cli as main

    folder = str(FOLDER / "measure-mismatch")
    env = {"SAMSVAR_FHIR_HOME": str(fhir_cache)}
    on = CliRunner().invoke(main, ["validate", "--no-config", folder], env=env)
    assert on.exit_code == 1 and "FHIR-MEASURE-006" in on.output and "Definitions from the inputs" in on.output
    off = CliRunner().invoke(main, ["validate", "--no-config", "--no-inputs-as-definitions", folder], env=env)
    assert "FHIR-MEASURE-006" not in off.output and "FHIR-MEASURE-005" in off.output
    config = tmp_path / "samsvar.toml"
    config.write_text("inputs-as-definitions = false\n", encoding="utf-8")
    configured = CliRunner().invoke(main, ["validate", "--config", str(config), folder], env=env)
    assert "FHIR-MEASURE-006" not in configured.output
    config.write_text('inputs-as-definitions = "no"\n', encoding="utf-8")
    wrong = CliRunner().invoke(main, ["validate", "--config", str(config), folder], env=env)
    assert wrong.exit_code == 2 and "inputs-as-definitions must be true or false" in wrong.output


def test_the_api(fhir_cache: Path) -> None:
    from samsvar.api import Validator as FhirValidator

    folder = [FOLDER / "profile-violated"]
    found = {Path(r.name).name: [i.code for i in r.issues if i.severity == "error"]
             for r in FhirValidator(cache=fhir_cache).validate_paths(folder)}
    assert found["Practitioner.json"] == ["FHIR-STRUCT-002"]
    off = FhirValidator(cache=fhir_cache, inputs_as_definitions=False).validate_paths(folder)
    assert all(not [i for i in r.issues if i.severity == "error"] for r in off)


def test_a_profile_asked_for_with_profile_may_be_among_the_inputs(fhir_cache: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from samsvar.cli import cli as main

    source = FOLDER / "profile-violated"
    (tmp_path / "StructureDefinition.json").write_text((source / "StructureDefinition.json").read_text())
    (tmp_path / "Practitioner.json").write_text(
        (FIXTURES / "fhir" / "global-profiles" / "practitioner-without-identifier.json").read_text())
    url = "http://samsvar.no/fhir/test/StructureDefinition/Practitioner-with-hpr"
    env = {"SAMSVAR_FHIR_HOME": str(fhir_cache)}
    found = CliRunner().invoke(main, ["validate", "--no-config", "--profile", url, str(tmp_path)], env=env)
    assert found.exit_code == 1 and "FHIR-STRUCT-002" in found.output
    alone = CliRunner().invoke(main, ["validate", "--no-config", "--profile", url, str(tmp_path / "Practitioner.json")],
                               env=env)
    assert alone.exit_code == 3 and "is not defined in the loaded packages" in alone.output
    off = CliRunner().invoke(main, ["validate", "--no-config", "--no-inputs-as-definitions", "--profile", url,
                                    str(tmp_path)], env=env)
    assert off.exit_code == 3
