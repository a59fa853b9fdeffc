"""The ``messaging`` suite against the reference sandbox, a real receiver on 127.0.0.1: every test
passes on the conformant sandbox, over HTTP and over the file drop; with one fault switched on,
exactly the tests that verify that behaviour fail; a late or missing AppRec is a failure with
its evidence; an unreachable target is an environment problem (exit code 3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from samsvar.conformance.catalogue import load_catalogue
from samsvar.conformance.judge import judge
from samsvar.conformance.runner import RunRequest, TestResult, run_suite
from samsvar.conformance.sandbox import FAULTS, RunningSandbox, SandboxConfig, serve_in_thread
from samsvar.conformance.suites.messaging import BROKEN, LIVE_FIXTURES, PREVIOUS_VERSION, VALID
from samsvar.validators.issues import EnvironmentProblem

from .live import free_port

pytestmark = pytest.mark.timeout(120)

TESTS = ("messaging/apprec-returned", "messaging/valid-message-accepted", "messaging/broken-message-rejected",
         "messaging/previous-version-accepted")

MESSAGING_FAULTS: dict[str | None, dict[str, str]] = {
    None: {},
    # no AppRec at all: the receipt test fails; the status tests have no status to judge (skipped, so
    # that one missing behaviour fails one test); the previous version is a MAY (a warning, it passes)
    "no-apprec": {"messaging/apprec-returned": "fail", "messaging/valid-message-accepted": "skip",
                  "messaging/broken-message-rejected": "skip"},
    # status 1 for everything: right for the valid messages, wrong for the broken ones
    "wrong-apprec-status": {"messaging/broken-message-rejected": "fail"},
    # faults of the FHIR API and of the token checks leave the message receiver conformant
    "wrong-status": {}, "no-operationoutcome": {}, "accept-invalid": {}, "invalid-resource": {},
    "no-versioning": {}, "no-paging": {}, "no-auth": {},
    **dict.fromkeys(("dpop-proof-optional", "dpop-request-unchecked", "dpop-replay", "dpop-key-unchecked",
                     "dpop-ath-unchecked", "dpop-iat-unchecked", "dpop-nonce-unchecked"), {}),
    # SMART faults act only in a sandbox with smart=True (the smart suite's, tests/test_suite_smart.py)
    **{name: {} for name in FAULTS if name.startswith("smart-")},
}
"""Fault → every messaging test that does not pass with it on, and its status (None: conformant)."""
MAY_WARNINGS = {"no-apprec": "messaging/previous-version-accepted"}
"""Fault → the MAY test that passes with a warning-level finding under it."""


def outcome(report) -> dict[str, str]:
    return {result.path: result.status for result in report.results if result.status != "pass"}


def explain(report) -> list[tuple[str, str, list[str]]]:
    return [(r.path, r.status, [i.message for i in r.issues][:3]) for r in report.results if r.status != "pass"]


def result(report, test_id: str) -> TestResult:
    return next(r for r in report.results if r.path == test_id)


@pytest.fixture(scope="module")
def conformant(fhir_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    drop = tmp_path_factory.mktemp("drop")
    with serve_in_thread(SandboxConfig(cache_root=fhir_cache, drop_dir=drop)) as sandbox:
        yield sandbox


def request(target: str, fhir_cache: Path, **inputs: str) -> RunRequest:
    return RunRequest("messaging", target, inputs={"apprec-timeout": "10", **inputs}, cache_root=fhir_cache)


def test_the_fixtures_it_sends_are_samsvars_own() -> None:
    for name in (VALID, *BROKEN, PREVIOUS_VERSION):
        assert (LIVE_FIXTURES / name).is_file(), name


def test_the_fault_table_covers_every_sandbox_fault() -> None:
    assert set(MESSAGING_FAULTS) - {None} == set(FAULTS)
    assert all(set(expected) <= set(TESTS) for expected in MESSAGING_FAULTS.values())


def test_the_conformant_sandbox_passes_over_http(conformant: RunningSandbox, fhir_cache: Path) -> None:
    report = run_suite(request(conformant.messaging_url, fhir_cache))
    assert [r.path for r in report.results] == list(TESTS)
    assert outcome(report) == {}, explain(report)
    # the evidence: one POST of a MsgHead per message, its AppRec in the answer
    returned = result(report, "messaging/apprec-returned")
    assert [(e.method, e.status) for e in returned.exchanges] == [("POST", 200)]
    sent, answer = returned.exchanges[0].request_body, returned.exchanges[0].response_body
    assert "<MsgHead" in sent and "<AppRec" in answer
    msg_id = sent.split("<MsgId>")[1].split("</MsgId>")[0]
    assert f"<Id>{msg_id}</Id>" in answer, "the AppRec's OriginalMsgId names the message sent"
    assert "3b0e5f7c-1d2a-4e6b-8c9d-0a1b2c3d4e5f" not in sent, "each send gets a fresh MsgId"
    broken = result(report, "messaging/broken-message-rejected")
    assert len(broken.exchanges) == 2
    assert any("Status 2 (Avvist), Error E31" in note for note in broken.notes)
    assert any("Status 3 (OK, feil i delmelding), Error X99" in note for note in broken.notes)
    assert "dialog/2006-10-11" in result(report, "messaging/previous-version-accepted").exchanges[0].request_body
    verdicts = {v["id"]: v["verdict"] for v in judge(load_catalogue(), report, run="run")}
    assert verdicts["R-ACK-001"] in ("pass", "not-tested")  # not-tested while the catalogue says "planned"


def test_each_send_is_a_new_message_to_the_receiver_given(conformant: RunningSandbox, fhir_cache: Path) -> None:
    report = run_suite(request(conformant.messaging_url, fhir_cache, **{"receiver-her-id": "8142519"}))
    assert outcome(report) == {}, explain(report)
    sent = [e.request_body for r in report.results for e in r.exchanges]
    ids = [body.split("<MsgId>")[1].split("</MsgId>")[0] for body in sent]
    assert len(ids) == 5 and len(set(ids)) == 5
    assert all("<Id>8142519</Id>" in body and "<Id>90998</Id>" not in body for body in sent)
    answer = result(report, "messaging/apprec-returned").exchanges[0].response_body
    assert "<Id>8142519</Id>" in answer.split("<Receiver>")[0], "the AppRec comes from the receiver given"


@pytest.mark.parametrize("fault", [f for f in MESSAGING_FAULTS if not (f or "").startswith("smart-")],
                         ids=lambda f: f or "conformant")
def test_each_fault_fails_exactly_the_tests_that_verify_it(fault: str | None, fhir_cache: Path) -> None:
    with serve_in_thread(SandboxConfig(cache_root=fhir_cache, faults=frozenset({fault} if fault else ()))) as sandbox:
        report = run_suite(request(sandbox.messaging_url, fhir_cache))
    assert outcome(report) == MESSAGING_FAULTS[fault], explain(report)
    may = result(report, "messaging/previous-version-accepted")
    warned = [i for i in may.issues if i.rule == "LIVE-001"]
    if MAY_WARNINGS.get(fault) == may.path:
        # a MAY that is not met is said, as a warning, and does not fail the test
        assert may.status == "pass" and warned and all(i.severity.code == "warning" for i in warned)
        assert "R-STEP-002 is a MAY" in warned[0].message
    else:
        assert not warned


def test_a_missing_apprec_is_a_failure_with_its_evidence(fhir_cache: Path) -> None:
    with serve_in_thread(SandboxConfig(cache_root=fhir_cache, faults=frozenset({"no-apprec"}))) as sandbox:
        report = run_suite(request(sandbox.messaging_url, fhir_cache))
    failed = result(report, "messaging/apprec-returned")
    assert failed.exchanges[0].status == 202 and failed.exchanges[0].request_body.lstrip().startswith("<?xml")
    assert any("answered HTTP 202 with an empty body, not an AppRec" in i.message for i in failed.issues)
    skipped = result(report, "messaging/valid-message-accepted")
    assert "messaging/apprec-returned" in skipped.issues[0].message


def test_a_late_apprec_is_a_failure(fhir_cache: Path) -> None:
    with serve_in_thread(SandboxConfig(cache_root=fhir_cache, apprec_delay=1.0)) as sandbox:
        report = run_suite(RunRequest("messaging", sandbox.messaging_url, inputs={"apprec-timeout": "0.3"},
                                      keyword="apprec-returned", cache_root=fhir_cache))
    failed = result(report, "messaging/apprec-returned")
    assert failed.status == "fail", explain(report)
    assert "got no answer within 0.3 s (apprec-timeout)" in failed.issues[0].message
    assert failed.exchanges[0].error == "no answer within the timeout"


def test_the_wrong_status_is_named_with_the_expected_one(fhir_cache: Path) -> None:
    with serve_in_thread(SandboxConfig(cache_root=fhir_cache, faults=frozenset({"wrong-apprec-status"}))) as sandbox:
        report = run_suite(request(sandbox.messaging_url, fhir_cache))
    failed = result(report, "messaging/broken-message-rejected")
    statuses = sorted(i.message.split(": ", 1)[1] for i in failed.issues if i.rule == "MSG-APPREC-002")
    assert statuses == ["Status is 1 (OK); a conformant receiver reports 2 (Avvist)",
                        "Status is 1 (OK); a conformant receiver reports 3 (OK, feil i delmelding)"]
    assert all(i.severity.code == "error" for i in failed.issues if i.rule == "MSG-APPREC-002")


# -- the file drop ----------------------------------------------------------------------------
def test_the_conformant_sandbox_passes_over_the_file_drop(conformant: RunningSandbox, fhir_cache: Path) -> None:
    folder = conformant.config.drop_dir
    assert folder is not None
    report = run_suite(request(folder.as_uri(), fhir_cache))
    assert outcome(report) == {}, explain(report)
    assert all(not r.exchanges for r in report.results), "a file: target is not spoken to over HTTP"
    notes = result(report, "messaging/apprec-returned").notes
    assert notes[0].startswith(f"wrote {folder / 'inbox'}") and "found" in notes[1] and "<AppRec" in notes[1]
    assert not list((folder / "inbox").glob("*.xml"))
    assert report.notices[-1] == "Clean-up: the receiver took every message this run wrote to the inbox"


def test_the_file_drop_without_apprec_fails_and_notes_what_was_looked_for(fhir_cache: Path, tmp_path: Path) -> None:
    with serve_in_thread(SandboxConfig(cache_root=fhir_cache, drop_dir=tmp_path,
                                       faults=frozenset({"no-apprec"}))) as sandbox:
        report = run_suite(RunRequest("messaging", tmp_path.as_uri(), inputs={"apprec-timeout": "1"},
                                      keyword="apprec-returned", cache_root=fhir_cache))
        assert sandbox.alive
    failed = result(report, "messaging/apprec-returned")
    assert failed.status == "fail"
    assert any("apprec.xml after 1 s" in note for note in failed.notes)
    assert "(apprec-timeout)" in failed.issues[0].message


def test_a_receiver_that_is_not_running_leaves_nothing_in_the_inbox(fhir_cache: Path, tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "outbox").mkdir()
    report = run_suite(RunRequest("messaging", tmp_path.as_uri(), inputs={"apprec-timeout": "0.3"},
                                  keyword="apprec-returned", cache_root=fhir_cache))
    assert outcome(report) == {"messaging/apprec-returned": "fail"}
    assert not list((tmp_path / "inbox").iterdir()), "the clean-up removes messages the receiver did not take"
    assert "removed 1 message the receiver did not take" in report.notices[-1]


def test_a_drop_folder_without_inbox_fails_with_the_reason(fhir_cache: Path, tmp_path: Path) -> None:
    report = run_suite(RunRequest("messaging", tmp_path.as_uri(), keyword="apprec-returned", cache_root=fhir_cache))
    assert "has no inbox/ folder" in result(report, "messaging/apprec-returned").issues[0].message


# -- behind a token, unreachable, and the CLI -------------------------------------------------
def test_a_receiver_behind_client_credentials(fhir_cache: Path, tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with serve_in_thread(SandboxConfig(cache_root=fhir_cache, auth=True, clients={"samsvar-test": public})) as sandbox:
        report = run_suite(request(sandbox.messaging_url, fhir_cache, **{
            "token-url": sandbox.token_url, "client-id": "samsvar-test", "private-key": str(tmp_path / "key.pem"),
            "scope": "messaging"}))
        without = run_suite(request(sandbox.messaging_url, fhir_cache))
    assert outcome(report) == {}, explain(report)
    assert result(report, "messaging/apprec-returned").exchanges[0].url == sandbox.token_url
    refused = result(without, "messaging/apprec-returned")
    assert refused.status == "fail" and "answered HTTP 401" in refused.issues[0].message


@pytest.mark.parametrize("target", ["http://127.0.0.1:{port}/messaging", "file:///nonexistent/samsvar-drop"])
def test_an_unreachable_target_is_an_environment_problem(target: str, fhir_cache: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="cannot be reached|is not a folder"):
        run_suite(RunRequest("messaging", target.format(port=free_port()), cache_root=fhir_cache,
                             keyword="apprec-returned"))


def test_the_text_output_of_a_run_is_in_one_language(run, fhir_cache: Path, tmp_path: Path) -> None:
    """The tests' titles and messages are English; the requirement titles of the text output were
    Norwegian by default (--lang nb). Now --lang chooses the HTML's language, the text stays English."""
    from samsvar.conformance.catalogue import load_catalogue

    catalogue = load_catalogue()
    with serve_in_thread(SandboxConfig(cache_root=fhir_cache)) as sandbox:
        text = run("run", "messaging", "--target", sandbox.messaging_url, "-k", "apprec-returned",
                   "-f", "html", "-o", str(tmp_path / "rapport.html"), "-f", "text").stdout
    listed = text.split("Requirements verified by this run:")[1].strip().splitlines()
    assert listed
    for line in listed:
        _verdict, code, title = line.split(maxsplit=2)
        requirement = catalogue.requirement(code)
        assert title == requirement.title.en != requirement.title.nb, line
    assert 'lang="nb"' in (tmp_path / "rapport.html").read_text(encoding="utf-8")


def test_the_cli_runs_the_suite(run, fhir_cache: Path, tmp_path: Path) -> None:
    with serve_in_thread(SandboxConfig(cache_root=fhir_cache, faults=frozenset({"wrong-apprec-status"}))) as sandbox:
        outcome_ = run("run", "messaging", "--target", sandbox.messaging_url, "--lang", "en",
                       "-f", "json", "-o", str(tmp_path / "report.json"), "-f", "text")
    assert outcome_.exit_code == 1, outcome_.stdout + outcome_.stderr
    assert "messaging/broken-message-rejected" in outcome_.stdout
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    statuses = {r["test"]["id"]: r["test"]["status"] for r in report["results"]}
    assert statuses == {**dict.fromkeys(TESTS, "pass"), "messaging/broken-message-rejected": "fail"}
    unreachable = run("run", "messaging", "--target", f"http://127.0.0.1:{free_port()}/messaging", "--timeout", "2")
    assert unreachable.exit_code == 3, unreachable.stdout + unreachable.stderr
