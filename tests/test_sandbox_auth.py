"""The sandbox's HelseID-style OAuth2: private_key_jwt client assertions, access tokens, 401/403."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from samsvar.conformance.sandbox import ASSERTION_TYPE, DEFAULT_AUDIENCE, RunningSandbox, serve_in_thread

from .test_sandbox import TIMEOUT, assert_outcome, get, patient, post, sandbox_config

pytestmark = pytest.mark.timeout(120)

CLIENT_ID = "samsvar-test-client"


def make_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def assertion(key: rsa.RSAPrivateKey, audience: str, *, client_id: str = CLIENT_ID, **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 60,
              "jti": str(uuid.uuid4()), **changes}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="RS256")


def token_request(sandbox: RunningSandbox, key: rsa.RSAPrivateKey, **form: str) -> requests.Response:
    body = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(key, sandbox.token_url)}
    body.update(form)
    return requests.post(sandbox.token_url, data=body, timeout=TIMEOUT)


def access_token(sandbox: RunningSandbox, key: rsa.RSAPrivateKey, **form: str) -> str:
    answer = token_request(sandbox, key, **form)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def client_key() -> rsa.RSAPrivateKey:
    return make_key()


@pytest.fixture()
def secured(fhir_cache: Path, client_key: rsa.RSAPrivateKey) -> Iterator[RunningSandbox]:
    config = sandbox_config(fhir_cache, auth=True, clients={CLIENT_ID: public_pem(client_key)})
    with serve_in_thread(config) as running:
        yield running


def test_discovery_jwks_and_metadata_are_public(secured: RunningSandbox) -> None:
    discovery = get(secured.base_url + "/.well-known/openid-configuration").json()
    assert discovery["issuer"] == secured.base_url
    assert discovery["token_endpoint"] == secured.token_url
    assert discovery["jwks_uri"] == secured.base_url + "/jwks"
    assert discovery["grant_types_supported"] == ["client_credentials"]
    assert discovery["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    keys = get(discovery["jwks_uri"]).json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["kid"]

    statement = get(secured.fhir_url + "/metadata")
    assert statement.status_code == 200
    security = statement.json()["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "OAuth"
    assert secured.token_url in security["description"]


def test_the_token_flow(secured: RunningSandbox, client_key: rsa.RSAPrivateKey) -> None:
    answer = token_request(secured, client_key, scope="fhir.read fhir.write")
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300 and body["scope"] == "fhir.read fhir.write"

    jwk = get(secured.base_url + "/jwks").json()["keys"][0]
    claims = jwt.decode(body["access_token"], jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=DEFAULT_AUDIENCE)
    assert claims["sub"] == CLIENT_ID and claims["client_id"] == CLIENT_ID
    assert claims["exp"] - claims["iat"] == 300
    assert jwt.get_unverified_header(body["access_token"])["kid"] == jwk["kid"]

    token = bearer(body["access_token"])
    created = post(secured.fhir_url + "/Patient", patient(), headers=token)
    assert created.status_code == 201
    assert get(created.headers["Location"], headers=token).status_code == 200


def test_no_scope_asked_gives_every_allowed_scope_and_unknown_ones_are_left_out(
        secured: RunningSandbox, client_key: rsa.RSAPrivateKey) -> None:
    assert token_request(secured, client_key).json()["scope"] == "fhir.read fhir.write messaging"
    assert token_request(secured, client_key, scope="fhir.read admin").json()["scope"] == "fhir.read"
    refused = token_request(secured, client_key, scope="admin")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"


@pytest.mark.parametrize("authorization", [None, "", "Basic dXNlcjpwdw==", "Bearer", "Bearer not-a-jwt",
                                           "Bearer a b"])
def test_missing_or_malformed_tokens_get_401(secured: RunningSandbox, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for answer in (get(secured.fhir_url + "/Patient", headers=headers),
                   post(secured.fhir_url + "/Patient", patient(), headers=headers),
                   requests.post(secured.messaging_url, data=b"<x/>", headers=headers, timeout=TIMEOUT)):
        assert_outcome(answer, 401)
        assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_a_token_signed_by_another_key_or_expired_gets_401(secured: RunningSandbox,
                                                           client_key: rsa.RSAPrivateKey) -> None:
    now = int(time.time())
    forged = jwt.encode({"iss": secured.base_url, "sub": CLIENT_ID, "aud": DEFAULT_AUDIENCE,
                         "scope": "fhir.read fhir.write messaging", "iat": now, "exp": now + 300},
                        client_key, algorithm="RS256")
    expired = secured.sandbox.tokens.mint(CLIENT_ID, ["fhir.read"], DEFAULT_AUDIENCE, lifetime=-60)
    for token in (forged, expired):
        answer = get(secured.fhir_url + "/Patient", headers=bearer(token))
        assert_outcome(answer, 401)
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_wrong_audience_gets_403(secured: RunningSandbox, client_key: rsa.RSAPrivateKey) -> None:
    token = access_token(secured, client_key, resource="https://another-api.example.org")
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == "https://another-api.example.org"
    assert_outcome(get(secured.fhir_url + "/Patient", headers=bearer(token)), 403)
    # the FHIR base URL is an accepted audience too
    assert get(secured.fhir_url + "/Patient",
               headers=bearer(access_token(secured, client_key, resource=secured.fhir_url))).status_code == 200


def test_missing_scope_gets_403_insufficient_scope(secured: RunningSandbox, client_key: rsa.RSAPrivateKey) -> None:
    read_only = bearer(access_token(secured, client_key, scope="fhir.read"))
    assert get(secured.fhir_url + "/Patient", headers=read_only).status_code == 200
    for answer in (post(secured.fhir_url + "/Patient", patient(), headers=read_only),
                   requests.delete(secured.fhir_url + "/Patient/x", headers=read_only, timeout=TIMEOUT),
                   requests.post(secured.messaging_url, data=b"<x/>", headers=read_only, timeout=TIMEOUT)):
        assert_outcome(answer, 403)
        assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]

    write_only = bearer(access_token(secured, client_key, scope="fhir.write"))
    assert post(secured.fhir_url + "/Patient", patient(), headers=write_only).status_code == 201
    assert_outcome(get(secured.fhir_url + "/Patient", headers=write_only), 403)

    messaging = bearer(access_token(secured, client_key, scope="messaging"))
    assert requests.post(secured.messaging_url, data=b"not xml", headers=messaging,
                         timeout=TIMEOUT).status_code == 400  # past the token check


def _bad_assertions(secured: RunningSandbox, client_key: rsa.RSAPrivateKey) -> dict[str, dict[str, str]]:
    other_key = make_key()
    base = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE}
    now = int(time.time())
    return {
        "signed by another key": {**base, "client_assertion": assertion(other_key, secured.token_url)},
        "unknown client": {**base, "client_assertion": assertion(client_key, secured.token_url, client_id="nobody")},
        "wrong audience": {**base, "client_assertion": assertion(client_key, "https://helseid.example.org/token")},
        "expired": {**base, "client_assertion": assertion(client_key, secured.token_url, exp=now - 120)},
        "no jti": {**base, "client_assertion": assertion(client_key, secured.token_url, jti=None)},
        "sub is not the client": {**base, "client_assertion": assertion(client_key, secured.token_url, sub="x")},
        "not a JWT": {**base, "client_assertion": "garbage"},
        "no assertion": dict(base),
        "wrong assertion type": {**base, "client_assertion_type": "password",
                                 "client_assertion": assertion(client_key, secured.token_url)},
        "client_id differs": {**base, "client_id": "someone-else",
                              "client_assertion": assertion(client_key, secured.token_url)},
    }


def test_bad_client_assertions_are_invalid_client(secured: RunningSandbox, client_key: rsa.RSAPrivateKey) -> None:
    for why, form in _bad_assertions(secured, client_key).items():
        answer = requests.post(secured.token_url, data=form, timeout=TIMEOUT)
        assert answer.status_code in (400, 401), why
        assert answer.json()["error"] == "invalid_client", (why, answer.text)


def test_a_replayed_assertion_and_other_grants_are_refused(secured: RunningSandbox,
                                                           client_key: rsa.RSAPrivateKey) -> None:
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(client_key, secured.token_url)}
    assert requests.post(secured.token_url, data=form, timeout=TIMEOUT).status_code == 200
    replay = requests.post(secured.token_url, data=form, timeout=TIMEOUT)
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client"

    other_grant = requests.post(secured.token_url, data={**form, "grant_type": "password"}, timeout=TIMEOUT)
    assert other_grant.status_code == 400 and other_grant.json()["error"] == "unsupported_grant_type"
    as_json = requests.post(secured.token_url, json=form, timeout=TIMEOUT)
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"


def test_the_issuer_url_is_an_accepted_assertion_audience(secured: RunningSandbox,
                                                          client_key: rsa.RSAPrivateKey) -> None:
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(client_key, secured.base_url)}
    assert requests.post(secured.token_url, data=form, timeout=TIMEOUT).status_code == 200


def test_without_auth_there_is_no_token_endpoint_and_no_token_is_needed(fhir_cache: Path) -> None:
    with serve_in_thread(sandbox_config(fhir_cache)) as open_sandbox:
        assert requests.post(open_sandbox.token_url, data={}, timeout=TIMEOUT).status_code == 404
        assert get(open_sandbox.base_url + "/jwks").status_code == 404
        assert get(open_sandbox.fhir_url + "/Patient").status_code == 200
        assert get(open_sandbox.fhir_url + "/Patient", headers=bearer("garbage")).status_code == 200


def test_no_auth_fault_accepts_any_or_no_token(fhir_cache: Path, client_key: rsa.RSAPrivateKey) -> None:
    config = sandbox_config(fhir_cache, auth=True, clients={CLIENT_ID: public_pem(client_key)},
                            faults=frozenset({"no-auth"}))
    with serve_in_thread(config) as faulty:
        assert get(faulty.fhir_url + "/Patient").status_code == 200
        assert get(faulty.fhir_url + "/Patient", headers=bearer("garbage")).status_code == 200
        assert post(faulty.fhir_url + "/Patient", patient()).status_code == 201
        assert token_request(faulty, client_key).status_code == 200  # the token endpoint still works


# -- DPoP (RFC 9449) ------------------------------------------------------------------------------
def test_the_rfc_7638_thumbprint_of_its_example_key() -> None:
    from samsvar.conformance.jwk import thumbprint

    example = {"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
               "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjB"
                    "ZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8"
                    "KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_"
                    "xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}
    assert thumbprint(example) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_dpop_bound_tokens_with_server_nonces(fhir_cache: Path, client_key: rsa.RSAPrivateKey) -> None:
    from samsvar.conformance.dpop import NONCE_HEADER, DPoPKey, challenge_schemes

    key = DPoPKey()
    config = sandbox_config(fhir_cache, auth=True, clients={CLIENT_ID: public_pem(client_key)}, dpop_nonce=True)
    with serve_in_thread(config) as sandbox:
        assert "ES256" in get(sandbox.base_url + "/.well-known/openid-configuration").json()[
            "dpop_signing_alg_values_supported"]
        asked = token_request_with(sandbox, client_key, key.proof("POST", sandbox.token_url))
        assert asked.status_code == 400 and asked.json()["error"] == "use_dpop_nonce"
        nonce = asked.headers[NONCE_HEADER]
        answer = token_request_with(sandbox, client_key, key.proof("POST", sandbox.token_url, nonce=nonce))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["token_type"] == "DPoP"
        token = body["access_token"]
        assert jwt.decode(token, options={"verify_signature": False})["cnf"] == {"jkt": key.thumbprint}
        url = sandbox.fhir_url + "/Patient"
        proper = get(url, headers={"Authorization": f"DPoP {token}",
                                   "DPoP": key.proof("GET", url, access_token=token, nonce=nonce)})
        assert proper.status_code == 200
        as_bearer = get(url, headers=bearer(token))
        assert as_bearer.status_code == 401 and challenge_schemes(as_bearer.headers["WWW-Authenticate"]) == ["DPoP"]
        wrong_typ = jwt.encode({"jti": "x", "htm": "POST", "htu": sandbox.token_url, "iat": int(time.time())},
                               key.key, algorithm="ES256", headers={"typ": "JWT", "jwk": key.jwk})
        refused = token_request_with(sandbox, client_key, wrong_typ)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_dpop_proof"
        two = get(url, headers={"Authorization": f"DPoP {token}", "DPoP": ", ".join(
            key.proof("GET", url, access_token=token, nonce=nonce) for _ in range(2))})
        assert two.status_code == 401 and "exactly one DPoP proof" in two.text
        plain = token_request(sandbox, client_key)
        assert plain.status_code == 200 and plain.json()["token_type"] == "Bearer"


def test_dpop_required_refuses_bearer_token_requests(fhir_cache: Path, client_key: rsa.RSAPrivateKey) -> None:
    config = sandbox_config(fhir_cache, auth=True, clients={CLIENT_ID: public_pem(client_key)}, dpop_required=True)
    with serve_in_thread(config) as sandbox:
        refused = token_request(sandbox, client_key)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_dpop_proof"
        minted = sandbox.sandbox.tokens.mint(CLIENT_ID, ["fhir.read"], DEFAULT_AUDIENCE)
        answer = get(sandbox.fhir_url + "/Patient", headers=bearer(minted))
        assert answer.status_code == 401 and "DPoP-bound tokens only" in answer.text


def token_request_with(sandbox: RunningSandbox, key: rsa.RSAPrivateKey, proof: str) -> requests.Response:
    body = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(key, sandbox.token_url)}
    return requests.post(sandbox.token_url, data=body, headers={"DPoP": proof}, timeout=TIMEOUT)
