"""Message rules (MsgHead, AppRec) and the expected AppRec, on our fixtures and on ../shared's messages.

The fixtures of ``fixtures/messages/rules`` are run through :func:`check_message` directly and
compared with their ``expected.toml`` for the codes these rules own (the manifest also names the
schema layer's MSG-XSD-001 where a fixture breaks the XSD; that is the fixture test's business).
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime, timezone
from fnmatch import fnmatch
from pathlib import Path

import pytest
from lxml import etree

from samsvar.validators.fhir.definitions import Definitions
from samsvar.validators.fhir.igs import PROJECT_TERMINOLOGY, ProjectResources
from samsvar.validators.issues import Issue, Severity, Waiver
from samsvar.validators.load import safe_xml_parser
from samsvar.validators.messages.apprec import compare_apprec, error_for, expected_apprec
from samsvar.validators.messages.rules import (
    APPREC_CHECKS,
    MSGHEAD_CHECKS,
    all_message_rules,
    check_message,
    message_kind,
    parse_datetime,
)
from samsvar.validators.rules import get_rule
from samsvar.validators.terminology.service import TerminologyService

from .conftest import FIXTURES
from .shared import shared_path

RULES = FIXTURES / "messages" / "rules"
MANIFEST = tomllib.loads((RULES / "expected.toml").read_text(encoding="utf-8"))["expected"]
OWN_CODES = frozenset(r.code for r in all_message_rules())
NOW = datetime(2024, 5, 2, 8, 16, 3, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def terminology() -> TerminologyService:
    """The terminology service over samsvar's own code systems (profiles/terminology)."""
    return TerminologyService(Definitions([ProjectResources(PROJECT_TERMINOLOGY)]))


def parse(path: Path) -> etree._Element:
    return etree.parse(str(path), safe_xml_parser()).getroot()


def fixture(name: str) -> etree._Element:
    return parse(RULES / name)


def rules_of(issues: list[Issue]) -> set[str]:
    return {i.rule for i in issues}


# -- fixtures ------------------------------------------------------------------------------

def test_manifest_lists_every_fixture_file() -> None:
    present = {p.name for p in RULES.iterdir() if p.is_file() and p.name != "expected.toml"}
    assert present == set(MANIFEST)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_fixture_raises_exactly_its_rules(name: str, terminology: TerminologyService) -> None:
    issues = check_message(fixture(name), terminology)
    assert rules_of(issues) == set(MANIFEST[name]) & OWN_CODES, [(i.rule, i.message) for i in issues]
    for issue in issues:
        assert issue.line and issue.line >= 1 and issue.column == 1
        assert issue.expression and issue.expression.startswith(("/MsgHead", "/AppRec"))
        assert issue.path is None


def test_every_message_rule_has_a_failing_fixture() -> None:
    listed = {code for codes in MANIFEST.values() for code in codes}
    assert OWN_CODES - listed == set()
    assert any(not codes for codes in MANIFEST.values())


def test_registries_name_declared_rules_and_small_checks() -> None:
    for rules, check in (*MSGHEAD_CHECKS, *APPREC_CHECKS):
        assert rules and check.__doc__, check
        for declared in rules:
            assert get_rule(declared.code) is declared
            assert declared.bad and declared.good and declared.explanation


# -- single rules --------------------------------------------------------------------------

def test_other_roots_are_not_checked(terminology: TerminologyService) -> None:
    lab = etree.fromstring(b'<Message xmlns="http://www.kith.no/xmlstds/labsvar/2012-02-15"><MsgId>x</MsgId></Message>')
    fhir = etree.fromstring(b'<Patient xmlns="http://hl7.org/fhir"><id value="p"/></Patient>')
    assert check_message(lab, terminology) == [] and check_message(fhir, terminology) == []


def _with_gendate(value: str) -> etree._Element:
    root = fixture("valid-dialogmelding.xml")
    root.find(".//{*}GenDate").text = value
    return root


@pytest.mark.parametrize(("value", "future"), [
    ("2024-05-03T23:59:00", False),          # tomorrow evening, Norwegian time: within 24 hours
    ("2024-05-03T21:59:00Z", False),
    ("2024-05-04T00:30:00+02:00", True),     # more than 24 hours after the end of today
    ("2024-05-04T01:00:00", True),
])
def test_gendate_future_is_judged_from_the_end_of_today(value: str, future: bool,
                                                        terminology: TerminologyService) -> None:
    issues = check_message(_with_gendate(value), terminology, today=date(2024, 5, 2))
    assert ("MSG-RULE-004" in rules_of(issues)) is future


@pytest.mark.parametrize(("value", "valid"), [
    ("2024-05-02T10:15:00", True), ("2024-05-02T10:15:00.1234567Z", True), ("2024-05-02T24:00:00", True),
    ("2024-05-02T10:15:00-03:30", True), ("2024-02-29T10:15:00", True),
    ("2023-02-29T10:15:00", False), ("2024-05-02", False), ("2024-05-02 10:15:00", False),
    ("2024-13-02T10:15:00", False), ("2024-05-02T10:15", False), ("2024-05-02T10:15:00+15:00", False),
])
def test_xs_datetime(value: str, valid: bool) -> None:
    assert (parse_datetime(value) is not None) is valid


def test_xs_datetime_values() -> None:
    assert parse_datetime("2024-05-02T24:00:00") == datetime(2024, 5, 3)
    assert parse_datetime("2024-05-02T10:15:00Z") == datetime(2024, 5, 2, 10, 15, tzinfo=timezone.utc)


def test_an_unavailable_code_system_is_reported_once_per_message(terminology: TerminologyService) -> None:
    root = fixture("valid-dialogmelding.xml")
    notat = root.find(".//{*}Notat")
    for oid, code in (("2.16.578.1.12.4.1.1.9999", "1"), ("2.16.578.1.12.4.1.1.9999", "2"),
                      ("2.16.578.1.12.4.1.1.9998", "1")):
        etree.SubElement(notat, "{http://www.kith.no/xmlstds/dialog/2013-01-23}Kode", V=code, S=oid)
    infos = [i for i in check_message(root, terminology) if i.rule == "MSG-RULE-011"]
    assert len(infos) == 2 and all(i.severity == Severity.WARNING for i in infos)


def test_unknown_code_with_a_dot_suggests_the_volven_form(terminology: TerminologyService) -> None:
    root = fixture("valid-dialogmelding.xml")
    notat = root.find(".//{*}Notat")
    etree.SubElement(notat, "{http://www.kith.no/xmlstds/dialog/2013-01-23}Diagnose", V="I50.9",
                     S="2.16.578.1.12.4.1.1.7110")
    [issue] = [i for i in check_message(root, terminology) if i.rule == "MSG-RULE-010"]
    assert "'I509'" in issue.message


def test_a_type_without_code_system_is_checked_against_8279(terminology: TerminologyService) -> None:
    root = fixture("valid-dialogmelding.xml")
    root.find(".//{*}MsgInfo/{*}Type").attrib.pop("V")
    assert "MSG-RULE-001" in rules_of(check_message(root, terminology))


# -- expected AppRec -----------------------------------------------------------------------

def _expected(name: str, terminology: TerminologyService) -> etree._Element:
    root = fixture(name)
    return expected_apprec(root, check_message(root, terminology), now=NOW,
                           apprec_id="00000000-0000-4000-8000-000000000001")


def _status_and_errors(apprec: etree._Element) -> tuple[str, list[str]]:
    ns = {"a": "http://www.kith.no/xmlstds/apprec/2012-02-15"}
    return apprec.find("a:Status", ns).get("V"), [e.get("V") for e in apprec.findall("a:Error", ns)]


def test_expected_apprec_of_a_valid_message(terminology: TerminologyService) -> None:
    apprec = _expected("valid-dialogmelding.xml", terminology)
    ns = {"a": "http://www.kith.no/xmlstds/apprec/2012-02-15"}
    assert _status_and_errors(apprec) == ("1", [])
    assert apprec.findtext("a:MIGversion", namespaces=ns) == "v1.1 2012-02-15"
    assert apprec.findtext("a:Id", namespaces=ns) == "00000000-0000-4000-8000-000000000001"
    assert apprec.findtext("a:GenDate", namespaces=ns) == "2024-05-02T08:16:03+00:00"
    # swapped: the receipt comes from the message's receiver and goes back to its sender
    assert apprec.findtext("a:Sender/a:HCP/a:Inst/a:Name", namespaces=ns) == "Testsykehuset HF"
    assert apprec.findtext("a:Sender/a:HCP/a:Inst/a:Dept/a:Id", namespaces=ns) == "90998"
    assert apprec.findtext("a:Receiver/a:HCP/a:Inst/a:Id", namespaces=ns) == "889640782"
    assert apprec.findtext("a:Receiver/a:HCP/a:Inst/a:AdditionalId/a:Id", namespaces=ns) == "56704"
    assert apprec.findtext("a:Receiver/a:HCP/a:Inst/a:HCPerson/a:Name", namespaces=ns) == "Kari Lege"
    assert apprec.find("a:OriginalMsgId/a:MsgType", ns).get("V") == "DIALOG_HELSEFAGLIG"
    assert apprec.findtext("a:OriginalMsgId/a:IssueDate", namespaces=ns) == "2024-05-02T10:15:00+02:00"
    assert apprec.findtext("a:OriginalMsgId/a:Id", namespaces=ns) == "6f1c3d2a-8b4e-4c1f-9a7d-2e5b8c0d4f13"


@pytest.mark.parametrize(("name", "status", "errors"), [
    ("patient-fnr-wrong-checksum.xml", "2", ["E31"]),
    ("patient-dnr-as-fnr.xml", "2", ["E31"]),
    ("patient-without-ident.xml", "2", ["E30"]),
    ("payload-patient-differs.xml", "2", ["E36"]),
    ("unknown-message-type.xml", "2", ["T10"]),
    ("msgid-empty.xml", "2", ["E10"]),
    ("gendate-impossible-date.xml", "2", ["T02"]),
    ("unknown-code.xml", "3", ["X99"]),
    ("attachment-without-mimetype.xml", "3", ["X99"]),
    ("orgnr-wrong-checksum.xml", "3", ["X99"]),            # the sender's own orgnr: not the receiver's problem
    ("msgid-not-guid.xml", "1", []),                        # warnings and information give no Error
    ("patient-synthetic-tenor.xml", "1", []),
    ("display-differs.xml", "1", []),
])
def test_expected_apprec_status_and_errors(name: str, status: str, errors: list[str],
                                           terminology: TerminologyService) -> None:
    assert _status_and_errors(_expected(name, terminology)) == (status, errors)


@pytest.mark.parametrize(("rule", "expression", "code", "rejects"), [
    ("NO-ID-003", "/MsgHead/MsgInfo/Receiver/Organisation/Ident/Id", "E21", True),
    ("NO-ID-001", "/MsgHead/MsgInfo/Receiver/Organisation/HealthcareProfessional/Ident/Id", "E20", True),
    ("NO-ID-003", "/MsgHead/MsgInfo/Patient/Ident/Id", "E31", True),
    ("NO-ID-003", "/MsgHead/Document/RefDoc/Content/Henvisning/Ident/Id", "X99", False),
    ("MSG-XSD-001", "/MsgHead/MsgInfo", "T02", True),
    ("INPUT-002", None, "T01", True),
    ("MSG-SOMETHING-NEW", "/MsgHead", "X99", False),
])
def test_error_codes_by_rule_and_place(rule: str, expression: str | None, code: str, rejects: bool) -> None:
    mapped = error_for(Issue(rule, Severity.ERROR, "x", expression=expression))
    assert (mapped.code, mapped.rejects) == (code, rejects)


def test_waived_errors_give_no_error_element(terminology: TerminologyService) -> None:
    root = fixture("unknown-code.xml")
    issues = check_message(root, terminology)
    for issue in issues:
        issue.waiver = Waiver(issue.rule, "team", "known gap", "2099-01-01")
    assert _status_and_errors(expected_apprec(root, issues, now=NOW)) == ("1", [])


def test_an_apprec_is_not_answered_with_an_apprec(terminology: TerminologyService) -> None:
    with pytest.raises(ValueError):
        expected_apprec(fixture("valid-apprec-ok.xml"), [], now=NOW)


ECHO_FREE = sorted(n for n in MANIFEST if not n.startswith(("apprec", "valid-apprec")) and n not in {
    # the receipt repeats the message's type, GenDate, MsgId and parties, errors included
    "unknown-message-type.xml", "gendate-impossible-date.xml", "msgid-empty.xml", "her-id-with-dot.xml",
    "orgnr-wrong-checksum.xml", "conversation-ref-half.xml", "wrong-mig-version.xml"})


@pytest.mark.parametrize("name", ECHO_FREE)
def test_expected_apprecs_pass_the_apprec_rules(name: str, terminology: TerminologyService) -> None:
    apprec = _expected(name, terminology)
    reparsed = etree.fromstring(etree.tostring(apprec))  # source lines, as a received receipt has
    errors = [i for i in check_message(reparsed, terminology) if i.severity >= Severity.ERROR]
    assert errors == [], [(i.rule, i.message) for i in errors]


# -- judging a receiver's AppRec -----------------------------------------------------------

def _received(apprec: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(apprec))


def test_the_expected_apprec_is_judged_conformant(terminology: TerminologyService) -> None:
    expected = _expected("patient-fnr-wrong-checksum.xml", terminology)
    assert compare_apprec(_received(expected), expected) == []


def test_status_and_error_codes_are_compared(terminology: TerminologyService) -> None:
    expected = _expected("patient-fnr-wrong-checksum.xml", terminology)
    received = _received(expected)
    ns = "{http://www.kith.no/xmlstds/apprec/2012-02-15}"
    received.find(f"{ns}Status").set("V", "1")
    received.find(f"{ns}Error").set("V", "X99")
    issues = compare_apprec(received, expected)
    assert [i.rule for i in issues] == ["MSG-APPREC-002", "MSG-APPREC-003", "MSG-APPREC-004"]
    assert [i.severity for i in issues] == [Severity.ERROR, Severity.WARNING, Severity.WARNING]
    assert "E31" in issues[1].message and issues[0].line is not None


def test_original_message_id_must_refer_to_the_message(terminology: TerminologyService) -> None:
    expected = _expected("valid-dialogmelding.xml", terminology)
    ns = "{http://www.kith.no/xmlstds/apprec/2012-02-15}"
    same_moment = _received(expected)
    same_moment.find(f"{ns}OriginalMsgId/{ns}IssueDate").text = "2024-05-02T08:15:00Z"
    same_moment.find(f"{ns}OriginalMsgId/{ns}Id").text = "6F1C3D2A-8B4E-4C1F-9A7D-2E5B8C0D4F13"
    assert compare_apprec(same_moment, expected) == []
    wrong = _received(expected)
    wrong.find(f"{ns}OriginalMsgId/{ns}Id").text = "00000000-0000-0000-0000-000000000000"
    wrong.find(f"{ns}OriginalMsgId/{ns}MsgType").set("V", "DIALOG_NOTAT")
    assert [i.rule for i in compare_apprec(wrong, expected)] == ["MSG-APPREC-005", "MSG-APPREC-005"]


def test_parties_must_be_swapped(terminology: TerminologyService) -> None:
    expected = _expected("valid-dialogmelding.xml", terminology)
    received = _received(expected)
    ns = "{http://www.kith.no/xmlstds/apprec/2012-02-15}"
    sender, receiver = received.find(f"{ns}Sender"), received.find(f"{ns}Receiver")
    sender_hcp, receiver_hcp = sender.find(f"{ns}HCP"), receiver.find(f"{ns}HCP")
    sender.replace(sender_hcp, receiver_hcp)
    receiver.append(sender_hcp)
    assert [i.rule for i in compare_apprec(received, expected)] == ["MSG-APPREC-006", "MSG-APPREC-006"]


def test_a_receipt_that_is_not_an_apprec(terminology: TerminologyService) -> None:
    expected = _expected("valid-dialogmelding.xml", terminology)
    assert [i.rule for i in compare_apprec(fixture("valid-dialogmelding.xml"), expected)] == ["MSG-APPREC-001"]


def test_helsenorge_sample_apprec_does_not_swap_its_parties(terminology: TerminologyService) -> None:
    """Helsenorge.Messaging's AppRec 1.1 test sample answers the official "Helsefaglig dialog"
    example with status OK, but keeps the dialogue's sender as its own sender."""
    folder = shared_path("no", "messages")
    message = parse(folder / "sarepta-eksempel" / "Dialogmelding" / "Dialogmelding-v1-1" / "Helsefaglig dialog.xml")
    expected = expected_apprec(message, check_message(message, terminology), now=NOW)
    received = parse(folder / "helsenorge-messaging" / "MetadataTests_Apprec11.xml")
    assert [i.rule for i in compare_apprec(received, expected)] == ["MSG-APPREC-006", "MSG-APPREC-006"]


# -- ../shared's messages ------------------------------------------------------------------

OFFICIAL_EXAMPLES_THAT_ARE_WRONG: list[tuple[str, str, str, str]] = [
    # (file glob under sarepta-eksempel/, rule, message pattern, why the example is wrong)
    ("eresept/Diverse eksempler/ER-M4[12]-*", "MSG-RULE-001", r"'ERM04[12]'",
     "Type ERM041/ERM042: Volven 8279 spells these message types ERM41 and ERM42"),
    ("eresept/Diverse eksempler/ER-M4[12]-*", "MSG-RULE-025", r"ERM04[12].*travels as ERM4[12]",
     "Type ERM041/ERM042 with an M41/M42 payload: that payload travels as ERM41/ERM42"),
    ("eresept/*", "NO-ID-001", r"'0' is not a RESH-id",
     "e-resept senders carry a RESH-id of 0, a placeholder"),
    ("eresept/Diverse eksempler/*", "NO-ID-001", r"'1234567890-example' is not 9 digits",
     "the organisasjonsnummer is the placeholder text '1234567890-example'"),
    ("eresept/*", "NO-ID-001", r"'2397\.1' is not a HER-id",
     "HER-id written with a decimal part ('2397.1'); HER-ids are whole numbers"),
    ("NPRbehandlerkravmelding/*", "NO-ID-001", r"'9644\.3' is not a HER-id",
     "HER-id written with a decimal part ('9644.3'); HER-ids are whole numbers"),
    ("NPRbehandlerkravmelding/*", "NO-ID-003", r"organisasjonsnummer: (123456789|981793758) ",
     "placeholder organisasjonsnummer 123456789, and 981793758, fail the mod-11 control digit"),
    ("*", "NO-ID-003", r"organisasjonsnummer: 999888777 ",
     "placeholder organisasjonsnummer 999888777 (Behandlerkrav, Henvisning 2.0, PLO) fails mod 11"),
    ("Behandlerkravmelding/*", "NO-ID-003", r"fødselsnummer: \d{6}12345 ",
     "invented fødselsnumre ending in 12345, with wrong control digits"),
    ("plo/*", "MSG-RULE-010", r"'I50' is not a code of Volven 7110",
     "ICD-10 I50 is a category: Norwegian ICD-10 is coded at the four-character level (I500, I501, I509)"),
    ("plo/1_5/Medisinske_opplysninger-v1_5/*", "MSG-RULE-010", r"'(K77|L89|D03)' is not a code of Volven 7110",
     "ICPC-2 codes (K77 hjertesvikt, L89 hofteleddsartrose, D03 halsbrann) sent with the ICD-10 OID 7110"),
]


def _messages(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".xml")


def _roots(folder: Path) -> list[tuple[Path, etree._Element]]:
    found = []
    for path in _messages(folder):
        try:
            found.append((path, parse(path)))
        except etree.XMLSyntaxError:
            continue  # the acceptance tests include messages that are not well-formed
    return found


def test_every_shared_message_is_checked_without_raising(terminology: TerminologyService) -> None:
    folder = shared_path("no", "messages")
    checked = 0
    for path, root in _roots(folder):
        issues = check_message(root, terminology, today=date(2024, 5, 2))
        assert all(isinstance(i, Issue) for i in issues), path
        checked += message_kind(root) is not None
    assert checked >= 100, "fewer MsgHead and AppRec messages than expected in ../shared"


def test_official_examples_raise_no_rule_errors_but_the_listed_ones(terminology: TerminologyService) -> None:
    folder = shared_path("no", "messages", "sarepta-eksempel")
    unexplained, used = [], set()
    for path, root in _roots(folder):
        name = path.relative_to(folder).as_posix()
        for issue in check_message(root, terminology, today=date(2024, 5, 2)):
            if issue.severity < Severity.ERROR:
                continue
            reasons = [i for i, (glob, rule, pattern, _) in enumerate(OFFICIAL_EXAMPLES_THAT_ARE_WRONG)
                       if fnmatch(name, glob) and issue.rule == rule and re.search(pattern, issue.message)]
            used.update(reasons)
            if not reasons:
                unexplained.append(f"{name}: {issue.rule} {issue.expression}: {issue.message}")
    assert unexplained == []
    stale = [entry[3] for i, entry in enumerate(OFFICIAL_EXAMPLES_THAT_ARE_WRONG) if i not in used]
    assert stale == []
