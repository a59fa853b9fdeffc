"""The ``security`` suite against the reference sandbox with its OAuth2 token endpoint (client
credentials, private_key_jwt), on 127.0.0.1 over HTTP and over TLS: every test passes on the
conformant sandbox; with the ``no-auth`` fault exactly the refusal tests fail; tests that need the
token endpoint skip with the reason without it; plain HTTP is judged by where the target is; an
unreachable target is an environment problem (exit code 3)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import random
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qsl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from samsvar.conformance.evidence import ClientSettings, EvidenceClient
from samsvar.conformance.runner import RunRequest, TestResult, resolve_inputs, run_suite, run_test
from samsvar.conformance.sandbox import FAULTS, RunningSandbox, SandboxConfig, serve_in_thread
from samsvar.conformance.sandbox.auth import TokenRequestError
from samsvar.conformance.suite import RunState
from samsvar.conformance.suites.security import SUITE
from samsvar.conformance.testdata import RunTag
from samsvar.validators.issues import EnvironmentProblem

from .live import free_port

pytestmark = pytest.mark.timeout(120)

CLIENT_ID = "samsvar-security-test"
REFUSALS = ("security/request-without-token-rejected", "security/forged-token-rejected",
            "security/expired-token-rejected", "security/wrong-audience-rejected", "security/missing-scope-rejected")
DPOP_REFUSALS = ("security/dpop-token-without-proof-rejected", "security/dpop-proof-for-other-request-rejected",
                 "security/dpop-replayed-proof-rejected", "security/dpop-proof-by-other-key-rejected",
                 "security/dpop-proof-for-other-token-rejected", "security/dpop-old-proof-rejected")
DPOP_TESTS = (*DPOP_REFUSALS, "security/dpop-nonce", "security/dpop-proof-accepted")
TESTS = (*REFUSALS, *DPOP_TESTS[:-1], "security/valid-token-accepted", "security/dpop-proof-accepted",
         "security/tls-only")
TOKEN_TESTS = ("security/wrong-audience-rejected", "security/missing-scope-rejected")

SECURITY_FAULTS: dict[str | None, dict[str, str]] = {
    None: {},
    # tokens neither required nor checked: every refusal test fails (DPoP's too, and no nonce is demanded),
    # the proper token still works
    "no-auth": {**dict.fromkeys((*REFUSALS, *DPOP_REFUSALS), "fail"), "security/dpop-nonce": "skip"},
    # each DPoP check left out fails the one test that verifies it
    "dpop-proof-optional": {"security/dpop-token-without-proof-rejected": "fail"},
    "dpop-request-unchecked": {"security/dpop-proof-for-other-request-rejected": "fail"},
    "dpop-replay": {"security/dpop-replayed-proof-rejected": "fail"},
    "dpop-key-unchecked": {"security/dpop-proof-by-other-key-rejected": "fail"},
    "dpop-ath-unchecked": {"security/dpop-proof-for-other-token-rejected": "fail"},
    "dpop-iat-unchecked": {"security/dpop-old-proof-rejected": "fail"},
    "dpop-nonce-unchecked": {"security/dpop-nonce": "fail"},
    # faults of the FHIR API and of the message receiver leave the token checks conformant
    "wrong-status": {}, "no-operationoutcome": {}, "accept-invalid": {}, "invalid-resource": {},
    "no-versioning": {}, "no-paging": {}, "no-apprec": {}, "wrong-apprec-status": {},
    # SMART faults act only in a sandbox with smart=True (the smart suite's, tests/test_suite_smart.py)
    **{name: {} for name in FAULTS if name.startswith("smart-")},
}
"""Fault → every security test that does not pass with it on (tls-only, on loopback HTTP, is always
skipped and left out here), with its status (None: the conformant sandbox, which demands DPoP nonces)."""


def not_passing(report) -> dict[str, str]:
    return {r.path: r.status for r in report.results if r.status != "pass" and r.path != "security/tls-only"}


def explain(report) -> list[tuple[str, str, list[str]]]:
    return [(r.path, r.status, [i.message for i in r.issues][:3]) for r in report.results if r.status != "pass"]


def result(report, test_id: str) -> TestResult:
    return next(r for r in report.results if r.path == test_id)


@pytest.fixture(scope="module")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(the client's private key file, its public key PEM), made for this module."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("client") / "client-key.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return path, public.decode()


def secured_config(fhir_cache: Path, client_key: tuple[Path, str], **changes) -> SandboxConfig:
    """A sandbox with the token endpoint that binds tokens to DPoP keys and demands DPoP nonces, as HelseID does."""
    return SandboxConfig(cache_root=fhir_cache, auth=True, clients={CLIENT_ID: client_key[1]},
                         **{"dpop_nonce": True, **changes})


def inputs(sandbox: RunningSandbox, client_key: tuple[Path, str], *, expired: bool = True) -> dict[str, str]:
    given = {"token-url": sandbox.token_url, "client-id": CLIENT_ID, "private-key": str(client_key[0])}
    if expired:
        tokens = sandbox.sandbox.tokens
        assert tokens is not None
        given["expired-token"] = tokens.mint(CLIENT_ID, ["fhir.read"], sandbox.config.audience, lifetime=-120)
    return given


@pytest.fixture(scope="module")
def secured(fhir_cache: Path, client_key: tuple[Path, str]) -> Iterator[RunningSandbox]:
    with serve_in_thread(secured_config(fhir_cache, client_key)) as sandbox:
        yield sandbox


def test_the_fault_table_covers_every_sandbox_fault() -> None:
    assert set(SECURITY_FAULTS) - {None} == set(FAULTS)
    assert all(set(expected) <= set(TESTS) for expected in SECURITY_FAULTS.values())


def test_the_conformant_sandbox_passes(secured: RunningSandbox, client_key: tuple[Path, str]) -> None:
    report = run_suite(RunRequest("security", secured.fhir_url, inputs=inputs(secured, client_key)))
    assert [r.path for r in report.results] == list(TESTS)
    assert not_passing(report) == {}, explain(report)
    tls = result(report, "security/tls-only")
    assert tls.status == "skip" and "loopback" in tls.issues[0].message and "https" in tls.issues[0].message
    # the evidence: the refusals as the API answered them, the token requests with secrets redacted
    without = result(report, "security/request-without-token-rejected").exchanges
    assert [(e.method, e.status) for e in without] == [("GET", 401)]
    assert "Authorization" not in without[0].request_headers
    assert without[0].response_headers["www-authenticate"].startswith("Bearer")
    scope = result(report, "security/missing-scope-rejected").exchanges
    # the client's proper token first (the client setup works), then one with only the limited scope
    assert [(e.url, e.status) for e in scope] == [(secured.token_url, 200), (secured.token_url, 200),
                                                  (f"{secured.fhir_url}/Patient?_count=1", 403)]
    assert "client_assertion=[redacted]" in scope[1].request_body and "scope=messaging" in scope[1].request_body
    assert '"access_token":"[redacted]"' in scope[1].response_body.replace(" ", "")
    assert scope[2].request_headers["Authorization"] == "Bearer [redacted]"
    forged = result(report, "security/forged-token-rejected")
    assert [e.status for e in forged.exchanges if e.url != secured.token_url] == [401, 401]
    assert "copied from the run's real token" in forged.notes[0]
    assert report.reproducibility.options["inputs"]["expired-token"] == "[secret]"
    # DPoP: the token request with a proof, once more with the nonce the token endpoint demands; then the API
    # demands one too, and the proof without a proof is refused with a DPoP challenge
    unbound = result(report, "security/dpop-token-without-proof-rejected").exchanges
    assert [(e.url, e.status) for e in unbound] == [(secured.token_url, 400), (secured.token_url, 200),
                                                    (f"{secured.fhir_url}/Patient?_count=1", 401),
                                                    (f"{secured.fhir_url}/Patient?_count=1", 401)]
    assert '"error": "use_dpop_nonce"' in unbound[0].response_body.replace('":"', '": "')
    assert "dpop-nonce" in {k.lower() for k in unbound[0].response_headers}
    assert unbound[1].request_headers["DPoP"].count(".") == 2
    assert '"token_type":"DPoP"' in unbound[1].response_body.replace(" ", "")
    assert unbound[2].request_headers["Authorization"] == "DPoP [redacted]" and "DPoP" not in unbound[2].request_headers
    assert unbound[2].response_headers["www-authenticate"].startswith("DPoP ")
    accepted = result(report, "security/dpop-proof-accepted")
    assert accepted.exchanges[-1].status == 200 and "DPoP" in accepted.exchanges[-1].request_headers
    nonce = result(report, "security/dpop-nonce").exchanges
    assert [e.status for e in nonce] == [401, 200, 401]
    assert 'error="use_dpop_nonce"' in nonce[0].response_headers["www-authenticate"]


@pytest.mark.parametrize("fault", [f for f in SECURITY_FAULTS if not (f or "").startswith("smart-")],
                         ids=lambda f: f or "conformant")
def test_each_fault_fails_exactly_the_tests_that_verify_it(fault: str | None, fhir_cache: Path,
                                                            client_key: tuple[Path, str]) -> None:
    faults = frozenset({fault} if fault else ())
    with serve_in_thread(secured_config(fhir_cache, client_key, faults=faults)) as sandbox:
        report = run_suite(RunRequest("security", sandbox.fhir_url, inputs=inputs(sandbox, client_key)))
    assert not_passing(report) == SECURITY_FAULTS[fault], explain(report)


def test_an_open_api_fails_every_refusal(fhir_cache: Path, client_key: tuple[Path, str]) -> None:
    """A sandbox without --auth has no token endpoint: only a static token can be given, and the
    API answers without one."""
    with serve_in_thread(SandboxConfig(cache_root=fhir_cache)) as sandbox:
        report = run_suite(RunRequest("security", sandbox.fhir_url, inputs={"token": "anything",
                                                                           "expired-token": expired_jwt()}))
    assert not_passing(report) == {
        "security/request-without-token-rejected": "fail", "security/forged-token-rejected": "fail",
        "security/expired-token-rejected": "fail",
        "security/wrong-audience-rejected": "skip", "security/missing-scope-rejected": "skip",
        **dict.fromkeys(DPOP_TESTS, "skip")}, explain(report)
    forged = result(report, "security/forged-token-rejected")
    assert "made up (no real token in this run)" in forged.notes[0]


def expired_jwt() -> str:
    import jwt

    key = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode({"sub": "x", "aud": "y", "exp": 1_000_000_000}, key, algorithm="ES256")


def test_without_the_token_endpoint_the_token_tests_skip_with_the_reason(secured: RunningSandbox) -> None:
    report = run_suite(RunRequest("security", secured.fhir_url))
    statuses = {r.path: r.status for r in report.results}
    assert statuses == {"security/request-without-token-rejected": "pass", "security/forged-token-rejected": "pass",
                        "security/expired-token-rejected": "skip", "security/wrong-audience-rejected": "skip",
                        "security/missing-scope-rejected": "skip", "security/valid-token-accepted": "skip",
                        "security/tls-only": "skip", **dict.fromkeys(DPOP_TESTS, "skip")}, explain(report)
    for test_id in TOKEN_TESTS:
        message = result(report, test_id).issues[0].message
        assert "--input token-url=…, --input client-id=…, --input private-key=…" in message, message
    assert "--input expired-token=" in result(report, "security/expired-token-rejected").issues[0].message
    for test_id in DPOP_TESTS:
        assert "needs a DPoP-bound token" in result(report, test_id).issues[0].message
    assert "--input token=" in result(report, "security/valid-token-accepted").issues[0].message


@contextmanager
def token_endpoint(answer) -> Iterator[str]:
    """A token endpoint on a real HTTP server on 127.0.0.1 whose answer to a POSTed form is
    ``answer(form, its own token URL, DPoP header)`` → (status, body, headers). Yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            form = dict(parse_qsl(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()))
            url = f"http://127.0.0.1:{self.server.server_address[1]}/token"
            status, body, headers = answer(form, url, self.headers.get("DPoP"))
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in {**headers, "Content-Type": "application/json", "Content-Length": str(len(data))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def audience_checking_token_endpoint(sandbox: RunningSandbox):
    """A token endpoint as HelseID behaves: it refuses a ``resource`` it does not know (400
    invalid_target) and otherwise issues the sandbox's own tokens (the client assertion and the
    DPoP proof are checked by the sandbox's token service)."""
    tokens = sandbox.sandbox.tokens
    assert tokens is not None

    def answer(form: dict[str, str], url: str, proof: str | None) -> tuple[int, dict, dict]:
        try:
            if form.get("resource", sandbox.config.audience) != sandbox.config.audience:
                raise TokenRequestError("invalid_target", f"unknown resource {form['resource']!r}")
            return 200, tokens.token_response(form, token_url=url, issuer=sandbox.base_url, dpop=proof), {}
        except TokenRequestError as exc:
            return exc.status, exc.body(), exc.headers

    return token_endpoint(answer)


def bearer_only_token_endpoint(sandbox: RunningSandbox):
    """The sandbox's token service behind a token endpoint that never passes the DPoP proof on."""
    tokens = sandbox.sandbox.tokens
    assert tokens is not None
    return token_endpoint(lambda form, url, _proof: (200, tokens.token_response(form, token_url=url,
                                                                                 issuer=sandbox.base_url), {}))


def test_a_token_endpoint_that_refuses_the_wrong_audience_passes_with_a_note(
        secured: RunningSandbox, client_key: tuple[Path, str]) -> None:
    with audience_checking_token_endpoint(secured) as token_url:
        given = {**inputs(secured, client_key), "token-url": token_url}
        report = run_suite(RunRequest("security", secured.fhir_url, inputs=given))
    assert not_passing(report) == {}, explain(report)
    wrong = result(report, "security/wrong-audience-rejected")
    assert "already prevents" in wrong.notes[0] and "not exercised" in wrong.notes[0]
    assert "invalid_target" not in wrong.notes[0] or "unknown resource" in wrong.notes[0]
    assert [e.status for e in wrong.exchanges] == [200, 400], "the proper token first, then the refusal"


def test_a_client_the_token_endpoint_does_not_know_skips_the_token_tests(
        secured: RunningSandbox, client_key: tuple[Path, str], tmp_path: Path) -> None:
    """A refusal of the client itself is not a refusal of the audience: skipped with the answer."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    given = {**inputs(secured, client_key, expired=False), "private-key": str(stranger)}
    report = run_suite(RunRequest("security", secured.fhir_url, inputs=given, keyword="wrong-audience or scope"))
    for test_id in TOKEN_TESTS:
        skipped = result(report, test_id)
        assert skipped.status == "skip", explain(report)
        assert "gives this client no token at all" in skipped.issues[0].message
        assert "HTTP 401" in skipped.issues[0].message


def test_a_token_that_has_not_expired_is_not_used_as_the_expired_one(secured: RunningSandbox) -> None:
    tokens = secured.sandbox.tokens
    assert tokens is not None
    fresh = tokens.mint(CLIENT_ID, ["fhir.read"], secured.config.audience)
    report = run_suite(RunRequest("security", secured.fhir_url, inputs={"expired-token": fresh}, keyword="expired"))
    skipped = result(report, "security/expired-token-rejected")
    assert skipped.status == "skip" and "has not expired" in skipped.issues[0].message and not skipped.exchanges


def test_an_api_that_demands_no_nonce_skips_the_nonce_test(fhir_cache: Path, client_key: tuple[Path, str]) -> None:
    with serve_in_thread(secured_config(fhir_cache, client_key, dpop_nonce=False)) as sandbox:
        report = run_suite(RunRequest("security", sandbox.fhir_url, inputs=inputs(sandbox, client_key), keyword="security/dpop"))
    assert {r.path: r.status for r in report.results} == {**dict.fromkeys(DPOP_TESTS, "pass"),
                                                          "security/dpop-nonce": "skip"}, explain(report)
    assert "does not demand DPoP nonces" in result(report, "security/dpop-nonce").issues[0].message
    token_requests = [e for e in result(report, "security/dpop-token-without-proof-rejected").exchanges
                      if e.url == sandbox.token_url]
    assert [e.status for e in token_requests] == [200], "no nonce round at the token endpoint either"


def test_an_api_that_takes_dpop_only(fhir_cache: Path, client_key: tuple[Path, str], tmp_path: Path) -> None:
    """HelseID's DPoP-only clients: the token endpoint refuses a request without a proof, so every token
    of the run is DPoP-bound and goes with a proof by the run's key (given as dpop-key, to which the
    expired token is bound too); every test passes, and each refusal is for what it tests."""
    from samsvar.conformance.dpop import DPoPKey

    key = DPoPKey()
    key_file = tmp_path / "dpop-key.pem"
    key_file.write_bytes(key.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    with serve_in_thread(secured_config(fhir_cache, client_key, dpop_required=True)) as sandbox:
        given = {**inputs(sandbox, client_key, expired=False), "dpop-key": str(key_file),
                 "expired-token": sandbox.sandbox.tokens.mint(CLIENT_ID, ["fhir.read"], sandbox.config.audience,
                                                              lifetime=-120, jkt=key.thumbprint)}
        report = run_suite(RunRequest("security", sandbox.fhir_url, inputs=given))
    assert not_passing(report) == {}, explain(report)
    without = result(report, "security/request-without-token-rejected").exchanges[0]
    assert without.response_headers["www-authenticate"].startswith("DPoP ")
    valid = result(report, "security/valid-token-accepted")
    assert "DPoP-bound tokens only" in valid.notes[0] and valid.exchanges[-1].request_headers["DPoP"]
    forged = result(report, "security/forged-token-rejected")
    assert all(e.request_headers.get("Authorization") == "DPoP [redacted]" for e in forged.exchanges
               if e.url.startswith(sandbox.fhir_url))
    assert "DPoP only" in " ".join(forged.notes)
    with serve_in_thread(secured_config(fhir_cache, client_key, dpop_required=True,
                                        faults=frozenset({"no-auth"}))) as sandbox:
        given["token-url"] = sandbox.token_url
        open_api = run_suite(RunRequest("security", sandbox.fhir_url, inputs=given, keyword="rejected and not security/dpop"))
    assert {r.path: r.status for r in open_api.results} == dict.fromkeys(REFUSALS, "fail"), explain(open_api)


def test_a_token_endpoint_without_dpop_skips_the_dpop_tests(secured: RunningSandbox,
                                                            client_key: tuple[Path, str]) -> None:
    """A token endpoint that answers a request with a proof with a bearer token binds nothing."""
    with bearer_only_token_endpoint(secured) as token_url:
        given = {**inputs(secured, client_key), "token-url": token_url}
        report = run_suite(RunRequest("security", secured.fhir_url, inputs=given, keyword="security/dpop"))
    assert {r.path: r.status for r in report.results} == dict.fromkeys(DPOP_TESTS, "skip"), explain(report)
    assert "with token_type 'Bearer': it does not issue DPoP-bound tokens" in report.results[0].issues[0].message


# -- TLS --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate chain, server key) for 127.0.0.1, made for this module."""
    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "samsvar test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
              .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "server.pem", folder / "server-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def test_over_tls_every_test_passes(fhir_cache: Path, client_key: tuple[Path, str],
                                    certificate: tuple[Path, Path, Path]) -> None:
    ca, cert, key = certificate
    with serve_in_thread(secured_config(fhir_cache, client_key, tls_cert=cert, tls_key=key)) as sandbox:
        assert sandbox.fhir_url.startswith("https://")
        given = {**inputs(sandbox, client_key), "plain-http-port": str(free_port())}
        report = run_suite(RunRequest("security", sandbox.fhir_url, inputs=given,
                                      settings=ClientSettings(timeout=10, verify=str(ca))))
    assert {r.path: r.status for r in report.results} == dict.fromkeys(TESTS, "pass"), explain(report)
    tls = result(report, "security/tls-only")
    assert "the target is https" in tls.notes[0] and "nothing answers plain HTTP" in tls.notes[1]


def test_patient_data_on_plain_http_beside_tls_fails(fhir_cache: Path, client_key: tuple[Path, str],
                                                     certificate: tuple[Path, Path, Path]) -> None:
    ca, cert, key = certificate
    with serve_in_thread(secured_config(fhir_cache, client_key, tls_cert=cert, tls_key=key)) as sandbox, \
            serve_in_thread(SandboxConfig(cache_root=fhir_cache)) as plain:
        report = run_suite(RunRequest("security", sandbox.fhir_url, keyword="tls-only",
                                      inputs={"plain-http-port": str(plain.port)},
                                      settings=ClientSettings(timeout=10, verify=str(ca))))
    tls = result(report, "security/tls-only")
    assert tls.status == "fail", explain(report)
    assert "answers patient data over plain HTTP" in tls.issues[0].message and "Bundle" in tls.issues[0].message
    assert tls.exchanges[-1].url.startswith(f"http://127.0.0.1:{plain.port}/fhir/Patient")
    assert "Authorization" not in tls.exchanges[-1].request_headers, "never a token over plain HTTP"


def test_plain_http_on_another_host_fails_without_a_request() -> None:
    """The verdict for an http target off this machine needs no request (and this host is not reachable)."""
    target = "http://fhir.samsvar.invalid/fhir"
    test = next(t for t in SUITE.tests() if t.id == "security/tls-only")
    client = EvidenceClient(target, ClientSettings(timeout=2))
    state = RunState(target=target, inputs=resolve_inputs(SUITE, {}), http=client, tag=RunTag.new(),
                     rng=random.Random(1))
    outcome = run_test(test, state)
    client.close()
    assert outcome.status == "fail" and not outcome.exchanges
    assert outcome.issues[0].message.startswith("patient data over plain HTTP")


# -- unreachable, and the CLI -----------------------------------------------------------------
def test_an_unreachable_target_is_an_environment_problem() -> None:
    with pytest.raises(EnvironmentProblem, match="cannot be reached"):
        run_suite(RunRequest("security", f"http://127.0.0.1:{free_port()}/fhir", settings=ClientSettings(timeout=2)))


def test_the_cli_runs_the_suite(run, fhir_cache: Path, client_key: tuple[Path, str], tmp_path: Path) -> None:
    with serve_in_thread(secured_config(fhir_cache, client_key, faults=frozenset({"no-auth"}))) as sandbox:
        given = inputs(sandbox, client_key)
        preset = tmp_path / "helseid.toml"
        preset.write_text(f'target = "{sandbox.fhir_url}"\n[inputs]\n'
                          + "".join(f'{name} = "{value}"\n' for name, value in given.items()), encoding="utf-8")
        outcome = run("run", "security", "--preset", str(preset), "--lang", "en", "-f", "json",
                      "-o", str(tmp_path / "report.json"), "-f", "text")
    assert outcome.exit_code == 1, outcome.stdout + outcome.stderr
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    statuses = {r["test"]["id"]: r["test"]["status"] for r in report["results"]}
    assert statuses == {**dict.fromkeys((*REFUSALS, *DPOP_REFUSALS), "fail"), "security/valid-token-accepted": "pass",
                        "security/dpop-nonce": "skip", "security/dpop-proof-accepted": "pass",
                        "security/tls-only": "skip"}
    assert given["expired-token"] not in (tmp_path / "report.json").read_text(encoding="utf-8"), "a secret input leaked"
    assert "FAIL" in outcome.stdout and "R-SEC-001" in outcome.stdout + outcome.stderr
