"""``security``: a protected FHIR API over TLS with HelseID-style access tokens (requirement R-SEC-001).

What it does to the target: reads one protected path (``protected-path``, by default
``Patient?_count=1``) without a token, with a forged token, with an expired one, with real tokens
for another audience and with too little scope (each must be refused: 401, or 403 for audience and
scope), and with the proper token (must be answered, so that the refusals are not just a broken
API). Real tokens come from the OAuth2 token endpoint given as input (client credentials with a
``private_key_jwt`` client assertion, the audience asked for with ``resource`` as HelseID does);
every token request is evidence too, with the assertion and the token redacted. Nothing is
created on the target. samsvar never sends a token over plain HTTP.

The ``dpop`` group (requirement R-SEC-007) asks the token endpoint for a DPoP-bound token (RFC
9449, as HelseID issues them to new clients: a proof made with a key samsvar generates for the
run) and checks that the API takes it only with a proof for the request, made by the bound key,
fresh, used once, with the token's hash, and with the server's nonce when it demands one.
"""

from __future__ import annotations

import ipaddress
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from ..auth import AUTH_INPUTS, ClientCredentials, TokenError, credentials
from ..dpop import NONCE_HEADER, USE_NONCE, DPoPKey, challenge_error, challenge_schemes
from ..evidence import TargetUnreachable
from ..suite import Suite, SuiteInput, TestContext

ACCEPT = {"Accept": "application/fhir+json, application/json;q=0.9"}
TOKEN_FLOW = ("token-url", "client-id", "private-key")
NOT_PATIENT_DATA = ("OperationOutcome", "CapabilityStatement")

SUITE = Suite(
    "security",
    "Protected API: TLS and access tokens",
    description="Requests without a token, with forged, expired, wrong-audience and too-little-scope tokens are "
                "refused (401/403); the proper token is accepted; DPoP-bound tokens only with a proper proof; "
                "patient data only over TLS.",
    inputs=(
        *AUTH_INPUTS,
        SuiteInput("protected-path", "A GET under the target that answers patient data with a valid token.",
                   default="Patient?_count=1"),
        SuiteInput("wrong-audience", "An audience that is not the API's, asked for with 'resource'.",
                   default="samsvar-wrong-audience"),
        SuiteInput("limited-scope", "A scope the client may get that does not grant reading patient data.",
                   default="messaging"),
        SuiteInput("expired-token", "An access token for the API that has expired (from its authorisation server).",
                   secret=True),
        SuiteInput("dpop-key", "Path to the client's DPoP private key (PEM, EC P-256 or RSA); by default samsvar "
                               "makes one for the run. Needed to send an expired DPoP-bound token (expired-token)."),
        SuiteInput("plain-http-port", "Port where tls-only looks for the API over plain HTTP (https targets).",
                   default="80"),
    ),
    probe="metadata",
)

refusals = SUITE.group("refusals", "Requests without a valid token are refused")
dpop = SUITE.group("dpop", "DPoP-bound tokens only with a proof for the request, by the bound key (RFC 9449)")
acceptance = SUITE.group("acceptance", "The proper token is accepted")
transport = SUITE.group("transport", "Patient data only over TLS")


# -- helpers ----------------------------------------------------------------------------------
def read(t: TestContext, authorization: str | None) -> requests.Response:
    """GET the protected path with exactly this Authorization header (None: none at all)."""
    headers = dict(ACCEPT)
    if authorization is not None:
        headers["Authorization"] = authorization
    return t.http.get(t.input("protected-path"), headers=headers, auth=False)


def client(t: TestContext, needs: str) -> ClientCredentials:
    """The client-credentials flow of the inputs; the test is skipped, saying which inputs to give,
    without them."""
    missing = [name for name in TOKEN_FLOW if not t.optional(name)]
    if missing:
        t.skip(f"needs {needs}: give --input {', --input '.join(m + '=…' for m in missing)}")
    found = credentials(t.run.inputs, t.http)
    assert found is not None
    return found


def flow(t: TestContext) -> ClientCredentials:
    """The client-credentials flow of the inputs, once it has given the client its proper token
    (so that a refusal afterwards is about what the test asks for, not a broken client setup): a
    bearer token, or, when the endpoint gives this client none, a DPoP-bound one (HelseID's
    DPoP-only clients). The test is skipped, saying what to give or what the endpoint answered,
    otherwise."""
    found = client(t, "real tokens from the API's token endpoint (OAuth2 client credentials with private_key_jwt)")
    try:
        token_for(t, found)
        t.shared.setdefault("token-mode", "bearer")
    except TokenError as exc:
        try:
            _token, kind = found.issue(dpop=run_key(t))
        except TokenError:
            kind = ""
        if kind.lower() != "dpop":
            t.skip(f"the token endpoint gives this client no token at all ({exc}); check token-url, client-id, "
                   "private-key, key-id, scope and audience")
        t.shared["token-mode"] = "dpop"
    if t.shared["token-mode"] == "dpop":
        t.note("the token endpoint gives this client DPoP-bound tokens only (no bearer token without a DPoP proof): "
               "every token of this test goes with a proof by the run's key")
    return found


def proper_token(t: TestContext) -> str:
    """The run's token (the ``token`` input, or one from the token endpoint); skipped without one."""
    source = t.http.token
    if source is None:
        t.skip("no token to send: give --input token=… (a bearer token for the API) or --input token-url, "
               "client-id and private-key (client credentials)")
    try:
        token = source()
    except TokenError as exc:
        t.skip(f"the token endpoint gave no token for the run's own client ({exc}); check token-url, client-id, "
               "private-key, scope and audience")
    if not token:
        t.skip("the token source gave an empty token")
    return token


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(header, claims) of a JWT, read without checking anything; None when it is not a JWT."""
    import jwt

    try:
        return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None


def expired_token_input(t: TestContext, what: str) -> tuple[str, dict[str, Any] | None]:
    """The ``expired-token`` input and its claims (None when it is not a JWT): the test is skipped
    without the input (samsvar cannot make a token the server would otherwise take, ``what`` says
    which), or when its ``exp`` is still to come; the expiry goes into the evidence."""
    token = t.optional("expired-token")
    if token is None:
        t.skip(f"no input 'expired-token': give {what} that has expired with --input expired-token=… "
               "(samsvar cannot make one the server would otherwise accept)")
    parsed = unverified(token)
    if parsed is None or not isinstance(parsed[1].get("exp"), (int, float)):
        t.note("the expired-token input is not a JWT with exp; sent as given")
        return token, parsed[1] if parsed is not None else None
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(parsed[1]["exp"]))
    if parsed[1]["exp"] > time.time():
        t.skip(f"the expired-token input has not expired: exp is {expires}")
    t.note(f"the token expired at {expires}")
    return token, parsed[1]


def token_refused(t: TestContext) -> int | None:
    """The HTTP status of the token endpoint's last answer (the request that just failed)."""
    exchange = t.last_exchange()
    return exchange.status if exchange is not None else None


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def fhir_resource(response: requests.Response) -> str | None:
    """The resourceType of a JSON body, or None."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return str(body.get("resourceType")) if isinstance(body, dict) and body.get("resourceType") else None


# -- DPoP helpers ------------------------------------------------------------------------------
@dataclass
class Bound:
    """A DPoP-bound token of the run and the key it is bound to."""

    token: str
    key: DPoPKey


def bound_token(t: TestContext) -> Bound:
    """The run's DPoP-bound token (a proof with the token request, RFC 9449 section 5). Skipped,
    saying why, without the token-flow inputs or when the token endpoint binds no token."""
    if "dpop-bound" in t.shared:
        return t.shared["dpop-bound"]
    found = client(t, "a DPoP-bound token from the API's token endpoint (client credentials with private_key_jwt "
                      "and a DPoP proof)")
    key = run_key(t)
    try:
        token, token_type = found.issue(dpop=key)
    except TokenError as exc:
        t.skip(f"the token endpoint gives no token to a request with a DPoP proof ({exc})")
    if token_type.lower() != "dpop":
        t.skip(f"the token endpoint answered a token request with a DPoP proof with token_type {token_type!r}: it "
               "does not issue DPoP-bound tokens (RFC 9449), so the API's DPoP checks cannot be tested")
    t.shared["dpop-bound"] = Bound(token, key)
    return t.shared["dpop-bound"]


def protected_url(t: TestContext) -> str:
    return t.http.url(t.input("protected-path"))


def send(t: TestContext, token: str, proof: str | None, scheme: str = "DPoP") -> requests.Response:
    """GET the protected path with ``Authorization: SCHEME token`` and this DPoP header (None: none)."""
    headers = {**ACCEPT, "Authorization": f"{scheme} {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    response = t.http.get(t.input("protected-path"), headers=headers, auth=False)
    if response.headers.get(NONCE_HEADER):
        t.shared["dpop-nonce"] = response.headers[NONCE_HEADER]
    return response


def demands_nonce(response: requests.Response) -> bool:
    return response.status_code == 401 and challenge_error(response.headers.get("WWW-Authenticate", "")) == USE_NONCE


def with_proof(t: TestContext, bound: Bound, make: Any) -> tuple[requests.Response, str]:
    """Send the bound token with the proof ``make(nonce)``; when the API answers ``use_dpop_nonce``
    with a new ``DPoP-Nonce``, once more with a proof that carries it (as a client must), so a
    refusal afterwards is about what the test got wrong on purpose, not about the nonce."""
    nonce = t.shared.get("dpop-nonce")
    proof = make(nonce)
    response = send(t, bound.token, proof)
    fresh = response.headers.get(NONCE_HEADER)
    if demands_nonce(response) and fresh and fresh != nonce:
        t.note("the API demanded a DPoP nonce; sent again with the nonce it gave")
        proof = make(fresh)
        response = send(t, bound.token, proof)
    return response, proof


def proper(bound: Bound, url: str, **changes: Any) -> Any:
    """A proof maker for a GET of ``url`` by the bound key, with ``changes`` to the proof."""
    key = changes.pop("key", bound.key)
    method = changes.pop("method", "GET")
    changes.setdefault("access_token", bound.token)
    return lambda nonce: key.proof(method, url, nonce=nonce, **changes)


def run_key(t: TestContext) -> DPoPKey:
    """The run's DPoP key: the ``dpop-key`` input, or one samsvar makes for the run."""
    if "dpop-key" not in t.shared:
        path = t.optional("dpop-key")
        try:
            t.shared["dpop-key"] = DPoPKey.from_pem(Path(path).read_bytes()) if path else DPoPKey()
        except (OSError, ValueError) as exc:
            t.skip(f"the dpop-key input {path} cannot be used: {exc}")
    return t.shared["dpop-key"]


def takes_dpop_only(t: TestContext) -> bool:
    """Does the API challenge with DPoP and not Bearer (an API for DPoP-bound tokens only)? Asked
    once per run, without a token."""
    if "dpop-only" not in t.shared:
        remember_challenge(t, read(t, None))
    note = "the API challenges with DPoP only: tokens go with the DPoP scheme and a proper proof by the run's key"
    if t.shared["dpop-only"] and note not in t.notes:
        t.note(note)
    return t.shared["dpop-only"]


def remember_challenge(t: TestContext, response: requests.Response) -> set[str]:
    """The schemes of the API's answer to a request without a token (kept for :func:`takes_dpop_only`)."""
    schemes = {s.lower() for s in challenge_schemes(response.headers.get("WWW-Authenticate", ""))}
    t.shared["dpop-only"] = response.status_code == 401 and "dpop" in schemes and "bearer" not in schemes
    return schemes


def present(t: TestContext, token: str, *, bound: bool) -> requests.Response:
    """GET the protected path with ``token``: as a bearer token, or, when it is bound (or the API
    takes DPoP only), with the DPoP scheme and a proper proof by the run's key, so that a refusal is
    about the token itself."""
    if not bound and not takes_dpop_only(t):
        return read(t, f"Bearer {token}")
    held = Bound(token, run_key(t))
    return with_proof(t, held, proper(held, protected_url(t)))[0]


def token_for(t: TestContext, found: ClientCredentials, **asked: str) -> tuple[str, bool]:
    """(a token from the client-credentials flow, whether it is DPoP-bound): bound when the token
    endpoint gives this client DPoP-bound tokens only (found by :func:`flow`)."""
    if t.shared.get("token-mode") == "dpop":
        return found.issue(dpop=run_key(t), **asked)[0], True
    return found.token(**asked), False


def bound_claim(token: str) -> str | None:
    """The ``cnf.jkt`` a JWT access token is bound to, if any."""
    parsed = unverified(token)
    confirmation = parsed[1].get("cnf") if parsed else None
    return str(confirmation.get("jkt")) if isinstance(confirmation, dict) and confirmation.get("jkt") else None


# -- refusals ---------------------------------------------------------------------------------
@refusals.test("request-without-token-rejected", "A request without a token is refused with 401 and a Bearer "
               "or DPoP challenge", verifies=["R-SEC-001"])
def request_without_token(t: TestContext) -> None:
    """GET of the protected path without an Authorization header answers 401 Unauthorized with a
    ``WWW-Authenticate`` challenge for ``Bearer`` (RFC 6750 section 3) or, for an API that takes
    DPoP-bound tokens only, ``DPoP`` (RFC 9449 section 7.1)."""
    response = read(t, None)
    t.check_status(response, 401, what="GET without Authorization")
    challenge = response.headers.get("WWW-Authenticate", "")
    t.check(bool({"bearer", "dpop"} & remember_challenge(t, response)),
            f"WWW-Authenticate: expected a Bearer or DPoP challenge, found "
            f"{challenge or 'no WWW-Authenticate header'!r}")


@refusals.test("forged-token-rejected", "A token signed by a key the API does not trust is refused with 401",
               verifies=["R-SEC-001"])
def forged_token(t: TestContext) -> None:
    """samsvar makes up an RSA key on the spot and signs a token with it: the claims (issuer,
    audience, scope, client, times) and the key id are copied from a real token of the run when
    there is one, so only the signature is wrong; otherwise they are plausible made-up ones. The
    API must answer 401. The same claims unsigned (``alg: none``) must be refused with 401 too."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    header, claims, origin = forged_claims(t)
    now = int(time.time())
    claims.update({"iat": now, "nbf": now, "exp": now + 300, "jti": str(uuid.uuid4())})
    bound = takes_dpop_only(t)
    if bound:  # bound to the run's key, so that the proof is right and only the signature is wrong
        claims["cnf"] = {"jkt": run_key(t).thumbprint}
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, key, algorithm="RS256", headers={k: v for k, v in header.items() if k in ("kid", "typ")})
    t.note(f"forged token: RS256 with a key made up for this run; claims {origin}: "
           f"iss={claims.get('iss')!r}, aud={claims.get('aud')!r}, scope={claims.get('scope')!r}")
    response = present(t, forged, bound=bound)
    t.check_status(response, 401, what="GET with a token signed by an unknown key")
    unsigned = jwt.encode(claims, None, algorithm="none")
    response = present(t, unsigned, bound=bound)
    t.check_status(response, 401, what="GET with an unsigned token (alg: none)")


def forged_claims(t: TestContext) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(header, claims, where they come from) for a forged token."""
    if t.http.token is not None:
        try:
            real = t.http.token()
        except TokenError as exc:
            t.note(f"no real token to copy the claims from ({exc}); made-up claims instead")
            real = None
        parsed = unverified(real) if real else None
        if parsed is not None:
            return dict(parsed[0]), dict(parsed[1]), "copied from the run's real token"
    issuer = t.optional("token-url")
    issuer = urlunsplit(urlsplit(issuer)[:2] + ("", "", "")) if issuer else "https://helseid-sts.nhn.no"
    client = t.optional("client-id") or "samsvar-forged-client"
    claims = {"iss": issuer, "sub": client, "client_id": client, "aud": t.optional("audience") or t.target,
              "scope": t.optional("scope") or "fhir.read"}
    return {"typ": "at+jwt"}, claims, "made up (no real token in this run)"


@refusals.test("expired-token-rejected", "An expired token is refused with 401", verifies=["R-SEC-001"])
def expired_token(t: TestContext) -> None:
    """GET with the ``expired-token`` input (a token the API's authorisation server issued and that
    has expired) answers 401. Skipped when no such token is given, or when it has not expired."""
    token, _claims = expired_token_input(t, "an access token for this API")
    jkt = bound_claim(token)
    if jkt is not None and jkt != run_key(t).thumbprint:
        t.skip(f"the expired token is DPoP-bound to key {jkt}: give that key with --input dpop-key=… so that only "
               "its expiry is wrong")
    if jkt is None and takes_dpop_only(t):
        t.skip("the API takes DPoP-bound tokens only: give an expired DPoP-bound token (expired-token) and the key "
               "it is bound to (dpop-key)")
    response = present(t, token, bound=jkt is not None)
    t.check_status(response, 401, what="GET with an expired token")


@refusals.test("wrong-audience-rejected", "A real token for another audience is refused (401 or 403)",
               verifies=["R-SEC-001"])
def wrong_audience(t: TestContext) -> None:
    """Asks the token endpoint for a token with ``resource`` = the ``wrong-audience`` input and
    sends it: the API must refuse it with 401 or 403. If the token endpoint will not issue such
    a token (a 4xx answer, while it does issue the client's proper token), the authorisation
    server already prevents it and the test passes with a note saying so: the API's own audience
    check was then not exercised."""
    client = flow(t)
    audience = t.input("wrong-audience")
    try:
        token, bound = token_for(t, client, audience=audience)
    except TokenError as exc:
        status = token_refused(t)
        if status is not None and 400 <= status < 500:
            t.note(f"the token endpoint refused a token for audience {audience!r} ({exc}): the authorisation server "
                   "already prevents tokens for another audience. The API's own audience check was not exercised "
                   "by this run.")
            return
        t.skip(f"the token endpoint failed to answer a token request for audience {audience!r} ({exc})")
    parsed = unverified(token)
    if parsed is not None:
        t.note(f"token for audience {parsed[1].get('aud')!r} (asked for {audience!r})")
    response = present(t, token, bound=bound)
    t.check_status(response, 401, 403, what=f"GET with a token for audience {audience!r}")


@refusals.test("missing-scope-rejected", "A real token without the reading scope is refused with 403",
               verifies=["R-SEC-001"])
def missing_scope(t: TestContext) -> None:
    """Asks the token endpoint for a token with only the ``limited-scope`` input (a scope that does
    not grant reading patient data) and sends it: the API must answer 403 Forbidden
    (``insufficient_scope``). Skipped when the token endpoint will not issue that scope to the
    client."""
    client = flow(t)
    scope = t.input("limited-scope")
    try:
        token, bound = token_for(t, client, scope=scope)
    except TokenError as exc:
        t.skip(f"the token endpoint gave no token with only scope {scope!r} ({exc}); give a scope this client may "
               "have that does not grant reading, with --input limited-scope=…")
    parsed = unverified(token)
    if parsed is not None:
        t.note(f"token with scope {parsed[1].get('scope', parsed[1].get('scp'))!r} (asked for {scope!r})")
    response = present(t, token, bound=bound)
    t.check_status(response, 403, what=f"GET with a token that has only scope {scope!r}")



@dpop.test("dpop-token-without-proof-rejected", "A DPoP-bound token without a proof is refused with 401 and a DPoP "
           "challenge", verifies=["R-SEC-007"])
def dpop_without_proof(t: TestContext) -> None:
    """The run's DPoP-bound token is sent with the ``DPoP`` scheme and no ``DPoP`` header: 401 with a
    ``WWW-Authenticate: DPoP`` challenge (RFC 9449 section 7.1). Sent as a bearer token
    (``Authorization: Bearer``) it must be refused too (section 7.2): whoever holds a copy of the
    token without the key could otherwise use it."""
    bound = bound_token(t)
    response = send(t, bound.token, None)
    t.check_status(response, 401, what="GET with a DPoP-bound token and no DPoP proof")
    challenge = response.headers.get("WWW-Authenticate", "")
    t.check("dpop" in {s.lower() for s in challenge_schemes(challenge)},
            f"WWW-Authenticate: expected a DPoP challenge, found {challenge or 'no WWW-Authenticate header'!r}")
    response = send(t, bound.token, None, scheme="Bearer")
    t.check_status(response, 401, what="GET with a DPoP-bound token sent as a bearer token")


@dpop.test("dpop-proof-for-other-request-rejected", "A proof made for another method or URL is refused with 401",
           verifies=["R-SEC-007"])
def dpop_other_request(t: TestContext) -> None:
    """A proof whose ``htm`` is POST for a GET, and one whose ``htu`` is another URL of the API
    (its ``metadata``): each must be refused with 401 (RFC 9449 section 4.3, checks 8 and 9)."""
    bound = bound_token(t)
    url = protected_url(t)
    response, _ = with_proof(t, bound, proper(bound, url, method="POST"))
    t.check_status(response, 401, what="GET with a DPoP proof made for POST")
    other = t.http.url("metadata")
    response, _ = with_proof(t, bound, proper(bound, other))
    t.check_status(response, 401, what=f"GET with a DPoP proof made for {other}")


@dpop.test("dpop-replayed-proof-rejected", "A proof used a second time is refused with 401", verifies=["R-SEC-007"])
def dpop_replay(t: TestContext) -> None:
    """A proper proof is accepted (200); the very same proof (same ``jti``) sent again must be
    refused with 401 (RFC 9449 section 11.1): a proof is for one request."""
    bound = bound_token(t)
    response, proof = with_proof(t, bound, proper(bound, protected_url(t)))
    t.require_status(response, 200, what="GET with a proper DPoP proof (before replaying it)")
    response = send(t, bound.token, proof)
    t.check_status(response, 401, what="GET with a DPoP proof that was already used")


@dpop.test("dpop-proof-by-other-key-rejected", "A proof signed by another key than the bound one is refused with 401",
           verifies=["R-SEC-007"])
def dpop_other_key(t: TestContext) -> None:
    """A proof that is right in every claim but signed by a key samsvar makes up on the spot, not
    the one whose thumbprint the token carries in ``cnf.jkt`` (RFC 7638): 401 (RFC 9449 section 7)."""
    bound = bound_token(t)
    stranger = DPoPKey()
    t.note(f"token bound to key {bound.key.thumbprint}; proof signed by {stranger.thumbprint}")
    response, _ = with_proof(t, bound, proper(bound, protected_url(t), key=stranger))
    t.check_status(response, 401, what="GET with a DPoP proof signed by another key")


@dpop.test("dpop-proof-for-other-token-rejected", "A proof without the access token's hash (ath) is refused with 401",
           verifies=["R-SEC-007"])
def dpop_other_token(t: TestContext) -> None:
    """A proof whose ``ath`` is the hash of another access token, and one without ``ath``: each must
    be refused with 401 (RFC 9449 section 4.3 and 7): a proof is for one token."""
    bound = bound_token(t)
    url = protected_url(t)
    response, _ = with_proof(t, bound, proper(bound, url, access_token="samsvar-another-access-token"))
    t.check_status(response, 401, what="GET with a DPoP proof whose ath is another token's")
    response, _ = with_proof(t, bound, proper(bound, url, ath=None))
    t.check_status(response, 401, what="GET with a DPoP proof without ath")


@dpop.test("dpop-old-proof-rejected", "A proof made ten minutes ago is refused with 401", verifies=["R-SEC-007"])
def dpop_old_proof(t: TestContext) -> None:
    """A proof whose ``iat`` is 600 seconds in the past (never used before): 401 (RFC 9449 section
    4.3, check 11: the proof must be made for this request, within an acceptable window)."""
    bound = bound_token(t)
    response, _ = with_proof(t, bound, proper(bound, protected_url(t), issued=time.time() - 600))
    t.check_status(response, 401, what="GET with a DPoP proof made 600 s ago")


@dpop.test("dpop-nonce", "When the API demands a DPoP nonce, only its own nonce is accepted", verifies=["R-SEC-007"])
def dpop_nonce(t: TestContext) -> None:
    """A proper proof without a nonce: an API that demands nonces answers 401 with
    ``WWW-Authenticate: DPoP error="use_dpop_nonce"`` and a ``DPoP-Nonce`` header (RFC 9449 section
    9); the same request with that nonce answers 200, and a proof with a nonce the API never gave
    answers 401. An API that answers 200 without a nonce does not demand one: skipped."""
    bound = bound_token(t)
    url = protected_url(t)
    response = send(t, bound.token, bound.key.proof("GET", url, access_token=bound.token))
    if not demands_nonce(response):
        if response.status_code == 200:
            t.skip("the API does not demand DPoP nonces (it answered 200 to a proof without one); nothing to test")
        t.fail(f"a proper DPoP proof without a nonce: expected 200, or 401 with error=\"use_dpop_nonce\"; found "
               f"{response.status_code} ({response.headers.get('WWW-Authenticate', 'no WWW-Authenticate')})")
    nonce = response.headers.get(NONCE_HEADER)
    t.require(bool(nonce), "use_dpop_nonce without a DPoP-Nonce header: a client cannot know which nonce to send")
    response = send(t, bound.token, bound.key.proof("GET", url, access_token=bound.token, nonce=nonce))
    t.check_status(response, 200, what="GET with a proper DPoP proof and the nonce the API gave")
    made_up = f"samsvar-{uuid.uuid4()}"
    response = send(t, bound.token, bound.key.proof("GET", url, access_token=bound.token, nonce=made_up))
    t.check_status(response, 401, what="GET with a DPoP proof carrying a nonce the API never gave")


# -- acceptance -------------------------------------------------------------------------------
@acceptance.test("valid-token-accepted", "The proper token is accepted (200)", verifies=["R-SEC-001"])
def valid_token(t: TestContext) -> None:
    """GET of the protected path with the run's proper token (the ``token`` input, or one from the
    token endpoint with the ``scope`` and ``audience`` inputs) answers 200: the refusals of the
    other tests come from checking the token, not from an API that refuses everything. A token
    from an endpoint that gives this client DPoP-bound tokens only goes with a proper proof."""
    if not t.optional("token") and all(t.optional(name) for name in TOKEN_FLOW):
        token, bound = token_for(t, flow(t))
    else:
        token = proper_token(t)
        bound = bound_claim(token) is not None
    response = present(t, token, bound=bound)
    t.check_status(response, 200, what="GET with the proper token")
    if response.status_code == 200:
        t.note(f"answered {fhir_resource(response) or response.headers.get('Content-Type', 'a body')}")


@acceptance.test("dpop-proof-accepted", "A DPoP-bound token with a proper proof is accepted (200)",
                 verifies=["R-SEC-007"])
def dpop_accepted(t: TestContext) -> None:
    """GET of the protected path with the run's DPoP-bound token and a proper proof (by the bound
    key, for this method and URL, with ``ath`` and, when the API demands one, its nonce) answers
    200: the DPoP refusals come from checking the proof, not from an API that refuses DPoP."""
    bound = bound_token(t)
    response, _ = with_proof(t, bound, proper(bound, protected_url(t)))
    t.check_status(response, 200, what="GET with a DPoP-bound token and a proper proof")


# -- transport --------------------------------------------------------------------------------
@transport.test("tls-only", "Patient data only over TLS (https)", verifies=["R-SEC-001"])
def tls_only(t: TestContext) -> None:
    """An https target passes, unless the same host also answers the protected path with patient
    data over plain HTTP (port ``plain-http-port``, without a token: samsvar never sends one over
    plain HTTP). An http target on another host than this machine fails: patient data would go
    over plain HTTP. An http target on a loopback address is a local test setup: skipped (certify
    over https)."""
    parts = urlsplit(t.target)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme == "http":
        if is_loopback(host):
            t.skip(f"the target is plain HTTP on the loopback address {host} (a local test setup); TLS is not tested: "
                   "certify against the https address")
        t.fail(f"patient data over plain HTTP: the target {t.target} is http, not https (R-SEC-001 asks for TLS)")
    if scheme != "https":
        t.fail(f"the target {t.target} is neither https nor http")
    t.note(f"the target is https (TLS verified: {t.http.settings.verify is not False})")
    port = t.input("plain-http-port")
    netloc = f"[{host}]" if ":" in host else host
    plain = urlunsplit(("http", f"{netloc}:{port}" if port != "80" else netloc, parts.path, "", ""))
    url = plain.rstrip("/") + "/" + t.input("protected-path").lstrip("/")
    try:
        response = t.http.get(url, headers=ACCEPT, auth=False, timeout=min(t.http.settings.timeout, 10.0))
    except TargetUnreachable as exc:
        t.note(f"nothing answers plain HTTP at {url}: {exc.reason}")
        return
    location = response.headers.get("Location", "")
    if response.status_code in (301, 302, 303, 307, 308) and location.lower().startswith("https:"):
        t.note(f"plain HTTP redirects to {location} (no patient data over plain HTTP)")
        return
    kind = fhir_resource(response)
    t.check(not (200 <= response.status_code < 300 and kind is not None and kind not in NOT_PATIENT_DATA),
            f"the same host answers patient data over plain HTTP: GET {url} → {response.status_code} with a {kind}")
    if not 200 <= response.status_code < 300:
        t.note(f"plain HTTP at {url} answers {response.status_code}, not patient data (samsvar sends no token over "
               "plain HTTP, so whether a token would open it is not tested)")
