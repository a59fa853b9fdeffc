"""The live runner: selection, inputs, the evidence client, discovery, exit codes, and a real
run of ``fhir-api`` against SEKMET, a third-party FHIR server."""

from __future__ import annotations

import http.server
import json
import textwrap
import threading
from pathlib import Path
from typing import Iterator

import pytest
import requests
from junitparser import JUnitXml

from samsvar.conformance.evidence import ClientSettings, EvidenceClient, TargetUnreachable, redact_body, redact_headers
from samsvar.conformance.runner import (
    RunRequest, SuiteError, discover, keyword_filter, load_preset, parse_inputs, resolve_inputs, run_suite,
)
from samsvar.conformance.suite import LiveTest, Suite, SuiteInput
from samsvar.conformance.testdata import TAG_SYSTEM, synthetic_fnr
from samsvar.validators.identifiers.norwegian import classify_person_number

from .live import free_port, sekmet


def _test(test_id: str, title: str = "", group: str = "g") -> LiveTest:
    return LiveTest(test_id, title, (), lambda t: None, group)


# -- selection and inputs ---------------------------------------------------------------------
@pytest.mark.parametrize("expression, selected", [
    ("create", {"s/create", "s/read"}),
    ("create and not read", {"s/create"}),
    ("delete or paging", {"s/delete", "s/paging"}),
    ("not (create or delete)", {"s/paging"}),
    ("CRUD", {"s/create", "s/read", "s/delete"}),
    ("", {"s/create", "s/read", "s/delete", "s/paging"}),
])
def test_keyword_expressions_select_like_pytest(expression: str, selected: set[str]) -> None:
    tests = [_test("s/create", "Create", "crud"), _test("s/read", "Read what was created", "crud"),
             _test("s/delete", "Delete", "crud"), _test("s/paging", "Pages", "search")]
    chosen = keyword_filter(expression)
    assert {t.id for t in tests if chosen(t)} == selected


@pytest.mark.parametrize("expression", ["create and", "(create", "or read", "create )"])
def test_a_broken_keyword_expression_is_a_usage_error(expression: str) -> None:
    with pytest.raises(SuiteError, match="-k"):
        keyword_filter(expression)


def test_presets_in_toml_and_json_and_inputs_that_win(tmp_path: Path) -> None:
    toml = tmp_path / "preset.toml"
    toml.write_text('target = "https://fhir.example.no/fhir"\n[inputs]\npage-size = 5\n', encoding="utf-8")
    assert load_preset(toml) == {"target": "https://fhir.example.no/fhir", "inputs": {"page-size": "5"}}
    flat = tmp_path / "preset.json"
    flat.write_text(json.dumps({"target": "http://x/fhir", "page-size": "3"}), encoding="utf-8")
    assert load_preset(flat)["inputs"] == {"page-size": "3"}
    suite = Suite("s", "S", inputs=(SuiteInput("page-size", "", default="2"), SuiteInput("token", "", secret=True)))
    assert resolve_inputs(suite, {}) == {"page-size": "2"}
    assert resolve_inputs(suite, parse_inputs(["page-size=7"])) == {"page-size": "7"}
    with pytest.raises(SuiteError, match="has no input 'pagesize'"):
        resolve_inputs(suite, {"pagesize": "7"})
    with pytest.raises(SuiteError, match="NAME=VALUE"):
        parse_inputs(["page-size"])
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(SuiteError, match="cannot be read"):
        load_preset(broken)


def test_synthetic_fodselsnummer_are_valid_and_synthetic() -> None:
    import random

    rng = random.Random(7)
    for _ in range(200):
        number = synthetic_fnr(rng)
        person, problems = classify_person_number(number)
        assert not problems, (number, problems)
        assert 81 <= int(number[2:4]) <= 92


# -- evidence ---------------------------------------------------------------------------------
def test_secrets_are_redacted_in_headers_and_bodies() -> None:
    headers = redact_headers({"Authorization": "Bearer eyJabc.def.ghi", "Cookie": "s=1", "Accept": "application/json"})
    assert headers == {"Authorization": "Bearer [redacted]", "Cookie": "[redacted]", "Accept": "application/json"}
    form = redact_body("grant_type=client_credentials&client_assertion=eyJ.x.y&scope=fhir.read")
    assert form == "grant_type=client_credentials&client_assertion=[redacted]&scope=fhir.read"
    token = redact_body('{"access_token": "eyJ.a.b", "expires_in": 300}')
    assert token == '{"access_token": "[redacted]", "expires_in": 300}'


class _Flaky(http.server.BaseHTTPRequestHandler):
    """503 on the first request of each method to /flaky, 200 after; records what it saw."""

    seen: list[tuple[str, str, str | None]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        type(self).seen.append((self.command, self.path, self.headers.get("Authorization")))
        first = sum(1 for method, path, _ in self.seen if method == self.command and path == self.path) == 1
        status = 503 if self.path == "/flaky" and first else 200
        body = json.dumps({"resourceType": "OperationOutcome", "issue": []} if status == 503 else {"ok": True}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def flaky_server() -> Iterator[str]:
    _Flaky.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_only_idempotent_requests_are_retried_and_every_exchange_is_kept(flaky_server: str) -> None:
    client = EvidenceClient(flaky_server, ClientSettings(timeout=5), token=lambda: "secret-token")
    assert client.get("flaky").status_code == 200  # retried after the 503
    assert client.post("flaky", data="x=1").status_code == 503  # never retried: it might have been done
    assert [(m, p) for m, p, _ in _Flaky.seen] == [("GET", "/flaky"), ("GET", "/flaky"), ("POST", "/flaky")]
    assert _Flaky.seen[0][2] == "Bearer secret-token"
    first, second = client.exchanges
    assert (first.method, first.status, second.method, second.status) == ("GET", 200, "POST", 503)
    assert first.request_headers["Authorization"] == "Bearer [redacted]"
    assert second.request_body == "x=1" and json.loads(second.response_body)["resourceType"] == "OperationOutcome"
    assert first.elapsed_ms is not None and first.summary.startswith("#1 GET ")


def test_no_listener_is_target_unreachable() -> None:
    client = EvidenceClient(f"http://127.0.0.1:{free_port()}/", ClientSettings(timeout=2, retries=0))
    with pytest.raises(TargetUnreachable, match="connection refused"):
        client.get("metadata")
    assert client.exchanges[0].status is None and "refused" in client.exchanges[0].error


# -- the command line ---------------------------------------------------------------------------
def test_an_unreachable_target_is_exit_3_before_any_test(run) -> None:
    outcome = run("run", "fhir-api", "--target", f"http://127.0.0.1:{free_port()}/fhir", "--timeout", "2")
    assert outcome.exit_code == 3, outcome.stderr
    assert "cannot be reached" in outcome.stderr and "connection refused" in outcome.stderr


@pytest.mark.parametrize("args, message", [
    (("run", "no-such-suite", "--target", "http://127.0.0.1:1/"), "no suite 'no-such-suite'"),
    (("run", "fhir-api", "--target", "http://127.0.0.1:1/", "--input", "colour=blue"), "has no input 'colour'"),
    (("run", "fhir-api"), "--target"),
])
def test_usage_errors_are_exit_2(run, args: tuple[str, ...], message: str) -> None:
    outcome = run(*args)
    assert outcome.exit_code == 2, (outcome.stdout, outcome.stderr)
    assert message in outcome.stderr


def test_a_k_that_selects_no_test_is_exit_5_not_a_pass(run) -> None:
    outcome = run("run", "fhir-api", "--target", "http://127.0.0.1:1/", "-k", "nothing-matches-this")
    assert outcome.exit_code == 5, (outcome.stdout, outcome.stderr)
    assert "selects no test" in outcome.stderr and "--allow-empty" in outcome.stderr
    allowed = run("run", "fhir-api", "--target", "http://127.0.0.1:1/", "-k", "nothing-matches-this",
                  "--allow-empty")
    assert allowed.exit_code == 0, (allowed.stdout, allowed.stderr)
    assert "selects no test" in allowed.stdout


def test_suites_list_names_every_test_and_requirement(run) -> None:
    outcome = run("suites", "list", "--tests")
    assert outcome.exit_code == 0
    assert "fhir-api/update-versioning" in outcome.stdout and "R-STD-012" in outcome.stdout


def test_a_third_party_suite_is_found_through_its_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "thirdparty_suite.py").write_text(textwrap.dedent('''
        from samsvar.conformance.suite import Suite

        SUITE = Suite("thirdparty", "A suite from another package", probe=None)
        group = SUITE.group("g", "Group")

        @group.test("always", "Passes without asking the target anything")
        def always(t):
            t.note("nothing to ask")

        @group.test("never", "Fails on purpose")
        def never(t):
            t.check(1 + 1 == 3, "arithmetic is not on our side")
    '''), encoding="utf-8")
    info = tmp_path / "samsvar_thirdparty-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: samsvar-thirdparty\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[samsvar.suites]\nthirdparty = thirdparty_suite:SUITE\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    suites = discover()
    assert "thirdparty" in suites and "fhir-api" in suites
    report = run_suite(RunRequest("thirdparty", "http://127.0.0.1:1/", validate=False), suites=suites)
    assert [(r.path, r.status) for r in report.results] == [("thirdparty/always", "pass"), ("thirdparty/never", "fail")]
    assert report.results[1].issues[0].rule == "LIVE-001"


# -- against SEKMET -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sekmet_server(tmp_path_factory: pytest.TempPathFactory):
    with sekmet(tmp_path_factory.mktemp("sekmet")) as server:
        yield server


SEKMET_FINDINGS = {"fhir-api/errors-as-operationoutcome"}
"""What SEKMET 0.1.1 does not do by FHIR's rules: it stores a Patient with gender 'banana' (201)."""


def test_fhir_api_against_sekmet_judges_and_writes_every_report(run, sekmet_server, tmp_path: Path) -> None:
    outcome = run("run", "fhir-api", "--target", sekmet_server.fhir_url, "--seed", "11", "--lang", "en",
                  "-f", "json", "-o", "run.json", "-f", "junit", "-o", "junit.xml", "-f", "html", "-o", "report.html",
                  "-f", "testreport", "-o", "testreport.json", "-f", "text",
                  "--input", "token=not-a-real-token")
    assert outcome.exit_code == 1, outcome.stdout + outcome.stderr
    report = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    statuses = {r["test"]["id"]: r["test"]["status"] for r in report["results"]}
    assert len(statuses) == 13
    assert {test for test, status in statuses.items() if status != "pass"} == SEKMET_FINDINGS
    verdicts = {v["id"]: v["verdict"] for v in report["requirements"]}
    assert verdicts == {"R-STD-012": "fail", "R-IDENT-006": "pass"}
    assert "FAIL  fhir-api/errors-as-operationoutcome" in outcome.stdout
    assert "FAIL       R-STD-012" in outcome.stdout

    exchanges = [e for r in report["results"] for e in r["evidence"]["exchanges"]]
    assert exchanges and all(e["request"]["headers"].get("Authorization") == "Bearer [redacted]" for e in exchanges)
    assert "not-a-real-token" not in (tmp_path / "run.json").read_text(encoding="utf-8")
    assert report["reproducibility"]["options"]["inputs"]["token"] == "[secret]"

    junit = JUnitXml.fromfile(str(tmp_path / "junit.xml"))
    assert (junit.tests, junit.failures, junit.errors) == (13, 1, 0)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "fhir-api/errors-as-operationoutcome" in html and "found 201" in html and "Exchanges" in html

    # the TestReport is valid R4 for samsvar's own engine
    checked = run("validate", "testreport.json", "--select", "FHIR", "--ignore", "FHIR-INV-003")
    assert checked.exit_code == 0, checked.stdout

    # clean-up: nothing tagged with this run's tag is left on the server
    tag = report["reproducibility"]["options"]["tag"]
    for resource_type in ("Patient", "Practitioner", "Organization"):
        left = requests.get(f"{sekmet_server.fhir_url}/{resource_type}", params={"_tag": f"{TAG_SYSTEM}|{tag}"},
                            timeout=10).json()
        assert not left.get("entry"), (resource_type, left.get("total"))


def test_keyword_selection_against_sekmet_runs_only_those_tests(run, sekmet_server) -> None:
    outcome = run("run", "fhir-api", "--target", sekmet_server.fhir_url, "-k", "capability or unknown",
                  "--no-validate", "-f", "json")
    assert outcome.exit_code == 0, outcome.stderr
    report = json.loads(outcome.stdout)
    assert [r["test"]["id"] for r in report["results"]] == ["fhir-api/capability-statement", "fhir-api/unknown-id-404"]


def test_each_outcome_of_a_live_test_has_its_rule(flaky_server: str) -> None:
    """pass (no issue), fail (LIVE-001), target gone (LIVE-002), skipped (LIVE-003), broke (LIVE-004)."""
    suite = Suite("outcomes", "Every outcome", inputs=(SuiteInput("needed", "an input nobody gives"),), probe="")
    group = suite.group("g", "Group")
    gone = f"http://127.0.0.1:{free_port()}/"

    @group.test("passes", "Asks and gets 200")
    def passes(t) -> None:
        t.require_status(t.http.get("ok"), 200)

    @group.test("fails", "Wants 201 where 200 comes")
    def fails(t) -> None:
        t.require_status(t.http.get("ok"), 201, what="GET ok")

    @group.test("unanswered", "Asks a port nobody listens on")
    def unanswered(t) -> None:
        t.http.get(gone)

    @group.test("skipped", "Needs an input", needs=("needed",))
    def skipped(t) -> None:
        raise AssertionError("not reached")

    @group.test("broken", "Reads JSON that is not there")
    def broken(t) -> None:
        json.loads("not json")

    report = run_suite(RunRequest("outcomes", flaky_server, validate=False,
                                  settings=ClientSettings(timeout=2, retries=0)), suites={"outcomes": suite})
    outcomes = {r.path.split("/")[1]: (r.status, [i.rule for i in r.issues]) for r in report.results}
    assert outcomes == {
        "passes": ("pass", []),
        "fails": ("fail", ["LIVE-001"]),
        "unanswered": ("error", ["LIVE-002"]),
        "skipped": ("skip", ["LIVE-003"]),
        "broken": ("error", ["LIVE-004"]),
    }
    failed = report.results[1].issues[0]
    assert failed.message == "GET ok: expected HTTP 201, found 200" and failed.expression.startswith("GET http://127.0.0.1")
    assert "--input needed=VALUE" in report.results[3].issues[0].message
    assert not report.passed


def test_the_catalogue_and_the_suites_agree() -> None:
    """Every test the catalogue calls available exists, verifies that requirement, and every suite
    test names requirements that list it."""
    from samsvar.conformance.catalogue import load_catalogue

    catalogue = load_catalogue()
    declared = {test.id: test for suite in discover().values() for test in suite.tests()}
    for requirement in catalogue.requirements:
        for verification in requirement.test_verifications:
            if verification.status != "available":
                assert not set(verification.tests) & set(declared), (requirement.id, "planned but built")
                continue
            for test_id in verification.tests:
                assert test_id in declared, (requirement.id, test_id)
                assert requirement.id in declared[test_id].verifies, (requirement.id, test_id)
    for test in declared.values():
        for requirement_id in test.verifies:
            listed = {t for v in catalogue.requirement(requirement_id).test_verifications for t in v.tests}
            assert test.id in listed, (test.id, requirement_id)
