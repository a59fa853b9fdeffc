"""The application receipt a conformant receiver returns, and how a receiver's receipt is judged.

:func:`expected_apprec` builds, from a MsgHead message and the issues samsvar found in it, the
AppRec 1.1 (``http://www.kith.no/xmlstds/apprec/2012-02-15``) that a receiver following the
rules must send back:

* ``Status`` 1 (OK) when no error was found; 2 (Avvist) when an error makes the message
  unusable (not well-formed, schema errors, unknown message type, no message id, missing or
  invalid patient id, unknown receiver); 3 (OK, feil i delmelding) when the errors are in parts
  the receiver can do without (an unknown code, a broken attachment).
* one ``Error`` per Volven 8221 code, derived from the rule codes by :data:`RULE_ERRORS` (and
  for identifier rules by where the identifier sits, :func:`error_for`); a rule without a
  mapping gives the general ``X99``. Warnings and information give no ``Error``, nor do
  waived issues.
* ``Sender`` and ``Receiver`` swapped from the message, ``OriginalMsgId`` with the message's
  type, ``GenDate`` and ``MsgId``.

:func:`compare_apprec` judges a receiver's actual AppRec against the expected one: the status
must be the same (error), the error codes should be (a warning for each missing or extra code),
``OriginalMsgId`` must refer to the message (error) and the receipt should go back to the
message's sender (warning).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from ..issues import Issue, Severity
from ..rules import declared
from .identities import identifier_pairs
from .message import APPREC_ERRORS, at, child, children, parse_datetime, text
from .rules import message_kind

APPREC_11_NS = "http://www.kith.no/xmlstds/apprec/2012-02-15"
APPREC_11_MIG_VERSION = "v1.1 2012-02-15"
STATUS_DISPLAYS = {"1": "OK", "2": "Avvist", "3": "OK, feil i delmelding"}
"""Volven 8258."""

ERROR_DISPLAYS = {
    "E10": "Ugyldig meldingsidentifikator",
    "E20": "Lege finnes ikke",
    "E21": "Mottaker finnes ikke",
    "E30": "Pasientens fødselsnummer mangler",
    "E31": "Pasientens fødselsnummer er feil",
    "E36": "Pasientopplysninger er utilstrekkelige",
    "T01": "Ikke XML / ikke 'well formed' / uleselig",
    "T02": "XML validerer ikke",
    "T10": "Støtter ikke meldingsformatet",
    "T99": "Annen feil på format",
    "X99": "Annen feil",
}
"""The Volven 8221 codes this module uses, with their display names (profiles/terminology)."""

GENERAL_ERROR = "X99"


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """What a receiver reports for a finding: an 8221 code, and whether it rejects the message."""

    code: str
    rejects: bool

    @property
    def display(self) -> str:
        return ERROR_DISPLAYS.get(self.code, "")


RULE_ERRORS: dict[str, ErrorCode] = {
    # The message cannot be read or does not follow its schema: Avvist.
    "INPUT-002": ErrorCode("T01", True),          # not well-formed XML
    "INPUT-003": ErrorCode("T01", True),          # not UTF-8
    "INPUT-004": ErrorCode("T01", True),          # empty file
    "INPUT-007": ErrorCode("T01", True),          # DOCTYPE refused
    "MSG-XSD-001": ErrorCode("T02", True),        # does not match its XML Schema
    "MSG-RULE-003": ErrorCode("T02", True),       # GenDate is not an xs:dateTime (a schema error too)
    # The receiver cannot tell what the message is or what it is about: Avvist.
    "MSG-RULE-001": ErrorCode("T10", True),       # unknown message type
    "MSG-RULE-005": ErrorCode("E10", True),       # no message id
    "MSG-RULE-008": ErrorCode("E30", True),       # patient without an identifier
    "MSG-RULE-009": ErrorCode("E36", True),       # two different patients: the patient is not identified
    "MSG-RULE-028": ErrorCode("E30", True),       # e-resept M1/M5/M10 without the patient in the envelope
    "MSG-RULE-036": ErrorCode("E36", True),       # citizen dialogue without the citizen's fødselsnummer/D-nummer
    # Errors the receiver can live with: OK, feil i delmelding.
    "MSG-RULE-002": ErrorCode("T99", False),      # wrong MIGversion text
    "MSG-RULE-010": ErrorCode("X99", False),      # unknown code
    "MSG-RULE-013": ErrorCode("X99", False),      # half a ConversationRef
    "MSG-RULE-015": ErrorCode("X99", False),      # attachment without MimeType
    "MSG-RULE-016": ErrorCode("X99", False),      # attachment not base64
}
"""Rule code → the 8221 code a receiver reports. Identifier rules depend on the place, see
:data:`IDENTIFIER_PLACES`."""

IDENTIFIER_RULES = frozenset({"NO-ID-001", "NO-ID-002", "NO-ID-003", "NO-ID-004"})
IDENTIFIER_PLACES: tuple[tuple[str, str, ErrorCode], ...] = (
    ("/MsgHead/MsgInfo/Patient/", "", ErrorCode("E31", True)),
    ("/MsgHead/MsgInfo/Receiver/", "/HealthcareProfessional/", ErrorCode("E20", True)),
    ("/MsgHead/MsgInfo/Receiver/", "", ErrorCode("E21", True)),
)
"""(expression prefix, and a part it must contain, 8221 code) for invalid identifiers: the
patient's (E31), the addressed health professional's (E20) and the receiver's (E21). An invalid
identifier elsewhere is the general error."""


def error_for(issue: Issue) -> ErrorCode:
    """The 8221 code a receiver reports for an error-level issue."""
    if issue.rule in IDENTIFIER_RULES:
        where = issue.expression or ""
        for prefix, part, code in IDENTIFIER_PLACES:
            if where.startswith(prefix) and part in where:
                return code
    mapped = RULE_ERRORS.get(issue.rule)
    if mapped is not None:
        return mapped
    if issue.rule.startswith("INPUT-"):
        return ErrorCode("T01", True)
    return ErrorCode(GENERAL_ERROR, issue.severity >= Severity.FATAL)


# -- building the expected AppRec ----------------------------------------------------------

def _sub(parent: etree._Element, name: str, value: str | None = None, **attributes: str | None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{APPREC_11_NS}}}{name}",
                               {k: v for k, v in attributes.items() if v is not None})
    if value is not None:
        element.text = value
    return element


Ident = tuple[str, str, str | None]
"""(Id, TypeId V, TypeId DN)."""


def _idents(holder: etree._Element | None) -> list[Ident]:
    """(Id, TypeId V, TypeId DN) of the ``Ident`` children of a MsgHead element."""
    found = []
    for ident in children(holder, "Ident"):
        kind = child(ident, "TypeId")
        if text(child(ident, "Id")) and kind is not None:
            found.append((text(child(ident, "Id")), kind.get("V") or "", kind.get("DN")))
    return found


def _add_ids(target: etree._Element, idents: list[Ident], *, additional_only: bool = False) -> None:
    rest = idents
    if idents and not additional_only:
        value, code, display = idents[0]
        _sub(target, "Id", value)
        _sub(target, "TypeId", V=code, DN=display)
        rest = idents[1:]
    for value, code, display in rest:
        extra = _sub(target, "AdditionalId")
        _sub(extra, "Id", value)
        _sub(extra, "Type", V=code, DN=display)


def _person_name(professional: etree._Element) -> str:
    parts = (text(child(professional, n)) for n in ("GivenName", "MiddleName", "FamilyName"))
    return " ".join(p for p in parts if p)


def _hcp(parent: etree._Element, party: etree._Element | None) -> None:
    """``HCP/Inst`` from a MsgHead ``Sender``/``Receiver``: organisation, department, person."""
    organisation = child(party, "Organisation")
    institution = _sub(_sub(parent, "HCP"), "Inst")
    if organisation is None:
        return
    if text(child(organisation, "OrganisationName")):
        _sub(institution, "Name", text(child(organisation, "OrganisationName")))
    idents = _idents(organisation)
    if idents:
        _sub(institution, "Id", idents[0][0])
        _sub(institution, "TypeId", V=idents[0][1], DN=idents[0][2])
    department = child(organisation, "Organisation")
    if department is not None:
        dept = _sub(institution, "Dept")
        if text(child(department, "OrganisationName")):
            _sub(dept, "Name", text(child(department, "OrganisationName")))
        _add_ids(dept, _idents(department))
    _add_ids(institution, idents[1:], additional_only=True)
    holders = [organisation, department] if department is not None else [organisation]
    for professional in (p for h in holders for p in children(h, "HealthcareProfessional")):
        person = _sub(institution, "HCPerson")
        if _person_name(professional):
            _sub(person, "Name", _person_name(professional))
        _add_ids(person, _idents(professional))


def _status(errors: list[tuple[ErrorCode, Issue]]) -> str:
    if any(code.rejects for code, _ in errors):
        return "2"
    return "3" if errors else "1"


def _errors(issues: list[Issue]) -> list[tuple[ErrorCode, Issue]]:
    """One (8221 code, first issue) per code, for the unwaived issues at error level or above."""
    chosen: dict[str, tuple[ErrorCode, Issue]] = {}
    for issue in issues:
        if issue.severity >= Severity.ERROR and not issue.waived:
            code = error_for(issue)
            chosen.setdefault(code.code, (code, issue))
    return list(chosen.values())


def expected_apprec(message_root: etree._Element, issues: list[Issue], *, now: datetime,
                    apprec_id: str | None = None) -> etree._Element:
    """The AppRec 1.1 a conformant receiver returns for ``message_root`` (a MsgHead) given ``issues``.

    ``apprec_id`` is the receipt's own ``Id`` (a new GUID when not given). Raises ValueError for a
    root that is not a MsgHead: an AppRec is never answered with an AppRec.
    """
    if message_kind(message_root) != "msghead":
        raise ValueError("an AppRec answers a MsgHead message; this root is "
                         f"{etree.QName(message_root).localname!r}")
    info = child(message_root, "MsgInfo")
    errors = _errors(issues)
    status = _status(errors)
    root = etree.Element(f"{{{APPREC_11_NS}}}AppRec", nsmap={None: APPREC_11_NS})
    _sub(root, "MsgType", V="APPREC", DN="Applikasjonskvittering")
    _sub(root, "MIGversion", APPREC_11_MIG_VERSION)
    _sub(root, "GenDate", now.isoformat(timespec="seconds"))
    _sub(root, "Id", apprec_id or str(uuid.uuid4()))
    _hcp(_sub(root, "Sender"), child(info, "Receiver"))
    _hcp(_sub(root, "Receiver"), child(info, "Sender"))
    _sub(root, "Status", V=status, DN=STATUS_DISPLAYS[status])
    for code, issue in errors:
        _sub(root, "Error", V=code.code, S=APPREC_ERRORS, DN=code.display, OT=f"{issue.rule}: {issue.message}")
    original = _sub(root, "OriginalMsgId")
    kind = child(info, "Type")
    _sub(original, "MsgType", V=kind.get("V") if kind is not None else None,
         DN=kind.get("DN") if kind is not None else None)
    _sub(original, "IssueDate", text(child(info, "GenDate")))
    _sub(original, "Id", text(child(info, "MsgId")))
    return root


# -- judging a receiver's AppRec ----------------------------------------------------------

NOT_AN_APPREC = declared("MSG-APPREC-001")
WRONG_STATUS = declared("MSG-APPREC-002")
MISSING_ERROR = declared("MSG-APPREC-003")
EXTRA_ERROR = declared("MSG-APPREC-004")
WRONG_ORIGINAL = declared("MSG-APPREC-005")
WRONG_PARTY = declared("MSG-APPREC-006")

def _error_codes(apprec: etree._Element) -> dict[tuple[str, str], etree._Element]:
    """(code system OID, code) → the Error element; no ``S`` means 8221."""
    found: dict[tuple[str, str], etree._Element] = {}
    for error in children(apprec, "Error"):
        system = (error.get("S") or APPREC_ERRORS).strip().removeprefix("urn:oid:")
        found.setdefault((system, (error.get("V") or "").strip()), error)
    return found


def _status_code(apprec: etree._Element) -> str:
    status = child(apprec, "Status")
    return (status.get("V") or "").strip() if status is not None else ""


def _compare_status(received: etree._Element, expected: etree._Element) -> list[Issue]:
    got, wanted = _status_code(received), _status_code(expected)
    if got == wanted:
        return []
    where = child(received, "Status")
    return [WRONG_STATUS.issue(f"Status is {got or 'missing'} ({STATUS_DISPLAYS.get(got, 'unknown')}); a conformant "
                               f"receiver reports {wanted} ({STATUS_DISPLAYS[wanted]})",
                               **at(where if where is not None else received))]


def _compare_errors(received: etree._Element, expected: etree._Element) -> list[Issue]:
    got, wanted = _error_codes(received), _error_codes(expected)
    issues = []
    for system, code in wanted.keys() - got.keys():
        why = wanted[(system, code)].get("OT") or ""
        issues.append(MISSING_ERROR.issue(f"Expected Error {code} ({ERROR_DISPLAYS.get(code, system)}) is missing"
                                          + (f"; it stands for {why}" if why else ""), **at(received)))
    for key in got.keys() - wanted.keys():
        issues.append(EXTRA_ERROR.issue(f"Error {key[1]} (code system {key[0]}) was not expected for this message",
                                        **at(got[key])))
    return sorted(issues, key=lambda i: (i.rule, i.message))


def _same_moment(first: str, second: str) -> bool:
    a, b = parse_datetime(first), parse_datetime(second)
    if a is None or b is None or (a.tzinfo is None) != (b.tzinfo is None):
        return first == second
    return a == b


def _compare_original(received: etree._Element, expected: etree._Element) -> list[Issue]:
    got, wanted = child(received, "OriginalMsgId"), child(expected, "OriginalMsgId")
    if got is None:
        return [WRONG_ORIGINAL.issue("The AppRec has no OriginalMsgId", **at(received))]
    issues = []
    got_id, wanted_id = text(child(got, "Id")), text(child(wanted, "Id"))
    if got_id.casefold() != wanted_id.casefold():
        issues.append(WRONG_ORIGINAL.issue(f"OriginalMsgId/Id is '{got_id}', the message's MsgId is '{wanted_id}'",
                                           **at(child(got, "Id") if child(got, "Id") is not None else got)))
    got_type = (child(got, "MsgType").get("V") if child(got, "MsgType") is not None else "") or ""
    wanted_type = child(wanted, "MsgType").get("V") or ""
    if got_type != wanted_type:
        issues.append(WRONG_ORIGINAL.issue(f"OriginalMsgId/MsgType is '{got_type}', the message's type is "
                                           f"'{wanted_type}'", **at(child(got, "MsgType") if got_type else got)))
    got_date, wanted_date = text(child(got, "IssueDate")), text(child(wanted, "IssueDate"))
    if parse_datetime(wanted_date) is not None and not _same_moment(got_date, wanted_date):
        issues.append(WRONG_ORIGINAL.issue(f"OriginalMsgId/IssueDate is '{got_date}', the message's GenDate is "
                                           f"'{wanted_date}'", **at(got)))
    return issues


def _ids(party: etree._Element | None) -> set[tuple[str, str]]:
    if party is None:
        return set()
    return {(pair.type_code, pair.value) for pair in identifier_pairs(party) if pair.value}


def _compare_parties(received: etree._Element, expected: etree._Element) -> list[Issue]:
    issues = []
    for name, original in (("Sender", "receiver"), ("Receiver", "sender")):
        wanted = _ids(child(expected, name))
        got_party = child(received, name)
        if wanted and not wanted & _ids(got_party):
            listed = ", ".join(f"{kind} {value}" for kind, value in sorted(wanted))
            issues.append(WRONG_PARTY.issue(f"AppRec/{name} carries none of the message {original}'s identifiers "
                                            f"({listed})", **at(got_party if got_party is not None else received)))
    return issues


def compare_apprec(received: etree._Element, expected: etree._Element) -> list[Issue]:
    """The issues of a receiver's AppRec, judged against :func:`expected_apprec`'s."""
    if message_kind(received) != "apprec":
        name = etree.QName(received).localname if isinstance(received.tag, str) else "?"
        return [NOT_AN_APPREC.issue(f"The receipt's root is {name!r}, not an AppRec 1.0 or 1.1", **at(received))]
    return [*_compare_status(received, expected), *_compare_errors(received, expected),
            *_compare_original(received, expected), *_compare_parties(received, expected)]
