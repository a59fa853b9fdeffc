"""The sandbox's checks of DPoP proofs (RFC 9449 section 4.3), at the token endpoint and the APIs.

:meth:`ProofChecker.check` takes the ``DPoP`` header of a request and answers the proof key's
thumbprint, or raises :class:`ProofError`: the header must hold exactly one JWT with
``typ: dpop+jwt``, an asymmetric ``alg``, a public ``jwk`` that verifies the signature, ``htm``
and ``htu`` of this request, an ``iat`` within :data:`MAX_AGE` seconds, a ``jti`` not seen
before, and with an access token its ``ath`` and the key of the token's ``cnf.jkt``. When the
sandbox demands nonces (``dpop_nonce``), a proof without a nonce it issued is refused with
``use_dpop_nonce`` and a fresh nonce. Each ``dpop-*`` fault leaves out one of these checks.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any, Callable

import jwt

from ..dpop import PROOF_ALGORITHMS, PROOF_TYPE, USE_NONCE, access_token_hash, htu_of
from ..jwk import UnusableKey, thumbprint

MAX_AGE = 60
"""Seconds a proof is accepted after its ``iat`` (and the replay memory of its ``jti``)."""
FUTURE_LEEWAY = 5
NONCE_LIFETIME = 300


class ProofError(Exception):
    """A refused proof: the OAuth error (``invalid_dpop_proof`` or ``use_dpop_nonce``), the reason,
    and the fresh nonce to send back with ``use_dpop_nonce``."""

    def __init__(self, error: str, description: str, nonce: str | None = None) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.nonce = nonce


class ProofChecker:
    """DPoP proof checks with a replay memory and, optionally, server nonces. ``broken(name)`` says
    whether a ``dpop-*`` fault is switched on."""

    def __init__(self, *, nonces: bool, broken: Callable[[str], bool]) -> None:
        self.nonces = nonces
        self.broken = broken
        self._seen: dict[str, float] = {}
        self._issued: dict[str, float] = {}
        self._lock = threading.Lock()

    def new_nonce(self) -> str:
        nonce = secrets.token_urlsafe(24)
        with self._lock:
            now = time.time()
            self._issued = {n: t for n, t in self._issued.items() if t + NONCE_LIFETIME > now}
            self._issued[nonce] = now
        return nonce

    def check(self, header: str | None, method: str, url: str, *, access_token: str | None = None,
              bound_to: str | None = None) -> str:
        """The proof's key thumbprint, or :class:`ProofError`."""
        if not header or "," in header or " " in header.strip():
            raise ProofError("invalid_dpop_proof", "exactly one DPoP proof (a JWT) is required in the DPoP header")
        proof = header.strip()
        claims, key_thumbprint = self._verified(proof)
        if not self.broken("dpop-request-unchecked"):
            if claims.get("htm") != method.upper():
                raise ProofError("invalid_dpop_proof", f"the proof is for {claims.get('htm')!r}, not {method.upper()}")
            if not isinstance(claims.get("htu"), str) or htu_of(claims["htu"]) != htu_of(url):
                raise ProofError("invalid_dpop_proof", f"the proof is for {claims.get('htu')!r}, not {htu_of(url)}")
        now = time.time()
        issued = claims.get("iat")
        if not isinstance(issued, (int, float)):
            raise ProofError("invalid_dpop_proof", "the proof has no numeric iat")
        if not self.broken("dpop-iat-unchecked") and not now - MAX_AGE <= issued <= now + FUTURE_LEEWAY:
            raise ProofError("invalid_dpop_proof", f"the proof's iat is {int(now - issued)} s old; it must be "
                             f"made for this request (at most {MAX_AGE} s)")
        if self.nonces:
            self._check_nonce(claims.get("nonce"))
        if access_token is not None and not self.broken("dpop-ath-unchecked") \
                and claims.get("ath") != access_token_hash(access_token):
            raise ProofError("invalid_dpop_proof", "the proof's ath is not the hash of this access token")
        if bound_to is not None and not self.broken("dpop-key-unchecked") and key_thumbprint != bound_to:
            raise ProofError("invalid_dpop_proof", "the proof is signed by another key than the one the token is "
                             "bound to (cnf.jkt)")
        self._remember(str(claims["jti"]), now)
        return key_thumbprint

    def _verified(self, proof: str) -> tuple[dict[str, Any], str]:
        try:
            header = jwt.get_unverified_header(proof)
        except jwt.PyJWTError as exc:
            raise ProofError("invalid_dpop_proof", f"the DPoP proof is not a JWT ({exc})") from None
        if header.get("typ") != PROOF_TYPE:
            raise ProofError("invalid_dpop_proof", f"the proof's typ must be {PROOF_TYPE!r}")
        if header.get("alg") not in PROOF_ALGORITHMS:
            raise ProofError("invalid_dpop_proof", f"the proof's alg {header.get('alg')!r} is not an asymmetric one")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict) or "d" in jwk:
            raise ProofError("invalid_dpop_proof", "the proof's jwk header must be a public key")
        try:
            key = jwt.PyJWK(jwk, algorithm=header["alg"]).key
            claims = jwt.decode(proof, key, algorithms=[header["alg"]], leeway=FUTURE_LEEWAY,
                                options={"verify_aud": False, "verify_exp": False, "verify_iat": False,
                                         "require": ["jti", "htm", "htu", "iat"]})
            return claims, thumbprint(jwk)
        except (jwt.PyJWTError, UnusableKey, ValueError) as exc:
            raise ProofError("invalid_dpop_proof", f"the DPoP proof is not valid ({exc})") from None

    def _check_nonce(self, nonce: Any) -> None:
        if nonce is None:
            raise ProofError(USE_NONCE, "this server demands a DPoP nonce: send the DPoP-Nonce it gave", self.new_nonce())
        if self.broken("dpop-nonce-unchecked"):
            return
        with self._lock:
            issued = self._issued.get(str(nonce))
        if issued is None or issued + NONCE_LIFETIME < time.time():
            raise ProofError(USE_NONCE, "the DPoP nonce is not one this server gave (or it is too old)", self.new_nonce())

    def _remember(self, jti: str, now: float) -> None:
        if self.broken("dpop-replay"):
            return
        with self._lock:
            self._seen = {j: t for j, t in self._seen.items() if t + MAX_AGE + FUTURE_LEEWAY > now}
            if jti in self._seen:
                raise ProofError("invalid_dpop_proof", "the proof's jti was used before: a DPoP proof is for one "
                                 "request only")
            self._seen[jti] = now
