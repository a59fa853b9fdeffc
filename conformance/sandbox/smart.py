"""SMART App Launch (STU 2) for the sandbox: a citizen-facing app's authorization server.

With ``--smart`` the sandbox publishes ``/fhir/.well-known/smart-configuration``, answers
``/smart/authorize`` for one fixed test patient without a browser (the login a person would do
is taken as done: the answer is at once a redirect to the app's ``redirect_uri`` with a code),
trades codes for access tokens at ``/smart/token`` (PKCE ``S256`` required, the code once, the
``redirect_uri`` of the request), and the FHIR API takes those tokens with patient-level scopes
(v1 ``patient/Observation.read`` and v2 ``patient/Observation.rs``): only the scoped types, and
only what is in the patient's compartment, for read, search and compartment search.

The app is a public client :data:`CLIENT_ID` with the redirect URI :data:`REDIRECT_URI`; the
store is seeded with the test patient :data:`TEST_PATIENT` and another patient
:data:`OTHER_PATIENT`, each with an Observation and a Condition.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from ..jwk import key_thumbprint
from ..smart import parse_scope, s256
from .auth import LEEWAY, BearerError, TokenRequestError
from .search import COMPARTMENT, in_compartment
from .store import ResourceStore

CLIENT_ID = "samsvar-smart-app"
REDIRECT_URI = "http://127.0.0.1/samsvar-smart-callback"
TEST_PATIENT = "samsvar-smart-patient"
OTHER_PATIENT = "samsvar-smart-other-patient"
CODE_LIFETIME = 60
TOKEN_LIFETIME = 300
CONTEXT_SCOPES = ("launch/patient", "online_access")
CAPABILITIES = ("launch-standalone", "client-public", "context-standalone-patient", "permission-patient",
                "permission-v1", "permission-v2")
SCOPES_SUPPORTED = ("launch/patient", "online_access", "patient/*.rs", "patient/*.cruds", "patient/*.read",
                    "patient/*.write", "patient/*.*")
ACTIONS = {"fhir.read": "r", "fhir.write": "u"}


@dataclass(frozen=True, slots=True)
class SmartGrant:
    """What a valid SMART access token allows: one patient, these scopes."""

    patient: str
    scopes: frozenset[str]
    client_id: str

    def permits(self, resource_type: str, action: str) -> bool:
        """May the token do ``action`` (a letter of ``cruds``) on ``resource_type``?"""
        for scope in self.scopes:
            grant = parse_scope(scope)
            if grant and grant.context == "patient" and grant.resource_type in ("*", resource_type) \
                    and action in grant.actions and not grant.query:
                return True
        return False

    def sees(self, resource: Mapping[str, Any]) -> bool:
        """Is the resource the patient's own (the Patient itself, or in its compartment)? Types
        outside the patient compartment (Practitioner, Organization) are not the patient's to hide."""
        kind = str(resource.get("resourceType"))
        if kind != "Patient" and kind not in COMPARTMENT:
            return True
        return in_compartment(dict(resource), self.patient)


@dataclass(slots=True)
class PendingCode:
    client_id: str
    redirect_uri: str
    scopes: frozenset[str]
    patient: str
    challenge: str | None
    method: str | None
    expires: float
    used: bool = False


@dataclass(frozen=True, slots=True)
class AuthorizeAnswer:
    """A redirect (``location``) or a page with ``status`` and ``text``, never both."""

    status: int
    location: str | None = None
    text: str = ""


class SmartServer:
    """The sandbox's SMART authorization server and the FHIR API's token checks."""

    def __init__(self, broken: Callable[[str], bool], lifetime: int = TOKEN_LIFETIME) -> None:
        self.broken = broken
        self.lifetime = lifetime
        self.clients = {CLIENT_ID: (REDIRECT_URI,)}
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self._key.public_key()
        self.kid = "smart-" + key_thumbprint(self.public_key)
        self._codes: dict[str, PendingCode] = {}
        self._lock = threading.Lock()

    # -- discovery ----------------------------------------------------------------------------
    def discovery(self, base: str) -> dict[str, Any]:
        """The ``.well-known/smart-configuration`` document."""
        document: dict[str, Any] = {
            "authorization_endpoint": base + "/smart/authorize",
            "token_endpoint": base + "/smart/token",
            "grant_types_supported": ["authorization_code"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": list(SCOPES_SUPPORTED),
            "response_types_supported": ["code"],
            "capabilities": list(CAPABILITIES),
            "code_challenge_methods_supported": ["S256"],
        }
        if self.broken("smart-bad-discovery"):
            del document["capabilities"], document["code_challenge_methods_supported"]
            document["token_endpoint"] = "/smart/token"
        return document

    # -- the authorization endpoint -----------------------------------------------------------
    def authorize(self, params: Mapping[str, str], fhir_base: str) -> AuthorizeAnswer:
        """Answer an authorization request: the fixed test patient has logged in and agreed."""
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        registered = self.clients.get(client_id)
        if registered is None:
            return AuthorizeAnswer(400, text=f"unknown client_id {client_id!r}")
        if redirect_uri not in registered and not self.broken("smart-open-redirect"):
            return AuthorizeAnswer(400, text=f"redirect_uri {redirect_uri!r} is not registered for {client_id}")
        state = params.get("state")

        def back(**answer: str) -> AuthorizeAnswer:
            if state is not None and not self.broken("smart-drop-state"):
                answer["state"] = state
            parts = urlsplit(redirect_uri)
            query = parse_qsl(parts.query, keep_blank_values=True) + list(answer.items())
            return AuthorizeAnswer(302, urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), "")))

        if params.get("response_type") != "code":
            return back(error="unsupported_response_type", error_description="only response_type=code")
        if params.get("aud", "").rstrip("/") != fhir_base.rstrip("/"):
            return back(error="invalid_request", error_description=f"aud must be this FHIR server's base {fhir_base}")
        challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
        if not self.broken("smart-no-pkce"):
            if not challenge:
                return back(error="invalid_request", error_description="PKCE is required: code_challenge is missing")
            if method != "S256":
                return back(error="invalid_request", error_description="code_challenge_method must be S256")
        scopes = self.granted(params.get("scope", ""))
        code = secrets.token_urlsafe(24)
        with self._lock:
            now = time.time()
            self._codes = {c: p for c, p in self._codes.items() if p.expires > now - 600}
            self._codes[code] = PendingCode(client_id, redirect_uri, scopes, TEST_PATIENT, challenge or None,
                                            method or ("plain" if challenge else None), now + CODE_LIFETIME)
        return back(code=code)

    def granted(self, requested: str) -> frozenset[str]:
        """The requested scopes the sandbox understands and grants (patient-level resource scopes in
        v1 or v2 syntax without a query, and the context scopes)."""
        out = set()
        for scope in requested.split():
            if scope in CONTEXT_SCOPES:
                out.add(scope)
                continue
            grant = parse_scope(scope)
            if grant is None or grant.context != "patient" or grant.query:
                continue
            if grant.syntax == "v2" and grant.resource_type != "*" and self.broken("smart-v2-scopes-ignored"):
                continue
            if grant.syntax == "v1" and self.broken("smart-v1-scopes-ignored"):
                continue
            out.add(scope)
        return frozenset(out)

    # -- the token endpoint -------------------------------------------------------------------
    def token_response(self, form: Mapping[str, str], issuer: str, audience: str) -> dict[str, Any]:
        """The token response for an authorization-code request, or :class:`TokenRequestError`."""
        if form.get("grant_type") != "authorization_code":
            raise TokenRequestError("unsupported_grant_type", "only grant_type=authorization_code is supported")
        code = form.get("code", "")
        with self._lock:
            pending = self._codes.get(code)
            if pending is None or pending.expires < time.time():
                raise TokenRequestError("invalid_grant", "the code is not known or has expired")
            if pending.used and not self.broken("smart-code-reuse"):
                raise TokenRequestError("invalid_grant", "the code was already used")
            if form.get("client_id") != pending.client_id:
                raise TokenRequestError("invalid_client", "client_id differs from the authorization request's", 401)
            if form.get("redirect_uri") != pending.redirect_uri and not self.broken("smart-open-redirect"):
                raise TokenRequestError("invalid_grant", "redirect_uri differs from the authorization request's")
            pending.used = True
        self._check_verifier(pending, form.get("code_verifier"))
        token = self.mint(pending.patient, pending.scopes, issuer=issuer, audience=audience, client_id=pending.client_id)
        answer: dict[str, Any] = {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime,
                                  "scope": " ".join(sorted(pending.scopes))}
        if "launch/patient" in pending.scopes and not self.broken("smart-no-patient-context"):
            answer["patient"] = pending.patient
        if self.broken("smart-bad-token-response"):
            del answer["token_type"], answer["scope"]
        return answer

    def _check_verifier(self, pending: PendingCode, verifier: str | None) -> None:
        if pending.challenge is None or self.broken("smart-ignore-verifier"):
            return
        if not verifier:
            raise TokenRequestError("invalid_grant", "code_verifier is missing (PKCE)")
        if not verifier.isascii():
            raise TokenRequestError("invalid_grant", "code_verifier has characters outside ASCII (RFC 7636 4.1)")
        made = s256(verifier) if pending.method == "S256" else verifier
        if made != pending.challenge:
            raise TokenRequestError("invalid_grant", "code_verifier does not match the code_challenge")

    def mint(self, patient: str, scopes: frozenset[str] | set[str], *, issuer: str = "samsvar-sandbox",
             audience: str = "samsvar-sandbox", client_id: str = CLIENT_ID, lifetime: int | None = None) -> str:
        """A SMART access token for ``patient`` (tests use a negative lifetime for an expired one)."""
        now = int(time.time())
        claims = {"iss": issuer, "sub": patient, "aud": audience, "client_id": client_id, "patient": patient,
                  "scope": " ".join(sorted(scopes)), "iat": now, "nbf": now,
                  "exp": now + (self.lifetime if lifetime is None else lifetime), "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid, "typ": "at+jwt"})

    # -- the resource server ------------------------------------------------------------------
    def is_smart_token(self, authorization: str | None) -> bool:
        """Does the header carry a token that claims to be one of this server's (read unverified)?"""
        token = (authorization or "").partition(" ")[2].strip()
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return False
        return header.get("kid") == self.kid or "patient" in claims

    def check(self, authorization: str | None) -> SmartGrant:
        """The grant of a valid ``Authorization: Bearer`` SMART token, or :class:`BearerError` (401)."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise BearerError(401, "invalid_token", "a SMART access token is required (Authorization: Bearer)")
        options: dict[str, Any] = {"verify_aud": False, "require": ["exp", "patient"]}
        if self.broken("smart-accept-expired"):
            options["verify_exp"] = False
        try:
            if self.broken("smart-accept-forged"):  # without a signature check PyJWT skips exp unless told
                claims = jwt.decode(token.strip(), options={**options, "verify_signature": False,
                                                            "verify_exp": not self.broken("smart-accept-expired")})
            else:
                claims = jwt.decode(token.strip(), self.public_key, algorithms=["RS256"], leeway=LEEWAY, options=options)
        except jwt.ExpiredSignatureError:
            raise BearerError(401, "invalid_token", "the token has expired") from None
        except jwt.PyJWTError as exc:
            raise BearerError(401, "invalid_token", f"the token is not valid ({exc})") from None
        return SmartGrant(str(claims["patient"]), frozenset(str(claims.get("scope", "")).split()),
                          str(claims.get("client_id", "")))


# -- the seeded patients ------------------------------------------------------------------------
def seed(store: ResourceStore) -> None:
    """The test patient and another patient (synthetic fødselsnummer), each with an Observation and a
    Condition (kept when they are there already)."""
    for patient, fnr, family, given, gender, born in (
            (TEST_PATIENT, "07839424226", "Testpasient", "Sara", "female", "1994-03-07"),
            (OTHER_PATIENT, "07834146511", "Annenpasient", "Ola", "male", "1941-03-07")):
        resources = [
            {"resourceType": "Patient", "id": patient, "active": True,
             "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": fnr}],
             "name": [{"family": family, "given": [given]}], "gender": gender, "birthDate": born},
            {"resourceType": "Observation", "id": f"{patient}-pulse", "status": "final",
             "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                       "code": "vital-signs"}]}],
             "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
             "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": "2026-01-05T08:30:00+01:00",
             "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}},
            {"resourceType": "Condition", "id": f"{patient}-hypertension",
             "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                            "code": "active"}]},
             "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003",
                                  "display": "Hypertensive disorder"}]},
             "subject": {"reference": f"Patient/{patient}"}},
        ]
        for resource in resources:
            if store.current(resource["resourceType"], resource["id"]) is None:
                store.put(resource["resourceType"], resource["id"], resource)
