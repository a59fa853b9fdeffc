"""Access tokens for live runs: a static bearer token, or OAuth2 client credentials with a
``private_key_jwt`` client assertion, as HelseID issues them to machine clients.

The token request goes through the run's :class:`~samsvar.conformance.evidence.EvidenceClient`,
so it is evidence too (the assertion and the token are redacted there). Inputs (shared by the
suites that talk to a protected API):

=================  =====================================================================
``token``          a bearer token to send as it is (secret)
``token-url``      the token endpoint (HelseID: ``…/connect/token``)
``client-id``      the client's id; also ``iss`` and ``sub`` of the client assertion
``private-key``    path to the client's private key (PEM, RSA or EC)
``key-id``         ``kid`` of that key, when the authorisation server wants it
``scope``          scopes to ask for, space separated
``audience``       the API's audience, asked for as ``resource`` (HelseID's way)
=================  =====================================================================
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .evidence import EvidenceClient
from .suite import SuiteInput

if TYPE_CHECKING:  # PyJWT and the DPoP proofs are loaded when a token is asked for, not at start
    from .dpop import DPoPKey

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

AUTH_INPUTS: tuple[SuiteInput, ...] = (
    SuiteInput("token", "A bearer token to send as it is (instead of the client-credentials flow).", secret=True),
    SuiteInput("token-url", "OAuth2 token endpoint for client credentials (HelseID: …/connect/token)."),
    SuiteInput("client-id", "Client id for the client-credentials flow."),
    SuiteInput("private-key", "Path to the client's private key (PEM) that signs the client assertion."),
    SuiteInput("key-id", "kid of the private key, when the token endpoint needs it."),
    SuiteInput("scope", "Scopes to ask for, space separated."),
    SuiteInput("audience", "The API's audience, asked for with the 'resource' parameter."),
)


class TokenError(Exception):
    """The token endpoint did not give a token; the message says what it answered."""


def client_assertion(client_id: str, token_url: str, private_key_pem: bytes, *, key_id: str | None = None,
                     lifetime: int = 60, now: float | None = None, algorithm: str | None = None) -> str:
    """A signed JWT (RFC 7523) for ``private_key_jwt`` client authentication."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(private_key_pem, password=None)
    algorithm = algorithm or ("ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256")
    issued = int(now if now is not None else time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": token_url, "iat": issued, "nbf": issued,
              "exp": issued + lifetime, "jti": str(uuid.uuid4())}
    headers = {"kid": key_id} if key_id else None
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


@dataclass(slots=True)
class ClientCredentials:
    """Fetches (and caches until shortly before expiry) tokens from a token endpoint."""

    http: EvidenceClient
    token_url: str
    client_id: str
    private_key: Path
    key_id: str | None = None
    scope: str | None = None
    audience: str | None = None
    _cache: dict[tuple[str | None, str | None, str | None], tuple[str, str, float]] = field(default_factory=dict)

    def token(self, *, scope: str | None = None, audience: str | None = None) -> str:
        """A token for ``scope``/``audience`` (the configured ones when not given)."""
        return self.issue(scope=scope, audience=audience)[0]

    def issue(self, *, scope: str | None = None, audience: str | None = None,
              dpop: DPoPKey | None = None) -> tuple[str, str]:
        """(access token, token type) for ``scope``/``audience``; with ``dpop`` the request carries a
        DPoP proof of that key (RFC 9449 section 5), and a server nonce is sent when it asks for one."""
        scope = self.scope if scope is None else scope
        audience = self.audience if audience is None else audience
        cache_key = (scope, audience, dpop.thumbprint if dpop else None)
        cached = self._cache.get(cache_key)
        if cached and cached[2] > time.time() + 10:
            return cached[0], cached[1]
        try:
            pem = self.private_key.read_bytes()
        except OSError as exc:
            raise TokenError(f"the private key {self.private_key} cannot be read: {exc.strerror}") from None
        from .dpop import NONCE_HEADER, USE_NONCE

        response, body, nonce = None, None, None
        for _attempt in range(2):  # once more with the nonce when the server demands one
            response, body = self._request(pem, scope, audience, dpop, nonce)
            fresh = response.headers.get(NONCE_HEADER)
            if dpop is None or response.status_code != 400 or not isinstance(body, dict) \
                    or body.get("error") != USE_NONCE or not fresh or fresh == nonce:
                break
            nonce = fresh
        assert response is not None
        if response.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            detail = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
            raise TokenError(f"the token endpoint answered HTTP {response.status_code}"
                             f"{': ' + str(detail) if detail else ' without an access_token'}")
        lifetime = body.get("expires_in") if isinstance(body.get("expires_in"), (int, float)) else 300
        token_type = str(body.get("token_type") or "Bearer")
        self._cache[cache_key] = (body["access_token"], token_type, time.time() + float(lifetime))
        return body["access_token"], token_type

    def _request(self, pem: bytes, scope: str | None, audience: str | None, dpop: DPoPKey | None,
                 nonce: str | None) -> tuple[Any, Any]:
        form = {"grant_type": "client_credentials", "client_id": self.client_id,
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": client_assertion(self.client_id, self.token_url, pem, key_id=self.key_id)}
        if scope:
            form["scope"] = scope
        if audience:
            form["resource"] = audience
        headers = {"Accept": "application/json"}
        if dpop is not None:
            headers["DPoP"] = dpop.proof("POST", self.token_url, nonce=nonce)
        response = self.http.request("POST", self.token_url, data=form, auth=False, headers=headers)
        try:
            return response, response.json()
        except ValueError:
            return response, None


def credentials(inputs: Mapping[str, str], http: EvidenceClient) -> ClientCredentials | None:
    """The client-credentials flow the inputs describe, or None when they give no token URL."""
    if not inputs.get("token-url"):
        return None
    missing = [name for name in ("client-id", "private-key") if not inputs.get(name)]
    if missing:
        raise TokenError(f"--input token-url needs {' and '.join('--input ' + m for m in missing)} too")
    return ClientCredentials(http, inputs["token-url"], inputs["client-id"], Path(inputs["private-key"]),
                             key_id=inputs.get("key-id") or None, scope=inputs.get("scope") or None,
                             audience=inputs.get("audience") or None)


def token_source(inputs: Mapping[str, str], http: EvidenceClient) -> Callable[[], str | None] | None:
    """What the run's client sends as bearer token: the static one, a fetched one, or none."""
    if inputs.get("token"):
        static = inputs["token"]
        return lambda: static
    flow = credentials(inputs, http)
    if flow is None:
        return None
    return flow.token
