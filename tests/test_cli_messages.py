"""The messages commands end to end: one run over FHIR and messages, schema packs, AppRec."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import FIXTURES
from .shared import shared_path

RULES = FIXTURES / "messages" / "rules"
VALID_MESSAGE = RULES / "valid-dialogmelding.xml"


def test_one_run_over_fhir_and_messages_gives_one_report(run, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(FIXTURES / "fhir" / "identifiers" / "valid-fnr.json", mixed)
    shutil.copy(VALID_MESSAGE, mixed)
    shutil.copy(RULES / "her-id-with-dot.xml", mixed)
    outcome = run("validate", str(mixed), "-f", "json")
    report = json.loads(outcome.stdout)
    kinds = {Path(r["path"]).name: r["kind"] for r in report["results"]}
    assert kinds["valid-fnr.json"].startswith("fhir:")
    assert kinds["valid-dialogmelding.xml"].startswith("message:")
    rules = {Path(r["path"]).name: {i["rule"] for i in r["issues"]} for r in report["results"]}
    assert "MSG-XSD-002" in rules["valid-dialogmelding.xml"]  # no pack installed: said, not skipped
    assert not {r for r in rules["valid-dialogmelding.xml"] if r.startswith("MSG-RULE")}
    assert outcome.exit_code == 1  # the dotted HER-id is an error


def test_installed_schema_pack_validates_payloads(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMSVAR_SCHEMA_HOME", str(tmp_path / "schemas"))
    installed = run("messages", "install-schemas", str(shared_path("no", "xsd", "sarepta-skjema")))
    assert installed.exit_code == 0, installed.stderr
    assert "namespaces" in installed.stdout
    outcome = run("validate", str(VALID_MESSAGE), "-f", "json")
    issues = json.loads(outcome.stdout)["results"][0]["issues"]
    assert not {i["rule"] for i in issues} & {"MSG-XSD-001", "MSG-XSD-002"}, issues
    refused = run("messages", "install-schemas", str(tmp_path / "missing"))
    assert refused.exit_code == 2


def test_schema_packs_are_listed_and_unreadable_files_named(run, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMSVAR_SCHEMA_HOME", str(tmp_path / "schemas"))
    empty = run("messages", "list-schemas")
    assert empty.exit_code == 0 and "no schema packs in" in empty.stdout
    without = run("validate", str(VALID_MESSAGE))
    assert "needs an installed schema pack" in without.stdout
    pack = tmp_path / "pack"
    shutil.copytree(shared_path("no", "xsd", "sarepta-skjema"), pack)
    (pack / "Broken").mkdir()
    (pack / "Broken" / "half-written.xsd").write_text("<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema'>")
    installed = run("messages", "install-schemas", str(pack))
    unreadable = json.loads(run("messages", "list-schemas", "--json").stdout)[0]["unreadable"]
    assert "Broken/half-written.xsd" in unreadable  # (the official pack has one of its own too)
    assert installed.exit_code == 0 and f"{len(unreadable)} unreadable" in installed.stdout
    assert all(f"unreadable, left out: {name}: " in installed.stderr for name in unreadable)
    listed = run("messages", "list-schemas")
    assert listed.exit_code == 0 and listed.stdout.startswith("pack ") and f"{len(unreadable)} unreadable" in listed.stdout
    with_pack = run("validate", str(VALID_MESSAGE))
    assert "needs an installed schema pack" not in with_pack.stdout and "MSG-XSD-002" not in with_pack.stdout


def test_apprec_is_written_and_a_received_one_is_judged(run, tmp_path: Path) -> None:
    expected = tmp_path / "apprec.xml"
    written = run("apprec", str(VALID_MESSAGE), "-o", str(expected))
    assert written.exit_code == 0, written.stderr
    text = expected.read_text(encoding="utf-8")
    assert "http://www.kith.no/xmlstds/apprec/2012-02-15" in text and '<Status V="1"' in text
    assert run("apprec", str(VALID_MESSAGE), "--check", str(expected)).exit_code == 0
    rejected = run("apprec", str(RULES / "her-id-with-dot.xml"))
    assert rejected.exit_code == 0 and '<Status V="1"' not in rejected.stdout
    mismatch = run("apprec", str(RULES / "her-id-with-dot.xml"), "--check", str(expected))
    assert mismatch.exit_code == 1 and "MSG-APPREC" in mismatch.stdout
    not_msghead = run("apprec", str(FIXTURES / "fhir" / "identifiers" / "valid-fnr.xml"))
    assert not_msghead.exit_code == 2
