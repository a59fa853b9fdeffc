"""The sandbox's fault modes: each switches on exactly one non-conformance.

The live suites run against the sandbox once clean (every test passes) and once per fault
(the tests that verify that behaviour fail, and only those), which proves that each test can
fail. :data:`FAULTS` is the one list: the CLI help, the usage error for an unknown name and
the README table are made from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

FAULTS: Mapping[str, str] = MappingProxyType({
    "wrong-status": "create answers 200 instead of 201 Created, and without a Location header",
    "no-operationoutcome": "error responses (4xx/5xx) carry a text/plain body instead of an OperationOutcome",
    "accept-invalid": "invalid resources (e.g. Patient.gender 'banana') are stored and answered 201",
    "invalid-resource": "resources returned by read, vread, search and history carry a non-conformant value "
                        "(Patient.gender 'banana') and an unknown element",
    "no-versioning": "no ETag headers, If-Match is ignored and meta.versionId stays '1'",
    "no-paging": "_count is ignored: every match in one page, no next link",
    "no-apprec": "messaging answers 202 with an empty body; the file drop writes no AppRec",
    "wrong-apprec-status": "the AppRec always says Status 1 (OK), even for broken messages",
    "no-auth": "bearer tokens are neither required nor checked, even with --auth",
    "dpop-proof-optional": "a DPoP-bound token is accepted without a DPoP proof, also as a bearer token",
    "dpop-request-unchecked": "a DPoP proof's htm and htu are not compared with the request's method and URL",
    "dpop-replay": "a DPoP proof's jti is not remembered: the same proof is accepted again",
    "dpop-key-unchecked": "a DPoP proof's key is not compared with the token's cnf.jkt",
    "dpop-ath-unchecked": "a DPoP proof's ath is not compared with the hash of the access token",
    "dpop-iat-unchecked": "a DPoP proof's iat is not checked: old proofs are accepted",
    "dpop-nonce-unchecked": "with --dpop-nonce, a proof without a nonce is refused but any nonce is accepted",
})
"""Fault name → what it breaks, in one line."""


class UnknownFault(ValueError):
    """A fault name that is not in :data:`FAULTS`; the message lists the known names."""


def parse_faults(names: Iterable[str]) -> frozenset[str]:
    """The set of fault names, or :class:`UnknownFault` naming the bad ones and the known ones."""
    chosen = frozenset(name.strip() for name in names)
    unknown = sorted(chosen - FAULTS.keys())
    if unknown:
        raise UnknownFault(f"unknown fault {', '.join(repr(n) for n in unknown)}; "
                           f"choose from {', '.join(FAULTS)}")
    return chosen
