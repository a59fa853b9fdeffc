"""The e-resept rule pack: what a MsgHead carrying an e-resept message (M1 prescription, M5 recall,
M5.2 recall receipt, M10 dispensing report, the M9x lookups, ...) must hold beyond the envelope's
own rules.

The payloads are told by their namespace (:func:`~samsvar.validators.messages.standards.eresept_message_of`);
the message type of the envelope (Volven 8279, ``ERMn``) says what the message is for. Each check
is a small function that yields issues, registered in :data:`ERESEPT_CHECKS`;
:mod:`samsvar.validators.messages.packs` runs them after the envelope's rules.

What the pack checks, and what it leaves to the envelope's rules:

* the reseptID (``ReseptId``, in M5, M5.2, M10, M9x, ...) is a GUID, as the reseptformidleren
  issues them (MSG-RULE-026);
* a prescription or a recall (ERM1, ERM5) names its prescriber by HPR-nummer (MSG-RULE-027) and its
  patient in the envelope (MSG-RULE-028); the value of every fødselsnummer, D-nummer, HPR-nummer,
  HER-id and organisasjonsnummer is the envelope rules' (the shared NO-ID rules), as is a payload
  patient that differs from the envelope's (MSG-RULE-009);
* the pharmacy of a dispensing report (M10 ``Utlevering/Utleverer/HerId``) is the envelope's sender
  (MSG-RULE-029);
* the coded values without ``S`` whose list the prescription fixes (``Varegruppekode``: Volven 7402;
  ``Reseptgruppe``: 7421) are codes of that list (MSG-RULE-030); coded values with ``S`` (7448
  legemiddelform, 7452/7484 pakningsenhet, 7427 refusjonshjemmel, 7500 and 7503 of the recall) are
  checked by the envelope rules' generic code check against the Volven lists samsvar holds;
* ATC codes (``Atc``, ``AtcKombipreparat``; Volven 7180) have the ATC code's form (MSG-RULE-031).
  The ATC index itself is not held (it is WHO's, and not public material here), so a well-formed
  code that does not exist is not found; the generic code check says once per message that 7180
  was not checked (MSG-RULE-011);
* every e-resept message is answered with an AppRec, so ``MsgInfo/Ack`` must not say that none is
  wanted (MSG-RULE-032).
"""

from __future__ import annotations

import re
from typing import Iterator

from lxml import etree

from ..issues import Issue
from ..rules import Rule, declared
from .rules import (
    CODE_SYSTEM_UNAVAILABLE, DISPLAY_DIFFERS, VOLVEN, Check, Message, at, check_code, child, children, descendants,
    identifier_pairs, text,
)
from .standards import ERESEPT_NAMESPACE_PREFIXES, MSGHEAD_NS, eresept_message_of

RESEPT_ID_NOT_GUID = declared("MSG-RULE-026")
PRESCRIBER_WITHOUT_HPR = declared("MSG-RULE-027")
ERESEPT_WITHOUT_PATIENT = declared("MSG-RULE-028")
DISPENSER_NOT_SENDER = declared("MSG-RULE-029")
ERESEPT_FIXED_CODE = declared("MSG-RULE-030")
ATC_FORMAT = declared("MSG-RULE-031")
ERESEPT_NO_RECEIPT = declared("MSG-RULE-032")

ATC = VOLVEN + "7180"
FIXED_LISTS = {"Varegruppekode": VOLVEN + "7402", "Reseptgruppe": VOLVEN + "7421"}
"""Coded elements of the prescription (``kith:CS``, no ``S``) and the Volven list the e-resept
message description gives them."""
PRESCRIBER_TYPES = frozenset({"ERM1", "ERM5"})
"""Message types sent by the prescriber about a prescription: a prescription and its recall."""
PATIENT_TYPES = frozenset({"ERM1", "ERM5", "ERM10"})
"""Message types about one patient's prescription that name the patient in the envelope only."""
NO_RECEIPT = frozenset({"N", "F"})
"""``MsgInfo/Ack`` codes (Volven 7304) that ask for no receipt, or one only on errors."""

_GUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
_ATC = re.compile(r"^[A-Z](?:\d{2}(?:[A-Z](?:[A-Z](?:\d{2})?)?)?)?$")
"""An ATC code at any of its five levels: A, A10, A10B, A10BA, A10BA02."""


def message_type(message: Message) -> str:
    """``MsgInfo/Type/@V`` of a MsgHead, trimmed ("" when there is none)."""
    element = child(message.header, "Type")
    return (element.get("V") or "").strip() if element is not None else ""


_CONTENT = f"{{{MSGHEAD_NS}}}Document/{{{MSGHEAD_NS}}}RefDoc/{{{MSGHEAD_NS}}}Content"
_ERESEPT_TAGS = tuple("{" + prefix for prefix in ERESEPT_NAMESPACE_PREFIXES)


def eresept_payloads(message: Message) -> list[etree._Element]:
    """The payloads of the message that are e-resept messages (by namespace), in document order
    (``Document/RefDoc/Content`` children, as :func:`~samsvar.validators.messages.standards.describe`
    finds them, without building the rest of its description: every check of the pack asks)."""
    found = []
    for content in message.root.iterfind(_CONTENT):
        for payload in content:
            tag = payload.tag
            if isinstance(tag, str) and tag.startswith(_ERESEPT_TAGS) and eresept_message_of(tag[1:].partition("}")[0]):
                found.append(payload)
    return found


def resept_ids(message: Message) -> Iterator[Issue]:
    """MSG-RULE-026: every ``ReseptId`` of an e-resept payload is a GUID."""
    for payload in eresept_payloads(message):
        for element in descendants(payload, "ReseptId"):
            value = text(element)
            if not _GUID.match(value):
                shown = f"'{value}'" if value else "empty"
                yield RESEPT_ID_NOT_GUID.issue(
                    f"ReseptId {shown} is not a GUID (8-4-4-4-12 hexadecimal digits): the reseptformidleren "
                    "gives every prescription a GUID, and a message naming another value refers to no prescription",
                    **at(element))


def prescriber_hpr(message: Message) -> Iterator[Issue]:
    """MSG-RULE-027: a prescription or recall (ERM1, ERM5) names the prescriber by HPR-nummer."""
    kind = message_type(message)
    if kind not in PRESCRIBER_TYPES:
        return
    sender = child(message.header, "Sender")
    if sender is None:
        return  # the envelope's schema says a sender is required
    professionals = list(descendants(sender, "HealthcareProfessional"))
    if any(pair.type_code == "HPR" and pair.value for hp in professionals for pair in identifier_pairs(hp)):
        return
    where = professionals[0] if professionals else sender
    found = "has no HPR-nummer" if professionals else "names no HealthcareProfessional"
    yield PRESCRIBER_WITHOUT_HPR.issue(
        f"The sender of this {kind} {found} (Ident with TypeId V=\"HPR\", S=\"{VOLVEN}8116\"): the prescriber "
        "of an e-resept is identified by the HPR-nummer, which the reseptformidleren checks against the "
        "register of health personnel", **at(where))


def envelope_patient(message: Message) -> Iterator[Issue]:
    """MSG-RULE-028: ERM1, ERM5 and ERM10 name the patient in ``MsgInfo/Patient``."""
    kind = message_type(message)
    if kind not in PATIENT_TYPES or children(message.header, "Patient"):
        return
    yield ERESEPT_WITHOUT_PATIENT.issue(
        f"This {kind} has no MsgInfo/Patient: the e-resept payload does not name the patient, so the envelope "
        "is the only place the prescription's patient is given", **at(message.header))


def _her_ids(scope: etree._Element | None) -> set[str]:
    return set() if scope is None else {p.value for p in identifier_pairs(scope) if p.type_code == "HER" and p.value}


def dispenser_is_sender(message: Message) -> Iterator[Issue]:
    """MSG-RULE-029: a dispensing report's pharmacy (``Utleverer/HerId``) is the envelope's sender."""
    reports = [p for p in eresept_payloads(message) if eresept_message_of(etree.QName(p).namespace or "") == "m10"]
    senders = _her_ids(child(message.header, "Sender")) if reports else set()
    if not senders:
        return  # a sender without a HER-id is MSG-RULE-007's finding
    for payload in reports:
        for dispenser in descendants(payload, "Utleverer"):
            named = _her_ids(child(dispenser, "HerId"))
            if named and not named & senders:
                yield DISPENSER_NOT_SENDER.issue(
                    f"The pharmacy of the dispensing report (HER-id {', '.join(sorted(named))}) is not the sender "
                    f"of the message (HER-id {', '.join(sorted(senders))}): a pharmacy reports its own dispensing",
                    **at(dispenser))


def fixed_codes(message: Message) -> Iterator[Issue]:
    """MSG-RULE-030: ``Varegruppekode`` (7402) and ``Reseptgruppe`` (7421) are codes of their list."""
    for payload in eresept_payloads(message):
        for name, oid in FIXED_LISTS.items():
            for element in descendants(payload, name):
                if element.get("S"):
                    continue  # a code with its own system is the generic code check's
                yield from check_code(message, element, oid, ERESEPT_FIXED_CODE, name)


def atc_codes(message: Message) -> Iterator[Issue]:
    """MSG-RULE-031: ATC codes in e-resept payloads have the form of an ATC code (``V``, or the
    element's text where the message writes the code as text: the settlement claim M18)."""
    for payload in eresept_payloads(message):
        for name in ("Atc", "AtcKombipreparat"):
            for element in descendants(payload, name):
                system = (element.get("S") or ATC).strip()
                code = (element.get("V") if element.get("V") is not None else text(element)).strip()
                if system != ATC or _ATC.match(code):
                    continue
                yield ATC_FORMAT.issue(
                    f"{name} '{code}' is not an ATC code (a letter, then two digits, a letter, a letter and two "
                    "digits, as in N02BE01, cut after any level): the prescription names no substance a pharmacy "
                    "or the patient's medication list can use", **at(element))


def receipt_expected(message: Message) -> Iterator[Issue]:
    """MSG-RULE-032: an e-resept message (type ERMn) does not ask to go without an AppRec."""
    ack = child(message.header, "Ack")
    if ack is None or (ack.get("V") or "").strip() not in NO_RECEIPT or not message_type(message).startswith("ERM"):
        return  # a citizen's renewal request carries an M1 too, but is helsenorge's (MSG-RULE-037)
    yield ERESEPT_NO_RECEIPT.issue(
        f"MsgInfo/Ack is '{ack.get('V')}', but every e-resept message is answered with an application receipt "
        "(AppRec): the sender must learn whether the reseptformidleren or the pharmacy took it, so Ack is 'J' "
        "or left out", **at(ack))


ERESEPT_CHECKS: tuple[tuple[tuple[Rule, ...], Check], ...] = (
    ((RESEPT_ID_NOT_GUID,), resept_ids),
    ((PRESCRIBER_WITHOUT_HPR,), prescriber_hpr),
    ((ERESEPT_WITHOUT_PATIENT,), envelope_patient),
    ((DISPENSER_NOT_SENDER,), dispenser_is_sender),
    ((ERESEPT_FIXED_CODE, CODE_SYSTEM_UNAVAILABLE, DISPLAY_DIFFERS), fixed_codes),
    ((ATC_FORMAT,), atc_codes),
    ((ERESEPT_NO_RECEIPT,), receipt_expected),
)
"""The e-resept rules of a MsgHead message, in the order they run."""
