"""Every own profile (profiles/fhir/) is named by a requirement of the catalogue, so the traceability
matrix shows it, and each such requirement is judged on that profile's findings: its valid examples
pass it, and at least one of its invalid examples fails it.

Everything is read from the data: a profile added to profiles/fhir/ fails here until a requirement
names it (``{"kind": "rule", "profile": "<its url>"}`` in profiles/requirements/catalogue.json).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from samsvar.conformance.catalogue import Catalogue, load_catalogue
from samsvar.conformance.judge import judge, traceability_rows
from samsvar.conformance.report import Report
from samsvar.conformance.session import ValidateRequest, run_validate

from .conftest import FIXTURES, REPO

PROFILES = REPO / "profiles" / "fhir"
EXAMPLES = FIXTURES / "fhir" / "samsvar-profiles"
IGS = (str(PROFILES), "hl7.fhir.no.basis#2.2.2")


def _own_profiles() -> dict[str, dict[str, Any]]:
    """url -> StructureDefinition of every profile in profiles/fhir/."""
    definitions = (json.loads(p.read_text(encoding="utf-8")) for p in sorted(PROFILES.glob("*.json")))
    return {d["url"]: d for d in definitions if d.get("resourceType") == "StructureDefinition"}


def _naming(catalogue: Catalogue) -> dict[str, list[str]]:
    """profile url -> ids of the requirements with a rule verification on it."""
    named: dict[str, list[str]] = {}
    for requirement in catalogue.requirements:
        for verification in requirement.rule_verifications:
            if verification.profile:
                named.setdefault(verification.profile, []).append(requirement.id)
    return named


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def test_every_own_profile_is_named_by_a_requirement(catalogue: Catalogue) -> None:
    own = _own_profiles()
    assert len(own) >= 23, f"expected samsvar's profiles in {PROFILES}"
    named = _naming(catalogue)
    missing = sorted(url for url in own if url not in named)
    assert not missing, ("these profiles of profiles/fhir/ are named by no requirement of the catalogue (add a "
                         "verification {\"kind\": \"rule\", \"profile\": URL}):\n" + "\n".join(missing))
    # and the traceability matrix shows every one of them
    cells = " ".join(row["rules"] for row in traceability_rows(catalogue, lang="en"))
    assert not [url for url in own if f"of {url}" not in cells]


def test_requirements_name_own_profiles_and_constraints_that_exist(catalogue: Catalogue) -> None:
    own = _own_profiles()
    problems = []
    for requirement in catalogue.requirements:
        for verification in requirement.rule_verifications:
            if not verification.profile or not verification.profile.startswith("http://samsvar.no/"):
                continue
            definition = own.get(verification.profile)
            if definition is None:
                problems.append(f"{requirement.id}: {verification.profile} is not in {PROFILES}")
                continue
            keys = {c["key"] for e in definition["differential"]["element"] for c in e.get("constraint", [])}
            problems += [f"{requirement.id}: constraint {key} is not in {verification.profile}"
                         for key in verification.constraints if key not in keys]
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def per_example(fhir_cache: Path) -> dict[str, tuple[list[str], Report]]:
    """file name -> (the profiles it declares, a report of that file alone), from one real validate run."""
    report = run_validate(ValidateRequest(paths=(str(EXAMPLES),), igs=IGS, cache_root=fhir_cache, use_config=False))
    out = {}
    for result in report.results:
        name = Path(result.path).name
        resource = json.loads(Path(result.path).read_text(encoding="utf-8"))
        resources = [entry["resource"] for entry in resource.get("entry", [])] or [resource]
        declared = sorted({url for r in resources for url in r.get("meta", {}).get("profile", [])})
        out[name] = (declared, dataclasses.replace(report, results=[result], verdicts=[]))
    return out


def test_requirements_on_own_profiles_are_judged_on_their_examples(
        catalogue: Catalogue, per_example: dict[str, tuple[list[str], Report]]) -> None:
    """A valid example of a profile passes every requirement naming it; an invalid one fails at least one."""
    named = _naming(catalogue)
    own = _own_profiles()
    problems = []
    failed_somewhere: dict[str, bool] = {}
    for name, (declared, report) in sorted(per_example.items()):
        verdicts = {v["id"]: v["verdict"] for v in judge(catalogue, report)}
        for url in (u for u in declared if u in own):
            ids = named.get(url, [])
            if name.startswith("valid-"):
                problems += [f"{name}: {rid} is {verdicts[rid]}, not pass" for rid in ids if verdicts[rid] != "pass"]
            else:
                failed_somewhere[url] = failed_somewhere.get(url, False) or any(verdicts[r] == "fail" for r in ids)
    problems += [f"no invalid example of {url} fails a requirement that names it ({', '.join(named.get(url, []))})"
                 for url, failed in sorted(failed_somewhere.items()) if not failed]
    assert not problems, "\n".join(problems)
    assert set(failed_somewhere) == set(own)
