"""The citizen dialogue rule pack: MsgHead messages between a citizen on helsenorge (DigiHelse,
DigiHelsestasjon and the other citizen services) and the citizen's health service, message types
``DIALOG_INNBYGGER_*`` of Volven 8279, carrying a Dialogmelding.

What the pack checks, beyond the envelope's rules (identifier values, codes, dates, ids):

* the enquiry type (``Foresporsel/TypeForesp``) and the answer's topic (``Notat/TemaKodet``) come from
  helsenorge's own lists, Volven 7601 (type of enquiry from a citizen; 7603 for the communication
  test) and 7602 (topic of an answer to a citizen), not from the lists of the dialogue between
  health services (9152, 7322) (MSG-RULE-033); the codes themselves are checked against those
  lists by the envelope rules' generic code check (MSG-RULE-010);
* the enquiry type agrees with the message type: a renewal of a prescription asks for a renewal (RF,
  RFER) (MSG-RULE-034);
* a citizen dialogue carries a Dialogmelding (MSG-RULE-035);
* the citizen is the patient of the envelope, identified by fødselsnummer or D-nummer, the numbers
  a citizen logs in to helsenorge with (MSG-RULE-036);
* the dialogue is answered with an AppRec, so ``MsgInfo/Ack`` must not say that none is wanted
  (MSG-RULE-037). The communication test (DIALOG_INNBYGGER_TEST) is answered by a test response,
  not an AppRec, and is left out of this and of MSG-RULE-036.

Which message types carry which payload is taken from the public examples (Helsenorge.Messaging:
EKONTAKT, RESEPTFORNYELSE, TEST); e-konsultasjon is the same dialogue between one citizen and a
provider. The other ``DIALOG_INNBYGGER_*`` types (appointments, health registers, documents, digital
users, ...) are recognised by the envelope rules and get only the code-list rule here, since no
public example shows what they carry.
"""

from __future__ import annotations

from typing import Iterator

from lxml import etree

from ..issues import Issue
from ..rules import Rule, declared
from .rules import VOLVEN, Check, Message, at, child, children, descendants, identifier_pairs

CITIZEN_CODE_LIST = declared("MSG-RULE-033")
CITIZEN_ENQUIRY_TYPE = declared("MSG-RULE-034")
CITIZEN_NO_DIALOG = declared("MSG-RULE-035")
CITIZEN_NOT_IDENTIFIED = declared("MSG-RULE-036")
CITIZEN_NO_RECEIPT = declared("MSG-RULE-037")

CITIZEN_PREFIX = "DIALOG_INNBYGGER_"
TEST = "DIALOG_INNBYGGER_TEST"
DIALOGUES = frozenset({"DIALOG_INNBYGGER_EKONTAKT", "DIALOG_INNBYGGER_RESEPTFORNYELSE",
                       "DIALOG_INNBYGGER_EKONSULTASJON"})
"""Citizen dialogue types between one citizen and the citizen's provider, carrying a Dialogmelding."""
ENQUIRY_LIST = VOLVEN + "7601"
TEST_LIST = VOLVEN + "7603"
TOPIC_LIST = VOLVEN + "7602"
ENQUIRY_TYPES = {"DIALOG_INNBYGGER_RESEPTFORNYELSE": frozenset({"RF", "RFER"})}
"""Enquiry types (7601) a message type admits, where it fixes them. (A communication test's list,
7603, has only the test's two codes: its enquiry type is fixed by MSG-RULE-033 and -010.)"""
CITIZEN_IDS = frozenset({"FNR", "DNR"})
DIALOG_NAMESPACE = "http://www.kith.no/xmlstds/dialog/"
NO_RECEIPT = frozenset({"N", "F"})


def message_type(message: Message) -> str:
    element = child(message.header, "Type")
    return (element.get("V") or "").strip() if element is not None else ""


def dialogmeldinger(message: Message) -> list[etree._Element]:
    """The Dialogmelding payloads (any version) of the message."""
    found = []
    for content in descendants(message.root, "Content"):
        for payload in content:
            if isinstance(payload.tag, str):
                name = etree.QName(payload)
                if name.localname == "Dialogmelding" and (name.namespace or "").startswith(DIALOG_NAMESPACE):
                    found.append(payload)
    return found


def _oid(element: etree._Element) -> str:
    system = (element.get("S") or "").strip()
    return system.removeprefix("urn:oid:")


def code_lists(message: Message) -> Iterator[Issue]:
    """MSG-RULE-033: ``TypeForesp`` is of 7601 (7603 in a test), ``TemaKodet`` of 7602."""
    kind = message_type(message)
    if not kind.startswith(CITIZEN_PREFIX):
        return
    enquiry = TEST_LIST if kind == TEST else ENQUIRY_LIST
    for dialog in dialogmeldinger(message):
        for name, wanted, what in (("TypeForesp", enquiry, "enquiry type"), ("TemaKodet", TOPIC_LIST, "topic")):
            for element in descendants(dialog, name):
                oid = _oid(element)
                if oid and oid != wanted:
                    yield CITIZEN_CODE_LIST.issue(
                        f"{name} is a code of {oid}, but the {what} of a citizen dialogue ({kind}) is a code of "
                        f"helsenorge's list {wanted}: the citizen's portal files and shows the message by it",
                        **at(element))


def enquiry_type(message: Message) -> Iterator[Issue]:
    """MSG-RULE-034: a renewal asks for a renewal (RF, RFER)."""
    kind = message_type(message)
    admitted = ENQUIRY_TYPES.get(kind)
    if admitted is None:
        return
    for dialog in dialogmeldinger(message):
        for element in descendants(dialog, "TypeForesp"):
            code = (element.get("V") or "").strip()
            if _oid(element) in ("", ENQUIRY_LIST) and code not in admitted:
                yield CITIZEN_ENQUIRY_TYPE.issue(
                    f"TypeForesp '{code}' is not an enquiry type of a {kind} (expected {' or '.join(sorted(admitted))})",
                    **at(element))


def dialog_payload(message: Message) -> Iterator[Issue]:
    """MSG-RULE-035: a citizen dialogue (and the communication test) carries a Dialogmelding."""
    kind = message_type(message)
    if kind not in DIALOGUES and kind != TEST:
        return
    if not dialogmeldinger(message):
        type_element = child(message.header, "Type")
        yield CITIZEN_NO_DIALOG.issue(
            f"A {kind} carries a Dialogmelding (http://www.kith.no/xmlstds/dialog/2013-01-23), and this message "
            "has none: the citizen's enquiry or the answer to it is missing", **at(type_element))


def citizen_identified(message: Message) -> Iterator[Issue]:
    """MSG-RULE-036: the citizen is the envelope's patient, by fødselsnummer or D-nummer."""
    kind = message_type(message)
    if kind not in DIALOGUES:
        return
    patients = children(message.header, "Patient")
    if any(pair.type_code in CITIZEN_IDS and pair.value for patient in patients for pair in identifier_pairs(patient)):
        return
    where = patients[0] if patients else message.header
    found = "is not identified by fødselsnummer or D-nummer" if patients else "has no MsgInfo/Patient"
    yield CITIZEN_NOT_IDENTIFIED.issue(
        f"The citizen of this {kind} {found}: helsenorge knows a citizen by the fødselsnummer or D-nummer "
        "of the login, and files the dialogue under it", **at(where))


def receipt_expected(message: Message) -> Iterator[Issue]:
    """MSG-RULE-037: a citizen dialogue does not ask to go without an AppRec."""
    kind = message_type(message)
    ack = child(message.header, "Ack")
    if kind not in DIALOGUES or ack is None or (ack.get("V") or "").strip() not in NO_RECEIPT:
        return
    yield CITIZEN_NO_RECEIPT.issue(
        f"MsgInfo/Ack is '{ack.get('V')}', but a {kind} is answered with an application receipt (AppRec): "
        "without it helsenorge cannot tell the citizen whether the message was delivered", **at(ack))


CITIZEN_CHECKS: tuple[tuple[tuple[Rule, ...], Check], ...] = (
    ((CITIZEN_CODE_LIST,), code_lists),
    ((CITIZEN_ENQUIRY_TYPE,), enquiry_type),
    ((CITIZEN_NO_DIALOG,), dialog_payload),
    ((CITIZEN_NOT_IDENTIFIED,), citizen_identified),
    ((CITIZEN_NO_RECEIPT,), receipt_expected),
)
"""The citizen dialogue rules of a MsgHead message, in the order they run."""
