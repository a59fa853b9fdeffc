"""The ``smart`` suite against the sandbox with ``smart=True`` (SMART App Launch on 127.0.0.1, real
HTTP): every test passes on the conformant sandbox; each ``smart-*`` fault fails exactly the test
that verifies that behaviour (and the requirement verdict follows); the other faults leave it
passing; the login is done by the authorization server's redirects or by a login command; a
server that wants a browser login without one skips with the reason; the PKCE and scope helpers
against RFC 7636's example and SMART's scope grammar."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from samsvar.conformance.catalogue import load_catalogue
from samsvar.conformance.judge import judge
from samsvar.conformance.runner import RunRequest, discover, run_suite
from samsvar.conformance.sandbox import FAULTS, RunningSandbox, SandboxConfig, serve_in_thread
from samsvar.conformance.sandbox.smart import OTHER_PATIENT, TEST_PATIENT
from samsvar.conformance.smart import covers, parse_scope, s256
from samsvar.conformance.suites.smart import SUITE

pytestmark = pytest.mark.timeout(180)

TESTS = tuple(test.id for test in SUITE.tests())
ISOLATION = ("smart/other-patient-read-refused", "smart/other-patient-search-refused",
             "smart/other-patient-compartment-refused")
SMART_FAULTS: dict[str | None, dict[str, str]] = {
    None: {},
    "smart-bad-discovery": {"smart/discovery": "fail"},
    "smart-no-pkce": {"smart/pkce-required": "fail"},
    "smart-ignore-verifier": {"smart/pkce-verifier-checked": "fail"},
    "smart-drop-state": {"smart/state-echoed": "fail"},
    "smart-open-redirect": {"smart/redirect-uri-checked": "fail"},
    "smart-code-reuse": {"smart/code-single-use": "fail"},
    "smart-bad-token-response": {"smart/token-response": "fail"},
    # without the patient in the token response, whose data the token reads is not known: the
    # isolation tests say so and skip
    "smart-no-patient-context": {"smart/patient-context": "fail", **dict.fromkeys(ISOLATION, "skip")},
    "smart-v2-scopes-ignored": {"smart/scopes-v2": "fail"},
    "smart-v1-scopes-ignored": {"smart/scopes-v1": "fail"},
    "smart-scope-unenforced": {"smart/scope-enforced": "fail"},
    "smart-leak-read": {"smart/other-patient-read-refused": "fail"},
    "smart-leak-search": {"smart/other-patient-search-refused": "fail"},
    "smart-leak-compartment": {"smart/other-patient-compartment-refused": "fail"},
    "smart-accept-expired": {"smart/expired-token-refused": "fail"},
    "smart-accept-forged": {"smart/forged-token-refused": "fail"},
    # faults of the HelseID token endpoint, the FHIR API's other behaviour and the message receiver
    **{name: {} for name in FAULTS if not name.startswith("smart-")},
}
"""Fault → every smart test that does not pass with it on, with its status (None: the conformant sandbox)."""
REQUIREMENTS = ("R-SEC-008", "R-SEC-009", "R-SEC-010", "R-SEC-011")


def inputs(sandbox: RunningSandbox, **changes: str | None) -> dict[str, str]:
    smart = sandbox.sandbox.smart
    assert smart is not None
    given = {"other-patient": OTHER_PATIENT, "other-resource": f"Observation/{OTHER_PATIENT}-pulse",
             "expired-token": smart.mint(TEST_PATIENT, {"launch/patient", "patient/*.rs"}, issuer=sandbox.base_url,
                                         audience=sandbox.fhir_url, lifetime=-120)}
    given.update(changes)
    return {k: v for k, v in given.items() if v is not None}


def not_passing(report) -> dict[str, str]:
    return {r.path: r.status for r in report.results if r.status != "pass"}


def explain(report) -> list[tuple[str, str, list[str]]]:
    return [(r.path, r.status, [i.message for i in r.issues][:3]) for r in report.results if r.status != "pass"]


def test_the_fault_table_covers_every_sandbox_fault() -> None:
    assert set(SMART_FAULTS) - {None} == set(FAULTS)
    assert all(set(expected) <= set(TESTS) for expected in SMART_FAULTS.values())
    failing = [test for expected in SMART_FAULTS.values() for test, status in expected.items() if status == "fail"]
    assert sorted(failing) == sorted(TESTS), "every test is failed by exactly one fault"


def test_the_suite_is_built_in_and_every_test_verifies_a_catalogued_requirement() -> None:
    assert discover()["smart"] is SUITE
    catalogue = load_catalogue()
    named = {test for rid in REQUIREMENTS for v in catalogue.requirement(rid).verification if v.kind == "test"
             for test in v.tests}
    assert named == set(TESTS)


@pytest.mark.parametrize("fault", list(SMART_FAULTS), ids=lambda f: f or "conformant")
def test_each_fault_fails_exactly_the_tests_that_verify_it(fault: str | None, fhir_cache: Path) -> None:
    config = SandboxConfig(cache_root=fhir_cache, smart=True, faults=frozenset({fault} if fault else ()))
    with serve_in_thread(config) as sandbox:
        report = run_suite(RunRequest("smart", sandbox.fhir_url, inputs=inputs(sandbox), seed=3, validate=False))
    assert not_passing(report) == SMART_FAULTS[fault], explain(report)
    if fault is None or fault.startswith("smart-"):
        verdicts = {v["id"]: v["verdict"] for v in judge(load_catalogue(), report, run="run") if v["id"] in REQUIREMENTS}
        failed = {t for t, status in SMART_FAULTS[fault].items() if status == "fail"}
        expected = {rid: ("fail" if failed & set(next(v.tests for v in load_catalogue().requirement(rid).verification
                                                       if v.kind == "test")) else "pass") for rid in REQUIREMENTS}
        assert verdicts == expected


@pytest.fixture(scope="module")
def smart_sandbox(fhir_cache: Path) -> Iterator[RunningSandbox]:
    with serve_in_thread(SandboxConfig(cache_root=fhir_cache, smart=True)) as sandbox:
        yield sandbox


def test_without_the_other_patient_the_isolation_tests_skip_and_say_how(smart_sandbox: RunningSandbox) -> None:
    report = run_suite(RunRequest("smart", smart_sandbox.fhir_url, keyword="isolation or refusals", validate=False,
                                  inputs=inputs(smart_sandbox, **{"other-patient": None, "expired-token": None})))
    outcome = {r.path: (r.status, " ".join(i.message for i in r.issues)) for r in report.results}
    for test in ISOLATION:
        assert outcome[test][0] == "skip" and "--input other-patient=" in outcome[test][1], outcome
    assert outcome["smart/expired-token-refused"][0] == "skip"
    assert "expired-token" in outcome["smart/expired-token-refused"][1]
    assert outcome["smart/forged-token-refused"][0] == "pass"


LOGIN_SCRIPT = """
import sys, requests
answer = requests.get(sys.argv[-1], allow_redirects=False, timeout=10)
print("logged in as the test user")
print(answer.headers.get("Location", ""))
"""


def test_a_login_command_does_the_browser_step(smart_sandbox: RunningSandbox, tmp_path: Path) -> None:
    """The login command gets the authorization URL and prints where the browser was sent back to."""
    script = tmp_path / "login.py"
    script.write_text(LOGIN_SCRIPT, encoding="utf-8")
    report = run_suite(RunRequest("smart", smart_sandbox.fhir_url, keyword="authorization or token", validate=False,
                                  inputs=inputs(smart_sandbox, **{"login-command": f"{sys.executable} {script}"})))
    assert not_passing(report) == {}, explain(report)
    assert len(report.results) == 12  # the authorization and token groups, and the two *-token-refused tests


def test_a_broken_login_command_fails_with_its_message(smart_sandbox: RunningSandbox, tmp_path: Path) -> None:
    script = tmp_path / "login.py"
    script.write_text("import sys\nsys.stderr.write('no browser here')\nsys.exit(4)\n", encoding="utf-8")
    report = run_suite(RunRequest("smart", smart_sandbox.fhir_url, keyword="state-echoed", validate=False,
                                  inputs=inputs(smart_sandbox, **{"login-command": f"{sys.executable} {script}"})))
    (result,) = report.results
    assert result.status == "fail"
    assert "exited with 4: no browser here" in result.issues[0].message


class _LoginPage(BaseHTTPRequestHandler):
    """A FHIR server whose authorization endpoint answers an HTML login form, as real ones do."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if self.path.startswith("/fhir/.well-known/smart-configuration"):
            status, kind, body = 200, "application/json", json.dumps({
                "authorization_endpoint": base + "/authorize", "token_endpoint": base + "/token",
                "grant_types_supported": ["authorization_code"], "capabilities": ["launch-standalone"],
                "code_challenge_methods_supported": ["S256"]})
        elif self.path.startswith("/authorize"):
            status, kind, body = 200, "text/html; charset=utf-8", "<form><input name=user></form>"
        elif self.path.startswith("/fhir/metadata"):
            status, kind, body = 200, "application/fhir+json", json.dumps({"resourceType": "CapabilityStatement"})
        else:
            status, kind, body = 404, "text/plain", "not here"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_a_login_page_without_a_login_command_skips_and_says_how() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LoginPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        target = f"http://127.0.0.1:{server.server_address[1]}/fhir"
        report = run_suite(RunRequest("smart", target, keyword="state-echoed or discovery", validate=False))
    finally:
        server.shutdown()
        server.server_close()
    outcome = {r.path: (r.status, " ".join(i.message for i in r.issues)) for r in report.results}
    assert outcome["smart/discovery"][0] == "pass", outcome
    assert outcome["smart/state-echoed"][0] == "skip" and "--input login-command=" in outcome["smart/state-echoed"][1]


def test_the_command_line_serves_a_smart_sandbox_and_runs_the_suite_against_it(run, fhir_cache: Path,
                                                                                tmp_path: Path) -> None:
    """``samsvar sandbox --smart`` in its own process, ``samsvar run smart`` against it: exit 0, the
    expired-token test skipped (no input), everything else passed; the JSON report says so."""
    env = dict(os.environ, SAMSVAR_FHIR_HOME=str(fhir_cache))
    command = [sys.executable, "-c", "from samsvar.cli import main; main()", "sandbox", "--port", "0", "--smart"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               cwd=tmp_path)
    try:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
        printed = [lines.get(timeout=60)]
        while not printed[-1].startswith("Ctrl-C"):
            printed.append(lines.get(timeout=10))
        base = printed[0].split(" at ", 1)[1].strip()
        assert f"{base}/fhir/.well-known/smart-configuration" in "".join(printed) and OTHER_PATIENT in "".join(printed)
        report = tmp_path / "smart.json"
        outcome = run("run", "smart", "--target", base + "/fhir", "--input", f"other-patient={OTHER_PATIENT}",
                      "--no-validate", "-f", "json", "-o", str(report), "-f", "text")
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert outcome.exit_code == 0, (outcome.stdout, outcome.stderr)
    statuses = {r["test"]["id"]: r["test"]["status"] for r in json.loads(report.read_text())["results"]}
    assert statuses.pop("smart/expired-token-refused") == "skip"
    assert set(statuses.values()) == {"pass"} and len(statuses) == len(TESTS) - 1


def test_broken_requests_to_the_sandboxs_smart_endpoints_are_answered_not_crashed(
        smart_sandbox: RunningSandbox) -> None:
    import requests

    base = smart_sandbox.base_url
    assert requests.get(base + "/smart/authorize", timeout=10, allow_redirects=False).status_code == 400
    assert requests.get(base + "/smart/authorize", params={"client_id": "samsvar-smart-app", "redirect_uri": "x"},
                        timeout=10, allow_redirects=False).status_code == 400
    for form in ({}, {"grant_type": "authorization_code"}, {"grant_type": "authorization_code", "code": "é" * 5000},
                 {"grant_type": "client_credentials"}):
        answer = requests.post(base + "/smart/token", data=form, timeout=10)
        assert answer.status_code == 400 and answer.json()["error"], (form, answer.text)
    assert requests.post(base + "/smart/token", json={"grant_type": "x"}, timeout=10).status_code == 400
    for header in ("Bearer", "Bearer not-a-jwt", "Basic abc", "Bearer " + "a." * 3000):
        answer = requests.get(smart_sandbox.fhir_url + "/Observation", headers={"Authorization": header}, timeout=10)
        assert answer.status_code == 401 and answer.json()["resourceType"] == "OperationOutcome", header


def test_a_non_ascii_code_verifier_is_invalid_grant(smart_sandbox: RunningSandbox) -> None:
    import requests

    from samsvar.conformance.sandbox.smart import CLIENT_ID, REDIRECT_URI
    from samsvar.conformance.smart import answer_params

    verifier = "ø" * 50
    location = requests.get(smart_sandbox.base_url + "/smart/authorize", allow_redirects=False, timeout=10, params={
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": "patient/*.rs",
        "aud": smart_sandbox.fhir_url, "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256"}).headers["Location"]
    answer = requests.post(smart_sandbox.base_url + "/smart/token", timeout=10, data={
        "grant_type": "authorization_code", "code": answer_params(location)["code"], "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID, "code_verifier": verifier})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


# -- the client library -------------------------------------------------------------------------
def test_s256_is_rfc_7636_appendix_b() -> None:
    assert s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize("scope, parsed", [
    ("patient/Observation.rs", ("patient", "Observation", "rs", "v2")),
    ("patient/*.cruds", ("patient", "*", "cruds", "v2")),
    ("user/Condition.read", ("user", "Condition", "rs", "v1")),
    ("patient/*.*", ("patient", "*", "cruds", "v1")),
    ("patient/Observation.write", ("patient", "Observation", "cud", "v1")),
    ("patient/Observation.sr", None),  # v2 letters out of order
    ("patient/Observation.rx", None),
    ("launch/patient", None),
    ("openid", None),
])
def test_scopes_in_v1_and_v2_syntax(scope: str, parsed: tuple[str, str, str, str] | None) -> None:
    found = parse_scope(scope)
    if parsed is None:
        assert found is None
    else:
        assert found is not None
        assert (found.context, found.resource_type, "".join(sorted(found.actions, key="cruds".index)),
                found.syntax) == parsed


def test_a_granted_scope_covers_what_was_asked() -> None:
    assert covers("launch/patient patient/*.rs", "patient/Observation.rs")
    assert covers("patient/Observation.read", "patient/Observation.rs")
    assert covers("patient/Observation.cruds", "patient/Observation.read")
    assert not covers("patient/Observation.r", "patient/Observation.rs")
    assert not covers("patient/Condition.rs", "patient/Observation.rs")
    assert not covers("user/*.rs", "patient/Observation.rs")
    assert not covers("patient/Observation.rs?category=laboratory", "patient/Observation.rs")
    assert covers("launch/patient", "launch/patient") and not covers("", "launch/patient")
