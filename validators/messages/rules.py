"""Rules for Norwegian XML messages: the MsgHead v1.2 envelope, its payloads, and AppRec receipts.

:func:`check_message` runs every rule of :data:`MSGHEAD_CHECKS` over a MsgHead message, or of
:data:`APPREC_CHECKS` over an AppRec 1.0 or 1.1, and returns the issues; any other root gives no
issues (the schema layer and the standards table say what it is). Each rule is a small function
that yields issues; the two registries are the one place a standards editor reads to see which
rules run on what.

This module holds the envelope's rules (type, version, GenDate, MsgId, HER-ids, conversation
references, attachments) and the AppRec's; the rules by concern live beside it:
:mod:`~samsvar.validators.messages.identities` (identifier values, the patient) and
:mod:`~samsvar.validators.messages.codes` (every coded value against its Volven code system), on
:mod:`~samsvar.validators.messages.message` (the message being checked and how rules read it).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, timedelta
from typing import Iterator

from lxml import etree

from ..issues import Issue
from ..rules import Rule, declared
from ..terminology.service import TerminologyService
from .codes import CODE_RULES, CODE_SYSTEM_UNAVAILABLE, DISPLAY_DIFFERS, check_code, coded_elements
from .identities import (
    IDENTIFIER_RULES, PATIENT_MISMATCH, PATIENT_UNIDENTIFIED, identifier_pairs, identifiers, patient_identified,
    payload_patient,
)
from .message import (
    APPREC_ERROR_SYSTEMS, APPREC_ERRORS, APPREC_NAMESPACES, APPREC_STATUS, MSG_TYPES, MSGHEAD_NS, VOLVEN, Check,
    OSLO, Message, at, child, children, descendants, oid_of, parse_datetime, reference_now, text,
)
from .standards import describe, eresept_message_of, eresept_message_type

__all__ = [  # the rule packs and the AppRec module read the shared pieces from here too
    "APPREC_CHECKS", "APPREC_ERRORS", "CODE_SYSTEM_UNAVAILABLE", "DISPLAY_DIFFERS", "MSGHEAD_CHECKS", "MSGHEAD_NS",
    "VOLVEN", "Check", "Message", "all_message_rules", "at", "check_code", "check_message", "child", "children",
    "descendants", "identifier_pairs", "message_kind", "parse_datetime", "text",
]

MSGHEAD_MIG_VERSION = "v1.2 2006-05-24"
REPLY_TYPES = frozenset({"APPREC", "DIALOG_SVAR", "DIALOG_AVVIK"})
"""Message types (8279) that answer another message, so they name the message they answer."""
FUTURE_TOLERANCE = timedelta(hours=24)

_GUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")

# -- the rules ---------------------------------------------------------------------------------

UNKNOWN_TYPE = declared("MSG-RULE-001")
MIG_VERSION = declared("MSG-RULE-002")
GENDATE_INVALID = declared("MSG-RULE-003")
GENDATE_FUTURE = declared("MSG-RULE-004")
MSGID_MISSING = declared("MSG-RULE-005")
MSGID_NOT_GUID = declared("MSG-RULE-006")
NO_HER_ID = declared("MSG-RULE-007")
CONVERSATION_HALF = declared("MSG-RULE-013")
REPLY_WITHOUT_PARENT = declared("MSG-RULE-014")
ATTACHMENT_NO_MIME = declared("MSG-RULE-015")
ATTACHMENT_NOT_BASE64 = declared("MSG-RULE-016")
APPREC_UNKNOWN_STATUS = declared("MSG-RULE-020")
APPREC_UNKNOWN_ERROR = declared("MSG-RULE-021")
APPREC_UNKNOWN_ORIGINAL_TYPE = declared("MSG-RULE-022")
APPREC_NO_ORIGINAL_ID = declared("MSG-RULE-023")
APPREC_STATUS_ERRORS = declared("MSG-RULE-024")
ERESEPT_TYPE = declared("MSG-RULE-025")


# -- envelope rules ----------------------------------------------------------------------------

def _required_code(message: Message, parent: etree._Element, name: str, system: str, rule_: Rule, label: str,
                   missing: str) -> Iterator[Issue]:
    """A coded child that must be there and carry a code of ``system``."""
    element = child(parent, name)
    if element is None:
        yield rule_.issue(missing, **at(parent))
        return
    yield from check_code(message, element, system, rule_, label)


def message_type(message: Message) -> Iterator[Issue]:
    """MSG-RULE-001: ``MsgInfo/Type/@V`` is a code of 8279."""
    yield from _required_code(message, message.header, "Type", MSG_TYPES, UNKNOWN_TYPE, "Message type",
                              "The message has no MsgInfo/Type")


def eresept_type(message: Message) -> Iterator[Issue]:
    """MSG-RULE-025: an e-resept payload (message Mn) travels under the message type ERMn, and an
    ERM message type carries the e-resept message of its own number."""
    type_element = child(message.header, "Type")
    code = (type_element.get("V") or "").strip() if type_element is not None else ""
    if type_element is None or not code.startswith("ERM"):
        return  # another type (a citizen's renewal request carries an M1, for one) is not e-resept's own
    for payload in describe(message.root).payloads:
        eresept = eresept_message_of(payload.namespace)
        if eresept is None or eresept_message_type(eresept) == code:
            continue
        yield ERESEPT_TYPE.issue(
            f"The message type is {code}, but the payload is e-resept {eresept.upper()} ({payload.namespace}), "
            f"which travels as {eresept_message_type(eresept)}", **at(type_element))


def mig_version(message: Message) -> Iterator[Issue]:
    """MSG-RULE-002: ``MIGversion`` is ``v1.2 2006-05-24``."""
    element = child(message.header, "MIGversion")
    if element is None:
        yield MIG_VERSION.issue(f"MsgInfo/MIGversion is missing; expected '{MSGHEAD_MIG_VERSION}'",
                                **at(message.header))
    elif text(element) != MSGHEAD_MIG_VERSION:
        yield MIG_VERSION.issue(f"MIGversion is '{text(element)}'; MsgHead 1.2 (namespace {MSGHEAD_NS}) has "
                                f"'{MSGHEAD_MIG_VERSION}'", **at(element))


def gen_date(message: Message) -> Iterator[Issue]:
    """MSG-RULE-003 and -004: ``GenDate`` is an xs:dateTime, not more than 24 hours ahead."""
    element = child(message.header, "GenDate")
    if element is None:
        return  # a missing GenDate is the schema's finding
    value = text(element)
    moment = parse_datetime(value)
    if moment is None:
        yield GENDATE_INVALID.issue(f"GenDate '{value}' is not a valid xs:dateTime (YYYY-MM-DDThh:mm:ss with an "
                                    "optional fraction and time zone)", **at(element))
        return
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=OSLO)
    if aware - message.now > FUTURE_TOLERANCE:
        yield GENDATE_FUTURE.issue(f"GenDate {value} is more than 24 hours after the time of checking "
                                   f"({message.now:%Y-%m-%dT%H:%MZ})", **at(element))


def message_id(message: Message) -> Iterator[Issue]:
    """MSG-RULE-005 and -006: the message id is present, and a GUID."""
    name = "MsgId" if message.kind == "msghead" else "Id"
    element = child(message.header, name)
    if element is None or not text(element):
        yield MSGID_MISSING.issue(f"The message has no {name} (or it is empty)",
                                  **at(element if element is not None else message.header))
    elif not _GUID.match(text(element)):
        yield MSGID_NOT_GUID.issue(f"{name} '{text(element)}' is not a GUID (8-4-4-4-12 hexadecimal digits)",
                                   **at(element))


def her_ids(message: Message) -> Iterator[Issue]:
    """MSG-RULE-007: the sender and the receiver each carry a HER-id."""
    for name in ("Sender", "Receiver"):
        party = child(message.header, name)
        if party is None:
            continue
        if not any(pair.type_code == "HER" and pair.value for pair in identifier_pairs(party)):
            yield NO_HER_ID.issue(f"The {name.lower()} has no HER-id (Ident with TypeId V=\"HER\", "
                                  f"S=\"{VOLVEN}9051\"): it cannot be addressed in the health network",
                                  **at(party))


# -- conversation ------------------------------------------------------------------------------

def conversation_ref(message: Message) -> Iterator[Issue]:
    """MSG-RULE-013 and -014: both references or neither; replies name their parent."""
    reference = child(message.header, "ConversationRef")
    if reference is not None:
        parent, conversation = (text(child(reference, n)) for n in ("RefToParent", "RefToConversation"))
        if bool(parent) != bool(conversation):
            missing = "RefToConversation" if parent else "RefToParent"
            yield CONVERSATION_HALF.issue(f"ConversationRef has no {missing}: give both references or neither",
                                          **at(reference))
            return
    kind = child(message.header, "Type")
    if kind is None or kind.get("V") not in REPLY_TYPES:
        return
    if reference is None or not text(child(reference, "RefToParent")):
        yield REPLY_WITHOUT_PARENT.issue(f"A {kind.get('V')} answers another message but has no "
                                         "ConversationRef/RefToParent",
                                         **at(reference if reference is not None else kind))


# -- attachments -------------------------------------------------------------------------------

def _base64_holder(content: etree._Element) -> etree._Element | None:
    """The element holding base64 text: a Base64Container, or Content itself with text only."""
    container = child(content, "Base64Container")
    if container is not None:
        return container
    has_elements = any(isinstance(node.tag, str) for node in content)
    return content if not has_elements and text(content) else None


def attachments(message: Message) -> Iterator[Issue]:
    """MSG-RULE-015 and -016: base64 content has a MimeType and decodes."""
    for refdoc in descendants(message.root, "RefDoc"):
        holder = _base64_holder(child(refdoc, "Content")) if child(refdoc, "Content") is not None else None
        if holder is None:
            continue
        declared_xml = (child(refdoc, "MsgType") is not None and child(refdoc, "MsgType").get("V") == "XML")
        if not text(child(refdoc, "MimeType")) and not declared_xml:
            yield ATTACHMENT_NO_MIME.issue("The attachment (base64 content) has no MimeType", **at(refdoc))
        try:
            base64.b64decode("".join((holder.text or "").split()), validate=True)  # split(): \s, faster
        except (binascii.Error, ValueError) as exc:
            yield ATTACHMENT_NOT_BASE64.issue(f"The attachment is not valid base64 ({exc})", **at(holder))


# -- AppRec ------------------------------------------------------------------------------------

def apprec_status(message: Message) -> Iterator[Issue]:
    """MSG-RULE-020: ``Status/@V`` is a code of 8258."""
    yield from _required_code(message, message.root, "Status", APPREC_STATUS, APPREC_UNKNOWN_STATUS, "AppRec status",
                              "The AppRec has no Status")


def apprec_errors(message: Message) -> Iterator[Issue]:
    """MSG-RULE-021: every ``Error/@V`` is a code of 8221, or of 8222/8223 when ``S`` says so."""
    for error in children(message.root, "Error"):
        oid = oid_of((error.get("S") or APPREC_ERRORS).strip())
        if oid not in APPREC_ERROR_SYSTEMS:
            yield APPREC_UNKNOWN_ERROR.issue(f"AppRec error code system {oid} is not {APPREC_ERRORS} "
                                             "(or 8222/8223 for the standards that use them)", **at(error))
            continue
        yield from check_code(message, error, oid, APPREC_UNKNOWN_ERROR, "AppRec error")


def apprec_original(message: Message) -> Iterator[Issue]:
    """MSG-RULE-022 and -023: ``OriginalMsgId`` has a known MsgType and an Id."""
    original = child(message.root, "OriginalMsgId")
    if original is None:
        yield APPREC_NO_ORIGINAL_ID.issue("The AppRec has no OriginalMsgId", **at(message.root))
        return
    kind = child(original, "MsgType")
    if kind is not None:
        yield from check_code(message, kind, MSG_TYPES, APPREC_UNKNOWN_ORIGINAL_TYPE, "OriginalMsgId/MsgType")
    if not text(child(original, "Id")):
        yield APPREC_NO_ORIGINAL_ID.issue("OriginalMsgId has no Id (the MsgId of the message answered)",
                                          **at(original))


def apprec_status_errors(message: Message) -> Iterator[Issue]:
    """MSG-RULE-024: status 1 without errors, 2 and 3 with at least one."""
    status = child(message.root, "Status")
    code = (status.get("V") or "").strip() if status is not None else ""
    errors = children(message.root, "Error")
    if code == "1" and errors:
        yield APPREC_STATUS_ERRORS.issue(f"Status 1 (OK) with {len(errors)} Error element(s)", **at(status))
    elif code in ("2", "3") and not errors:
        yield APPREC_STATUS_ERRORS.issue(f"Status {code} without an Error saying what was wrong", **at(status))


# -- registries --------------------------------------------------------------------------------

MSGHEAD_CHECKS: tuple[tuple[tuple[Rule, ...], Check], ...] = (
    ((UNKNOWN_TYPE,), message_type),
    ((ERESEPT_TYPE,), eresept_type),
    ((MIG_VERSION,), mig_version),
    ((GENDATE_INVALID, GENDATE_FUTURE), gen_date),
    ((MSGID_MISSING, MSGID_NOT_GUID), message_id),
    ((NO_HER_ID,), her_ids),
    (IDENTIFIER_RULES, identifiers),
    ((PATIENT_UNIDENTIFIED,), patient_identified),
    ((PATIENT_MISMATCH,), payload_patient),
    (CODE_RULES, coded_elements),
    ((CONVERSATION_HALF, REPLY_WITHOUT_PARENT), conversation_ref),
    ((ATTACHMENT_NO_MIME, ATTACHMENT_NOT_BASE64), attachments),
)
"""The rules of a MsgHead message, in the order they run: (rules a check raises, the check)."""

APPREC_CHECKS: tuple[tuple[tuple[Rule, ...], Check], ...] = (
    ((GENDATE_INVALID, GENDATE_FUTURE), gen_date),
    ((MSGID_MISSING, MSGID_NOT_GUID), message_id),
    ((NO_HER_ID,), her_ids),
    (IDENTIFIER_RULES, identifiers),
    ((APPREC_UNKNOWN_STATUS,), apprec_status),
    ((APPREC_UNKNOWN_ERROR,), apprec_errors),
    ((APPREC_UNKNOWN_ORIGINAL_TYPE, APPREC_NO_ORIGINAL_ID), apprec_original),
    ((APPREC_STATUS_ERRORS,), apprec_status_errors),
    (CODE_RULES, coded_elements),
)
"""The rules of an AppRec 1.0 or 1.1."""


def message_kind(root: etree._Element) -> str | None:
    """``msghead``, ``apprec`` or None (not a message these rules know)."""
    if not isinstance(root.tag, str):
        return None
    name = etree.QName(root)
    if name.localname == "MsgHead" and name.namespace == MSGHEAD_NS:
        return "msghead"
    if name.localname == "AppRec" and name.namespace in APPREC_NAMESPACES:
        return "apprec"
    return None


def _owned(root: etree._Element, kind: str) -> set[etree._Element]:
    if kind == "msghead":
        info = child(root, "MsgInfo")
        return {e for e in (child(info, "Type"),) if e is not None}
    original = child(root, "OriginalMsgId")
    return {e for e in (child(root, "MsgType"), child(root, "Status"), child(original, "MsgType"),
                        *children(root, "Error")) if e is not None}


def check_message(root: etree._Element, terminology: TerminologyService, *, today: date | None = None,
                  packs: tuple[tuple[tuple[Rule, ...], Check], ...] = ()) -> list[Issue]:
    """The rule issues of a MsgHead message or an AppRec (any other root: none).

    ``today`` fixes the day of checking (GenDate may then be up to the end of the next day);
    without it the current time is used. ``packs`` are more checks for a MsgHead, run after
    :data:`MSGHEAD_CHECKS` (the standards' rule packs: :mod:`samsvar.validators.messages.packs`).
    """
    kind = message_kind(root)
    if kind is None:
        return []
    header = child(root, "MsgInfo") if kind == "msghead" else root
    if header is None:
        header = root
    message = Message(root, terminology, reference_now(today), kind, header, _owned(root, kind))
    checks = MSGHEAD_CHECKS + packs if kind == "msghead" else APPREC_CHECKS
    issues = [issue for _, check in checks for issue in check(message)]
    issues.sort(key=lambda issue: issue.line or 0)
    return issues


def all_message_rules() -> list[Rule]:
    """Every rule this module raises, in registry order, once."""
    seen: dict[str, Rule] = {}
    for rules, _ in (*MSGHEAD_CHECKS, *APPREC_CHECKS):
        for checked_rule in rules:
            seen.setdefault(checked_rule.code, checked_rule)
    return list(seen.values())
