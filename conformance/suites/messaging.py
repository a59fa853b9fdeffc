"""``messaging``: a message receiver answers every MsgHead with the AppRec samsvar computes
(requirements R-ACK-001, R-ACK-002, R-ACK-003 and R-STEP-002).

What it does to the target: sends samsvar's synthetic messages (``fixtures/messages/live/``: a
valid Dialogmelding 1.1, two broken ones, the valid one in Dialogmelding 1.0), each with a fresh
``MsgId`` (a GUID) and ``GenDate``, and judges the AppRec that comes back against the one a
conformant receiver returns: :func:`~samsvar.validators.messages.apprec.expected_apprec` from
samsvar's own validation of the message as sent, compared with
:func:`~samsvar.validators.messages.apprec.compare_apprec` (as ``samsvar apprec MESSAGE --check``).

Two transports, chosen by the target:

* an HTTP endpoint (``http://host/messaging``): the MsgHead is POSTed as ``application/xml`` and
  the AppRec is expected in the body of the answer (200) within ``apprec-timeout`` seconds. A
  receiver that answers 202 with nothing and sends its AppRec later by another channel cannot be
  tested this way.
* a file-drop folder (``file:///srv/edi/samsvar``): the message is written as
  ``FOLDER/inbox/NAME.xml`` (written under a hidden name first, then renamed, so the receiver
  never reads half a file) and its AppRec is awaited as ``FOLDER/outbox/NAME.apprec.xml`` for
  ``apprec-timeout`` seconds. Nothing is sent over HTTP. The clean-up removes messages the
  receiver did not take from the inbox; AppRecs in the outbox are left as they are.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from lxml import etree

from ..auth import AUTH_INPUTS
from ..evidence import TargetUnreachable, local_folder
from ..suite import ASSERTION, Suite, SuiteInput, TestContext
from ...validators.issues import Issue, Severity
from ...validators.load import Limits, load_bytes, safe_xml_parser
from ...validators.messages.apprec import (
    NOT_AN_APPREC, STATUS_DISPLAYS, WRONG_ORIGINAL, compare_apprec, expected_apprec,
)
from ...validators.messages.message import MSGHEAD_NS, child, text

LIVE_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "messages" / "live"
"""samsvar's messages for live runs (each listed with its expected findings in ``expected.toml``)."""
VALID = "dialogmelding-valid.xml"
BROKEN = ("dialogmelding-patient-fnr-wrong.xml", "dialogmelding-unknown-code.xml")
"""A rejected message (status 2, E31) and one with an error in a part (status 3, X99)."""
PREVIOUS_VERSION = "dialogmelding-v1-0-valid.xml"
"""The valid message in Dialogmelding 1.0, the version before 1.1."""
XML_HEADERS = {"Content-Type": "application/xml; charset=utf-8",
               "Accept": "application/xml, text/xml;q=0.9, */*;q=0.1"}
POLL_SECONDS = 0.1
REFERS = (NOT_AN_APPREC.code, WRONG_ORIGINAL.code)
"""compare_apprec's findings about *which* message an AppRec answers (R-ACK-001)."""

SUITE = Suite(
    "messaging",
    "Message receiver: application receipts (AppRec)",
    description="Valid, broken and previous-version MsgHead messages are sent over HTTP (POST) or a file-drop "
                "folder; each must be answered in time with the AppRec samsvar computes for it.",
    inputs=(
        SuiteInput("apprec-timeout", "Seconds to wait for an AppRec (the HTTP answer, or the file in outbox/).",
                   default="10"),
        SuiteInput("receiver-her-id", "The receiver's HER-id, written into each message's most specific "
                                      "receiver organisation (default: samsvar's test receiver, HER-id 90998)."),
        *AUTH_INPUTS,
    ),
)

receipts = SUITE.group("receipts", "Every message is answered with an AppRec")
status = SUITE.group("status", "The AppRec has the status a conformant receiver gives")
versions = SUITE.group("versions", "Previous versions of a standard")


# -- the messages -----------------------------------------------------------------------------
@dataclass(slots=True)
class Outgoing:
    """A message as sent: its bytes, identity, and the AppRec a conformant receiver returns for it."""

    fixture: str
    data: bytes
    msg_id: str
    msg_type: str
    expected: etree._Element
    findings: list[Issue]

    @property
    def expected_status(self) -> str:
        status = child(self.expected, "Status")
        return status.get("V", "") if status is not None else ""

    @property
    def expected_errors(self) -> list[str]:
        return [e.get("V", "") for e in self.expected if isinstance(e.tag, str) and etree.QName(e).localname == "Error"]

    def describe(self) -> str:
        return f"{self.fixture} ({self.msg_type}, MsgId {self.msg_id})"


def outgoing(t: TestContext, fixture: str) -> Outgoing:
    """``fixture`` with a fresh MsgId and GenDate (and the receiver's HER-id, when given), validated
    by samsvar, with the AppRec a conformant receiver returns for it."""
    parser = safe_xml_parser()
    root = etree.fromstring((LIVE_FIXTURES / fixture).read_bytes(), parser)
    for comment in root.xpath(".//comment()"):  # samsvar's notes about the fixture are not part of a message
        comment.getparent().remove(comment)
    info = child(root, "MsgInfo")
    if info is None or child(info, "MsgId") is None or child(info, "GenDate") is None:
        raise RuntimeError(f"samsvar's fixture {fixture} is not a MsgHead with MsgId and GenDate")
    msg_id = str(uuid.uuid4())  # never from the run's seed: receivers refuse a MsgId they have seen
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    child(info, "MsgId").text = msg_id
    child(info, "GenDate").text = now.isoformat()
    her_id = t.optional("receiver-her-id")
    if her_id:
        if not her_id.isdigit():
            raise RuntimeError(f"--input receiver-her-id={her_id!r}: a HER-id is digits only")
        _set_receiver_her_id(info, her_id)
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    name = f"{fixture} (MsgId {msg_id})"
    findings = validate_message(t, data, name)
    loaded = load_bytes(name, data, Limits())
    assert loaded.document is not None  # samsvar wrote these bytes from a parsed tree
    expected = expected_apprec(loaded.document.tree, findings, now=now)
    kind = child(info, "Type")
    return Outgoing(fixture, data, msg_id, (kind.get("V") if kind is not None else "") or "?", expected, findings)


def _set_receiver_her_id(info: etree._Element, her_id: str) -> None:
    organisation = child(child(info, "Receiver"), "Organisation")
    while child(organisation, "Organisation") is not None:
        organisation = child(organisation, "Organisation")
    for ident in organisation.findall(f"{{{MSGHEAD_NS}}}Ident") if organisation is not None else []:
        kind = child(ident, "TypeId")
        if kind is not None and kind.get("V") == "HER" and child(ident, "Id") is not None:
            child(ident, "Id").text = her_id


def validate_message(t: TestContext, data: bytes, name: str) -> list[Issue]:
    """samsvar's findings in a message it sends (the run's validator, or one of the suite's own
    when response validation is off: the expected AppRec needs them either way)."""
    if t.run.validate is not None:
        return t.run.validate(data, name)
    if "message-validator" not in t.shared:
        from ...validators.runner import Options, Validator

        t.shared["message-validator"] = Validator(Options())
    return t.shared["message-validator"].validate_bytes(name, data).issues


# -- the transports ---------------------------------------------------------------------------
@dataclass(slots=True)
class Delivery:
    """What came back for a message: the AppRec's bytes, or None with the reason."""

    message: Outgoing
    apprec: bytes | None
    where: str
    """Where the AppRec came from (``POST URL → 200``, ``outbox/NAME.apprec.xml``) or why none came."""
    seconds: float


def send(t: TestContext, message: Outgoing) -> Delivery:
    """Send ``message`` over the target's transport and wait (bounded) for its AppRec."""
    timeout = apprec_timeout(t)
    folder = local_folder(t.target)
    delivery = drop(t, message, folder, timeout) if folder is not None else post(t, message, timeout)
    if delivery.apprec is not None:
        t.shared["apprec-seen"] = True
    return delivery


def apprec_timeout(t: TestContext) -> float:
    value = t.input("apprec-timeout")
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 600:
        raise RuntimeError(f"--input apprec-timeout={value!r}: expected seconds between 0 and 600")
    return seconds


def post(t: TestContext, message: Outgoing, timeout: float) -> Delivery:
    started = time.monotonic()
    try:
        response = t.http.post(t.target, data=message.data, headers=XML_HEADERS, timeout=timeout)
    except TargetUnreachable as exc:
        if "timeout" not in exc.reason and "timed out" not in exc.reason:
            raise
        return Delivery(message, None, f"POST {t.target} got no answer within {timeout:g} s (apprec-timeout): "
                                       f"{exc.reason}", time.monotonic() - started)
    seconds = time.monotonic() - started
    body = response.content.strip()
    if not 200 <= response.status_code < 300 or not body:
        what = "an empty body" if not body else f"{_first_line(body)!r}"
        return Delivery(message, None, f"POST {t.target} answered HTTP {response.status_code} with {what}, "
                                       "not an AppRec", seconds)
    return Delivery(message, response.content, f"the answer to POST {t.target} (HTTP {response.status_code})", seconds)


def drop(t: TestContext, message: Outgoing, folder: Path, timeout: float) -> Delivery:
    inbox, outbox = folder / "inbox", folder / "outbox"
    t.require(inbox.is_dir() and outbox.is_dir(),
              f"the drop folder {folder} has no {'inbox/' if not inbox.is_dir() else 'outbox/'} folder "
              "(the file drop writes messages to FOLDER/inbox and reads AppRecs from FOLDER/outbox)")
    stem = f"samsvar-{Path(message.fixture).stem}-{message.msg_id}"
    target = inbox / f"{stem}.xml"
    partial = inbox / f".{stem}.xml.part"
    partial.write_bytes(message.data)
    os.replace(partial, target)
    t.shared.setdefault("dropped", []).append(target)
    t.note(f"wrote {target} ({len(message.data)} bytes): {message.describe()}")
    answer, refusal = outbox / f"{stem}.apprec.xml", outbox / f"{stem}.error.txt"
    started = time.monotonic()
    deadline = started + timeout
    while True:
        if answer.is_file():
            data = answer.read_bytes()
            if _readable(data) or time.monotonic() >= deadline:  # a receiver may still be writing it
                seconds = time.monotonic() - started
                t.note(f"found {answer} after {seconds:.1f} s ({len(data)} bytes); it begins: {_first_lines(data)}")
                return Delivery(message, data, str(answer), seconds)
        elif refusal.is_file():
            reason = refusal.read_text(encoding="utf-8", errors="replace").strip()
            seconds = time.monotonic() - started
            t.note(f"found {refusal} instead of an AppRec after {seconds:.1f} s: {reason[:300]}")
            return Delivery(message, None, f"the receiver wrote {refusal.name} ({reason[:200]}), not an AppRec",
                            seconds)
        if time.monotonic() >= deadline:
            t.note(f"no {answer} after {timeout:g} s (apprec-timeout)")
            return Delivery(message, None, f"no {answer.name} in {outbox} after {timeout:g} s (apprec-timeout)",
                            time.monotonic() - started)
        time.sleep(POLL_SECONDS)


def _readable(data: bytes) -> bool:
    return load_bytes("apprec.xml", data, Limits()).document is not None


def _first_line(data: bytes) -> str:
    return data.decode("utf-8", errors="replace").strip().splitlines()[0][:120] if data.strip() else ""


def _first_lines(data: bytes, count: int = 4) -> str:
    lines = [line.strip() for line in data.decode("utf-8", errors="replace").splitlines() if line.strip()]
    return " ".join(line[:160] for line in lines[:count]) + (" …" if len(lines) > count else "")


# -- judging ----------------------------------------------------------------------------------
def received_apprec(t: TestContext, delivery: Delivery) -> etree._Element:
    """The AppRec's parsed root; a body that is not readable XML fails the test."""
    assert delivery.apprec is not None
    loaded = load_bytes(delivery.where, delivery.apprec, Limits())
    if loaded.document is None or loaded.document.format != "xml":
        reason = loaded.issues[0].message if loaded.issues else "not XML"
        t.fail(f"the receipt for {delivery.message.describe()} is not readable XML ({reason}); from {delivery.where}")
    return loaded.document.tree


def judged(t: TestContext, delivery: Delivery, findings: list[Issue], *, severity: Severity | None = None) -> None:
    """compare_apprec's findings as the test's own, each saying which message and AppRec it is about."""
    for issue in findings:
        graded = issue if severity is None or issue.severity <= severity else replace(issue, severity=severity)
        t.issues.append(replace(graded, source=t.test.id,
                                message=f"AppRec for {delivery.message.describe()}: {issue.message}"))


def summary(root: etree._Element) -> str:
    """``Status 2 (Avvist), Error E31, OriginalMsgId …``."""
    state = child(root, "Status")
    code = state.get("V", "?") if state is not None else "none"
    errors = [e.get("V", "?") for e in root if isinstance(e.tag, str) and etree.QName(e).localname == "Error"]
    original = text(child(child(root, "OriginalMsgId"), "Id")) or "none"
    return (f"Status {code} ({STATUS_DISPLAYS.get(code, 'unknown')})" + (f", Error {', '.join(errors)}" if errors else "")
            + f", OriginalMsgId {original}")


def no_apprec(t: TestContext, delivery: Delivery) -> None:
    """A message of a status test got no AppRec. When this receiver answered another message of the
    run, that is a failure here (every message is answered, broken ones too); when it answered
    none, the missing receipt is ``messaging/apprec-returned``'s failure and this test cannot judge
    a status: it is skipped (LIVE-003), so that one missing behaviour fails one test."""
    if t.shared.get("apprec-seen"):
        t.fail(f"no AppRec for {delivery.message.describe()}: {delivery.where}; the receiver answered other "
               "messages of this run, and every message, a broken one too, is answered with an AppRec")
    t.skip(f"no AppRec came back for {delivery.message.describe()} ({delivery.where}), so there is no status to "
           "judge; a missing AppRec is the failure of messaging/apprec-returned")


# -- receipts ---------------------------------------------------------------------------------
@receipts.test("apprec-returned", "A valid message is answered in time with an AppRec that refers to it",
               verifies=["R-ACK-001"])
def apprec_returned(t: TestContext) -> None:
    """Sends the valid Dialogmelding 1.1 and waits up to ``apprec-timeout`` seconds for its AppRec.
    The receipt must be an AppRec (1.0 or 1.1) whose ``OriginalMsgId`` repeats the message's
    ``MsgId``, type and ``GenDate``. No AppRec, or one that comes too late, fails the test with
    the evidence (the exchange, or the files written and looked for). With response validation
    on, the AppRec itself goes through samsvar's message rules too."""
    message = outgoing(t, VALID)
    delivery = send(t, message)
    t.require(delivery.apprec is not None, f"no AppRec for {message.describe()}: {delivery.where}")
    root = received_apprec(t, delivery)
    judged(t, delivery, [i for i in compare_apprec(root, message.expected) if i.rule in REFERS])
    if t.run.validate is not None:
        for issue in t.run.validate(delivery.apprec, delivery.where):
            t.issues.append(replace(issue, source=t.test.id, message=f"In the AppRec from {delivery.where}: {issue.message}"))
    t.note(f"{message.describe()} answered after {delivery.seconds:.2f} s: {summary(root)}")


# -- status -----------------------------------------------------------------------------------
@status.test("valid-message-accepted", "A valid message gets status 1 (OK), from the receiver back to the sender",
             verifies=["R-ACK-002", "R-ACK-003"])
def valid_message_accepted(t: TestContext) -> None:
    """Sends the valid Dialogmelding 1.1; its AppRec must say status 1 (OK) without errors, refer
    to the message, and go from the message's receiver back to its sender (the parties swapped,
    by HER-id). Judged with compare_apprec: a wrong status or reference fails the test; an extra
    error code or parties that are not swapped are warnings (R-ACK-003 is a SHOULD)."""
    message = outgoing(t, VALID)
    if message.expected_status != "1":
        raise RuntimeError(f"samsvar finds errors in its own valid fixture {VALID} as sent: "
                           + "; ".join(f"{i.rule} {i.message}" for i in message.findings if i.severity >= Severity.ERROR))
    delivery = send(t, message)
    if delivery.apprec is None:
        no_apprec(t, delivery)
    root = received_apprec(t, delivery)
    judged(t, delivery, compare_apprec(root, message.expected))
    t.note(f"{message.describe()}: expected Status 1 (OK); received {summary(root)}")


@status.test("broken-message-rejected", "A broken message gets the status and error codes samsvar computes",
             verifies=["R-ACK-002", "R-ACK-003"])
def broken_message_rejected(t: TestContext) -> None:
    """Sends two broken Dialogmelding 1.1 messages: one with a patient fødselsnummer whose control
    digits are wrong (status 2 Avvist, error E31) and one with a code that is not in its Volven
    code system (status 3 OK, feil i delmelding, error X99). Each AppRec must have the status
    samsvar computes from its own validation of the message as sent, with 8221 error codes.
    compare_apprec's findings at error level (status, reference) fail the test; a missing or extra
    error code is a warning (a receiver may name a problem with another code)."""
    missing: list[Delivery] = []
    for fixture in BROKEN:
        message = outgoing(t, fixture)
        if message.expected_status not in ("2", "3"):
            raise RuntimeError(f"samsvar does not find the error its broken fixture {fixture} is made for "
                               f"(expected status {message.expected_status})")
        delivery = send(t, message)
        if delivery.apprec is None:
            missing.append(delivery)
            t.note(f"no AppRec for {message.describe()}: {delivery.where}")
            continue
        root = received_apprec(t, delivery)
        judged(t, delivery, compare_apprec(root, message.expected))
        t.note(f"{message.describe()}: expected Status {message.expected_status} "
               f"({STATUS_DISPLAYS[message.expected_status]}), Error {', '.join(message.expected_errors)}; "
               f"received {summary(root)}")
    if missing and not t.shared.get("apprec-seen"):
        no_apprec(t, missing[0])
    for delivery in missing:
        t.check(False, f"no AppRec for {delivery.message.describe()}: {delivery.where}; the receiver answers other "
                       "messages, and every message, a broken one too, is answered with an AppRec")


# -- versions ---------------------------------------------------------------------------------
@versions.test("previous-version-accepted", "A message in the previous version of its standard is answered "
               "(a MAY: warnings only)", verifies=["R-STEP-002"])
def previous_version_accepted(t: TestContext) -> None:
    """Sends the valid message in Dialogmelding 1.0 (``http://www.kith.no/xmlstds/dialog/2006-10-11``),
    the version before 1.1, and expects an AppRec with the status samsvar computes (1, OK).
    R-STEP-002 is a MAY: a receiver *may* accept the previous version during a transition. So
    nothing here fails the test: no AppRec, a rejection (status 2, typically T10) or any other
    difference from the expected AppRec is a *warning* (LIVE-001 graded warning, and
    compare_apprec's findings graded down to warnings), and the test passes with them."""
    message = outgoing(t, PREVIOUS_VERSION)
    delivery = send(t, message)
    if delivery.apprec is None:
        may_not(t, f"no AppRec for {message.describe()} in Dialogmelding 1.0: {delivery.where}. "
                   "R-STEP-002 is a MAY: the receiver does not (visibly) accept the previous version")
        return
    loaded = load_bytes(delivery.where, delivery.apprec, Limits())
    if loaded.document is None or loaded.document.format != "xml":
        may_not(t, f"the receipt for {message.describe()} is not readable XML; R-STEP-002 is a MAY")
        return
    root = loaded.document.tree
    findings = compare_apprec(root, message.expected)
    judged(t, delivery, findings, severity=Severity.WARNING)
    got = child(root, "Status")
    if got is not None and got.get("V") == "2" and message.expected_status != "2":
        may_not(t, f"the receiver rejects Dialogmelding 1.0 ({summary(root)}); accepting the previous version "
                   "is a MAY (R-STEP-002)")
    accepted = got is not None and got.get("V") == message.expected_status
    t.note(f"{message.describe()} (Dialogmelding 1.0): expected Status {message.expected_status}; received "
           f"{summary(root)}" + ("; the previous version is accepted" if accepted else ""))


def may_not(t: TestContext, message: str) -> None:
    """A requirement at level MAY is not met: a warning (not a failure) with the last exchange as place."""
    exchange = t.last_exchange()
    where = f"{exchange.method} {exchange.url}" if exchange is not None and local_folder(t.target) is None else None
    t.issues.append(ASSERTION.issue(message, severity=Severity.WARNING, expression=where or t.target,
                                    source=t.test.id))


# -- clean-up ---------------------------------------------------------------------------------
def cleanup(t: TestContext) -> None:
    """File drop: remove from inbox/ the messages of this run the receiver did not take."""
    left = [path for path in t.shared.get("dropped", []) if path.exists()]
    for path in left:
        try:
            path.unlink()
        except OSError as exc:
            t.check(False, f"could not remove the unanswered message {path}: {exc.strerror}")
    if left:
        t.note(f"removed {len(left)} message{'s' if len(left) != 1 else ''} the receiver did not take from the inbox")
    elif t.shared.get("dropped"):
        t.note("the receiver took every message this run wrote to the inbox")
    else:
        t.note("nothing samsvar can remove: a receiver keeps (or discards) the synthetic messages sent to it over HTTP; their MsgIds are in the evidence")


SUITE.cleanup = cleanup
