"""The sandbox as a message receiver: POST /messaging and the file drop answer with the expected AppRec."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lxml import etree

from samsvar.conformance.sandbox import DropWatcher, MessageReceiver, RunningSandbox, serve_in_thread
from samsvar.validators.issues import Severity
from samsvar.validators.load import load_bytes
from samsvar.validators.messages.apprec import compare_apprec, expected_apprec
from samsvar.validators.runner import Options, Validator

from .conftest import FIXTURES
from .test_sandbox import TIMEOUT, sandbox_config

pytestmark = pytest.mark.timeout(120)

LIVE = FIXTURES / "messages" / "live"
APPREC_NS = "http://www.kith.no/xmlstds/apprec/2012-02-15"
STATUS = {"dialogmelding-valid.xml": "1", "dialogmelding-patient-fnr-wrong.xml": "2",
          "dialogmelding-unknown-code.xml": "3"}
ERRORS = {"dialogmelding-valid.xml": [], "dialogmelding-patient-fnr-wrong.xml": ["E31"],
          "dialogmelding-unknown-code.xml": ["X99"]}
WAIT = 30.0


def status_of(apprec: bytes) -> str:
    return etree.fromstring(apprec).find(f"{{{APPREC_NS}}}Status").get("V")


def errors_in(apprec: bytes) -> list[str]:
    return [e.get("V") for e in etree.fromstring(apprec).findall(f"{{{APPREC_NS}}}Error")]


def judged(message: bytes, apprec: bytes, fhir_cache: Path) -> list[str]:
    """The error-level findings of ``samsvar apprec --check`` on the received AppRec."""
    loaded = load_bytes("message.xml", message)
    issues = Validator(Options(cache_root=fhir_cache)).validate_bytes("message.xml", message).issues
    expected = expected_apprec(loaded.document.tree, issues, now=dt.datetime.now(dt.timezone.utc))
    return [f"{i.rule} {i.message}" for i in compare_apprec(etree.fromstring(apprec), expected)
            if i.severity >= Severity.ERROR]


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {WAIT:.0f} s waiting for {what}")
        time.sleep(0.05)


def drop(inbox: Path, name: str, data: bytes) -> None:
    """Write as a conformant sender does: another name first, then rename into the inbox."""
    partial = inbox / f".{name}.part"
    partial.write_bytes(data)
    os.replace(partial, inbox / name)


@pytest.fixture()
def receiver_sandbox(fhir_cache: Path) -> Iterator[RunningSandbox]:
    with serve_in_thread(sandbox_config(fhir_cache)) as running:
        yield running


@pytest.mark.parametrize("name", sorted(STATUS))
def test_http_answers_the_apprec_a_conformant_receiver_returns(receiver_sandbox: RunningSandbox, name: str,
                                                               fhir_cache: Path) -> None:
    message = (LIVE / name).read_bytes()
    answer = requests.post(receiver_sandbox.messaging_url, data=message,
                           headers={"Content-Type": "application/xml"}, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/xml")
    assert status_of(answer.content) == STATUS[name]
    assert errors_in(answer.content) == ERRORS[name]
    assert judged(message, answer.content, fhir_cache) == []


@pytest.mark.parametrize("body", [
    b"<MsgHead><unclosed>",
    (FIXTURES / "hostile" / "xxe-local-file.xml").read_bytes(),
    b'{"resourceType": "Patient"}',
    b"",
    (FIXTURES / "messages" / "rules" / "valid-apprec-ok.xml").read_bytes(),  # an AppRec is not answered
])
def test_unusable_messages_get_400_with_a_short_text(receiver_sandbox: RunningSandbox, body: bytes) -> None:
    answer = requests.post(receiver_sandbox.messaging_url, data=body, timeout=TIMEOUT)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/plain")
    assert 0 < len(answer.text) < 500 and "root:" not in answer.text


def test_no_apprec_fault_answers_202_without_a_body(fhir_cache: Path) -> None:
    with serve_in_thread(sandbox_config(fhir_cache, faults=frozenset({"no-apprec"}))) as faulty:
        answer = requests.post(faulty.messaging_url, data=(LIVE / "dialogmelding-valid.xml").read_bytes(),
                               timeout=TIMEOUT)
        assert answer.status_code == 202 and answer.content == b""


def test_wrong_apprec_status_fault_says_ok_to_broken_messages(fhir_cache: Path) -> None:
    with serve_in_thread(sandbox_config(fhir_cache, faults=frozenset({"wrong-apprec-status"}))) as faulty:
        for name in STATUS:
            message = (LIVE / name).read_bytes()
            answer = requests.post(faulty.messaging_url, data=message, timeout=TIMEOUT)
            assert answer.status_code == 200
            assert status_of(answer.content) == "1"
            assert errors_in(answer.content) == ERRORS[name]  # only the status is wrong
            problems = judged(message, answer.content, fhir_cache)
            assert bool(problems) == (STATUS[name] != "1"), problems
            assert all(p.startswith("MSG-APPREC-002") for p in problems)


def test_apprec_delay_holds_the_answer_back(fhir_cache: Path) -> None:
    with serve_in_thread(sandbox_config(fhir_cache, apprec_delay=0.3)) as slow:
        started = time.monotonic()
        answer = requests.post(slow.messaging_url, data=(LIVE / "dialogmelding-valid.xml").read_bytes(),
                               timeout=TIMEOUT)
        assert answer.status_code == 200
        assert time.monotonic() - started >= 0.3


def test_file_drop_answers_each_message_in_the_outbox(fhir_cache: Path, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    with serve_in_thread(sandbox_config(fhir_cache, drop_dir=folder, poll_interval=0.05)):
        for name in STATUS:
            drop(folder / "inbox", name, (LIVE / name).read_bytes())
        drop(folder / "inbox", "garbage.xml", b"<MsgHead><unclosed>")
        (folder / "inbox" / "notes.txt").write_text("not a message")

        answers = {Path(name).stem: folder / "outbox" / f"{Path(name).stem}.apprec.xml" for name in STATUS}
        wait_for(lambda: all(p.exists() for p in answers.values())
                 and (folder / "outbox" / "garbage.error.txt").exists(), "the AppRecs in the outbox")
        for name in STATUS:
            apprec = answers[Path(name).stem].read_bytes()
            assert status_of(apprec) == STATUS[name]
            assert judged((LIVE / name).read_bytes(), apprec, fhir_cache) == []
        wait_for(lambda: len(list((folder / "processed").glob("*.xml"))) == 4, "the messages to be moved")
        assert sorted(p.name for p in (folder / "inbox").iterdir()) == ["notes.txt"]  # only *.xml is read
        assert "not a readable XML message" in (folder / "outbox" / "garbage.error.txt").read_text()


def test_file_drop_with_no_apprec_fault_writes_nothing(fhir_cache: Path, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    config = sandbox_config(fhir_cache, drop_dir=folder, poll_interval=0.05, faults=frozenset({"no-apprec"}))
    with serve_in_thread(config):
        drop(folder / "inbox", "m.xml", (LIVE / "dialogmelding-valid.xml").read_bytes())
        wait_for(lambda: (folder / "processed" / "m.xml").exists(), "the message to be processed")
        assert list((folder / "outbox").iterdir()) == []


def test_drop_watcher_once_without_a_thread(fhir_cache: Path, tmp_path: Path) -> None:
    """process_once answers what is in the inbox now; a second message of the same name is kept apart."""
    validator = Validator(Options(cache_root=fhir_cache))
    watcher = DropWatcher(MessageReceiver(sandbox_config(fhir_cache), validator.validate_bytes), tmp_path,
                          poll_interval=1, delay=0)
    message = (LIVE / "dialogmelding-patient-fnr-wrong.xml").read_bytes()
    for _ in range(2):
        drop(watcher.inbox, "same.xml", message)
        assert watcher.process_once() == [watcher.outbox / "same.apprec.xml"]
        assert status_of((watcher.outbox / "same.apprec.xml").read_bytes()) == "2"
    assert sorted(p.name for p in watcher.processed.iterdir()) == ["same.1.xml", "same.xml"]
    assert watcher.process_once() == []
