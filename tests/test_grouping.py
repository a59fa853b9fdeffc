"""Findings people can read at scale: a rule with thousands of findings is grouped in text and HTML
(a count, the first few locations, how to list them all) and the summary names the dominant
rules, while JSON, SARIF, JUnit and OperationOutcome keep every finding."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

ENTRIES = 3_000


@pytest.fixture()
def big_bundle(tmp_path: Path) -> Path:
    """A collection Bundle of Patients without narrative: one dom-6 warning per entry."""
    entries = [{"fullUrl": f"urn:uuid:{uuid.UUID(int=n)}",
                "resource": {"resourceType": "Patient", "id": f"p{n}", "active": True}} for n in range(ENTRIES)]
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}, indent=1))
    return path


def test_text_groups_a_repeated_rule_and_names_the_dominant_ones(run, big_bundle: Path) -> None:
    outcome = run("validate", str(big_bundle), "--select", "FHIR-INV")
    assert outcome.exit_code == 0
    lines = outcome.stdout.splitlines()
    assert len(lines) < 30, len(lines)
    assert sum(" warning FHIR-INV-003 " in line for line in lines) == 3
    grouped = next(line for line in lines if line.startswith("grouped: FHIR-INV-003"))
    assert f"{ENTRIES:,} findings in 1 file" in grouped and "--no-group" in grouped and "--format json" in grouped
    assert lines[-1].endswith(f"most: FHIR-INV-003 {ENTRIES:,} (100%)")
    # the first locations shown are the first entries
    assert "Bundle.entry[0].resource" in outcome.stdout and "Bundle.entry[2].resource" in outcome.stdout


def test_no_group_lists_every_finding(run, big_bundle: Path) -> None:
    outcome = run("validate", str(big_bundle), "--select", "FHIR-INV", "--no-group")
    assert outcome.stdout.count(" warning FHIR-INV-003 ") == ENTRIES
    assert "grouped:" not in outcome.stdout


@pytest.mark.parametrize("fmt, count", [
    ("json", lambda text: sum(len(r["issues"]) for r in json.loads(text)["results"])),
    ("sarif", lambda text: len(json.loads(text)["runs"][0]["results"])),
    ("operationoutcome", lambda text: len(json.loads(text)["issue"])),
    ("junit", lambda text: text.count("FHIR-INV-003")),
])
def test_machine_formats_keep_every_finding(run, big_bundle: Path, fmt: str, count) -> None:
    outcome = run("validate", str(big_bundle), "--select", "FHIR-INV", "-f", fmt)
    assert count(outcome.stdout) >= ENTRIES


def test_html_groups_too(run, big_bundle: Path, tmp_path: Path) -> None:
    for lang, more in (("en", "2\u00a0997 more FHIR-INV-003 findings"), ("nb", "2\u00a0997 funn til av FHIR-INV-003")):
        page = tmp_path / f"report-{lang}.html"
        run("validate", str(big_bundle), "--select", "FHIR-INV", "-f", "html", "-o", str(page), "--lang", lang)
        html = page.read_text(encoding="utf-8")
        assert html.count('class="issue') == 3
        assert more in html and 'class="counts grouped"' in html
        everything = tmp_path / f"all-{lang}.html"
        run("validate", str(big_bundle), "--select", "FHIR-INV", "-f", "html", "-o", str(everything), "--lang", lang,
            "--no-group")
        assert everything.read_text(encoding="utf-8").count('class="issue') == ENTRIES
