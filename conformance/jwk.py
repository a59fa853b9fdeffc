"""JSON Web Keys for the parts of samsvar that sign or check signatures: public JWKs (through
PyJWT), RFC 7638 thumbprints and the JWS algorithm that goes with a key.

Used by declarations of conformity (the signer's key id), by the DPoP proofs the security suite
builds (the ``jwk`` header and ``cnf.jkt``) and by the sandbox that checks them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SIGNING_ALGORITHMS = ("ES256", "RS256")
"""What samsvar signs with: ECDSA P-256 with SHA-256, or RSA PKCS#1 v1.5 with SHA-256."""
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}


class UnusableKey(ValueError):
    """A key samsvar cannot use (type, curve or size), with the reason."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def algorithm_for(key: Any) -> str:
    """ES256 for a P-256 key, RS256 for an RSA key of 2048 bits or more; :class:`UnusableKey` otherwise."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if not isinstance(key.curve, ec.SECP256R1):
            raise UnusableKey(f"an EC key must be on P-256 for ES256 (this one is on {key.curve.name})")
        return "ES256"
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        if key.key_size < 2048:
            raise UnusableKey(f"an RSA key must have at least 2048 bits for RS256 (this one has {key.key_size})")
        return "RS256"
    raise UnusableKey(f"a {type(key).__name__} cannot sign ES256 or RS256 (use an EC P-256 or RSA key)")


def public_jwk(key: Any) -> dict[str, Any]:
    """The public JWK of an EC or RSA key (private or public), as PyJWT writes it."""
    public = key.public_key() if hasattr(key, "private_bytes") else key
    if isinstance(public, ec.EllipticCurvePublicKey):
        return dict(jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True))
    if isinstance(public, rsa.RSAPublicKey):
        return dict(jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True))
    raise UnusableKey(f"a {type(public).__name__} has no JWK form here (use an EC or RSA key)")


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint (base64url) of a public JWK: its required members, sorted,
    without whitespace."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None or any(not isinstance(jwk.get(m), str) for m in members):
        raise UnusableKey(f"not a public EC, RSA or OKP JWK with its required members: {sorted(jwk)}")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def key_thumbprint(key: Any) -> str:
    """The RFC 7638 thumbprint of a key object."""
    return thumbprint(public_jwk(key))
