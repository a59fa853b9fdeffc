"""Rules for Norwegian XML messages: the MsgHead v1.2 envelope, its payloads, and AppRec receipts.

:func:`check_message` runs every rule of :data:`MSGHEAD_CHECKS` over a MsgHead message, or of
:data:`APPREC_CHECKS` over an AppRec 1.0 or 1.1, and returns the issues; any other root gives no
issues (the schema layer and the standards table say what it is). Each rule is a small function
that yields issues; the two registries are the one place a standards editor reads to see which
rules run on what.

Elements are found by local name, so a rule reads the same whether a payload writes ``fk1:Ident``
or ``Ident``. Locations are XPath-like expressions of local names (``/MsgHead/MsgInfo/Type``,
with ``[n]`` where siblings share a name) and the element's source line; lxml keeps no column,
so the column is 1.

Identifier values (``Ident/Id`` by ``Ident/TypeId/@V``, ``OffId`` by ``TypeOffId``, AppRec's
``Id``/``TypeId`` and ``AdditionalId``) raise the shared ``NO-ID-*`` rules of
:mod:`samsvar.validators.national_ids`, so that a wrong fødselsnummer is the same finding in a
FHIR resource and in a message.

Coded values follow the KITH pattern ``<X V="code" S="oid" DN="display"/>``. Every element
with ``V`` and ``S`` is checked with the terminology service against the Volven code system
``urn:oid:<S>``. Elements of type ``kith:CS`` carry no ``S`` (their code system is fixed by the
standard); the rules that own them (message type, AppRec status, ...) name the code system.
"""

from __future__ import annotations

import base64
import binascii
import re
import weakref
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Callable, Iterable, Iterator, Literal, TypedDict

from lxml import etree

from ..identifiers import IDENTIFIER_SYSTEMS, IdentifierScheme, PersonKind, Problem, check_person_number
from ..issues import Issue
from ..national_ids import (
    ID_CHECKSUM, ID_DATE, ID_FORMAT, ID_KIND, ID_NO_VALUE, ID_SYNTHETIC, RULE_BY_PROBLEM,
)
from ..rules import Rule, declared
from ..terminology.codesystems import normalise_display
from ..terminology.service import TerminologyService
from .standards import describe, eresept_message_of, eresept_message_type

MSGHEAD_NS = "http://www.kith.no/xmlstds/msghead/2006-05-24"
APPREC_NAMESPACES = {
    "http://www.kith.no/xmlstds/apprec/2004-11-21": "1.0",
    "http://www.kith.no/xmlstds/apprec/2012-02-15": "1.1",
}
BASE64_NS = "http://www.kith.no/xmlstds/base64container"
VOLVEN = "2.16.578.1.12.4.1.1."
MSG_TYPES = VOLVEN + "8279"
APPREC_STATUS = VOLVEN + "8258"
APPREC_ERRORS = VOLVEN + "8221"
APPREC_ERROR_SYSTEMS = (APPREC_ERRORS, VOLVEN + "8222", VOLVEN + "8223")
MSGHEAD_MIG_VERSION = "v1.2 2006-05-24"
REPLY_TYPES = frozenset({"APPREC", "DIALOG_SVAR", "DIALOG_AVVIK"})
"""Message types (8279) that answer another message, so they name the message they answer."""
PERSON_ID_TYPES = frozenset({"FNR", "DNR", "HNR", "FHN"})
"""Person number kinds (8116) that identify a patient nationally."""
FUTURE_TOLERANCE = timedelta(hours=24)

_GUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$")

# -- the rules ---------------------------------------------------------------------------------

_DIALOG = '<Content><Dialogmelding xmlns="http://www.kith.no/xmlstds/dialog/2013-01-23">…</Dialogmelding></Content>'

UNKNOWN_TYPE = declared("MSG-RULE-001")
MIG_VERSION = declared("MSG-RULE-002")
GENDATE_INVALID = declared("MSG-RULE-003")
GENDATE_FUTURE = declared("MSG-RULE-004")
MSGID_MISSING = declared("MSG-RULE-005")
MSGID_NOT_GUID = declared("MSG-RULE-006")
NO_HER_ID = declared("MSG-RULE-007")
PATIENT_UNIDENTIFIED = declared("MSG-RULE-008")
PATIENT_MISMATCH = declared("MSG-RULE-009")
UNKNOWN_CODE = declared("MSG-RULE-010")
CODE_SYSTEM_UNAVAILABLE = declared("MSG-RULE-011")
DISPLAY_DIFFERS = declared("MSG-RULE-012")
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


# -- the message being checked -----------------------------------------------------------------

def _oslo() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/Oslo")
    except Exception:  # no time zone database on this machine: CET, within the 24-hour margin
        return timezone(timedelta(hours=1))


OSLO = _oslo()


@dataclass
class Message:
    """A parsed MsgHead or AppRec and what its rules share."""

    root: etree._Element
    terminology: TerminologyService
    now: datetime
    kind: str
    """``msghead`` or ``apprec``."""
    header: etree._Element
    """``MsgInfo`` of a MsgHead; the root of an AppRec."""
    owned: set[etree._Element] = field(default_factory=set)
    """Coded elements that a dedicated rule checks (the generic code check leaves them alone)."""
    unavailable: set[str] = field(default_factory=set)
    """Code systems already reported as not available."""

    def unavailable_once(self, oid: str, element: etree._Element, message: str) -> Iterator[Issue]:
        if oid not in self.unavailable:
            self.unavailable.add(oid)
            yield CODE_SYSTEM_UNAVAILABLE.issue(message, **at(element))


Check = Callable[[Message], Iterable[Issue]]


# -- element helpers ---------------------------------------------------------------------------

def local(element: etree._Element) -> str:
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


_ANY_NAMESPACE: dict[str, str] = {}


def _any_namespace(name: str) -> str:
    """``{*}name``: lxml's own filter for a local name in any namespace or none (matched in C,
    so the helpers below do not call Python for every node they pass)."""
    tag = _ANY_NAMESPACE.get(name)
    if tag is None:
        tag = _ANY_NAMESPACE[name] = "{*}" + name
    return tag


def child(element: etree._Element | None, name: str) -> etree._Element | None:
    """The first child element with this local name."""
    if element is None:
        return None
    for node in element.iterchildren(_any_namespace(name)):
        return node
    return None


def children(element: etree._Element | None, name: str) -> list[etree._Element]:
    return [] if element is None else list(element.iterchildren(_any_namespace(name)))


def descendants(element: etree._Element | None, name: str) -> Iterator[etree._Element]:
    """The element itself and every element below it with this local name, in document order."""
    if element is None:
        return iter(())
    return element.iter(_any_namespace(name))


def text(element: etree._Element | None) -> str:
    return "" if element is None or element.text is None else element.text.strip()


def xpath(element: etree._Element) -> str:
    """``/MsgHead/MsgInfo/Sender/Organisation/Ident[2]/Id``: local names, positions where needed."""
    steps = []
    node: etree._Element | None = element
    while node is not None:
        name = local(node)
        parent = node.getparent()
        if parent is not None:
            same = list(parent.iterchildren(node.tag))
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        steps.append(name)
        node = parent
    return "/" + "/".join(reversed(steps))


class Where(TypedDict):
    """The location arguments of :meth:`Rule.issue` for an XML element."""

    expression: str
    line: int | None
    column: int | None


def at(element: etree._Element) -> Where:
    """The location of an issue about ``element`` (lxml keeps no column: 1 where the line is known)."""
    line = element.sourceline
    return {"expression": xpath(element), "line": line, "column": 1 if line else None}


def oid_of(system: str) -> str:
    return system[len("urn:oid:"):] if system.startswith("urn:oid:") else system


def system_url(oid: str) -> str:
    return f"urn:oid:{oid_of(oid)}"


def system_name(oid: str) -> str:
    return f"Volven {oid[len(VOLVEN):]}" if oid.startswith(VOLVEN) else oid


# -- dates -------------------------------------------------------------------------------------

def parse_datetime(value: str) -> datetime | None:
    """An ``xs:dateTime`` (four-digit years) as a datetime, or None when it is not one.

    Naive values (no time zone) are returned naive; fractions beyond microseconds are cut;
    ``24:00:00`` is the start of the next day, as XML Schema says.
    """
    match = _DATETIME.match(value)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zone = match.group(7), match.group(8)
    midnight = hour == 24 and minute == 0 and second == 0 and not (fraction and fraction.strip("0"))
    try:
        moment = datetime(year, month, day, 0 if midnight else hour, minute, second,
                          int((fraction or "0")[:6].ljust(6, "0")))
    except ValueError:
        return None
    if midnight:
        moment += timedelta(days=1)
    if zone:
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])) if zone != "Z" else timedelta()
        if offset > timedelta(hours=14) or int(zone[4:6] if zone != "Z" else 0) > 59:
            return None
        moment = moment.replace(tzinfo=timezone(-offset if zone[0] == "-" else offset))
    return moment


def reference_now(today: date | None) -> datetime:
    """Now, or the end of ``today`` (Norwegian time) when a day is given (tests, replays)."""
    if today is None:
        return datetime.now(timezone.utc)
    return datetime.combine(today + timedelta(days=1), time(0), tzinfo=OSLO).astimezone(timezone.utc)


# -- coded values ------------------------------------------------------------------------------

def check_code(message: Message, element: etree._Element, oid: str, unknown: Rule, what: str) -> Iterator[Issue]:
    """``element/@V`` in code system ``oid``: ``unknown`` when it is not, a display warning when
    ``DN`` differs, one warning when the code system is not available."""
    code = element.get("V") or ""
    if not code.strip():
        yield unknown.issue(f"{what} has no code (V)", **at(element))
        return
    display = element.get("DN")
    outcome = code_outcome(message.terminology, oid, code, display)
    if outcome is None:
        return
    verdict, detail = outcome
    if verdict == "unknown":
        yield unknown.issue(f"{what} '{code}' is not a code of {system_name(oid)} ({oid}){detail}", **at(element))
    elif verdict == "unavailable":
        yield from message.unavailable_once(
            oid, element, f"Codes of {system_name(oid)} in this message were not checked: {detail}")
    else:
        yield DISPLAY_DIFFERS.issue(f"DN '{display}' of code '{code}' in {system_name(oid)} differs from "
                                    f"the code system's display '{detail}'", **at(element))


Outcome = tuple[Literal["unknown", "unavailable", "display"], str] | None
"""What a coded value comes to: None (fine), or the finding and its detail (the correction hint,
why the code system is not available, the official display)."""

_OUTCOMES: "weakref.WeakKeyDictionary[TerminologyService, dict[tuple[str, str, str | None], Outcome]]" = (
    weakref.WeakKeyDictionary())
_OUTCOMES_PER_SERVICE = 100_000
"""Distinct (code system, code, display) triples kept per terminology service: a run over many
messages meets the same few hundred codes again and again."""


def code_outcome(terminology: TerminologyService, oid: str, code: str, display: str | None) -> Outcome:
    """The outcome of one coded value, remembered per terminology service (its code systems do not
    change while it lives); an answer that a terminology server could not give is not remembered."""
    memo = _OUTCOMES.get(terminology)
    if memo is None:
        memo = _OUTCOMES[terminology] = {}
    key = (oid, code, display)
    if key in memo:
        return memo[key]
    verdict = terminology.validate_code(system_url(oid), code, display)
    outcome: Outcome = None
    if verdict.valid is False:
        outcome = ("unknown", _hint(terminology, oid, code))
    elif verdict.valid is None:
        outcome = ("unavailable", verdict.message)
    elif verdict.display_ok is False and not _display_matches(display or "", verdict.displays):
        outcome = ("display", "' or '".join(verdict.displays[:3]))
    if verdict.kind != "server-down":
        if len(memo) >= _OUTCOMES_PER_SERVICE:
            memo.clear()
        memo[key] = outcome
    return outcome


def _hint(terminology: TerminologyService, oid: str, code: str) -> str:
    """A likely correction: Volven codes (ICD-10 among them) are written without dots."""
    bare = code.replace(".", "")
    if bare != code and terminology.validate_code(system_url(oid), bare).valid:
        return f"; codes are written without the dot: '{bare}'"
    return ""


def _letters(display: str) -> str:
    return "".join(ch for ch in normalise_display(display) if ch.isalnum())


def _display_matches(display: str, official: list[str]) -> bool:
    """DN matches when, by letters and digits alone, it contains an official display or is
    contained in one: our Volven displays come from the KITH viewer and are sometimes abbreviated
    or punctuated differently, and senders add qualifiers ("[Hjemmetjenester:] ...")."""
    wanted = _letters(display)
    return any(wanted in _letters(o) or _letters(o) in wanted for o in official if o)


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


# -- identifiers -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class IdentifierPair:
    """One identifier: its value element and its type element (``Ident/Id`` + ``Ident/TypeId``)."""

    value_element: etree._Element | None
    type_element: etree._Element
    holder: etree._Element

    @property
    def type_code(self) -> str:
        return (self.type_element.get("V") or "").strip()

    @property
    def value(self) -> str:
        return text(self.value_element)


_PAIRS = (("Id", "TypeId"), ("OffId", "TypeOffId"))
"""(value, type) children that form an identifier on any element; ``AdditionalId`` uses Id/Type."""


_TYPE_TAGS = ("{*}TypeId", "{*}TypeOffId", "{*}Type")


def identifier_pairs(scope: etree._Element) -> Iterator[IdentifierPair]:
    """Every identifier at or below ``scope``: ``Ident``, AppRec ``Inst``/``HCPerson``/``AdditionalId``,
    KITH 1.x ``OffId``/``TypeOffId``; in document order of the elements that hold them."""
    holders: dict[etree._Element, None] = {}
    for type_element in scope.iter(*_TYPE_TAGS):  # only parents of a type element can hold one
        if type_element is not scope:
            holders[type_element.getparent()] = None
    if any(ancestor in holders for holder in holders for ancestor in holder.iterancestors()):
        # a holder inside another (AppRec Inst > HCPerson): order them as the document does
        holders = {node: None for node in scope.iter() if node in holders}
    for node in holders:
        pairs = (("Id", "Type"),) if local(node) == "AdditionalId" else _PAIRS
        for value_name, type_name in pairs:
            type_element = child(node, type_name)
            if type_element is not None:
                yield IdentifierPair(child(node, value_name), type_element, node)


def _persons(*kinds: PersonKind) -> Callable[[str], list[Problem]]:
    allowed = frozenset(kinds)
    return lambda value: check_person_number(value, allowed)


_OID = "urn:oid:2.16.578.1.12.4.1"
SCHEMES: dict[str, IdentifierScheme] = {
    "FNR": IDENTIFIER_SYSTEMS[f"{_OID}.4.1"],
    "DNR": IDENTIFIER_SYSTEMS[f"{_OID}.4.2"],
    "FHN": IDENTIFIER_SYSTEMS[f"{_OID}.4.3"],
    "HNR": IdentifierScheme("H-nummer", _persons(PersonKind.HNR), person=True),
    "HPR": IDENTIFIER_SYSTEMS[f"{_OID}.4.4"],
    "DUF": IDENTIFIER_SYSTEMS[f"{_OID}.4.5"],
    "ENH": IDENTIFIER_SYSTEMS[f"{_OID}.4.101"],
    "RSH": IDENTIFIER_SYSTEMS[f"{_OID}.4.102"],
    "AKO": IDENTIFIER_SYSTEMS[f"{_OID}.4.107"],
    "HER": IDENTIFIER_SYSTEMS[f"{_OID}.2"],
}
"""Identifier checks by ``TypeId/@V`` (Volven 9051 for organisations, 8116 for persons)."""



def identifiers(message: Message) -> Iterator[Issue]:
    """NO-ID-001 to -006: every identifier value passes the checks of its TypeId."""
    for pair in identifier_pairs(message.root):
        scheme = SCHEMES.get(pair.type_code)
        if scheme is None:
            continue
        if not pair.value:
            where = pair.value_element if pair.value_element is not None else pair.holder
            yield ID_NO_VALUE.issue(f"{scheme.name} identifier (TypeId {pair.type_code}) has no value", **at(where))
            continue
        for problem in scheme.check(pair.value):
            chosen = RULE_BY_PROBLEM[problem.kind]
            synthetic = problem.kind == "synthetic"
            message_text = problem.message if synthetic else f"Invalid {scheme.name}: {problem.message}"
            yield chosen.issue(message_text, **at(pair.value_element))


def _patients(message: Message) -> list[etree._Element]:
    found = children(message.header, "Patient")
    for report in children(message.root, "PatientReport"):
        found += children(report, "Patient")
    return found


def _person_ids(patient: etree._Element) -> set[str]:
    return {pair.value for pair in identifier_pairs(patient)
            if pair.holder is patient or pair.holder.getparent() is patient
            if pair.type_code in PERSON_ID_TYPES and pair.value}


def patient_identified(message: Message) -> Iterator[Issue]:
    """MSG-RULE-008: the envelope's patient has an identifier with a value."""
    for patient in _patients(message):
        if not any(text(child(ident, "Id")) for ident in children(patient, "Ident")):
            yield PATIENT_UNIDENTIFIED.issue("The patient has no Ident with a value (fødselsnummer, D-nummer, ...)",
                                             **at(patient))


def _payload_patients(message: Message) -> Iterator[etree._Element]:
    for content in descendants(message.root, "Content"):
        for name in ("Patient", "Pasient"):
            yield from descendants(content, name)


def payload_patient(message: Message) -> Iterator[Issue]:
    """MSG-RULE-009: a payload's patient has the envelope patient's person number."""
    envelope: set[str] = set()
    for patient in _patients(message):
        envelope |= _person_ids(patient)
    if not envelope:
        return
    for patient in _payload_patients(message):
        ids = _person_ids(patient)
        if ids and not ids & envelope:
            yield PATIENT_MISMATCH.issue(f"The payload's patient ({', '.join(sorted(ids))}) is not the envelope's "
                                         f"patient ({', '.join(sorted(envelope))})", **at(patient))


# -- codes -------------------------------------------------------------------------------------

_CODED = etree.XPath("descendant-or-self::*[@V and @S]")
"""Every element with a code and a code system, in document order."""


def coded_elements(message: Message) -> Iterator[Issue]:
    """MSG-RULE-010, -011, -012: every ``V``+``S`` element anywhere, against its code system."""
    for element in _CODED(message.root):
        if element in message.owned:
            continue
        oid = oid_of(element.get("S").strip())
        code = element.get("V")
        if code.strip() and code_outcome(message.terminology, oid, code, element.get("DN")) is None:
            continue  # the common case, without building the wording of an issue
        yield from check_code(message, element, oid, UNKNOWN_CODE, f"{local(element)} code")


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

IDENTIFIER_RULES = (ID_FORMAT, ID_DATE, ID_CHECKSUM, ID_KIND, ID_SYNTHETIC, ID_NO_VALUE)

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
    ((UNKNOWN_CODE, CODE_SYSTEM_UNAVAILABLE, DISPLAY_DIFFERS), coded_elements),
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
    ((UNKNOWN_CODE, CODE_SYSTEM_UNAVAILABLE, DISPLAY_DIFFERS), coded_elements),
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
