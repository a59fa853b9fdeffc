"""DPoP (RFC 9449): proofs that bind an access token to a key the client holds, as HelseID asks
of new API clients.

A client makes a key pair (:class:`DPoPKey`), sends a proof with the token request (the token
comes back with ``token_type: DPoP`` and the key's RFC 7638 thumbprint in ``cnf.jkt``) and a new
proof with every API request: a JWT with ``typ: dpop+jwt``, the public key in its ``jwk`` header,
and the claims ``jti`` (unique), ``htm`` and ``htu`` (the request's method and URL without query
and fragment), ``iat``, ``ath`` (the SHA-256 of the access token) and, when the server demands
one, its ``nonce``. Proofs are made with PyJWT over keys of the ``cryptography`` package.

The security suite builds proofs here (also wrong ones, on purpose); the sandbox checks them with
the helpers :func:`htu_of`, :func:`access_token_hash` and :func:`challenge_schemes`.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from .jwk import algorithm_for, b64url, public_jwk, thumbprint

PROOF_TYPE = "dpop+jwt"
PROOF_ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA")
"""Asymmetric algorithms a proof may be signed with (never ``none`` or an HMAC)."""
NONCE_HEADER = "DPoP-Nonce"
USE_NONCE = "use_dpop_nonce"
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_ERROR = re.compile(r'error\s*=\s*"?([A-Za-z_]+)')


def htu_of(url: str) -> str:
    """The ``htu`` of a request URL: scheme and host in lower case, the default port dropped, no
    query and no fragment (RFC 9449 section 4.2 and 4.3)."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def access_token_hash(token: str) -> str:
    """``ath``: base64url of the SHA-256 of the access token's ASCII bytes."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def challenge_schemes(header: str) -> list[str]:
    """The auth schemes a ``WWW-Authenticate`` value challenges with (``Bearer``, ``DPoP``), in order;
    quoted parameter values are not read as schemes."""
    schemes = []
    for piece in _QUOTED.sub('""', header).split(","):
        found = re.match(r"\s*([A-Za-z][\w.+-]*)(?:\s+|$)", piece)
        if found and not piece[found.end(1):].lstrip().startswith("="):
            schemes.append(found.group(1))
    return schemes


def challenge_error(header: str) -> str | None:
    """The ``error`` parameter of a challenge (for example ``use_dpop_nonce``), if any."""
    found = _ERROR.search(header)
    return found.group(1) if found else None


@dataclass
class DPoPKey:
    """A client's DPoP key pair (EC P-256 unless given) and the proofs it signs."""

    key: Any = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_pem(cls, data: bytes) -> DPoPKey:
        """A client's own DPoP key (PEM, EC P-256 or RSA); ValueError with the reason otherwise."""
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        try:
            key = load_pem_private_key(data, password=None)
            algorithm_for(key)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not a usable DPoP private key (PEM, EC P-256 or RSA): {exc}") from None
        return cls(key)

    @property
    def jwk(self) -> dict[str, Any]:
        return public_jwk(self.key)

    @property
    def thumbprint(self) -> str:
        """RFC 7638 thumbprint: what a bound token carries as ``cnf.jkt``."""
        return thumbprint(self.jwk)

    def proof(self, method: str, url: str, *, access_token: str | None = None, nonce: str | None = None,
              issued: float | None = None, jti: str | None = None, **claims: Any) -> str:
        """A DPoP proof for ``method url`` (with ``ath`` when an access token goes with it). ``claims``
        overrides or adds claims, and ``claims={"ath": None}`` leaves one out (to make wrong proofs)."""
        body: dict[str, Any] = {"jti": jti or str(uuid.uuid4()), "htm": method.upper(), "htu": htu_of(url),
                                "iat": int(time.time() if issued is None else issued)}
        if access_token is not None:
            body["ath"] = access_token_hash(access_token)
        if nonce is not None:
            body["nonce"] = nonce
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, self.key, algorithm=algorithm_for(self.key),
                          headers={"typ": PROOF_TYPE, "jwk": self.jwk})
