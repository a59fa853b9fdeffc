"""``security``: a protected FHIR API over TLS with HelseID-style access tokens (requirement R-SEC-001).

What it does to the target: reads one protected path (``protected-path``, by default
``Patient?_count=1``) without a token, with a forged token, with an expired one, with real tokens
for another audience and with too little scope (each must be refused: 401, or 403 for audience and
scope), and with the proper token (must be answered, so that the refusals are not just a broken
API). Real tokens come from the OAuth2 token endpoint given as input (client credentials with a
``private_key_jwt`` client assertion, the audience asked for with ``resource`` as HelseID does);
every token request is evidence too, with the assertion and the token redacted. Nothing is
created on the target. samsvar never sends a token over plain HTTP.
"""

from __future__ import annotations

import ipaddress
import json
import time
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from ..auth import AUTH_INPUTS, ClientCredentials, TokenError, credentials
from ..evidence import TargetUnreachable
from ..suite import Suite, SuiteInput, TestContext

ACCEPT = {"Accept": "application/fhir+json, application/json;q=0.9"}
TOKEN_FLOW = ("token-url", "client-id", "private-key")
NOT_PATIENT_DATA = ("OperationOutcome", "CapabilityStatement")

SUITE = Suite(
    "security",
    "Protected API: TLS and access tokens",
    description="Requests without a token, with forged, expired, wrong-audience and too-little-scope tokens are "
                "refused (401/403); the proper token is accepted; patient data only over TLS.",
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
        SuiteInput("plain-http-port", "Port where tls-only looks for the API over plain HTTP (https targets).",
                   default="80"),
    ),
    probe="metadata",
)

refusals = SUITE.group("refusals", "Requests without a valid token are refused")
acceptance = SUITE.group("acceptance", "The proper token is accepted")
transport = SUITE.group("transport", "Patient data only over TLS")


# -- helpers ----------------------------------------------------------------------------------
def read(t: TestContext, authorization: str | None) -> requests.Response:
    """GET the protected path with exactly this Authorization header (None: none at all)."""
    headers = dict(ACCEPT)
    if authorization is not None:
        headers["Authorization"] = authorization
    return t.http.get(t.input("protected-path"), headers=headers, auth=False)


def flow(t: TestContext) -> ClientCredentials:
    """The client-credentials flow of the inputs, once it has given the client its proper token
    (so that a refusal afterwards is about what the test asks for, not a broken client setup).
    The test is skipped, saying what to give or what the token endpoint answered, otherwise."""
    missing = [name for name in TOKEN_FLOW if not t.optional(name)]
    if missing:
        t.skip("needs real tokens from the API's token endpoint (OAuth2 client credentials with private_key_jwt): "
               f"give --input {', --input '.join(m + '=…' for m in missing)}")
    found = credentials(t.run.inputs, t.http)
    assert found is not None
    try:
        found.token()
    except TokenError as exc:
        t.skip(f"the token endpoint gives this client no token at all ({exc}); check token-url, client-id, "
               "private-key, key-id, scope and audience")
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


# -- refusals ---------------------------------------------------------------------------------
@refusals.test("request-without-token-rejected", "A request without a token is refused with 401 and a Bearer "
               "challenge", verifies=["R-SEC-001"])
def request_without_token(t: TestContext) -> None:
    """GET of the protected path without an Authorization header answers 401 Unauthorized with a
    ``WWW-Authenticate: Bearer …`` header (RFC 6750 section 3)."""
    response = read(t, None)
    t.check_status(response, 401, what="GET without Authorization")
    challenge = response.headers.get("WWW-Authenticate", "")
    t.check(challenge.lower().startswith("bearer"),
            f"WWW-Authenticate: expected a Bearer challenge, found {challenge or 'no WWW-Authenticate header'!r}")


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
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, key, algorithm="RS256", headers={k: v for k, v in header.items() if k in ("kid", "typ")})
    t.note(f"forged token: RS256 with a key made up for this run; claims {origin}: "
           f"iss={claims.get('iss')!r}, aud={claims.get('aud')!r}, scope={claims.get('scope')!r}")
    response = read(t, f"Bearer {forged}")
    t.check_status(response, 401, what="GET with a token signed by an unknown key")
    unsigned = jwt.encode(claims, None, algorithm="none")
    response = read(t, f"Bearer {unsigned}")
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
    token = t.optional("expired-token")
    if token is None:
        t.skip("no input 'expired-token': give an access token for this API that has expired with "
               "--input expired-token=… (samsvar cannot make one the API would otherwise accept)")
    parsed = unverified(token)
    if parsed is not None and isinstance(parsed[1].get("exp"), (int, float)):
        expires = parsed[1]["exp"]
        if expires > time.time():
            t.skip(f"the expired-token input has not expired: exp is {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(expires))}")
        t.note(f"the token expired at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(expires))}")
    else:
        t.note("the expired-token input is not a JWT with exp; sent as given")
    response = read(t, f"Bearer {token}")
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
        token = client.token(audience=audience)
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
    response = read(t, f"Bearer {token}")
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
        token = client.token(scope=scope)
    except TokenError as exc:
        t.skip(f"the token endpoint gave no token with only scope {scope!r} ({exc}); give a scope this client may "
               "have that does not grant reading, with --input limited-scope=…")
    parsed = unverified(token)
    if parsed is not None:
        t.note(f"token with scope {parsed[1].get('scope', parsed[1].get('scp'))!r} (asked for {scope!r})")
    response = read(t, f"Bearer {token}")
    t.check_status(response, 403, what=f"GET with a token that has only scope {scope!r}")


# -- acceptance -------------------------------------------------------------------------------
@acceptance.test("valid-token-accepted", "The proper token is accepted (200)", verifies=["R-SEC-001"])
def valid_token(t: TestContext) -> None:
    """GET of the protected path with the run's proper token (the ``token`` input, or one from the
    token endpoint with the ``scope`` and ``audience`` inputs) answers 200: the refusals of the
    other tests come from checking the token, not from an API that refuses everything."""
    token = proper_token(t)
    response = read(t, f"Bearer {token}")
    t.check_status(response, 200, what="GET with the proper token")
    if response.status_code == 200:
        t.note(f"answered {fhir_resource(response) or response.headers.get('Content-Type', 'a body')}")


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
