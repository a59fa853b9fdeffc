"""Each fault switches on exactly one non-conformance: a probe of every behaviour a fault can break
finds nothing wrong on the clean sandbox, and exactly that fault's behaviour on each faulty one."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from samsvar.conformance.dpop import NONCE_HEADER, DPoPKey
from samsvar.conformance.sandbox import (
    DEFAULT_AUDIENCE,
    FAULT_ELEMENT,
    FAULTS,
    RunningSandbox,
    SandboxConfig,
    UnknownFault,
    parse_faults,
    serve_in_thread,
)

from .test_sandbox import TIMEOUT, get, patient, post, put, sandbox_config
from .test_sandbox_auth import CLIENT_ID, make_key, public_pem
from .test_sandbox_messaging import LIVE, status_of

pytestmark = pytest.mark.timeout(300)

Probe = Callable[[RunningSandbox, dict[str, str]], bool]
"""True when the behaviour is conformant."""


def _created_properly(sandbox: RunningSandbox, token: dict[str, str]) -> bool:
    answer = post(sandbox.fhir_url + "/Patient", patient(), headers=token)
    return answer.status_code == 201 and "Location" in answer.headers


def _errors_are_operationoutcomes(sandbox: RunningSandbox, token: dict[str, str]) -> bool:
    answer = get(sandbox.fhir_url + "/Patient/unknown", headers=token)
    assert answer.status_code == 404
    return answer.headers["content-type"].startswith("application/fhir+json") and \
        answer.json()["resourceType"] == "OperationOutcome"


def _invalid_refused(sandbox: RunningSandbox, token: dict[str, str]) -> bool:
    return post(sandbox.fhir_url + "/Patient", patient(gender="banana"), headers=token).status_code == 422


def _returned_resources_valid(sandbox: RunningSandbox, token: dict[str, str]) -> bool:
    created = post(sandbox.fhir_url + "/Patient", patient(), headers=token).json()
    assert created["gender"] == "female" and FAULT_ELEMENT not in created  # the create answer is always right
    read = get(f"{sandbox.fhir_url}/Patient/{created['id']}", headers=token).json()
    found = get(f"{sandbox.fhir_url}/Patient?_id={created['id']}", headers=token).json()["entry"][0]["resource"]
    return all(r["gender"] == "female" and FAULT_ELEMENT not in r for r in (read, found))


def _versioned(sandbox: RunningSandbox, token: dict[str, str]) -> bool:
    created = post(sandbox.fhir_url + "/Patient", patient(), headers=token).json()
    url = f"{sandbox.fhir_url}/Patient/{created['id']}"
    updated = put(url, {**created, "gender": "male"}, headers=token)
    stale = put(url, {**created, "gender": "other"}, headers={**token, "If-Match": 'W/"1"'})
    return updated.headers.get("ETag") == 'W/"2"' and updated.json()["meta"]["versionId"] == "2" \
        and stale.status_code == 412


def _paged(sandbox: RunningSandbox, token: dict[str, str]) -> bool:
    for _ in range(3):
        post(sandbox.fhir_url + "/Patient", patient(tag="probe-paging"), headers=token)
    bundle = get(f"{sandbox.fhir_url}/Patient?_tag=https://samsvar.no/fhir/CodeSystem/test-run|probe-paging"
                 "&_count=2", headers=token).json()
    return len(bundle["entry"]) == 2 and any(link["relation"] == "next" for link in bundle["link"])


def _apprec_answered(sandbox: RunningSandbox, token: dict[str, str]) -> bool:
    answer = requests.post(sandbox.messaging_url, data=(LIVE / "dialogmelding-valid.xml").read_bytes(),
                           headers=token, timeout=TIMEOUT)
    return answer.status_code == 200 and status_of(answer.content) == "1"


def _apprec_status_right(sandbox: RunningSandbox, token: dict[str, str]) -> bool:
    answer = requests.post(sandbox.messaging_url, data=(LIVE / "dialogmelding-patient-fnr-wrong.xml").read_bytes(),
                           headers=token, timeout=TIMEOUT)
    return answer.status_code != 200 or status_of(answer.content) == "2"  # no AppRec is another fault's


def _token_required(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
    return get(sandbox.fhir_url + "/Patient").status_code == 401 and \
        requests.post(sandbox.messaging_url, data=b"<x/>", timeout=TIMEOUT).status_code == 401


def _dpop(sandbox: RunningSandbox, make) -> tuple[requests.Response, str, str]:
    """GET /fhir/Patient with a new DPoP-bound token and the proof ``make(key, token, url, nonce)``,
    once more with the nonce when the sandbox demands one (as a DPoP client does). Answers the
    response, the token and the last proof sent."""
    key = DPoPKey()
    token = sandbox.sandbox.tokens.mint(CLIENT_ID, ["fhir.read"], DEFAULT_AUDIENCE, jkt=key.thumbprint)
    url = sandbox.fhir_url + "/Patient"
    proof = make(key, token, url, None)
    answer = get(url, headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    if answer.status_code == 401 and NONCE_HEADER in answer.headers:
        proof = make(key, token, url, answer.headers[NONCE_HEADER])
        answer = get(url, headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    return answer, token, proof


def _proper(key: DPoPKey, token: str, url: str, nonce: str | None) -> str:
    return key.proof("GET", url, access_token=token, nonce=nonce)


def _dpop_refused(make) -> Probe:
    """Conformant when the proper proof is taken and the one ``make`` spoils is refused."""
    def probe(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
        return _dpop(sandbox, _proper)[0].status_code == 200 and _dpop(sandbox, make)[0].status_code == 401
    return probe


def _dpop_proof_required(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
    key = DPoPKey()
    token = sandbox.sandbox.tokens.mint(CLIENT_ID, ["fhir.read"], DEFAULT_AUDIENCE, jkt=key.thumbprint)
    return all(get(sandbox.fhir_url + "/Patient", headers={"Authorization": f"{scheme} {token}"}).status_code == 401
               for scheme in ("DPoP", "Bearer"))


def _dpop_replay_refused(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
    answer, token, proof = _dpop(sandbox, _proper)
    again = get(sandbox.fhir_url + "/Patient", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    return answer.status_code == 200 and again.status_code == 401


DPOP_PROBES: dict[str, Probe] = {
    "dpop-proof-optional": _dpop_proof_required,
    "dpop-request-unchecked": _dpop_refused(lambda k, t, u, n: k.proof("POST", u, access_token=t, nonce=n)),
    "dpop-replay": _dpop_replay_refused,
    "dpop-key-unchecked": _dpop_refused(lambda k, t, u, n: DPoPKey().proof("GET", u, access_token=t, nonce=n)),
    "dpop-ath-unchecked": _dpop_refused(lambda k, t, u, n: k.proof("GET", u, access_token=t + "x", nonce=n)),
    "dpop-iat-unchecked": _dpop_refused(lambda k, t, u, n: k.proof("GET", u, access_token=t, nonce=n,
                                                                   issued=time.time() - 600)),
    "dpop-nonce-unchecked": _dpop_refused(lambda k, t, u, n: k.proof("GET", u, access_token=t, nonce="made-up")),
}
ALSO_BROKEN = {"no-auth": set(DPOP_PROBES)}
"""Faults that break more than their own probe: without any token check, DPoP is not checked either."""


PROBES: dict[str, Probe] = {
    "wrong-status": _created_properly,
    "no-operationoutcome": _errors_are_operationoutcomes,
    "accept-invalid": _invalid_refused,
    "invalid-resource": _returned_resources_valid,
    "no-versioning": _versioned,
    "no-paging": _paged,
    "no-apprec": _apprec_answered,
    "wrong-apprec-status": _apprec_status_right,
    "no-auth": _token_required,
    **DPOP_PROBES,
}


def broken_behaviours(fhir_cache: Path, client_key: rsa.RSAPrivateKey, faults: frozenset[str]) -> set[str]:
    config = sandbox_config(fhir_cache, auth=True, clients={CLIENT_ID: public_pem(client_key)}, faults=faults,
                            dpop_nonce=True)
    with serve_in_thread(config) as sandbox:
        token = {"Authorization": "Bearer " + sandbox.sandbox.tokens.mint(
            CLIENT_ID, ["fhir.read", "fhir.write", "messaging"], DEFAULT_AUDIENCE)}
        return {name for name, probe in PROBES.items() if not probe(sandbox, token)}


@pytest.fixture(scope="module")
def client_key() -> rsa.RSAPrivateKey:
    return make_key()


def test_every_fault_has_a_probe() -> None:
    assert set(PROBES) == set(FAULTS)


def test_the_clean_sandbox_breaks_nothing(fhir_cache: Path, client_key: rsa.RSAPrivateKey) -> None:
    assert broken_behaviours(fhir_cache, client_key, frozenset()) == set()


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_breaks_exactly_its_behaviour(fhir_cache: Path, client_key: rsa.RSAPrivateKey,
                                                 fault: str) -> None:
    assert broken_behaviours(fhir_cache, client_key, frozenset({fault})) == {fault} | ALSO_BROKEN.get(fault, set())


def test_faults_combine(fhir_cache: Path, client_key: rsa.RSAPrivateKey) -> None:
    chosen = frozenset({"no-paging", "wrong-status", "no-apprec"})
    assert broken_behaviours(fhir_cache, client_key, chosen) == set(chosen)


def test_unknown_fault_names_are_refused_with_the_list() -> None:
    with pytest.raises(UnknownFault, match="choose from wrong-status, no-operationoutcome"):
        parse_faults(["no-paging", "banana"])
    with pytest.raises(UnknownFault, match="'banana'"):
        SandboxConfig(faults=frozenset({"banana"}))
    assert parse_faults([" no-paging "]) == {"no-paging"}


def test_fault_effects_in_detail(fhir_cache: Path) -> None:
    """What a vendor sees: plain-text errors, 200 without Location, stored invalid resources, no ETags."""
    faults = frozenset({"no-operationoutcome", "wrong-status", "accept-invalid", "no-versioning"})
    with serve_in_thread(sandbox_config(fhir_cache, faults=faults)) as sandbox:
        missing = get(sandbox.fhir_url + "/Patient/unknown")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/plain")
        created = post(sandbox.fhir_url + "/Patient", patient(gender="banana"))
        assert created.status_code == 200 and "Location" not in created.headers and "ETag" not in created.headers
        url = f"{sandbox.fhir_url}/Patient/{created.json()['id']}"
        assert get(url).json()["gender"] == "banana"
        updated = put(url, created.json(), headers={"If-Match": 'W/"7"'})
        assert updated.status_code == 200 and updated.json()["meta"]["versionId"] == "1"
        assert "ETag" not in get(url).headers
        history = get(url + "/_history").json()
        assert history["total"] == 1
        unparsable = post(sandbox.fhir_url + "/Patient", b"{")
        assert unparsable.status_code == 400 and not unparsable.text.lstrip().startswith("{")
        assert json.loads(put(sandbox.fhir_url + "/Patient/new-one", {**patient(), "id": "new-one"}).text)["id"] \
            == "new-one"
