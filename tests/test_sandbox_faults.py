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
from samsvar.conformance.sandbox.smart import CLIENT_ID as SMART_CLIENT
from samsvar.conformance.sandbox.smart import OTHER_PATIENT, REDIRECT_URI, TEST_PATIENT
from samsvar.conformance.smart import answer_params, s256
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
# -- SMART App Launch (the sandbox runs with smart=True as well) ---------------------------------
VERIFIER = "samsvar-probe-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"


def _authorize(sandbox: RunningSandbox, scope: str = "launch/patient patient/*.rs", **changes: str | None
               ) -> requests.Response:
    params = {"response_type": "code", "client_id": SMART_CLIENT, "redirect_uri": REDIRECT_URI, "scope": scope,
              "state": "probe-state", "aud": sandbox.fhir_url, "code_challenge": s256(VERIFIER),
              "code_challenge_method": "S256", **changes}
    return get(sandbox.base_url + "/smart/authorize", params={k: v for k, v in params.items() if v is not None},
               allow_redirects=False)


def _code(sandbox: RunningSandbox, **changes: str | None) -> str:
    return answer_params(_authorize(sandbox, **changes).headers["Location"])["code"]


def _exchange(sandbox: RunningSandbox, code: str, **changes: str) -> requests.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "client_id": SMART_CLIENT,
            "code_verifier": VERIFIER, **changes}
    return requests.post(sandbox.base_url + "/smart/token", data=form, timeout=TIMEOUT)


def _smart_token(sandbox: RunningSandbox, scope: str = "launch/patient patient/*.rs") -> dict[str, str]:
    answer = _exchange(sandbox, _code(sandbox, scope=scope))
    assert answer.status_code == 200, answer.text
    return answer.json()


def _as_patient(sandbox: RunningSandbox, path: str, token: str) -> requests.Response:
    return get(f"{sandbox.fhir_url}/{path}", headers={"Authorization": f"Bearer {token}"})


def _smart_discovery_right(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
    found = get(sandbox.fhir_url + "/.well-known/smart-configuration").json()
    return "S256" in found.get("code_challenge_methods_supported", []) and "capabilities" in found \
        and found["token_endpoint"] == sandbox.base_url + "/smart/token"


def _smart_pkce_required(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
    return all(answer_params(_authorize(sandbox, **changes).headers["Location"]).get("error") == "invalid_request"
               for changes in ({"code_challenge": None, "code_challenge_method": None},
                               {"code_challenge": VERIFIER, "code_challenge_method": "plain"}))


def _smart_verifier_checked(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
    return _exchange(sandbox, _code(sandbox), code_verifier=VERIFIER + "x").status_code == 400


def _smart_state_echoed(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
    return answer_params(_authorize(sandbox).headers["Location"]).get("state") == "probe-state"


def _smart_redirect_checked(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
    elsewhere = "http://127.0.0.1/somewhere-else"
    return _authorize(sandbox, redirect_uri=elsewhere).status_code == 400 and \
        _exchange(sandbox, _code(sandbox), redirect_uri=elsewhere).status_code == 400


def _smart_code_once(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
    code = _code(sandbox)
    return _exchange(sandbox, code).status_code == 200 and _exchange(sandbox, code).status_code == 400


def _smart_token_response(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
    answer = _smart_token(sandbox)
    return answer.get("token_type") == "Bearer" and answer.get("scope") == "launch/patient patient/*.rs"


def _smart_patient_context(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
    return _smart_token(sandbox).get("patient") == TEST_PATIENT


def _smart_scope_granted(scope: str) -> Probe:
    def probe(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
        import jwt

        token = _smart_token(sandbox, f"launch/patient {scope}")["access_token"]
        return scope in jwt.decode(token, options={"verify_signature": False})["scope"].split()
    return probe


def _smart_scope_enforced(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
    """A token for Observations (v2 syntax, or v1 where v2 is another fault's) reads those and no Condition."""
    for scope in ("patient/Observation.rs", "patient/Observation.read"):
        token = _smart_token(sandbox, f"launch/patient {scope}")["access_token"]
        if _as_patient(sandbox, "Observation", token).status_code == 200:
            return _as_patient(sandbox, "Condition", token).status_code == 403
    return False


def _smart_read_own_only(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
    token = _smart_token(sandbox)["access_token"]
    return _as_patient(sandbox, f"Patient/{TEST_PATIENT}", token).status_code == 200 and \
        _as_patient(sandbox, f"Patient/{OTHER_PATIENT}", token).status_code == 403


def _smart_search_own_only(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
    token = _smart_token(sandbox)["access_token"]
    return _as_patient(sandbox, f"Observation?patient={OTHER_PATIENT}", token).json()["total"] == 0 and \
        _as_patient(sandbox, f"Observation?patient={TEST_PATIENT}", token).json()["total"] == 1


def _smart_compartment_own_only(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
    token = _smart_token(sandbox)["access_token"]
    return _as_patient(sandbox, f"Patient/{TEST_PATIENT}/Observation", token).json()["total"] == 1 and \
        _as_patient(sandbox, f"Patient/{OTHER_PATIENT}/Observation", token).status_code == 403


def _smart_expired_refused(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
    expired = sandbox.sandbox.smart.mint(TEST_PATIENT, {"patient/*.rs"}, lifetime=-120)
    return _as_patient(sandbox, f"Patient/{TEST_PATIENT}", expired).status_code == 401


def _smart_forged_refused(sandbox: RunningSandbox, _token: dict[str, str]) -> bool:
    import jwt

    real = _smart_token(sandbox)["access_token"]
    claims = jwt.decode(real, options={"verify_signature": False})
    forged = jwt.encode(claims, make_key(), algorithm="RS256", headers={"kid": jwt.get_unverified_header(real)["kid"]})
    return _as_patient(sandbox, f"Patient/{TEST_PATIENT}", forged).status_code == 401


SMART_PROBES: dict[str, Probe] = {
    "smart-bad-discovery": _smart_discovery_right,
    "smart-no-pkce": _smart_pkce_required,
    "smart-ignore-verifier": _smart_verifier_checked,
    "smart-drop-state": _smart_state_echoed,
    "smart-open-redirect": _smart_redirect_checked,
    "smart-code-reuse": _smart_code_once,
    "smart-bad-token-response": _smart_token_response,
    "smart-no-patient-context": _smart_patient_context,
    "smart-v2-scopes-ignored": _smart_scope_granted("patient/Observation.rs"),
    "smart-v1-scopes-ignored": _smart_scope_granted("patient/Observation.read"),
    "smart-scope-unenforced": _smart_scope_enforced,
    "smart-leak-read": _smart_read_own_only,
    "smart-leak-search": _smart_search_own_only,
    "smart-leak-compartment": _smart_compartment_own_only,
    "smart-accept-expired": _smart_expired_refused,
    "smart-accept-forged": _smart_forged_refused,
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
    **SMART_PROBES,
}


def broken_behaviours(fhir_cache: Path, client_key: rsa.RSAPrivateKey, faults: frozenset[str]) -> set[str]:
    config = sandbox_config(fhir_cache, auth=True, clients={CLIENT_ID: public_pem(client_key)}, faults=faults,
                            dpop_nonce=True, smart=True)
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
