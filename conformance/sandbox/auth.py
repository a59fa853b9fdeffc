"""OAuth2 client credentials the HelseID way: private_key_jwt client assertions in, RS256 access tokens out.

A client proves who it is with a JWT signed by its own private key (``iss`` = ``sub`` =
client_id, ``aud`` = the token endpoint, ``exp``, ``jti``, RFC 7523); the sandbox knows the
client's public key from its configuration. The access token is an RS256 JWT signed by a key
the sandbox makes when it starts (published at ``/jwks``), with the audience asked for
(``resource``) and the requested scopes among :data:`ALLOWED_SCOPES`.

:meth:`TokenService.check_bearer` is what the APIs use: a missing, malformed, badly signed or
expired token is ``invalid_token`` (401); a valid token for another audience, or without the
scope the request needs, is refused with 403.

DPoP (RFC 9449): a token request with a ``DPoP`` proof gets a DPoP-bound token (``token_type:
DPoP``, the proof key's thumbprint in ``cnf.jkt``); with ``dpop_required`` a request without one
is refused. :meth:`TokenService.check_access` takes such a token only with the ``DPoP`` scheme
and a proof for the request made with the bound key (:mod:`.dpop`), and never as a bearer token.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ..dpop import NONCE_HEADER, PROOF_ALGORITHMS
from ..jwk import key_thumbprint
from .dpop import ProofChecker, ProofError

ALLOWED_SCOPES = ("fhir.read", "fhir.write", "messaging")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME = 300
ASSERTION_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
LEEWAY = 5


class TokenRequestError(Exception):
    """A refused token request: the OAuth2 error code, its description and the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class BearerError(Exception):
    """A refused access token: status 401 (``invalid_token``, ``invalid_dpop_proof``, ``use_dpop_nonce``)
    or 403 (audience, ``insufficient_scope``). ``schemes`` are the challenges to answer with (the
    error goes with the first); ``nonce`` a fresh DPoP nonce to send back."""

    def __init__(self, status: int, error: str, description: str, scope: str | None = None,
                 schemes: tuple[str, ...] = ("Bearer",), nonce: str | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.scope = scope
        self.schemes = schemes
        self.nonce = nonce

    def www_authenticate(self) -> str:
        """The ``WWW-Authenticate`` challenges (RFC 6750 section 3, RFC 9449 section 7.1), the error on the first."""
        challenges = []
        for n, scheme in enumerate(self.schemes):
            parts = ['realm="samsvar-sandbox"']
            if scheme == "DPoP":
                parts.append(f'algs="{" ".join(PROOF_ALGORITHMS)}"')
            if n == 0:
                parts += [f'error="{self.error}"', f'error_description="{self.description.replace(chr(34), chr(39))}"']
                if self.scope:
                    parts.append(f'scope="{self.scope}"')
            challenges.append(f"{scheme} " + ", ".join(parts))
        return ", ".join(challenges)

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.www_authenticate(), **({NONCE_HEADER: self.nonce} if self.nonce else {})}


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid access token allows."""

    client_id: str
    scopes: frozenset[str]
    audience: tuple[str, ...]


class TokenService:
    """The sandbox's authorization server and resource-server checks."""

    def __init__(self, clients: Mapping[str, str], audience: str, lifetime: int = TOKEN_LIFETIME, *,
                 dpop_required: bool = False, proofs: ProofChecker | None = None) -> None:
        self.audience = audience
        self.lifetime = lifetime
        self.dpop_required = dpop_required
        self.proofs = proofs or ProofChecker(nonces=False, broken=lambda _fault: False)
        self._clients = {client_id: serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
                         for client_id, pem in clients.items()}
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self._key.public_key()
        self.kid = key_thumbprint(self.public_key)
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
            "dpop_signing_alg_values_supported": list(PROOF_ALGORITHMS),
        }

    # -- the token endpoint -------------------------------------------------------------
    def token_response(self, form: Mapping[str, str], *, token_url: str, issuer: str,
                       dpop: str | None = None) -> dict[str, object]:
        """The token response for a client-credentials request (DPoP-bound when ``dpop``, the
        request's DPoP header, holds a proof), or :class:`TokenRequestError`."""
        if form.get("grant_type") != "client_credentials":
            raise TokenRequestError("unsupported_grant_type", "only grant_type=client_credentials is supported")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise TokenRequestError("invalid_client", f"client_assertion_type must be {ASSERTION_TYPE}", 401)
        assertion = form.get("client_assertion")
        if not assertion:
            raise TokenRequestError("invalid_client", "client_assertion is missing", 401)
        jkt = self._proof_key(dpop, token_url)
        client_id = self._authenticate(assertion, form.get("client_id"), token_url, issuer)
        scopes = self._scopes(form.get("scope"))
        audience = form.get("resource") or self.audience
        token = self.mint(client_id, scopes, audience, issuer=issuer, jkt=jkt)
        return {"access_token": token, "token_type": "DPoP" if jkt else "Bearer", "expires_in": self.lifetime,
                "scope": " ".join(sorted(scopes))}

    def _proof_key(self, proof: str | None, token_url: str) -> str | None:
        """The thumbprint a token is to be bound to (None: a bearer token), from the request's DPoP proof."""
        if proof is None:
            if self.dpop_required:
                raise TokenRequestError("invalid_dpop_proof", "this client must send a DPoP proof (RFC 9449) with "
                                                              "its token request")
            return None
        try:
            return self.proofs.check(proof, "POST", token_url)
        except ProofError as exc:
            raise TokenRequestError(exc.error, exc.description,
                                    headers={NONCE_HEADER: exc.nonce} if exc.nonce else None) from None

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
             lifetime: int | None = None, jkt: str | None = None) -> str:
        """An access token signed with the sandbox's key (tests use a negative lifetime for an expired
        one), bound to the DPoP key with thumbprint ``jkt`` when given."""
        now = int(time.time())
        claims = {"iss": issuer, "sub": client_id, "client_id": client_id, "aud": audience,
                  "scope": " ".join(sorted(scopes)), "iat": now, "nbf": now,
                  "exp": now + (self.lifetime if lifetime is None else lifetime), "jti": str(uuid.uuid4())}
        if jkt:
            claims["cnf"] = {"jkt": jkt}
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid, "typ": "at+jwt"})

    # -- the resource server ------------------------------------------------------------
    @property
    def schemes(self) -> tuple[str, ...]:
        """The schemes the APIs challenge with: DPoP only when it is required, else Bearer first."""
        return ("DPoP",) if self.dpop_required else ("Bearer", "DPoP")

    def check_access(self, authorization: str | None, scope: str, audiences: Iterable[str], *,
                     proof: str | None = None, method: str = "GET", url: str = "",
                     proof_optional: bool = False) -> Grant:
        """The grant of a valid ``Authorization`` header (``Bearer`` or ``DPoP`` with the request's
        ``proof``) that allows ``scope``, or :class:`BearerError`. ``proof_optional`` is the fault
        that accepts a DPoP-bound token without its proof."""
        if not authorization:
            raise BearerError(401, "invalid_token", "an access token is required (Authorization: "
                              f"{' or '.join(self.schemes)})", schemes=self.schemes)
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        scheme = {"bearer": "Bearer", "dpop": "DPoP"}.get(scheme.lower(), "")
        if not scheme or not token or " " in token:
            raise BearerError(401, "invalid_token", "the Authorization header is not 'Bearer <token>' or "
                              "'DPoP <token>'", schemes=self.schemes)
        claims = self._token_claims(token)
        bound = (claims.get("cnf") or {}).get("jkt") if isinstance(claims.get("cnf"), dict) else None
        self._check_binding(scheme, token, bound, proof, method, url, proof_optional)
        token_audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if not set(map(str, token_audiences)) & set(audiences):
            raise BearerError(403, "invalid_token", f"the token is for another audience ({claims['aud']})",
                              schemes=self.schemes)
        scopes = frozenset(str(claims.get("scope", "")).split())
        if scope not in scopes:
            raise BearerError(403, "insufficient_scope", f"the token lacks the scope {scope}", scope=scope,
                              schemes=self.schemes)
        return Grant(str(claims.get("client_id") or claims.get("sub")), scopes, tuple(map(str, token_audiences)))

    def check_bearer(self, authorization: str | None, scope: str, audiences: Iterable[str]) -> Grant:
        """:meth:`check_access` for a request without a DPoP proof."""
        return self.check_access(authorization, scope, audiences)

    def _token_claims(self, token: str) -> dict[str, object]:
        try:
            return jwt.decode(token, self.public_key, algorithms=["RS256"], leeway=LEEWAY,
                              options={"verify_aud": False, "require": ["exp", "aud"]})
        except jwt.ExpiredSignatureError:
            raise BearerError(401, "invalid_token", "the token has expired", schemes=self.schemes) from None
        except jwt.PyJWTError as exc:
            raise BearerError(401, "invalid_token", f"the token is not valid ({exc})", schemes=self.schemes) from None

    def _check_binding(self, scheme: str, token: str, bound: object, proof: str | None, method: str, url: str,
                       proof_optional: bool) -> None:
        """RFC 9449 section 7: a bound token only with the DPoP scheme and a proof by its key; the DPoP
        scheme only with a bound token; no bearer token where DPoP is required."""
        dpop_only = ("DPoP",)
        if scheme == "Bearer":
            if bound and not proof_optional:
                raise BearerError(401, "invalid_token", "this token is DPoP-bound: send it with the DPoP scheme "
                                  "and a DPoP proof, never as a bearer token", schemes=dpop_only)
            if self.dpop_required and not bound:
                raise BearerError(401, "invalid_token", "this API accepts DPoP-bound tokens only", schemes=dpop_only)
            return
        if not bound:
            raise BearerError(401, "invalid_token", "the DPoP scheme needs a DPoP-bound token (cnf.jkt)",
                              schemes=dpop_only)
        if proof is None and proof_optional:
            return
        if proof is None:
            raise BearerError(401, "invalid_dpop_proof", "a DPoP-bound token needs a DPoP proof in the DPoP header",
                              schemes=dpop_only)
        try:
            self.proofs.check(proof, method, url, access_token=token, bound_to=str(bound))
        except ProofError as exc:
            raise BearerError(401, exc.error, exc.description, schemes=dpop_only, nonce=exc.nonce) from None


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
