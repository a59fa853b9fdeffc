"""OAuth2 client credentials the HelseID way: private_key_jwt client assertions in, RS256 access tokens out.

A client proves who it is with a JWT signed by its own private key (``iss`` = ``sub`` =
client_id, ``aud`` = the token endpoint, ``exp``, ``jti``, RFC 7523); the sandbox knows the
client's public key from its configuration. The access token is an RS256 JWT signed by a key
the sandbox makes when it starts (published at ``/jwks``), with the audience asked for
(``resource``) and the requested scopes among :data:`ALLOWED_SCOPES`.

:meth:`TokenService.check_bearer` is what the APIs use: a missing, malformed, badly signed or
expired token is ``invalid_token`` (401); a valid token for another audience, or without the
scope the request needs, is refused with 403.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ALLOWED_SCOPES = ("fhir.read", "fhir.write", "messaging")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME = 300
ASSERTION_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
LEEWAY = 5


class TokenRequestError(Exception):
    """A refused token request: the OAuth2 error code, its description and the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class BearerError(Exception):
    """A refused bearer token: status 401 (``invalid_token``) or 403 (audience, ``insufficient_scope``)."""

    def __init__(self, status: int, error: str, description: str, scope: str | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.scope = scope

    def www_authenticate(self) -> str:
        """The ``WWW-Authenticate`` challenge (RFC 6750 section 3)."""
        parts = ['realm="samsvar-sandbox"', f'error="{self.error}"',
                 f'error_description="{self.description.replace(chr(34), chr(39))}"']
        if self.scope:
            parts.append(f'scope="{self.scope}"')
        return "Bearer " + ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid access token allows."""

    client_id: str
    scopes: frozenset[str]
    audience: tuple[str, ...]


class TokenService:
    """The sandbox's authorization server and resource-server checks."""

    def __init__(self, clients: Mapping[str, str], audience: str, lifetime: int = TOKEN_LIFETIME) -> None:
        self.audience = audience
        self.lifetime = lifetime
        self._clients = {client_id: serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
                         for client_id, pem in clients.items()}
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self._key.public_key()
        self.kid = _thumbprint(self.public_key)
        self._seen: dict[tuple[str, str], float] = {}
        self._seen_lock = threading.Lock()

    # -- discovery ----------------------------------------------------------------------
    def jwks(self) -> dict[str, object]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    @staticmethod
    def discovery(issuer: str) -> dict[str, object]:
        """OpenID Connect discovery document (the parts a client-credentials client reads)."""
        return {
            "issuer": issuer,
            "token_endpoint": issuer + "/token",
            "jwks_uri": issuer + "/jwks",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
            "scopes_supported": list(ALLOWED_SCOPES),
            "response_types_supported": ["token"],
        }

    # -- the token endpoint -------------------------------------------------------------
    def token_response(self, form: Mapping[str, str], *, token_url: str, issuer: str) -> dict[str, object]:
        """The token response for a client-credentials request, or :class:`TokenRequestError`."""
        if form.get("grant_type") != "client_credentials":
            raise TokenRequestError("unsupported_grant_type", "only grant_type=client_credentials is supported")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise TokenRequestError("invalid_client", f"client_assertion_type must be {ASSERTION_TYPE}", 401)
        assertion = form.get("client_assertion")
        if not assertion:
            raise TokenRequestError("invalid_client", "client_assertion is missing", 401)
        client_id = self._authenticate(assertion, form.get("client_id"), token_url, issuer)
        scopes = self._scopes(form.get("scope"))
        audience = form.get("resource") or self.audience
        token = self.mint(client_id, scopes, audience, issuer=issuer)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime,
                "scope": " ".join(sorted(scopes))}

    def _authenticate(self, assertion: str, client_id: str | None, token_url: str, issuer: str) -> str:
        try:
            claimed = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise TokenRequestError("invalid_client", f"client_assertion is not a JWT ({exc})", 401) from None
        issuer_claim = claimed.get("iss")
        if client_id and issuer_claim != client_id:
            raise TokenRequestError("invalid_client", "client_assertion iss differs from client_id", 401)
        key = self._clients.get(issuer_claim) if isinstance(issuer_claim, str) else None
        if key is None:
            raise TokenRequestError("invalid_client", f"unknown client {issuer_claim!r}", 401)
        try:
            claims = jwt.decode(assertion, key, algorithms=ASSERTION_ALGORITHMS, audience=[token_url, issuer],
                                issuer=issuer_claim, leeway=LEEWAY,
                                options={"require": ["iss", "sub", "aud", "exp", "jti"]})
        except jwt.PyJWTError as exc:
            raise TokenRequestError("invalid_client", f"client_assertion rejected: {exc}", 401) from None
        if claims["sub"] != issuer_claim:
            raise TokenRequestError("invalid_client", "client_assertion sub must equal iss (the client_id)", 401)
        self._remember(issuer_claim, str(claims["jti"]), float(claims["exp"]))
        return issuer_claim

    def _remember(self, client_id: str, jti: str, expires: float) -> None:
        """Refuse a replayed assertion (same client and jti while it is valid)."""
        now = time.time()
        with self._seen_lock:
            self._seen = {key: exp for key, exp in self._seen.items() if exp + LEEWAY > now}
            if (client_id, jti) in self._seen:
                raise TokenRequestError("invalid_client", "client_assertion jti was already used", 401)
            self._seen[(client_id, jti)] = expires

    @staticmethod
    def _scopes(requested: str | None) -> frozenset[str]:
        if not requested or not requested.strip():
            return frozenset(ALLOWED_SCOPES)
        wanted = set(requested.split())
        granted = frozenset(wanted & set(ALLOWED_SCOPES))
        if not granted:
            raise TokenRequestError("invalid_scope", f"none of the scopes {sorted(wanted)} is allowed; "
                                                     f"allowed: {' '.join(ALLOWED_SCOPES)}")
        return granted

    def mint(self, client_id: str, scopes: Iterable[str], audience: str, *, issuer: str = "samsvar-sandbox",
             lifetime: int | None = None) -> str:
        """An access token signed with the sandbox's key (tests use a negative lifetime for an expired one)."""
        now = int(time.time())
        claims = {"iss": issuer, "sub": client_id, "client_id": client_id, "aud": audience,
                  "scope": " ".join(sorted(scopes)), "iat": now, "nbf": now,
                  "exp": now + (self.lifetime if lifetime is None else lifetime), "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid, "typ": "at+jwt"})

    # -- the resource server ------------------------------------------------------------
    def check_bearer(self, authorization: str | None, scope: str, audiences: Iterable[str]) -> Grant:
        """The grant of a valid ``Authorization: Bearer`` header that allows ``scope``, or :class:`BearerError`."""
        if not authorization:
            raise BearerError(401, "invalid_token", "an Authorization: Bearer token is required")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            raise BearerError(401, "invalid_token", "the Authorization header is not 'Bearer <token>'")
        try:
            claims = jwt.decode(token, self.public_key, algorithms=["RS256"], leeway=LEEWAY,
                                options={"verify_aud": False, "require": ["exp", "aud"]})
        except jwt.ExpiredSignatureError:
            raise BearerError(401, "invalid_token", "the token has expired") from None
        except jwt.PyJWTError as exc:
            raise BearerError(401, "invalid_token", f"the token is not valid ({exc})") from None
        token_audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if not set(map(str, token_audiences)) & set(audiences):
            raise BearerError(403, "invalid_token", f"the token is for another audience ({claims['aud']})")
        scopes = frozenset(str(claims.get("scope", "")).split())
        if scope not in scopes:
            raise BearerError(403, "insufficient_scope", f"the token lacks the scope {scope}", scope=scope)
        return Grant(str(claims.get("client_id") or claims.get("sub")), scopes, tuple(map(str, token_audiences)))


def read_client_option(text: str) -> tuple[str, str]:
    """``CLIENT_ID=PUBLIC_KEY.pem`` → (client_id, PEM text); ValueError with a readable reason."""
    client_id, sep, path = text.partition("=")
    if not sep or not client_id.strip() or not path.strip():
        raise ValueError(f"{text!r} is not CLIENT_ID=PUBLIC_KEY.pem")
    try:
        pem = Path(path.strip()).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the public key {path.strip()!r}: {exc}") from None
    try:
        serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path.strip()!r} is not a PEM public key ({exc})") from None
    return client_id.strip(), pem


def _thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint, used as the key id."""
    numbers = public_key.public_numbers()

    def b64(value: int) -> str:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    canonical = json.dumps({"e": b64(numbers.e), "kty": "RSA", "n": b64(numbers.n)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
