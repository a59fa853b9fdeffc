"""``smart``: SMART App Launch on FHIR R4 for a citizen-facing app (requirements R-SEC-008 to R-SEC-011).

What it does to the target (the FHIR base URL): reads its ``.well-known/smart-configuration``,
runs the standalone-launch authorization-code flow with PKCE as the app ``client-id`` with
``redirect-uri`` (the login done by the authorization server's own redirects, as samsvar's
sandbox does for its test patient, or by the ``login-command`` input: see
:mod:`samsvar.conformance.smart`), and with the tokens it gets reads the token's own patient
and tries another patient's data (``other-patient``): read, search and compartment search must
be refused or come back empty. Wrong PKCE verifiers, unregistered redirect URIs, reused codes,
expired and forged tokens must be refused. Nothing is created on the target; samsvar never
listens on the redirect URI, it only reads where the user is sent.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from ..smart import Authorization, LoginNeeded, SmartClient, SmartError, covers, discover, token_body
from ..suite import Suite, SuiteInput, TestContext
from .security import expired_token_input, is_loopback, unverified

ACCEPT = {"Accept": "application/fhir+json, application/json;q=0.9"}
REQUIRED_FIELDS = ("authorization_endpoint", "token_endpoint", "grant_types_supported", "capabilities",
                   "code_challenge_methods_supported")
"""What SMART App Launch STU 2 (section 'Conformance') requires of the discovery document of a
server that supports the authorization-code flow."""
ENDPOINT_FIELDS = ("authorization_endpoint", "token_endpoint", "registration_endpoint", "management_endpoint",
                   "introspection_endpoint", "revocation_endpoint", "jwks_uri")
REFUSED = (401, 403)
HIDDEN = (401, 403, 404)

SUITE = Suite(
    "smart",
    "SMART App Launch for a citizen-facing app (patient-level access)",
    description="Discovery (.well-known/smart-configuration), the authorization-code flow with PKCE S256 (state, "
                "redirect_uri, code once), patient-level scopes in v1 and v2 syntax, the token response (patient "
                "context, scope, expires_in, Bearer), and a token that reads its own patient only: another patient's "
                "data refused or empty by read, search and compartment search; expired and forged tokens refused.",
    inputs=(
        SuiteInput("client-id", "The app's client_id, registered with the authorization server as a public client "
                                "(the sandbox's: samsvar-smart-app).", default="samsvar-smart-app"),
        SuiteInput("redirect-uri", "A redirect URI registered for client-id (samsvar never listens there; it only "
                                   "reads where the user is sent).",
                   default="http://127.0.0.1/samsvar-smart-callback"),
        SuiteInput("client-secret", "The client secret of a confidential client (sent with HTTP Basic); leave out for "
                                    "a public client.", secret=True),
        SuiteInput("scope", "The scopes of the run's main token: a patient context and read access.",
                   default="launch/patient patient/*.rs"),
        SuiteInput("other-patient", "The id of another patient on the server, with Observations, that the test user "
                                    "may not see (the sandbox's: samsvar-smart-other-patient)."),
        SuiteInput("other-resource", "A resource of the other patient, as TYPE/ID (e.g. Observation/123), to read "
                                     "by id."),
        SuiteInput("unscoped-type", "A resource type the test patient has data of, that patient/Observation scopes "
                                    "do not cover.", default="Condition"),
        SuiteInput("expired-token", "A SMART access token of this server that has expired.", secret=True),
        SuiteInput("login-command", "A command that logs the test user in: run with the authorization URL as its last "
                                    "argument, it prints the URL the browser was sent back to (redirect-uri?code=…)."),
        SuiteInput("login-timeout", "Seconds the login command may take.", default="120"),
    ),
    probe="metadata",
)

discovery = SUITE.group("discovery", "Discovery: .well-known/smart-configuration")
authorization = SUITE.group("authorization", "The authorization-code flow with PKCE")
tokens = SUITE.group("token", "The token response and patient-level scopes")
isolation = SUITE.group("isolation", "A patient's token reads that patient only")
refusals = SUITE.group("refusals", "Tokens that are not valid are refused")


# -- helpers ------------------------------------------------------------------------------------
@dataclass
class Token:
    """A token from a full flow: the access token, the token response and what was asked for."""

    access_token: str
    body: dict[str, Any]
    asked: str

    @property
    def patient(self) -> str | None:
        value = self.body.get("patient")
        return str(value) if isinstance(value, str) and value else None

    @property
    def scope(self) -> str:
        """The granted scopes; without ``scope`` in the answer, those asked for (RFC 6749 section
        5.1; SMART requires the field, which ``token-response`` checks)."""
        value = self.body.get("scope")
        return str(value) if isinstance(value, str) else self.asked


def client(t: TestContext) -> SmartClient:
    """The run's SMART client, from the discovery document (read once per run)."""
    if "smart-client" in t.shared:
        return t.shared["smart-client"]
    response, configuration = discover(t.http, t.target)
    if configuration is None:
        t.fail(f"no SMART configuration at {t.target.rstrip('/')}/.well-known/smart-configuration (HTTP "
               f"{response.status_code}): the app cannot find the authorization server")
    assert configuration is not None
    if not configuration.authorization_endpoint or not configuration.token_endpoint:
        t.fail("the SMART configuration names no authorization_endpoint or token_endpoint: the app cannot log in")
    try:
        timeout = float(t.input("login-timeout"))
    except ValueError:
        t.skip(f"login-timeout {t.input('login-timeout')!r} is not a number of seconds")
    t.shared["smart-client"] = SmartClient(
        t.http, configuration, t.input("client-id"), t.input("redirect-uri"), audience=t.target.rstrip("/"),
        client_secret=t.optional("client-secret"), login_command=t.optional("login-command"), login_timeout=timeout)
    return t.shared["smart-client"]


def authorize(t: TestContext, scope: str, **options: Any) -> Authorization:
    """An authorization request; a server that wants a browser login without a login command skips the test."""
    try:
        return client(t).authorize(scope, **options)
    except LoginNeeded as exc:
        t.skip(str(exc))
    except SmartError as exc:
        t.fail(f"the authorization step failed: {exc}")
    raise AssertionError("unreachable")  # pragma: no cover


def code_of(t: TestContext, found: Authorization, what: str) -> str:
    """The code of a proper authorization request; anything else fails the test with what came back."""
    t.require(found.code is not None, f"{what}: expected a redirect to {found.redirect_uri} with a code, found "
                                      f"{found.describe()}")
    assert found.code is not None
    return found.code


def flow(t: TestContext, scope: str | None = None) -> tuple[Token, requests.Response]:
    """A full, proper flow for ``scope`` (the ``scope`` input by default): the token and the token answer."""
    asked = scope or t.input("scope")
    found = authorize(t, asked)
    code = code_of(t, found, f"authorization request for {asked!r}")
    assert found.pkce is not None
    response = client(t).exchange(code, verifier=found.pkce.verifier)
    t.require_status(response, 200, what="token request with the code and its PKCE verifier")
    body = token_body(response)
    t.require(body is not None and isinstance(body.get("access_token"), str) and bool(body["access_token"]),
              "the token response has no access_token")
    assert body is not None
    return Token(body["access_token"], body, asked), response


def main_token(t: TestContext, *, patient: bool = True) -> Token:
    """The run's token for the ``scope`` input (one flow per run); with ``patient`` the test is
    skipped when the token response names no patient (then whose data it reads is not known)."""
    if "smart-token" not in t.shared:
        t.shared["smart-token"] = flow(t)[0]
    token: Token = t.shared["smart-token"]
    if patient and token.patient is None:
        t.skip("the token response names no patient (launch/patient context): cannot tell whose data the token reads")
    return token


def own_path(token: Token, kind: str) -> str:
    """A search of ``kind`` for the token's patient (all of ``kind`` when the token names none: a
    patient-level token finds its patient's only)."""
    return f"{kind}?patient={token.patient}" if token.patient else kind


def fhir_get(t: TestContext, path: str, token: str) -> requests.Response:
    return t.http.get(path, headers={**ACCEPT, "Authorization": f"Bearer {token}"}, auth=False)


def body_of(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def entries(response: requests.Response) -> list[dict[str, Any]]:
    """The resources of a Bundle answer (matches and includes)."""
    body = body_of(response) or {}
    return [entry["resource"] for entry in body.get("entry") or []
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict)]


def names_patient(resource: dict[str, Any], patient: str) -> bool:
    """Does the resource belong to ``patient`` (the Patient itself, or a subject/patient reference to it)?"""
    if resource.get("resourceType") == "Patient":
        return resource.get("id") == patient
    for name in ("subject", "patient"):
        reference = resource.get(name)
        text = reference.get("reference") if isinstance(reference, dict) else None
        if isinstance(text, str) and (text == f"Patient/{patient}" or text.endswith(f"/Patient/{patient}")):
            return True
    return False


def other_patient(t: TestContext, token: Token) -> str:
    other = t.input("other-patient")
    if other == token.patient:
        t.skip(f"other-patient {other!r} is the token's own patient: give another patient's id")
    return other


# -- discovery ----------------------------------------------------------------------------------
@discovery.test("discovery", "The SMART configuration has the required fields, S256 PKCE and absolute https "
                "endpoints", verifies=["R-SEC-008"])
def discovery_document(t: TestContext) -> None:
    """GET ``[base]/.well-known/smart-configuration`` answers 200 with a JSON object that has
    ``authorization_endpoint``, ``token_endpoint``, ``grant_types_supported`` (with
    ``authorization_code``), ``capabilities`` and ``code_challenge_methods_supported`` with ``S256``
    and without ``plain`` (SMART App Launch STU 2, 'Conformance'); every endpoint is an absolute
    https URL (http is let through, with a note, only on a loopback address of a local test setup)."""
    response, configuration = discover(t.http, t.target)
    t.require_status(response, 200, what="GET .well-known/smart-configuration")
    t.require(configuration is not None, "the SMART configuration is not a JSON object")
    assert configuration is not None
    document = configuration.document
    content_type = response.headers.get("Content-Type", "")
    t.check("json" in content_type.lower(), f"Content-Type is {content_type or 'missing'!r}, not application/json")
    missing = [name for name in REQUIRED_FIELDS if name not in document]
    t.check(not missing, f"required fields missing: {', '.join(missing)}")
    grants = configuration.strings("grant_types_supported")
    if "grant_types_supported" in document:
        t.check("authorization_code" in grants, f"grant_types_supported {grants} has no authorization_code")
    methods = configuration.strings("code_challenge_methods_supported")
    if "code_challenge_methods_supported" in document:
        t.check("S256" in methods, f"code_challenge_methods_supported {methods} has no S256")
        t.check("plain" not in methods, "code_challenge_methods_supported offers 'plain' (SMART: SHALL NOT)")
    capabilities = configuration.capabilities
    if capabilities:
        t.note(f"capabilities: {' '.join(capabilities)}")
        t.check("launch-standalone" in capabilities or "launch-ehr" in capabilities,
                "capabilities has neither launch-standalone nor launch-ehr")
    if "sso-openid-connect" in capabilities:
        t.check(all(name in document for name in ("issuer", "jwks_uri")),
                "capabilities has sso-openid-connect but issuer or jwks_uri is missing")
    for name in ENDPOINT_FIELDS:
        value = document.get(name)
        if value is None:
            continue
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or not parts.scheme or not parts.netloc:
            t.fail(f"{name} {value!r} is not an absolute URL", stop=False)
        elif parts.scheme.lower() != "https":
            if parts.scheme.lower() == "http" and is_loopback(parts.hostname or ""):
                t.note(f"{name} is plain http on the loopback address {parts.hostname} (a local test setup)")
            else:
                t.fail(f"{name} {value} is not https", stop=False)


# -- the authorization-code flow ----------------------------------------------------------------
@authorization.test("pkce-required", "An authorization request without PKCE, or with 'plain', gets no token",
                    verifies=["R-SEC-009"])
def pkce_required(t: TestContext) -> None:
    """An authorization request without ``code_challenge`` must be refused (an error redirect or a
    4xx answer); if the server gives a code anyway, the token endpoint must refuse the code
    without a ``code_verifier``. The same for ``code_challenge_method=plain`` (SMART: S256 only)."""
    scope = t.input("scope")
    for what, options in (("without code_challenge", {"challenge": None}),
                          ("with code_challenge_method=plain", {"challenge": "plain"})):
        found = authorize(t, scope, **options)
        if found.code is None:
            t.note(f"authorization request {what}: {found.describe()}")
            continue
        verifier = found.pkce.verifier if found.pkce else None
        response = client(t).exchange(found.code, verifier=verifier)
        t.check(response.status_code != 200 or not (token_body(response) or {}).get("access_token"),
                f"authorization request {what}: the server gave a code and traded it for a token (HTTP "
                f"{response.status_code}): PKCE with S256 is not enforced")


@authorization.test("pkce-verifier-checked", "A wrong or missing code_verifier is refused at the token endpoint",
                    verifies=["R-SEC-009"])
def pkce_verifier(t: TestContext) -> None:
    """A code from a proper S256 request, traded with another verifier, must be refused
    (``invalid_grant``, HTTP 400); a second code traded without a verifier likewise (RFC 7636
    section 4.6)."""
    scope = t.input("scope")
    found = authorize(t, scope)
    code = code_of(t, found, "authorization request with an S256 challenge")
    response = client(t).exchange(code, verifier=secrets.token_urlsafe(48))
    t.check(response.status_code in (400, 401), f"a code traded with a wrong code_verifier: expected HTTP 400 "
                                                f"invalid_grant, found {response.status_code}")
    found = authorize(t, scope)
    code = code_of(t, found, "authorization request with an S256 challenge")
    response = client(t).exchange(code, verifier=None)
    t.check(response.status_code in (400, 401), f"a code traded without its code_verifier: expected HTTP 400 "
                                                f"invalid_grant, found {response.status_code}")


@authorization.test("state-echoed", "The redirect back to the app carries the state it was sent",
                    verifies=["R-SEC-009"])
def state_echoed(t: TestContext) -> None:
    """The redirect with the code carries exactly the ``state`` of the request (RFC 6749 section
    4.1.2: the app's defence against cross-site request forgery)."""
    state = f"samsvar-{uuid.uuid4()}"
    found = authorize(t, t.input("scope"), state=state)
    code_of(t, found, "authorization request")
    echoed = found.params.get("state")
    t.check(echoed == state, f"state sent {state!r}, came back {echoed!r}" if echoed is not None
            else f"state sent {state!r}, the redirect has none")


@authorization.test("redirect-uri-checked", "An unregistered redirect_uri is not redirected to; the code is bound "
                    "to its redirect_uri", verifies=["R-SEC-009"])
def redirect_uri_checked(t: TestContext) -> None:
    """An authorization request with a redirect URI that is not registered (the registered one with
    a made-up path) must not send the user there, neither with a code nor with an error (RFC 6749
    section 4.1.2.1); and a proper code traded with another ``redirect_uri`` than its request's
    must be refused (section 4.1.3)."""
    registered = t.input("redirect-uri")
    parts = urlsplit(registered)
    stranger = f"{parts.scheme}://{parts.netloc}/samsvar-not-registered-{uuid.uuid4().hex[:8]}"
    found = authorize(t, t.input("scope"), redirect_uri=stranger, login=bool(t.optional("login-command")))
    sent_there = found.location is not None and found.to_redirect_uri
    t.check(not sent_there, f"an unregistered redirect_uri {stranger} was redirected to ({found.describe()})")
    if not sent_there:
        t.note(f"unregistered redirect_uri: {found.describe()}")
    found = authorize(t, t.input("scope"))
    code = code_of(t, found, "authorization request")
    assert found.pkce is not None
    response = client(t).exchange(code, verifier=found.pkce.verifier, redirect_uri=stranger)
    t.check(response.status_code in (400, 401), f"a code traded with another redirect_uri than its request's: "
                                                f"expected HTTP 400 invalid_grant, found {response.status_code}")


@authorization.test("code-single-use", "An authorization code is traded for a token once only",
                    verifies=["R-SEC-009"])
def code_single_use(t: TestContext) -> None:
    """A code that was traded for a token, traded once more with the same verifier, must be
    refused (RFC 6749 section 4.1.2: the client MUST NOT use it more than once, the server SHOULD
    revoke the tokens issued for it)."""
    found = authorize(t, t.input("scope"))
    code = code_of(t, found, "authorization request")
    assert found.pkce is not None
    first = client(t).exchange(code, verifier=found.pkce.verifier)
    t.require_status(first, 200, what="first token request with the code")
    second = client(t).exchange(code, verifier=found.pkce.verifier)
    t.check(second.status_code in (400, 401), f"the same code traded a second time: expected HTTP 400 invalid_grant, "
                                              f"found {second.status_code}")


# -- the token response and scopes --------------------------------------------------------------
@tokens.test("token-response", "The token response has access_token, token_type Bearer, scope and expires_in, "
             "and is not cached", verifies=["R-SEC-010"])
def token_response(t: TestContext) -> None:
    """The answer to a proper code exchange is a JSON object with ``access_token``,
    ``token_type`` ``Bearer`` (case-insensitive), ``scope`` (SMART: required) and, when given,
    ``expires_in`` as a positive number of seconds (SMART: recommended: a note when it is left out),
    with ``Cache-Control: no-store`` (RFC 6749 section 5.1)."""
    token, response = flow(t)
    body = token.body
    t.check(str(body.get("token_type", "")).lower() == "bearer",
            f"token_type is {body.get('token_type')!r}, not Bearer" if "token_type" in body
            else "the token response has no token_type")
    t.check(isinstance(body.get("scope"), str) and bool(body["scope"].strip()),
            "the token response has no scope (SMART: required, the scopes granted)")
    if "expires_in" in body:
        value = body["expires_in"]
        t.check(isinstance(value, int) and not isinstance(value, bool) and value > 0,
                f"expires_in is {value!r}, not a positive number of seconds")
    else:
        t.note("the token response has no expires_in (SMART: recommended)")
    cache = response.headers.get("Cache-Control", "")
    t.check("no-store" in cache.lower(), f"Cache-Control is {cache or 'missing'!r}, not no-store (RFC 6749 5.1)")


@tokens.test("patient-context", "A launch/patient token names its patient, and reads that Patient",
             verifies=["R-SEC-010"])
def patient_context(t: TestContext) -> None:
    """With ``launch/patient`` in the scopes (the ``scope`` input must ask for it) the token
    response has ``patient``, the id of the logged-in patient, and GET ``Patient/{patient}`` with the
    token answers that Patient (200)."""
    asked = t.input("scope")
    if "launch/patient" not in asked.split():
        t.skip(f"the scope input {asked!r} does not ask for launch/patient")
    token, _response = flow(t)
    t.require(token.patient is not None, "the token response has no patient, though launch/patient was asked for "
                                         f"(granted scope: {token.scope!r})")
    assert token.patient is not None
    response = fhir_get(t, f"Patient/{token.patient}", token.access_token)
    t.require_status(response, 200, what=f"GET Patient/{token.patient} with the patient's own token")
    found = body_of(response) or {}
    t.check(found.get("resourceType") == "Patient" and found.get("id") == token.patient,
            f"GET Patient/{token.patient} answered {found.get('resourceType')}/{found.get('id')}")


def scope_flow(t: TestContext, scope: str, syntax: str) -> None:
    """A flow asking for ``launch/patient`` and ``scope``: granted (as asked or wider), and it reads
    the patient's Observations."""
    configuration = client(t).configuration
    if "capabilities" in configuration.document and f"permission-{syntax}" not in configuration.capabilities:
        t.skip(f"the server does not advertise permission-{syntax} in its capabilities")
    token, _response = flow(t, f"launch/patient {scope}")
    if "scope" not in token.body:
        t.note("the token response has no scope: taken as granted as asked (RFC 6749 section 5.1)")
    t.check(covers(token.scope, scope), f"asked for {scope!r}, granted {token.scope!r}: the {syntax} scope was "
                                        "not granted, though the server advertises permission-" + syntax)
    response = fhir_get(t, own_path(token, "Observation"), token.access_token)
    t.check_status(response, 200, what=f"Observation search with a {scope} token")


@tokens.test("scopes-v2", "SMART v2 patient scopes (patient/Observation.rs) are granted and give access",
             verifies=["R-SEC-010"])
def scopes_v2(t: TestContext) -> None:
    """Asked for ``patient/Observation.rs``, a server that advertises ``permission-v2`` grants it
    (or a scope that covers it) and the token searches the patient's Observations (200)."""
    scope_flow(t, "patient/Observation.rs", "v2")


@tokens.test("scopes-v1", "SMART v1 patient scopes (patient/Observation.read) are granted and give access",
             verifies=["R-SEC-010"])
def scopes_v1(t: TestContext) -> None:
    """Asked for ``patient/Observation.read``, a server that advertises ``permission-v1`` grants it
    (or a scope that covers it) and the token searches the patient's Observations (200). Skipped
    for a server that does not advertise v1 scopes (SMART STU 2 servers may leave them out)."""
    scope_flow(t, "patient/Observation.read", "v1")


@tokens.test("scope-enforced", "A patient/Observation token cannot read another resource type",
             verifies=["R-SEC-011"])
def scope_enforced(t: TestContext) -> None:
    """A token with ``launch/patient patient/Observation.rs`` (or, when the server does not grant
    that, ``patient/Observation.read``) searches the patient's Observations (200) and then the
    patient's ``unscoped-type`` (default Condition): refused (401/403). An answer of 200 with the patient's
    resources of that type fails; 200 with none cannot tell a refusal from a patient without such
    data: skipped."""
    kind = t.input("unscoped-type")
    if kind == "Observation":
        t.skip("unscoped-type is Observation, which the scope covers: give another type")
    token = None
    for scope in ("patient/Observation.rs", "patient/Observation.read"):
        token, _response = flow(t, f"launch/patient {scope}")
        if covers(token.scope, scope):
            break
        t.note(f"asked for {scope!r}, granted {token.scope!r}")
    assert token is not None
    t.require(covers(token.scope, "patient/Observation.rs"), "the server grants neither patient/Observation.rs nor "
                                                             "patient/Observation.read: nothing to compare with")
    control = fhir_get(t, own_path(token, "Observation"), token.access_token)
    t.require_status(control, 200, what=f"Observation search with a token of scope {token.scope!r} (the type it "
                                        "covers, before the one it does not)")
    response = fhir_get(t, own_path(token, kind), token.access_token)
    if response.status_code in REFUSED:
        t.note(f"{kind} search refused with {response.status_code}")
        return
    found = [r for r in entries(response) if r.get("resourceType") == kind]
    if response.status_code == 200 and not found:
        t.skip(f"the {kind} search answered 200 with no {kind}: the patient may have none; give an unscoped-type the "
               "test patient has data of")
    t.fail(f"a token with scope {token.scope!r} searched {kind}: HTTP {response.status_code} with {len(found)} "
           f"{kind} (expected 403: the scope does not cover {kind})")


# -- isolation ----------------------------------------------------------------------------------
@isolation.test("other-patient-read-refused", "Another patient's Patient and resources cannot be read by id",
                verifies=["R-SEC-011"])
def other_read(t: TestContext) -> None:
    """With the patient's token, GET ``Patient/{other-patient}`` (and ``other-resource`` when given)
    answers 401, 403 or 404, never the resource; the token's own Patient answers 200, so that the
    refusal is about the other patient."""
    token = main_token(t)
    other = other_patient(t, token)
    own = fhir_get(t, f"Patient/{token.patient}", token.access_token)
    t.require_status(own, 200, what=f"GET Patient/{token.patient} (the token's own patient)")
    paths = [f"Patient/{other}"] + ([t.optional("other-resource")] if t.optional("other-resource") else [])
    for path in paths:
        assert path is not None
        response = fhir_get(t, path, token.access_token)
        body = body_of(response) or {}
        leaked = response.status_code == 200 and body.get("resourceType") not in (None, "OperationOutcome")
        t.check(response.status_code in HIDDEN and not leaked,
                f"GET {path} with patient {token.patient}'s token: HTTP {response.status_code}"
                f"{' with the ' + str(body.get('resourceType')) if leaked else ''} (expected 403 or 404)")


@isolation.test("other-patient-search-refused", "Searches find nothing of another patient", verifies=["R-SEC-011"])
def other_search(t: TestContext) -> None:
    """With the patient's token, ``Observation?patient={other-patient}`` is refused (401/403) or
    finds nothing of the other patient, and ``Observation`` without a patient finds the token's own
    patient's Observations only (SMART: patient-level scopes limit the data to the patient)."""
    token = main_token(t)
    other = other_patient(t, token)
    assert token.patient is not None
    for path in (f"Observation?patient={other}", f"Observation?subject=Patient/{other}", "Observation"):
        response = fhir_get(t, path, token.access_token)
        if response.status_code in REFUSED:
            t.note(f"GET {path}: refused with {response.status_code}")
            continue
        if not t.check_status(response, 200, 400, what=f"GET {path}"):
            continue
        foreign = [r for r in entries(response) if not names_patient(r, token.patient)]
        t.check(not foreign, f"GET {path} with patient {token.patient}'s token found {len(foreign)} resource(s) of "
                             f"another patient ({', '.join(str(r.get('resourceType')) + '/' + str(r.get('id')) for r in foreign[:3])})")


@isolation.test("other-patient-compartment-refused", "Another patient's compartment cannot be searched",
                verifies=["R-SEC-011"])
def other_compartment(t: TestContext) -> None:
    """With the patient's token, ``Patient/{other-patient}/Observation`` is refused (401/403/404) or
    finds nothing; the token's own compartment (``Patient/{patient}/Observation``) answers 200 so that
    the refusal is about the other patient. A server without compartment search (its own answers
    400, 404 or 501) is skipped."""
    token = main_token(t)
    other = other_patient(t, token)
    own = fhir_get(t, f"Patient/{token.patient}/Observation", token.access_token)
    if own.status_code in (400, 404, 405, 501):
        t.skip(f"compartment search Patient/{token.patient}/Observation answered {own.status_code}: the server does "
               "not support compartment search")
    t.require_status(own, 200, what=f"GET Patient/{token.patient}/Observation (the token's own compartment)")
    path = f"Patient/{other}/Observation"
    response = fhir_get(t, path, token.access_token)
    if response.status_code in HIDDEN:
        t.note(f"GET {path}: refused with {response.status_code}")
        return
    t.require_status(response, 200, what=f"GET {path}")
    found = entries(response)
    t.check(not found, f"GET {path} with patient {token.patient}'s token found {len(found)} resource(s)")


# -- refusals -----------------------------------------------------------------------------------
@refusals.test("expired-token-refused", "An expired token is refused with 401", verifies=["R-SEC-011"])
def expired_token(t: TestContext) -> None:
    """GET ``Patient/{patient}`` with the ``expired-token`` input (a token of this server that has
    expired) answers 401. Skipped without the input (samsvar cannot make one the server would
    otherwise take), or when it has not expired."""
    expired, claims = expired_token_input(t, "a SMART access token of this server")
    patient = claims.get("patient") if claims is not None else None
    path = f"Patient/{patient}" if isinstance(patient, str) and patient else "Observation"
    response = fhir_get(t, path, expired)
    t.check_status(response, 401, what=f"GET {path} with an expired token")


@refusals.test("forged-token-refused", "A token signed by a key the server does not trust is refused with 401",
               verifies=["R-SEC-011"])
def forged_token(t: TestContext) -> None:
    """The run's token with its claims and key id kept but signed by an RSA key samsvar makes up,
    and the same unsigned (``alg: none``), or, for an opaque token, a made-up string of about its
    length: each refused with 401, while the real token reads the patient (200)."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    token = main_token(t, patient=False)
    path = f"Patient/{token.patient}" if token.patient else "Observation"
    t.require_status(fhir_get(t, path, token.access_token), 200, what=f"GET {path} with the real token")
    parsed = unverified(token.access_token)
    if parsed is not None:
        header, claims = parsed
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        extra = {k: v for k, v in header.items() if k in ("kid", "typ")}
        forgeries = [("signed by a key made for this test", jwt.encode(claims, key, algorithm="RS256", headers=extra)),
                     ("unsigned (alg: none)", jwt.encode(claims, None, algorithm="none", headers=extra))]
    else:
        forgeries = [("a random string of about its length (the token is not a JWT)",
                      secrets.token_urlsafe(max(len(token.access_token) * 3 // 4, 16)))]
    for what, forged in forgeries:
        t.note(f"forged: the real token's claims and kid, {what}" if parsed is not None else f"forged: {what}")
        response = fhir_get(t, path, forged)
        t.check_status(response, 401, what=f"GET {path} with a forged token, {what}")
