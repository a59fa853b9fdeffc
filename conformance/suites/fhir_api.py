"""``fhir-api``: a FHIR R4 REST API by FHIR's rules (requirement R-STD-012 and R-IDENT-006).

What it does to the target: reads ``metadata``; creates a few synthetic Patients (fødselsnummer
with month + 80), a Practitioner and an Organization, all tagged with the run's tag; reads,
searches, updates and deletes them; sends one invalid Patient; and at the end deletes everything
it created (found by id and by the tag). Every FHIR body the target answered is validated with
the offline engine in ``fhir-api/response-bodies-validate``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import requests

from ..auth import AUTH_INPUTS
from ..suite import Suite, SuiteInput, TestContext
from ..testdata import ORGNR_SYSTEM, patient, practitioner
from ...validators.identifiers.norwegian import orgnr_check_digit

FHIR_JSON = "application/fhir+json"
ACCEPT = {"Accept": FHIR_JSON}

SUITE = Suite(
    "fhir-api",
    "FHIR R4 REST API",
    description="CapabilityStatement, create/read/search/update/delete with versions and ETags, conditional "
                "create, paging, errors as OperationOutcome, national identifiers, and every answer validated.",
    inputs=(
        SuiteInput("resource-types", "Resource types the CapabilityStatement must list with read, search and create.",
                   default="Patient,Practitioner,Organization"),
        SuiteInput("page-size", "_count used by the paging test (it creates one more Patient than this).", default="2"),
        *AUTH_INPUTS,
    ),
    probe="metadata",
)

capability = SUITE.group("capability", "The server describes itself")
crud = SUITE.group("crud", "Create, read, search, update and delete")
errors = SUITE.group("errors", "Errors")
identity = SUITE.group("identity", "National identifiers")
answers = SUITE.group("answers", "Every answer is valid FHIR")


# -- helpers ----------------------------------------------------------------------------------
def created(t: TestContext, resource_type: str, resource_id: str) -> None:
    t.shared.setdefault("created", []).append(f"{resource_type}/{resource_id}")


def create(t: TestContext, resource: dict[str, Any], *, headers: dict[str, str] | None = None) -> requests.Response:
    """POST ``resource`` (tagged); remembers what was created for the clean-up."""
    response = t.http.post(resource["resourceType"], json_body=t.tagged(resource),
                           headers={**ACCEPT, "Prefer": "return=representation", **(headers or {})})
    resource_id = new_id(response, resource["resourceType"])
    if resource_id:
        created(t, resource["resourceType"], resource_id)
    return response


def new_id(response: requests.Response, resource_type: str) -> str | None:
    """The id of a created resource: from Location, else from the body."""
    location = response.headers.get("Location") or response.headers.get("Content-Location") or ""
    parts = location.rstrip("/").split("/")
    if resource_type in parts:
        index = parts.index(resource_type)
        if index + 1 < len(parts):
            return parts[index + 1]
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(body, dict) and body.get("resourceType") == resource_type and isinstance(body.get("id"), str):
        return body["id"]
    return None


def a_patient(t: TestContext, key: str = "patient") -> tuple[str, dict[str, Any]]:
    """A Patient this run created (created on first need): ``(id, resource as sent)``."""
    if key not in t.shared:
        resource = patient(t.rng, t.run.tag)
        response = create(t, resource)
        t.require(response.status_code in (200, 201),
                  f"could not create a Patient to work with: HTTP {response.status_code}")
        resource_id = new_id(response, "Patient")
        t.require(resource_id is not None, "the created Patient's id is neither in Location nor in the body")
        t.shared[key] = (resource_id, resource)
    return t.shared[key]


def identifier_of(resource: dict[str, Any]) -> str:
    first = resource["identifier"][0]
    return f"{first['system']}|{first['value']}"


def search(t: TestContext, resource_type: str, params: str) -> dict[str, Any]:
    response = t.http.get(f"{resource_type}?{params}", headers=ACCEPT)
    t.require_status(response, 200, what=f"search {resource_type}?{params}")
    bundle = t.json(response)
    t.require(bundle.get("resourceType") == "Bundle" and bundle.get("type") == "searchset",
              f"a search answers a searchset Bundle; found {bundle.get('resourceType')} {bundle.get('type') or ''}".strip())
    return bundle


def ids_by_identifier(t: TestContext, resource: dict[str, Any]) -> list[str]:
    """The ids a search of ``resource``'s type by its first identifier finds."""
    kind = resource["resourceType"]
    return match_ids(search(t, kind, f"identifier={quote(identifier_of(resource), safe='')}"), kind)


def match_ids(bundle: dict[str, Any], resource_type: str) -> list[str]:
    out = []
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        mode = (entry.get("search") or {}).get("mode", "match") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == resource_type and mode == "match":
            out.append(str(resource.get("id")))
    return out


def is_operation_outcome(response: requests.Response) -> bool:
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(body, dict) and body.get("resourceType") == "OperationOutcome" and bool(body.get("issue"))


def etag_version(response: requests.Response) -> str | None:
    """``2`` from ``ETag: W/"2"``."""
    tag = response.headers.get("ETag")
    if not tag:
        return None
    return tag.removeprefix("W/").strip('"')


def valid_orgnr(t: TestContext) -> str:
    while True:
        first = str(t.rng.randrange(80_000_000, 99_999_999))
        digit = orgnr_check_digit(first)
        if digit is not None:
            return f"{first}{digit}"


# -- capability -------------------------------------------------------------------------------
@capability.test("capability-statement", "The server publishes a CapabilityStatement for FHIR R4 JSON",
                 verifies=["R-STD-012"])
def capability_statement(t: TestContext) -> None:
    """GET [base]/metadata answers a CapabilityStatement for FHIR 4.0.x with JSON, listing the
    resource types samsvar's profiles need with read, search-type and create, and the
    ``identifier`` search parameter on each."""
    response = t.http.get("metadata", headers=ACCEPT)
    t.require_status(response, 200, what="GET metadata")
    statement = t.json(response)
    t.require(statement.get("resourceType") == "CapabilityStatement",
              f"metadata answers a CapabilityStatement; found {statement.get('resourceType')!r}")
    version = str(statement.get("fhirVersion", ""))
    t.check(version.startswith("4.0"), f"fhirVersion: expected 4.0.x (R4), found {version or 'none'!r}")
    formats = [str(f) for f in statement.get("format") or []]
    t.check(any(f in ("json", FHIR_JSON) or f.endswith("json") for f in formats),
            f"format: expected json or {FHIR_JSON}, found {', '.join(formats) or 'none'}")
    servers = [rest for rest in statement.get("rest") or [] if isinstance(rest, dict) and rest.get("mode") == "server"]
    t.require(bool(servers), "no rest entry with mode 'server'")
    declared = {r.get("type"): r for r in servers[0].get("resource") or [] if isinstance(r, dict)}
    for resource_type in [s.strip() for s in t.input("resource-types").split(",") if s.strip()]:
        entry = declared.get(resource_type)
        if not t.check(entry is not None, f"rest.resource: {resource_type} is not listed"):
            continue
        interactions = {i.get("code") for i in entry.get("interaction") or [] if isinstance(i, dict)}
        missing = [code for code in ("read", "search-type", "create") if code not in interactions]
        t.check(not missing, f"{resource_type}: interactions {', '.join(missing)} are not declared")
        params = {p.get("name") for p in entry.get("searchParam") or [] if isinstance(p, dict)}
        t.check("identifier" in params, f"{resource_type}: search parameter 'identifier' is not declared")
    t.note(f"fhirVersion {version}; formats {', '.join(formats)}; {len(declared)} resource types declared")


# -- create, read, search, update, delete -----------------------------------------------------
@crud.test("create", "Create answers 201 Created with a Location", verifies=["R-STD-012"])
def create_patient(t: TestContext) -> None:
    """POST [base]/Patient with a synthetic Patient answers 201 Created and a Location header
    naming the new resource (``Patient/ID/_history/VID``)."""
    resource = patient(t.rng, t.run.tag)
    response = create(t, resource)
    t.require_status(response, 201, what="POST Patient")
    location = response.headers.get("Location", "")
    t.check("/Patient/" in location or location.startswith("Patient/"),
            f"Location: expected …/Patient/ID/_history/VID, found {location or 'no Location header'!r}")
    resource_id = new_id(response, "Patient")
    t.require(resource_id is not None, "the new id is neither in Location nor in the body")
    t.shared["patient"] = (resource_id, resource)
    t.note(f"created Patient/{resource_id}")


@crud.test("read", "Read answers the resource that was created", verifies=["R-STD-012"])
def read_patient(t: TestContext) -> None:
    """GET [base]/Patient/ID answers 200 with that Patient, its identifier unchanged."""
    resource_id, sent = a_patient(t)
    response = t.http.get(f"Patient/{resource_id}", headers=ACCEPT)
    t.require_status(response, 200, what=f"GET Patient/{resource_id}")
    body = t.json(response)
    t.check(body.get("resourceType") == "Patient" and body.get("id") == resource_id,
            f"expected Patient/{resource_id}, found {body.get('resourceType')}/{body.get('id')}")
    got = {(i.get("system"), i.get("value")) for i in body.get("identifier") or [] if isinstance(i, dict)}
    want = (sent["identifier"][0]["system"], sent["identifier"][0]["value"])
    t.check(want in got, f"the fødselsnummer identifier {want[0]}|{want[1]} did not come back")


@crud.test("search-by-identifier", "Search by national identifier finds the Patient", verifies=["R-STD-012", "R-IDENT-006"])
def search_by_identifier(t: TestContext) -> None:
    """GET [base]/Patient?identifier=urn:oid:2.16.578.1.12.4.1.4.1|NUMBER answers a searchset
    Bundle with exactly that Patient."""
    resource_id, sent = a_patient(t)
    ids = ids_by_identifier(t, sent)
    t.check(ids == [resource_id], f"expected exactly Patient/{resource_id}, found "
                                  f"{', '.join('Patient/' + i for i in ids) or 'no match'}")


@crud.test("update-versioning", "Update makes a new version; a stale If-Match is refused", verifies=["R-STD-012"])
def update_versioning(t: TestContext) -> None:
    """Read gives an ETag ``W/"n"``; PUT with ``If-Match`` of that version answers 200 with a new
    version (ETag and meta.versionId); the same PUT again with the old version answers 412
    Precondition Failed (or 409 Conflict)."""
    resource_id, sent = a_patient(t)
    read = t.http.get(f"Patient/{resource_id}", headers=ACCEPT)
    t.require_status(read, 200, what="GET before update")
    first = etag_version(read)
    t.require(first is not None, "GET Patient/ID answered no ETag header (W/\"versionId\")")
    body = {**sent, "id": resource_id}  # what this run sent, so the update does not depend on the read's body
    body["telecom"] = [{"system": "phone", "value": "+47 99999999", "use": "mobile"}]
    update = t.http.put(f"Patient/{resource_id}", json_body=body, headers={**ACCEPT, "If-Match": f'W/"{first}"'})
    t.require_status(update, 200, 201, what="PUT with If-Match of the current version")
    second = etag_version(update)
    t.check(second is not None and second != first,
            f"the update answered ETag {update.headers.get('ETag')!r}; expected a new version after {first!r}")
    stale = t.http.put(f"Patient/{resource_id}", json_body=body, headers={**ACCEPT, "If-Match": f'W/"{first}"'})
    t.check_status(stale, 412, 409, what=f"PUT with the stale If-Match W/\"{first}\"")


@crud.test("conditional-create", "Conditional create does not duplicate", verifies=["R-STD-012"])
def conditional_create(t: TestContext) -> None:
    """POST with ``If-None-Exist: identifier=SYSTEM|VALUE`` of an existing Patient answers 200
    (or 304) and creates nothing; the identifier still finds one Patient."""
    resource_id, sent = a_patient(t)
    again = patient(t.rng, t.run.tag, fnr=sent["identifier"][0]["value"])
    response = create(t, again, headers={"If-None-Exist": f"identifier={identifier_of(sent)}"})
    t.check_status(response, 200, 304, what="POST with If-None-Exist matching one Patient")
    ids = ids_by_identifier(t, sent)
    t.check(ids == [resource_id], f"after the conditional create the identifier finds "
                                  f"{len(ids)} Patients ({', '.join(ids)}); expected only {resource_id}")


@crud.test("paging", "Search results come in pages with a next link", verifies=["R-STD-012"])
def paging(t: TestContext) -> None:
    """Creates page-size + 1 tagged Patients with one family name, searches them by ``family`` with ``_count`` =
    page-size, and follows ``next`` links: each page has at most page-size entries and the pages
    together hold every Patient once."""
    size = int(t.input("page-size"))
    family = f"Sidesen{t.rng.randrange(10**6)}"
    ids = set()
    for _ in range(size + 1):
        resource = patient(t.rng, t.run.tag)
        resource["name"][0]["family"] = family
        response = create(t, resource)
        t.require(response.status_code in (200, 201), f"creating a Patient answered HTTP {response.status_code}")
        ids.add(new_id(response, "Patient"))
    bundle = search(t, "Patient", f"family={family}&_count={size}")
    seen: list[str] = []
    for page in range(1, size + 3):
        entries = match_ids(bundle, "Patient")
        t.check(len(entries) <= size, f"page {page} has {len(entries)} entries; _count={size} allows {size}")
        seen += entries
        following = [link.get("url") for link in bundle.get("link") or [] if isinstance(link, dict)
                     and link.get("relation") == "next"]
        if not following or not following[0]:
            break
        response = t.http.get(following[0], headers=ACCEPT)
        t.require_status(response, 200, what=f"GET next page {page + 1}")
        bundle = t.json(response)
    t.check(set(seen) >= ids and len(seen) == len(set(seen)),
            f"the pages hold {len(seen)} entries ({len(set(seen))} distinct); expected the {len(ids)} Patients once each")
    t.note(f"{len(ids)} Patients with family {family}; pages gave {len(seen)} entries")


@crud.test("delete", "Delete removes the resource", verifies=["R-STD-012"])
def delete(t: TestContext) -> None:
    """DELETE [base]/Patient/ID answers 200, 202 or 204; a read afterwards answers 410 Gone (or 404)."""
    response = create(t, patient(t.rng, t.run.tag))
    t.require(response.status_code in (200, 201), f"creating a Patient answered HTTP {response.status_code}")
    resource_id = new_id(response, "Patient")
    t.require(resource_id is not None, "the created Patient's id is neither in Location nor in the body")
    removed = t.http.delete(f"Patient/{resource_id}", headers=ACCEPT)
    t.require_status(removed, 200, 202, 204, what=f"DELETE Patient/{resource_id}")
    after = t.http.get(f"Patient/{resource_id}", headers=ACCEPT)
    t.check_status(after, 410, 404, what="GET after DELETE")


# -- errors -----------------------------------------------------------------------------------
@errors.test("errors-as-operationoutcome", "An invalid resource is refused with an OperationOutcome",
             verifies=["R-STD-012"])
def invalid_resource_refused(t: TestContext) -> None:
    """POST of a Patient with ``gender: "banana"`` (not in the required AdministrativeGender value
    set) answers 400 or 422 with an OperationOutcome that has an error."""
    resource = patient(t.rng, t.run.tag)
    resource["gender"] = "banana"
    response = create(t, resource)
    t.shared.setdefault("sent-invalid", set()).add(t.last_exchange().number)
    if t.check_status(response, 400, 422, what="POST Patient with gender 'banana'") or response.status_code >= 400:
        t.check(is_operation_outcome(response), "the error answer has no OperationOutcome body "
                                                f"(Content-Type {response.headers.get('Content-Type', 'none')})")


@errors.test("unknown-id-404", "An unknown id answers 404 with an OperationOutcome", verifies=["R-STD-012"])
def unknown_id(t: TestContext) -> None:
    """GET [base]/Patient/ID for an id that was never used answers 404 with an OperationOutcome."""
    missing = f"samsvar-missing-{t.rng.randrange(16**10):010x}"
    response = t.http.get(f"Patient/{missing}", headers=ACCEPT)
    t.check_status(response, 404, what=f"GET Patient/{missing}")
    t.check(is_operation_outcome(response), "the 404 answer has no OperationOutcome body")


# -- identity ---------------------------------------------------------------------------------
def created_and_found_by_identifier(t: TestContext, resource: dict[str, Any]) -> None:
    """Create ``resource`` and search its type by its first identifier: exactly it must come back."""
    kind = resource["resourceType"]
    response = create(t, resource)
    t.require(response.status_code in (200, 201), f"creating a {kind} answered HTTP {response.status_code}")
    resource_id = new_id(response, kind)
    ids = ids_by_identifier(t, resource)
    system = resource["identifier"][0]["system"]
    t.check(ids == [resource_id], f"identifier={system}|… found {', '.join(ids) or 'nothing'}; "
                                  f"expected {kind}/{resource_id}")


@identity.test("practitioner-has-hpr", "A Practitioner keeps and is found by its HPR-nummer", verifies=["R-IDENT-006"])
def practitioner_hpr(t: TestContext) -> None:
    """Creates a Practitioner with an HPR-nummer (urn:oid:2.16.578.1.12.4.1.4.4) and finds it
    again by that identifier."""
    created_and_found_by_identifier(t, practitioner(t.rng, t.run.tag))


@identity.test("organization-has-orgnr", "An Organization keeps and is found by its organisasjonsnummer",
               verifies=["R-IDENT-006"])
def organization_orgnr(t: TestContext) -> None:
    """Creates an Organization with an organisasjonsnummer (urn:oid:2.16.578.1.12.4.1.4.101) and
    finds it again by that identifier."""
    created_and_found_by_identifier(t, {"resourceType": "Organization", "active": True,
                                        "name": "Samsvar testlegekontor",
                                        "identifier": [{"system": ORGNR_SYSTEM, "value": valid_orgnr(t)}]})


# -- every answer -----------------------------------------------------------------------------
@answers.test("response-bodies-validate", "Every FHIR resource the server answered is valid",
              verifies=["R-STD-012"])
def response_bodies_validate(t: TestContext) -> None:
    """Every successful answer of this run so far with a FHIR JSON body (resources, search
    Bundles, the CapabilityStatement) is validated with samsvar's offline engine against base R4
    and the profiles it declares; errors fail this test, with the exchange named in each
    message. The same resource answered several times is judged once; information-level
    findings (such as the synthetic test identities this run sent) are left out."""
    if t.run.validate is None:
        t.skip("response validation is off (--no-validate)")
    checked: dict[str, list[str]] = {}
    quiet = 0
    for exchange in list(t.http.exchanges):
        if exchange.status is None or not 200 <= exchange.status < 300 or not exchange.response_body:
            continue
        if exchange.truncated or "json" not in exchange.response_headers.get("Content-Type", "json"):
            continue
        try:
            body = json.loads(exchange.response_body)
        except ValueError:
            continue
        if not isinstance(body, dict) or "resourceType" not in body:
            continue
        if exchange.number in t.shared.get("sent-invalid", ()):
            t.note(f"#{exchange.number}: not judged, it echoes the invalid resource this run sent on purpose")
            continue
        name = f"#{exchange.number} {exchange.method} {exchange.url}"
        same = _without_meta(body)
        if same in checked:  # the same resource answered again: judged once
            checked[same].append(name)
            continue
        checked[same] = [name]
        for issue in t.validate_body(exchange.response_body.encode("utf-8"), name):
            if issue.severity.code == "information":
                quiet += 1
                continue
            t.issues.append(issue)
    answers = sum(len(names) for names in checked.values())
    t.note(f"validated {len(checked)} distinct FHIR bodies of {answers} answers"
           + (f"; {quiet} information-level findings left out" if quiet else ""))
    if not checked:
        t.skip("no FHIR body was answered before this test (run it with the other tests of the suite)")


def _without_meta(body: dict[str, Any]) -> str:
    """A body's identity for de-duplication: the resource without ``meta`` (versions, times)."""
    return json.dumps({k: v for k, v in body.items() if k != "meta"}, sort_keys=True)


# -- clean-up ---------------------------------------------------------------------------------
def cleanup(t: TestContext) -> None:
    """Delete what the run created: every id it noted, then whatever still carries its tag."""
    removed = failed = 0
    targets = list(dict.fromkeys(t.shared.get("created", [])))
    for resource_type in ("Patient", "Practitioner", "Organization"):
        try:
            response = t.http.get(f"{resource_type}?_tag={quote(t.run.tag.search, safe='')}&_count=100", headers=ACCEPT)
            bundle = response.json() if response.status_code == 200 else {}
        except ValueError:
            bundle = {}
        targets += [f"{resource_type}/{i}" for i in match_ids(bundle if isinstance(bundle, dict) else {}, resource_type)]
    for reference in dict.fromkeys(targets):
        response = t.http.delete(reference, headers=ACCEPT)
        if response.status_code in (200, 202, 204, 404, 410):
            removed += 1
        else:
            failed += 1
    t.note(f"deleted {removed} resources created by this run" + (f"; {failed} could not be deleted" if failed else ""))
    t.check(failed == 0, f"{failed} resources created by this run could not be deleted")


SUITE.cleanup = cleanup
