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
    "smart-bad-discovery": "with --smart, the smart-configuration has no capabilities, no "
                           "code_challenge_methods_supported and a relative token_endpoint",
    "smart-no-pkce": "with --smart, authorization requests without a PKCE code_challenge (or with 'plain') get a code",
    "smart-ignore-verifier": "with --smart, the token endpoint does not compare code_verifier with the code_challenge",
    "smart-drop-state": "with --smart, the redirect back to the app leaves out the state it was sent",
    "smart-open-redirect": "with --smart, redirect_uri is not checked against the registered one, nor at the "
                           "token endpoint against the authorization request's",
    "smart-code-reuse": "with --smart, an authorization code can be traded for a token more than once",
    "smart-bad-token-response": "with --smart, the token response has no token_type and no scope",
    "smart-no-patient-context": "with --smart, the token response has no patient, even for launch/patient",
    "smart-v2-scopes-ignored": "with --smart, SMART v2 scopes for one type (patient/Observation.rs) are not granted, "
                               "only patient/*.rs, though permission-v2 is advertised",
    "smart-v1-scopes-ignored": "with --smart, SMART v1 scopes (patient/Observation.read) are not granted, though "
                               "permission-v1 is advertised",
    "smart-scope-unenforced": "with --smart, a patient token reads every resource type, whatever its scopes",
    "smart-leak-read": "with --smart, a patient token reads (and writes) another patient's resources by id",
    "smart-leak-search": "with --smart, a patient token's searches find another patient's resources",
    "smart-leak-compartment": "with --smart, a patient token searches another patient's compartment "
                              "(Patient/OTHER/Observation)",
    "smart-accept-expired": "with --smart, expired SMART access tokens are accepted",
    "smart-accept-forged": "with --smart, the signature of SMART access tokens is not checked",
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
