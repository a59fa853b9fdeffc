"""The standards' rule packs (e-resept, the citizen dialogue) on our fixtures and on ../shared's messages.

The fixtures of ``fixtures/messages/eresept`` and ``fixtures/messages/citizen`` are run through
:func:`samsvar.validators.messages.packs.check_message` directly and compared with their
``expected.toml``; the public example messages must raise no pack finding beyond the few listed
here, each a dummy value in a published example.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from lxml import etree

from samsvar.validators.fhir.definitions import Definitions
from samsvar.validators.fhir.igs import PROJECT_TERMINOLOGY, ProjectResources
from samsvar.validators.load import safe_xml_parser
from samsvar.validators.messages import citizen, eresept, packs, rules
from samsvar.validators.messages.apprec import expected_apprec
from samsvar.validators.rules import get_rule
from samsvar.validators.terminology.service import TerminologyService

from .conftest import FIXTURES
from .shared import shared_path

FOLDERS = {"eresept": eresept.ERESEPT_CHECKS, "citizen": citizen.CITIZEN_CHECKS}
OWN_CODES = frozenset(r.code for r in packs.all_message_rules())


@pytest.fixture(scope="module")
def terminology() -> TerminologyService:
    return TerminologyService(Definitions([ProjectResources(PROJECT_TERMINOLOGY)]))


def parse(path: Path) -> etree._Element:
    return etree.parse(str(path), safe_xml_parser()).getroot()


def manifest(folder: str) -> dict[str, list[str]]:
    return tomllib.loads((FIXTURES / "messages" / folder / "expected.toml").read_text(encoding="utf-8"))["expected"]


CASES = [(folder, name, codes) for folder in FOLDERS for name, codes in manifest(folder).items()]


@pytest.mark.parametrize(("folder", "name", "codes"), CASES, ids=[f"{f}/{n}" for f, n, _ in CASES])
def test_fixture_raises_exactly_its_rules(folder: str, name: str, codes: list[str],
                                          terminology: TerminologyService) -> None:
    issues = packs.check_message(parse(FIXTURES / "messages" / folder / name), terminology, today=date(2024, 5, 2))
    assert {i.rule for i in issues} == set(codes) & OWN_CODES, [(i.rule, i.message) for i in issues]
    for issue in issues:
        assert issue.line and issue.line >= 1 and issue.column == 1
        assert issue.expression and issue.expression.startswith("/MsgHead")


@pytest.mark.parametrize("folder", sorted(FOLDERS))
def test_every_pack_rule_has_a_failing_and_a_passing_fixture(folder: str) -> None:
    listed = {code for codes in manifest(folder).values() for code in codes}
    pack = {rule.code for raised, _ in FOLDERS[folder] for rule in raised if rule.module.endswith(f".{folder}")}
    assert pack and pack <= listed, pack - listed
    assert any(name.startswith("valid-") and not codes for name, codes in manifest(folder).items())


def test_registry_names_declared_rules_and_small_checks() -> None:
    for raised, check in packs.PACK_CHECKS:
        assert raised and check.__doc__, check
        for declared in raised:
            assert get_rule(declared.code) is declared
            assert declared.bad and declared.good and declared.explanation


def test_the_envelope_rules_alone_do_not_run_the_packs(terminology: TerminologyService) -> None:
    root = parse(FIXTURES / "messages" / "eresept" / "m1-prescriber-without-hpr.xml")
    assert "MSG-RULE-027" not in {i.rule for i in rules.check_message(root, terminology)}
    assert "MSG-RULE-027" in {i.rule for i in packs.check_message(root, terminology)}


@pytest.mark.parametrize(("code", "ok"), [
    ("N", True), ("N02", True), ("N02B", True), ("N02BE", True), ("N02BE01", True),
    ("n02be01", False), ("N02-BE01", False), ("N2BE01", False), ("N02BE1", False), ("N02BE012", False), ("", False),
])
def test_atc_form(code: str, ok: bool, terminology: TerminologyService) -> None:
    root = parse(FIXTURES / "messages" / "eresept" / "valid-m1-with-atc.xml")
    root.find(".//{*}Atc").set("V", code)
    assert ("MSG-RULE-031" in {i.rule for i in packs.check_message(root, terminology)}) is not ok


def test_atc_written_as_text_is_read(terminology: TerminologyService) -> None:
    """The settlement claim (M18) writes ``<Atc>R06AE07</Atc>``: that is a code, not an empty V."""
    root = parse(FIXTURES / "messages" / "eresept" / "valid-m1-with-atc.xml")
    atc = root.find(".//{*}Atc")
    del atc.attrib["V"], atc.attrib["S"], atc.attrib["DN"]
    atc.text = "N02BE01"
    assert "MSG-RULE-031" not in {i.rule for i in packs.check_message(root, terminology)}
    atc.text = "Token1"
    assert "MSG-RULE-031" in {i.rule for i in packs.check_message(root, terminology)}


KNOWN_DUMMIES = {
    ("helsenorge-messaging/DIALOG_INNBYGGER_RESEPTFORNYELSE.xml", "MSG-RULE-030"),  # Reseptgruppe V="L" DN="DN1"
    ("helsenorge-messaging/DIALOG_INNBYGGER_RESEPTFORNYELSE.xml", "MSG-RULE-031"),  # Atc V="Token1"
    ("sarepta-eksempel/eresept/Diverse eksempler/ER-M15-2006-10-06-eksempel1-msghead.xml", "MSG-RULE-026"),  # 1234567890
}
"""Pack findings in the public examples: each a placeholder value the example was written with."""


def test_public_examples_raise_no_other_pack_finding(terminology: TerminologyService) -> None:
    root = shared_path("no", "messages")
    found: set[tuple[str, str]] = set()
    pack_codes = {rule.code for raised, _ in packs.PACK_CHECKS for rule in raised
                  if rule.module.endswith((".eresept", ".citizen"))}
    checked = 0
    for path in sorted(root.rglob("*.xml")):
        try:
            message = parse(path)
        except etree.XMLSyntaxError:
            continue
        for issue in packs.check_message(message, terminology, today=date(2026, 1, 1)):
            if issue.rule in pack_codes:
                found.add((path.relative_to(root).as_posix(), issue.rule))
        checked += 1
    assert checked > 100
    assert found == KNOWN_DUMMIES


@pytest.mark.parametrize(("folder", "name", "error"), [
    ("eresept", "m1-without-patient.xml", "E30"),
    ("citizen", "ekontakt-citizen-hnr.xml", "E36"),
    ("eresept", "m1-prescriber-without-hpr.xml", "X99"),
])
def test_expected_apprec_for_pack_findings(folder: str, name: str, error: str, terminology: TerminologyService) -> None:
    """A message without its patient (citizen) is rejected (status 2) with E30/E36; other pack errors are
    the general X99 of a message the receiver can still use (status 3)."""
    root = parse(FIXTURES / "messages" / folder / name)
    issues = packs.check_message(root, terminology, today=date(2024, 5, 2))
    receipt = expected_apprec(root, issues, now=datetime(2024, 5, 2, 10, 30, tzinfo=timezone.utc))
    status = receipt.find("{*}Status").get("V")
    assert [e.get("V") for e in receipt.findall("{*}Error")] == [error]
    assert status == ("3" if error == "X99" else "2")


def test_a_citizen_renewal_carrying_an_m1_is_judged_as_helsenorge_s(terminology: TerminologyService) -> None:
    """DIALOG_INNBYGGER_RESEPTFORNYELSE may carry an M1: its receipt is the citizen pack's rule, not e-resept's."""
    root = parse(FIXTURES / "messages" / "eresept" / "m1-ack-no-receipt.xml")
    root.find(".//{*}MsgInfo/{*}Type").set("V", "DIALOG_INNBYGGER_RESEPTFORNYELSE")
    raised = {i.rule for i in packs.check_message(root, terminology, today=date(2024, 5, 2))}
    assert "MSG-RULE-037" in raised and "MSG-RULE-032" not in raised
