"""``samsvar profiles lint|list``: samsvar's own profiles lint clean, broken copies fail clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from samsvar.cli.profiles import profiles
from samsvar.conformance.profiles_lint import PROFILES_FOLDER, fhirpath_errors, lint, list_profiles, load_definitions

from .conftest import FIXTURES

BROKEN = FIXTURES / "profiles-lint" / "broken"
EXTERNAL = FIXTURES / "profiles-lint" / "external-binding"
NO_BASIS = "hl7.fhir.no.basis#2.2.2"
OURS = {json.loads(path.read_text(encoding="utf-8"))["url"] for path in PROFILES_FOLDER.glob("StructureDefinition-*.json")}
"""samsvar's own profiles, read from the folder (a profile added there needs no edit here)."""
OWN = "http://samsvar.no/fhir/StructureDefinition/samsvar-"
NO_BASIS_PROFILES = "http://hl7.no/fhir/StructureDefinition/no-basis-"
SAMSVAR_VALUE_SETS = "http://samsvar.no/fhir/ValueSet/"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(profiles, list(args), catch_exceptions=False)


OFFLINE = "cannot be evaluated offline"


def test_own_profiles_lint_clean_through_the_api(fhir_cache: Path) -> None:
    """No errors; the only warnings say which bindings cannot be evaluated offline (SNOMED CT, NLK, ATC, NCRP)."""
    problems = lint(PROFILES_FOLDER, load_definitions(PROFILES_FOLDER, (NO_BASIS,), fhir_cache))
    assert [p.line() for p in problems if p.severity == "error" or OFFLINE not in p.message] == []


def test_own_profiles_lint_clean_by_default(fhir_cache: Path) -> None:
    result = invoke("lint", "--cache", str(fhir_cache))  # the default folder loads no-basis by itself
    assert result.exit_code == 0, result.output
    *warnings, summary = result.output.strip().splitlines()
    assert summary == f"{len(OURS)} profiles, no problems ({len(warnings)} warning(s))"
    assert all(OFFLINE in line and ": warning " in line for line in warnings), warnings


def test_own_profiles_snapshots_keep_the_identity_rules(fhir_cache: Path) -> None:
    definitions = load_definitions(PROFILES_FOLDER, (NO_BASIS,), fhir_cache)
    patient = definitions.elements("http://samsvar.no/fhir/StructureDefinition/samsvar-Patient")
    assert patient["Patient.identifier"]["min"] == 1 and patient["Patient.birthDate"]["min"] == 1
    assert {c["key"] for c in patient["Patient"]["constraint"]} >= {"samsvar-pat-1"}
    practitioner = definitions.elements("http://samsvar.no/fhir/StructureDefinition/samsvar-Practitioner")
    assert (practitioner["Practitioner.identifier:HPR"]["min"], practitioner["Practitioner.identifier:HPR"]["max"]) == (1, "1")
    organization = definitions.elements("http://samsvar.no/fhir/StructureDefinition/samsvar-Organization")
    assert organization["Organization.identifier:ENH"]["min"] == 1
    assert organization["Organization.identifier:HER.system"]["fixedUri"] == "urn:oid:2.16.578.1.12.4.1.2"


def test_own_profiles_snapshots_keep_the_priority_area_rules(fhir_cache: Path) -> None:
    definitions = load_definitions(PROFILES_FOLDER, (NO_BASIS,), fhir_cache)
    lab = definitions.elements(OWN + "LabObservation")
    assert lab["Observation.code.coding:NLK.system"]["fixedUri"] == "urn:oid:2.16.578.1.12.4.1.1.7280"
    assert lab["Observation.code"]["binding"] == {"strength": "extensible", "valueSet": SAMSVAR_VALUE_SETS + "lab-nlk",
                                                  "description": "Analyses are coded with NLK"}
    assert {c["key"] for c in lab["Observation"]["constraint"]} >= {"samsvar-lab-1", "samsvar-lab-2"}
    report = definitions.elements(OWN + "LabReport")
    assert report["DiagnosticReport.result"]["type"][0]["targetProfile"] == [OWN + "LabObservation"]
    assert report["DiagnosticReport.code"]["binding"]["valueSet"] == SAMSVAR_VALUE_SETS + "lab-report-type"
    # derived from no-basis: its FEST slice stays required beside our ATC slice
    medication = definitions.elements(OWN + "Medication")
    assert (medication["Medication.code.coding:ATC"]["min"], medication["Medication.code.coding:FEST-Medication"]["min"]) == (1, 1)
    # the medication list entry constrains no-basis' type slice, not the choice: a coded medication is
    # still a type of medication[x] (and fails the required medicationReference slice instead)
    statement = definitions.elements(OWN + "MedicationStatement")
    assert [t["code"] for t in statement["MedicationStatement.medication[x]"]["type"]] == ["CodeableConcept", "Reference"]
    assert statement["MedicationStatement.medication[x]:medicationReference"]["type"][0]["targetProfile"] == [OWN + "Medication"]
    flag = definitions.elements(OWN + "Flag")
    assert flag["Flag.category"]["binding"]["valueSet"] == SAMSVAR_VALUE_SETS + "critical-information-category"
    home = definitions.elements(OWN + "HomeObservation")
    assert home["Observation.device"]["min"] == 1 and home["Observation.device"]["type"][0]["targetProfile"] == [OWN + "Device"]


def test_every_own_binding_resolves_to_loaded_terminology(fhir_cache: Path) -> None:
    """The value sets our profiles bind to are held (profiles/terminology or a loaded package), so lint's
    'every binding resolves' is not satisfied by warnings about external terminologies."""
    definitions = load_definitions(PROFILES_FOLDER, (NO_BASIS,), fhir_cache)
    for url in OURS:
        sd = definitions.structure_definition(url)
        for element in sd["differential"]["element"]:
            value_set = (element.get("binding") or {}).get("valueSet")
            if value_set:
                assert definitions.get(value_set) is not None, (url, element["id"], value_set)


@pytest.mark.parametrize(("file", "message"), [
    ("unknown-base.json", "error the base http://samsvar.no/fhir/StructureDefinition/no-such-base is not known"),
    ("bad-fhirpath.json", "error Patient: constraint lint-1: FHIRPath"),
    ("unknown-value-set.json", "error Patient.maritalStatus: binding to value set "
                               "http://samsvar.no/fhir/ValueSet/no-such-value-set does not resolve"),
    ("unknown-value-set.json", "warning Patient.communication.language: binding to value set http://snomed.info/sct"),
    ("no-such-element.json", "error the differential does not apply: the differential element "
                             "Practitioner.nickname matches nothing"),
    ("unknown-target-profile.json", "error Patient.generalPractitioner: targetProfile "
                                    "http://samsvar.no/fhir/StructureDefinition/no-such-Practitioner does not resolve"),
    ("missing-fields.json", "error name is missing"),
    ("missing-fields.json", "error status is missing"),
    ("not-json.json", "error does not parse as JSON"),
])
def test_broken_profiles_fail_with_clear_messages(fhir_cache: Path, file: str, message: str) -> None:
    result = invoke("lint", str(BROKEN), "--ig", NO_BASIS, "--cache", str(fhir_cache))
    assert result.exit_code == 1, result.output
    assert f"{BROKEN / file}: {message}" in result.output, result.output


def test_broken_profiles_summary_and_no_false_alarms(fhir_cache: Path) -> None:
    problems = lint(BROKEN, load_definitions(BROKEN, (NO_BASIS,), fhir_cache))
    assert sorted({p.file.name for p in problems}) == sorted(p.name for p in BROKEN.glob("*.json"))
    assert [p.severity for p in problems].count("warning") == 1
    result = invoke("lint", str(BROKEN), "--ig", NO_BASIS, "--cache", str(fhir_cache))
    assert result.output.splitlines()[-1] == f"6 profiles, {len(problems) - 1} error(s), 1 warning(s)"


def test_warnings_alone_do_not_fail(fhir_cache: Path) -> None:
    result = invoke("lint", str(EXTERNAL), "--cache", str(fhir_cache))
    assert result.exit_code == 0, result.output
    assert "warning Condition.code: binding to value set http://snomed.info/sct" in result.output
    assert result.output.splitlines()[-1] == "1 profiles, no problems (1 warning(s))"


def test_a_missing_package_is_an_environment_failure(tmp_path: Path) -> None:
    result = CliRunner().invoke(profiles, ["lint", str(PROFILES_FOLDER), "--cache", str(tmp_path),
                                           "--ig", "hl7.fhir.r4.examples#4.0.1"])  # neither cached nor embedded
    assert result.exit_code == 3, result.output
    assert "hl7.fhir.r4.examples" in result.output


def test_list_profiles() -> None:
    rows = list_profiles(PROFILES_FOLDER)
    listed = {row["url"] for row in rows}
    assert listed == OURS, (f"profiles list leaves out {sorted(OURS - listed)} and lists {sorted(listed - OURS)}, "
                            f"which are not StructureDefinition files of {PROFILES_FOLDER}")
    assert all(row["type"] and row["title"] for row in rows)
    as_json = invoke("list", "--json")
    assert as_json.exit_code == 0 and json.loads(as_json.output) == rows
    text = invoke("list")
    assert text.exit_code == 0 and all(url in text.output for url in OURS)


def test_own_profiles_build_on_no_basis_where_it_has_the_resource(fhir_cache: Path) -> None:
    """On no-basis where it profiles the resource type, else on the core specification (or on one of ours);
    a profile that departs from no-basis says why in its ``purpose``, naming the no-basis profile."""
    definitions = load_definitions(PROFILES_FOLDER, (NO_BASIS,), fhir_cache)
    no_basis: dict[str, set[str]] = {}
    for url in definitions.canonicals():
        sd = definitions.structure_definition(url)
        if url.startswith(NO_BASIS_PROFILES) and sd and sd.get("kind") == "resource" and sd.get("derivation") == "constraint":
            no_basis.setdefault(str(sd["type"]), set()).add(url)
    wrong = []
    for row in list_profiles(PROFILES_FOLDER):
        wanted = no_basis.get(row["type"]) or {f"http://hl7.org/fhir/StructureDefinition/{row['type']}"}
        purpose = str(definitions.structure_definition(row["url"]).get("purpose") or "")
        explained = any(url.rsplit("/", 1)[-1] in purpose for url in wanted)
        if row["base"] not in wanted and not row["base"].startswith(OWN) and not explained:
            wrong.append(f"{row['url']} is on {row['base']}, expected one of {sorted(wanted)} "
                         "(or a purpose that names it and says why not)")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("expression", "compiles"), [
    ("identifier.where(system = 'urn:oid:2.16.578.1.12.4.1.4.1').exists()", True),
    ("name.exists() and", False),
    ("name.exists(", False),
    ("name given", False),
    ("$$", False),
])
def test_fhirpath_errors_is_strict(expression: str, compiles: bool) -> None:
    assert (fhirpath_errors(expression) == []) is compiles


def test_what_cannot_be_evaluated_offline_is_a_warning(fhir_cache: Path) -> None:
    """A checked binding to a value set that cannot be expanded offline and a slice discriminator that
    cannot be evaluated are said (warnings), not left for the instances to find out."""
    folder = FIXTURES / "fhir" / "profiles" / "definitions"
    result = invoke("lint", str(folder), "--cache", str(fhir_cache))
    undecidable = folder / "Observation-undecidable-slice.json"
    assert (f"{undecidable}: warning Observation.category:reported: required binding to value set "
            "http://samsvar.no/fhir/test/ValueSet/finding-or-local cannot be evaluated offline") in result.output
    assert (f"{undecidable}: warning Observation.category:reported: the slice discriminator cannot be evaluated "
            "offline: the value set http://samsvar.no/fhir/test/ValueSet/finding-or-local") in result.output
    assert (f"{folder / 'Observation-samsvar-test-free-category.json'}: warning Observation.category:free: the slice discriminator "
            "cannot be evaluated offline: the slice has no fixed value, pattern or required binding at 'text'") in result.output
    # a slice told apart by a fixed value is evaluable: no warning for the blood pressure components
    assert "Observation.component:" not in result.output
