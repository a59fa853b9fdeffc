"""The reference sandbox's FHIR REST API, against a real server on 127.0.0.1 (no mocks).

Helpers here (``sandbox_config``, ``post``, ``get``, ...) are shared by the other
``test_sandbox_*`` files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from samsvar.conformance.sandbox import (
    FAULT_ELEMENT,
    SUPPORTED_TYPES,
    RunningSandbox,
    SandboxConfig,
    serve_in_thread,
)
from samsvar.validators.issues import Severity
from samsvar.validators.runner import Options, Validator

from .conftest import FIXTURES

pytestmark = pytest.mark.timeout(120)

TIMEOUT = 10
FNR_SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.1"
SYNTHETIC_FNR = "17912099997"  # Skatteetaten Tenor, month + 80
OTHER_SYNTHETIC_FNR = "01818012337"
OTHER_SYSTEM = "https://sykehus.example.org/pasientnummer"
TAG_SYSTEM = "https://samsvar.no/fhir/CodeSystem/test-run"
FHIR_JSON = "application/fhir+json"


def sandbox_config(fhir_cache: Path, **changes: Any) -> SandboxConfig:
    """A config that validates with the test session's package cache."""
    return SandboxConfig(cache_root=fhir_cache, **changes)


def get(url: str, **kwargs: Any) -> requests.Response:
    return requests.get(url, timeout=TIMEOUT, **kwargs)


def post(url: str, body: Any = None, **kwargs: Any) -> requests.Response:
    headers = {"Content-Type": FHIR_JSON, **kwargs.pop("headers", {})}
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(url, data=data, headers=headers, timeout=TIMEOUT, **kwargs)


def put(url: str, body: Any, **kwargs: Any) -> requests.Response:
    headers = {"Content-Type": FHIR_JSON, **kwargs.pop("headers", {})}
    return requests.put(url, data=json.dumps(body), headers=headers, timeout=TIMEOUT, **kwargs)


def delete(url: str, **kwargs: Any) -> requests.Response:
    return requests.delete(url, timeout=TIMEOUT, **kwargs)


def patient(value: str = SYNTHETIC_FNR, *, system: str | None = FNR_SYSTEM, gender: str = "female",
            tag: str | None = None) -> dict[str, Any]:
    identifier: dict[str, Any] = {"value": value}
    if system is not None:
        identifier["system"] = system
    resource: dict[str, Any] = {"resourceType": "Patient", "identifier": [identifier], "gender": gender,
                                "name": [{"family": "Testesen", "given": ["Kari"]}]}
    if tag:
        resource["meta"] = {"tag": [{"system": TAG_SYSTEM, "code": tag}]}
    return resource


def assert_outcome(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"] and all(issue["severity"] and issue["code"] for issue in body["issue"])
    return body


def errors_of(validator: Validator, resource: dict[str, Any]) -> list[tuple[str, str]]:
    result = validator.validate_bytes("answer.json", json.dumps(resource).encode())
    return [(i.rule, i.message) for i in result.issues if i.severity >= Severity.ERROR]


@pytest.fixture(scope="module")
def validator(fhir_cache: Path) -> Validator:
    return Validator(Options(cache_root=fhir_cache))


@pytest.fixture()
def sandbox(fhir_cache: Path) -> Iterator[RunningSandbox]:
    with serve_in_thread(sandbox_config(fhir_cache)) as running:
        yield running


# -- capabilities --------------------------------------------------------------------------
def test_metadata_is_a_valid_capability_statement(sandbox: RunningSandbox, validator: Validator) -> None:
    answer = get(sandbox.fhir_url + "/metadata")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(FHIR_JSON)
    statement = answer.json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert (statement["fhirVersion"], statement["kind"], statement["format"]) == ("4.0.1", "instance", ["json"])
    assert statement["software"]["name"]
    rest = statement["rest"][0]
    assert rest["mode"] == "server" and "security" not in rest
    assert [r["type"] for r in rest["resource"]] == list(SUPPORTED_TYPES)
    for resource in rest["resource"]:
        assert {i["code"] for i in resource["interaction"]} == {
            "read", "vread", "update", "delete", "create", "search-type", "history-instance"}
        assert resource["versioning"] == "versioned-update" and resource["conditionalCreate"] is True
        assert {(p["name"], p["type"]) for p in resource["searchParam"]} >= {
            ("identifier", "token"), ("_id", "token"), ("_tag", "token"), ("_count", "number")}
    assert errors_of(validator, statement) == []


# -- create --------------------------------------------------------------------------------
def test_create_answers_201_with_location_etag_and_the_stored_resource(sandbox: RunningSandbox) -> None:
    sent = dict(patient(), id="client-chosen")
    answer = post(sandbox.fhir_url + "/Patient", sent)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["id"] != "client-chosen"  # the server assigns the id
    assert created["meta"]["versionId"] == "1" and re.fullmatch(r"\d{4}-\d\d-\d\dT.+Z", created["meta"]["lastUpdated"])
    assert created["gender"] == "female" and created["identifier"] == sent["identifier"]
    location = answer.headers["Location"]
    assert location == f"{sandbox.fhir_url}/Patient/{created['id']}/_history/1"
    assert answer.headers["ETag"] == 'W/"1"'
    assert answer.headers["Last-Modified"].endswith("GMT")
    assert get(location).json() == created


@pytest.mark.parametrize(("body", "rule"), [
    (patient(gender="banana"), "FHIR-BIND-001"),
    ({**patient(), "favouriteColour": "blue"}, "FHIR-STRUCT-001"),
])
def test_an_invalid_resource_is_refused_with_422_and_the_findings(sandbox: RunningSandbox, body: dict[str, Any],
                                                                  rule: str) -> None:
    outcome = assert_outcome(post(sandbox.fhir_url + "/Patient", body), 422)
    codes = [i.get("details", {}).get("coding", [{}])[0].get("code") for i in outcome["issue"]]
    assert rule in codes
    assert outcome["issue"][0]["severity"] == "error"  # the most severe first
    assert get(sandbox.fhir_url + "/Patient").json()["total"] == 0  # nothing was stored


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b'{"resourceType": "Patient", ', FHIR_JSON, 400),
    (b'["not", "a", "resource"]', FHIR_JSON, 400),
    (json.dumps({"resourceType": "Observation", "status": "final", "code": {"text": "x"}}).encode(), FHIR_JSON, 400),
    (b'<Patient xmlns="http://hl7.org/fhir"/>', "application/fhir+xml", 415),
])
def test_unusable_bodies_are_refused_with_an_operationoutcome(sandbox: RunningSandbox, body: bytes,
                                                              content_type: str, status: int) -> None:
    answer = requests.post(sandbox.fhir_url + "/Patient", data=body, headers={"Content-Type": content_type},
                           timeout=TIMEOUT)
    assert_outcome(answer, status)


def test_conditional_create(sandbox: RunningSandbox) -> None:
    url = sandbox.fhir_url + "/Patient"
    condition = {"If-None-Exist": f"identifier={FNR_SYSTEM}|{SYNTHETIC_FNR}"}
    first = post(url, patient(), headers=condition)
    assert first.status_code == 201
    again = post(url, patient(gender="male"), headers=condition)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["gender"] == "female"
    assert get(url).json()["total"] == 1  # no second resource

    assert post(url, patient()).status_code == 201  # a second one, unconditionally
    assert_outcome(post(url, patient(), headers=condition), 412)
    assert_outcome(post(url, patient(), headers={"If-None-Exist": "address-city=Oslo"}), 400)
    other = {"If-None-Exist": f"identifier={FNR_SYSTEM}|{OTHER_SYNTHETIC_FNR}"}
    assert post(url, patient(OTHER_SYNTHETIC_FNR), headers=other).status_code == 201  # no match: created
    assert get(url).json()["total"] == 3


# -- read, vread, update, delete -----------------------------------------------------------
def test_read_unknown_and_unsupported(sandbox: RunningSandbox) -> None:
    assert_outcome(get(sandbox.fhir_url + "/Patient/does-not-exist"), 404)
    assert_outcome(get(sandbox.fhir_url + "/Encounter/1"), 404)
    assert_outcome(get(sandbox.fhir_url + "/Encounter"), 404)
    assert_outcome(get(sandbox.fhir_url + "/Patient/x/_history/1"), 404)
    assert_outcome(get(sandbox.fhir_url + "/Patient/x/y/z"), 404)
    assert_outcome(requests.patch(sandbox.fhir_url + "/Patient/x", data=b"[]", timeout=TIMEOUT), 405)


def test_update_versions_and_if_match(sandbox: RunningSandbox) -> None:
    created = post(sandbox.fhir_url + "/Patient", patient()).json()
    url = f"{sandbox.fhir_url}/Patient/{created['id']}"

    changed = put(url, {**created, "gender": "male"}, headers={"If-Match": 'W/"1"'})
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == 'W/"2"' and changed.json()["meta"]["versionId"] == "2"
    read = get(url)
    assert read.headers["ETag"] == 'W/"2"' and read.json()["gender"] == "male"
    assert get(url + "/_history/1").json()["gender"] == "female"  # vread keeps the old version
    assert get(url + "/_history/2").json()["gender"] == "male"
    assert_outcome(get(url + "/_history/3"), 404)

    assert_outcome(put(url, {**created, "gender": "other"}, headers={"If-Match": 'W/"1"'}), 412)  # stale
    assert_outcome(put(url, {**created, "id": "another"}), 400)
    assert_outcome(put(url, {k: v for k, v in created.items() if k != "id"}), 400)
    assert_outcome(put(url, {**created, "gender": "banana"}), 422)
    assert get(url).json()["meta"]["versionId"] == "2"  # none of the refused updates stored anything


def test_update_as_create(sandbox: RunningSandbox) -> None:
    url = sandbox.fhir_url + "/Patient/chosen-by-client"
    answer = put(url, {**patient(), "id": "chosen-by-client"})
    assert answer.status_code == 201, answer.text
    assert answer.headers["Location"] == url + "/_history/1" and answer.headers["ETag"] == 'W/"1"'
    assert get(url).status_code == 200


def test_delete_then_read_is_gone_and_history_keeps_every_version(sandbox: RunningSandbox,
                                                                   validator: Validator) -> None:
    created = post(sandbox.fhir_url + "/Patient", patient()).json()
    url = f"{sandbox.fhir_url}/Patient/{created['id']}"
    assert put(url, {**created, "gender": "male"}).status_code == 200
    assert delete(url).status_code == 204
    assert_outcome(get(url), 410)
    assert_outcome(get(url + "/_history/3"), 410)  # the deletion is a version
    assert get(url + "/_history/1").status_code == 200
    assert delete(url).status_code == 204  # deleting again changes nothing
    assert_outcome(delete(sandbox.fhir_url + "/Patient/never-there"), 404)
    assert get(sandbox.fhir_url + "/Patient").json()["total"] == 0

    history = get(url + "/_history").json()
    assert history["type"] == "history" and history["total"] == 3
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "PUT", "POST"]
    assert errors_of(validator, history) == []


# -- search --------------------------------------------------------------------------------
def _ids(bundle: dict[str, Any]) -> set[str]:
    return {entry["resource"]["id"] for entry in bundle.get("entry", [])}


def test_search_by_identifier_id_and_tag(sandbox: RunningSandbox, validator: Validator) -> None:
    url = sandbox.fhir_url + "/Patient"
    fnr = post(url, patient(tag="run-1")).json()
    other_system = post(url, patient(SYNTHETIC_FNR, system=OTHER_SYSTEM)).json()
    no_system = post(url, patient("12345", system=None, tag="run-2")).json()

    def search(query: str) -> set[str]:
        answer = get(f"{url}?{query}")
        assert answer.status_code == 200, answer.text
        bundle = answer.json()
        assert bundle["type"] == "searchset" and bundle["total"] == len(bundle.get("entry", []))
        for entry in bundle.get("entry", []):
            assert entry["fullUrl"] == f"{url}/{entry['resource']['id']}"
            assert entry["search"]["mode"] == "match"
        return _ids(bundle)

    assert search(f"identifier={FNR_SYSTEM}|{SYNTHETIC_FNR}") == {fnr["id"]}
    assert search(f"identifier={SYNTHETIC_FNR}") == {fnr["id"], other_system["id"]}
    assert search("identifier=|12345") == {no_system["id"]}
    assert search(f"identifier=|{SYNTHETIC_FNR}") == set()
    assert search(f"identifier={FNR_SYSTEM}|") == {fnr["id"]}
    assert search(f"identifier={FNR_SYSTEM}|{SYNTHETIC_FNR},|12345") == {fnr["id"], no_system["id"]}
    assert search(f"_id={other_system['id']}") == {other_system["id"]}
    assert search(f"_tag={TAG_SYSTEM}|run-1") == {fnr["id"]}
    assert search(f"_tag={TAG_SYSTEM}|run-1&identifier=12345") == set()  # repeated parameters: AND
    assert search("unknown-parameter=x") == {fnr["id"], other_system["id"], no_system["id"]}  # lenient
    assert search("identifier=nothing") == set()

    posted = requests.post(url + "/_search", data={"_id": fnr["id"]}, timeout=TIMEOUT)
    assert posted.status_code == 200 and _ids(posted.json()) == {fnr["id"]}
    assert errors_of(validator, get(url).json()) == []


def test_search_by_name_gender_and_birthdate(sandbox: RunningSandbox) -> None:
    url = sandbox.fhir_url + "/Patient"
    kari = post(url, {**patient(), "name": [{"family": "Ødegård", "given": ["Kari", "Åse"]}],
                      "birthDate": "2020-11-17"}).json()
    ola = post(url, {**patient(OTHER_SYNTHETIC_FNR, gender="male"),
                     "name": [{"family": "Odegaard", "given": ["Ola"]}], "birthDate": "1980-01-01"}).json()
    doctor = post(sandbox.fhir_url + "/Practitioner",
                  {"resourceType": "Practitioner", "name": [{"family": "Legesen", "given": ["Kari"]}]}).json()
    clinic = post(sandbox.fhir_url + "/Organization", {"resourceType": "Organization", "name": "Fjordlegen"}).json()

    def search(query: str, type_: str = "Patient") -> set[str]:
        answer = get(f"{sandbox.fhir_url}/{type_}?{query}")
        assert answer.status_code == 200, answer.text
        return _ids(answer.json())

    assert search("family=ødeg") == {kari["id"]}
    assert search("family=ØDEGÅ") == {kari["id"]}  # case ignored
    assert search("family=ODE") == {ola["id"]}  # Ø is a letter of its own, not an accented O
    assert search("family:exact=Ødegård") == {kari["id"]}
    assert search("family:exact=ødegård") == set()
    assert search("given=ase") == {kari["id"]}  # accents ignored: Å ~ A
    assert search("name=ola") == {ola["id"]}
    assert search("name:contains=gaar") == {ola["id"]}
    assert search("gender=male") == {ola["id"]}
    assert search("gender=http://hl7.org/fhir/administrative-gender|female") == {kari["id"]}
    assert search("birthdate=1980") == {ola["id"]}
    assert search("birthdate=eq2020-11-17") == {kari["id"]}
    assert search("birthdate=gt1970") == {kari["id"], ola["id"]}  # unsupported prefix: not used
    assert search("family:missing=true") == {kari["id"], ola["id"]}  # unsupported modifier: not used
    assert search("given=kari", "Practitioner") == {doctor["id"]}
    assert search("name=fjord", "Organization") == {clinic["id"]}
    self_link = get(f"{url}?family:exact=Ødegård&gender=female&foo=bar").json()["link"][0]["url"]
    assert "family%3Aexact=%C3%98deg%C3%A5rd" in self_link and "gender=female" in self_link and "foo" not in self_link

    statement = get(sandbox.fhir_url + "/metadata").json()
    declared = {r["type"]: {p["name"] for p in r["searchParam"]} for r in statement["rest"][0]["resource"]}
    assert {"family", "given", "name", "gender", "birthdate"} <= declared["Patient"]
    assert "name" in declared["Organization"] and "family" not in declared["Observation"]


def test_search_pages_with_working_absolute_next_links(sandbox: RunningSandbox) -> None:
    url = sandbox.fhir_url + "/Patient"
    created = {post(url, patient(tag="paged")).json()["id"] for _ in range(5)}
    post(url, patient())  # not tagged: not a match

    seen: list[str] = []
    next_url: str | None = f"{url}?_tag={TAG_SYSTEM}|paged&_count=2"
    pages = 0
    while next_url and pages < 10:
        bundle = get(next_url).json()
        assert bundle["total"] == 5
        assert len(bundle.get("entry", [])) <= 2
        seen += [entry["resource"]["id"] for entry in bundle.get("entry", [])]
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        assert links["self"].startswith(url + "?")
        next_url = links.get("next")
        if next_url:
            assert next_url.startswith(url + "?")
        pages += 1
    assert pages == 3 and sorted(seen) == sorted(created)  # every match once, in three pages

    bundle = get(f"{url}?_tag={TAG_SYSTEM}|paged").json()
    assert len(bundle["entry"]) == 5 and "next" not in {link["relation"] for link in bundle["link"]}  # default 20


def test_everything_returned_is_valid(sandbox: RunningSandbox, validator: Validator) -> None:
    created = post(sandbox.fhir_url + "/Patient", patient()).json()
    for answer in (get(f"{sandbox.fhir_url}/Patient/{created['id']}"),
                   get(f"{sandbox.fhir_url}/Patient/{created['id']}/_history/1"),
                   get(f"{sandbox.fhir_url}/Patient?_id={created['id']}"),
                   get(f"{sandbox.fhir_url}/Patient/missing")):
        body = answer.json()
        assert FAULT_ELEMENT not in json.dumps(body)
        assert errors_of(validator, body) == []


def test_store_persists_in_the_data_folder(fhir_cache: Path, tmp_path: Path) -> None:
    config = sandbox_config(fhir_cache, data_dir=tmp_path / "data")
    with serve_in_thread(config) as first:
        created = post(first.fhir_url + "/Patient", patient()).json()
    assert (tmp_path / "data" / "sandbox.sqlite").is_file()
    with serve_in_thread(config) as second:
        assert get(f"{second.fhir_url}/Patient/{created['id']}").json() == created


def test_a_temporary_store_is_fresh_and_removed(fhir_cache: Path) -> None:
    with serve_in_thread(sandbox_config(fhir_cache)) as first:
        post(first.fhir_url + "/Patient", patient())
        folder = first.sandbox.data_dir
        assert folder.is_dir()
    assert not folder.exists()
    with serve_in_thread(sandbox_config(fhir_cache)) as second:
        assert get(second.fhir_url + "/Patient").json()["total"] == 0


def test_every_supported_type_can_be_created_and_read(sandbox: RunningSandbox) -> None:
    minimal = {
        "Patient": {}, "Practitioner": {}, "PractitionerRole": {}, "Organization": {"name": "Testklinikken"},
        "Observation": {"status": "final", "code": {"text": "puls"}},
        "DiagnosticReport": {"status": "final", "code": {"text": "blodprøve"}},
        "MedicationStatement": {"status": "active", "medicationCodeableConcept": {"text": "paracet"},
                                "subject": {"display": "Kari"}},
        "AllergyIntolerance": {"patient": {"display": "Kari"}, "clinicalStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]}},
        "Condition": {"subject": {"display": "Kari"}},
        "Flag": {"status": "active", "code": {"text": "smittefare"}, "subject": {"display": "Kari"}},
        "DocumentReference": {"status": "current", "content": [{"attachment": {"contentType": "text/plain"}}]},
        "Device": {},
    }
    assert set(minimal) == set(SUPPORTED_TYPES)
    for type_, body in minimal.items():
        answer = post(f"{sandbox.fhir_url}/{type_}", {"resourceType": type_, **body})
        assert answer.status_code == 201, (type_, answer.text)
        assert get(answer.headers["Location"]).status_code == 200


def test_fixture_messages_exist() -> None:
    """The live messaging fixtures the sandbox tests use (their rule codes: fixtures/messages/live/expected.toml)."""
    assert {p.name for p in (FIXTURES / "messages" / "live").glob("*.xml")} >= {
        "dialogmelding-valid.xml", "dialogmelding-patient-fnr-wrong.xml", "dialogmelding-unknown-code.xml"}
