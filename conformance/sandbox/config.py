"""What a sandbox is started with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .faults import FAULTS, parse_faults

DEFAULT_AUDIENCE = "samsvar-sandbox"
"""The audience of access tokens the sandbox's APIs accept (besides the FHIR base URL)."""


@dataclass(frozen=True)
class SandboxConfig:
    """A sandbox's settings. The defaults give a conformant, open sandbox on a free local port."""

    host: str = "127.0.0.1"
    port: int = 0
    """0 = a free port, chosen when the socket is bound."""
    data_dir: Path | None = None
    """Folder of the SQLite store (``sandbox.sqlite``); None = a fresh temporary folder, removed at stop."""
    faults: frozenset[str] = frozenset()
    """Names from :data:`~samsvar.conformance.sandbox.faults.FAULTS`."""
    auth: bool = False
    """Require OAuth2 bearer tokens (HelseID-style client credentials with private_key_jwt)."""
    dpop_required: bool = False
    """Issue and accept DPoP-bound tokens only (RFC 9449): the token endpoint refuses a request
    without a DPoP proof and the APIs refuse bearer tokens. Without it, a token request with a
    proof gets a DPoP-bound token and one without gets a bearer token."""
    dpop_nonce: bool = False
    """Demand server nonces in DPoP proofs (``use_dpop_nonce`` with a ``DPoP-Nonce`` header), at the
    token endpoint and at the APIs, as HelseID does."""
    smart: bool = False
    """SMART App Launch for a citizen-facing app: ``/fhir/.well-known/smart-configuration``,
    ``/smart/authorize`` (a fixed test patient, no browser), ``/smart/token`` (PKCE), and the FHIR
    API taking patient-level SMART tokens (:mod:`~samsvar.conformance.sandbox.smart`)."""
    clients: Mapping[str, str] = field(default_factory=dict)
    """client_id → the client's RSA public key (PEM), for its private_key_jwt client assertions."""
    drop_dir: Path | None = None
    """File-drop transport: messages in ``inbox/``, AppRecs to ``outbox/``, messages moved to ``processed/``."""
    apprec_delay: float = 0.0
    """Seconds to wait before answering a message (HTTP) or writing its AppRec (file drop)."""
    poll_interval: float = 0.2
    """Seconds between two looks into the drop inbox."""
    audience: str = DEFAULT_AUDIENCE
    cache_root: Path | None = None
    """FHIR package cache for the validator (None = ``$SAMSVAR_FHIR_HOME`` or ``~/.fhir/packages``)."""
    tls_cert: Path | None = None
    """PEM certificate (chain) and key: serve HTTPS instead of HTTP."""
    tls_key: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "faults", parse_faults(self.faults))
        object.__setattr__(self, "clients", dict(self.clients))
        if self.apprec_delay < 0 or self.poll_interval <= 0:
            raise ValueError("apprec_delay must be >= 0 and poll_interval > 0")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("give both tls_cert and tls_key, or neither")

    def has(self, fault: str) -> bool:
        """Is this fault switched on? (A name outside FAULTS is a bug in the sandbox.)"""
        if fault not in FAULTS:
            raise KeyError(fault)
        return fault in self.faults
