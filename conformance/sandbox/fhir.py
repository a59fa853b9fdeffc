"""The FHIR R4 REST API of the sandbox (JSON only), at ``/fhir``.

Interactions: capabilities, create (also conditional, ``If-None-Exist``), read, vread, update
(``If-Match``, update-as-create), delete, search-type (GET and POST ``_search``) and
history-instance. Bodies are validated with samsvar's own engine; what it calls an error is
refused with 422 and the findings as an OperationOutcome.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import __version__
from .responses import error_response, narrative, fhir_response, http_date, is_error, operation_outcome, validation_outcome
from .search import COMPARTMENT, CONTROL_PARAMS, Query, in_compartment, matches, params_for, parse_query
from ...validators.runner import Result
from .config import SandboxConfig
from .smart import SmartGrant
from .store import ResourceStore, Version, now_instant

class SandboxHost(Protocol):
    """What the FHIR routes need of the sandbox that serves them (``app.Sandbox``)."""

    config: SandboxConfig
    store: ResourceStore
    started: str

    def validate(self, name: str, data: bytes) -> Result: ...

    def authorize(self, request: Request, scope: str) -> Response | None: ...

SUPPORTED_TYPES = (
    "Patient", "Practitioner", "PractitionerRole", "Organization", "Observation", "DiagnosticReport",
    "MedicationStatement", "AllergyIntolerance", "Condition", "Flag", "DocumentReference", "Device",
)
INTERACTIONS = ("read", "vread", "update", "delete", "create", "search-type", "history-instance")
FHIR_VERSION = "4.0.1"
MAX_BODY_BYTES = 10 * 1024 * 1024
ID_PATTERN = re.compile(r"[A-Za-z0-9\-.]{1,64}")
ACTION_NAMES = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}
FAULT_ELEMENT = "samsvarSandboxFault"
"""The unknown element the ``invalid-resource`` fault adds to every resource it returns."""

def corrupted(resource: dict[str, Any]) -> dict[str, Any]:
    """The ``invalid-resource`` fault: an unknown element, and for a Patient a gender outside its value set."""
    broken = dict(resource)
    broken[FAULT_ELEMENT] = True
    if broken.get("resourceType") == "Patient":
        broken["gender"] = "banana"
    return broken


class FhirApi:
    """Handlers for the ``/fhir`` routes of one sandbox."""

    def __init__(self, sandbox: SandboxHost) -> None:
        self.sandbox = sandbox
        self.config = sandbox.config
        self.store = sandbox.store

    def routes(self) -> list[Route]:
        return [
            Route("/fhir/metadata", self.metadata, methods=["GET"]),
            Route("/fhir/{type}/_search", self.search, methods=["POST"]),
            Route("/fhir/{type}/{id}/_history/{vid}", self.vread, methods=["GET"]),
            Route("/fhir/{type}/{id}/_history", self.history, methods=["GET"]),
            Route("/fhir/Patient/{id}/{ctype}", self.compartment, methods=["GET"]),
            Route("/fhir/{type}/{id}", self.instance, methods=["GET", "PUT", "DELETE"]),
            Route("/fhir/{type}", self.type_level, methods=["GET", "POST"]),
        ]

    # -- helpers ------------------------------------------------------------------------
    @staticmethod
    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/") + "/fhir"

    def error(self, status: int, diagnostics: str, code: str = "processing", **kwargs: Any) -> Response:
        return error_response(self.config, status, diagnostics, code=code, **kwargs)

    def _guard(self, request: Request, scope: str, action: str, type_: str | None = None) -> Response | None:
        """Unknown resource type (404), then the bearer token (401/403), then a SMART token's scopes
        for ``action`` (a letter of ``cruds``) on the type (403)."""
        type_ = type_ or request.path_params["type"]
        if type_ not in SUPPORTED_TYPES:
            return self.error(404, f"Resource type {type_!r} is not supported by this server "
                                   f"(supported: {', '.join(SUPPORTED_TYPES)})", "not-supported")
        refused = self.sandbox.authorize(request, scope)
        if refused:
            return refused
        grant = smart_grant(request)
        if grant is not None and not grant.permits(type_, action) and not self.config.has("smart-scope-unenforced"):
            return self.error(403, f"the SMART token's scopes ({' '.join(sorted(grant.scopes))}) do not allow "
                                   f"{ACTION_NAMES[action]} of {type_}", "forbidden")
        return None

    def _not_the_patients(self, request: Request, resource: dict[str, Any] | None, *, fault: str) -> Response | None:
        """403 when a SMART token's patient may not see ``resource`` (unless ``fault`` is on)."""
        grant = smart_grant(request)
        if grant is None or resource is None or grant.sees(resource) or self.config.has(fault):
            return None
        return self.error(403, f"{resource.get('resourceType')}/{resource.get('id')} is not in the compartment of "
                               f"the token's patient", "forbidden")

    def _headers(self, version: Version, *, location: bool = False, request: Request | None = None) -> dict[str, str]:
        headers = {"Last-Modified": http_date(version.last_updated)}
        if not self.config.has("no-versioning"):
            headers["ETag"] = version.etag
        if location and request is not None:
            headers["Location"] = f"{self.base(request)}/{version.type}/{version.id}/_history/{version.version}"
        return headers

    def _shown(self, resource: dict[str, Any]) -> dict[str, Any]:
        """A stored resource as read, vread, search and history return it."""
        return corrupted(resource) if self.config.has("invalid-resource") else resource

    async def _body(self, request: Request) -> tuple[dict[str, Any], bytes] | Response:
        """The parsed resource and its bytes, or the 400/413/415 response."""
        type_ = request.path_params["type"]
        content_type = request.headers.get("content-type", "")
        if "xml" in content_type.lower():
            return self.error(415, "This server accepts FHIR JSON only (application/fhir+json)", "not-supported")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return self.error(413, f"The body is larger than {MAX_BODY_BYTES} bytes", "too-costly")
        data = await request.body()
        if len(data) > MAX_BODY_BYTES:
            return self.error(413, f"The body is larger than {MAX_BODY_BYTES} bytes", "too-costly")
        try:
            resource = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return self.error(400, f"The body is not well-formed JSON: {exc}", "structure")
        if not isinstance(resource, dict):
            return self.error(400, "The body is not a JSON object (a FHIR resource)", "structure")
        if resource.get("resourceType") != type_:
            return self.error(400, f"The body's resourceType is {resource.get('resourceType')!r}, "
                                   f"not {type_!r} as in the URL", "invalid")
        return resource, data

    async def _refusal(self, type_: str, data: bytes) -> Response | None:
        """422 with the findings when samsvar's validation finds an error (unless ``accept-invalid``)."""
        result = await run_in_threadpool(self.sandbox.validate, f"{type_}.json", data)
        if any(is_error(issue) for issue in result.issues) and not self.config.has("accept-invalid"):
            outcome = validation_outcome(result.issues)
            return self.error(422, "The resource is not valid", issues=outcome["issue"])
        return None

    def _written(self, request: Request, version: Version, status: int, *, location: bool) -> Response:
        """Answer a create or update, honouring ``Prefer: return=minimal|representation|OperationOutcome``."""
        headers = self._headers(version, location=location, request=request)
        prefer = request.headers.get("prefer", "").replace(" ", "").lower()
        if "return=minimal" in prefer:
            return fhir_response(None, status, headers)
        if "return=operationoutcome" in prefer:
            return fhir_response(operation_outcome([]), status, headers)
        return fhir_response(version.resource, status, headers)

    # -- capabilities -------------------------------------------------------------------
    async def metadata(self, request: Request) -> Response:
        return fhir_response(self.capability_statement(self.base(request)))

    def capability_statement(self, fhir_base: str) -> dict[str, Any]:
        def search_params(type_: str) -> list[dict[str, str]]:
            declared = [{"name": name, "type": kind} for name, kind in params_for(type_).items()]
            return declared + [{"name": "_count", "type": CONTROL_PARAMS["_count"],
                                "documentation": "Page size (default 20, at most 500); the next link pages on."}]

        resources = [{
            "type": type_,
            "interaction": [{"code": code} for code in INTERACTIONS],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalRead": "not-supported",
            "conditionalUpdate": False,
            "conditionalDelete": "not-supported",
            "searchParam": search_params(type_),
        } for type_ in SUPPORTED_TYPES]
        rest: dict[str, Any] = {
            "mode": "server",
            "documentation": "samsvar's reference sandbox: a small conformant FHIR R4 server for conformance tests.",
            "resource": resources,
        }
        if self.config.auth:
            token_url = fhir_base.removesuffix("/fhir") + "/token"
            rest["security"] = {
                "cors": False,
                "service": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "OAuth", "display": "OAuth"}]}],
                "description": f"OAuth2 client credentials (HelseID-style, private_key_jwt). "
                               f"Token endpoint: {token_url}; scopes fhir.read, fhir.write.",
            }
        if self.config.smart:
            security = rest.setdefault("security", {"cors": False, "service": [], "description": ""})
            security["service"].append({"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                "code": "SMART-on-FHIR", "display": "SMART-on-FHIR"}]})
            security["description"] = (security["description"] + " " if security["description"] else "") + (
                f"SMART App Launch with patient-level scopes: {fhir_base}/.well-known/smart-configuration.")
        return {
            "resourceType": "CapabilityStatement",
            "id": "samsvar-sandbox",
            "name": "SamsvarSandbox",
            "title": "samsvar reference sandbox",
            "status": "active",
            "experimental": True,
            "date": self.sandbox.started[:10],
            "publisher": "samsvar",
            "description": "A conformant FHIR R4 endpoint for samsvar's live conformance suites.",
            "text": narrative(f"samsvar reference sandbox {__version__}: FHIR {FHIR_VERSION} (JSON) at {fhir_base}; "
                              f"resources {', '.join(SUPPORTED_TYPES)}."),
            "kind": "instance",
            "software": {"name": "samsvar sandbox", "version": __version__},
            "implementation": {"description": "samsvar sandbox", "url": fhir_base},
            "fhirVersion": FHIR_VERSION,
            "format": ["json"],
            "rest": [rest],
        }

    # -- type level ---------------------------------------------------------------------
    async def type_level(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.create(request)
        return await self.search(request)

    async def create(self, request: Request) -> Response:
        refused = self._guard(request, "fhir.write", "c")
        if refused:
            return refused
        type_ = request.path_params["type"]
        parsed = await self._body(request)
        if isinstance(parsed, Response):
            return parsed
        resource, data = parsed
        refused = self._not_the_patients(request, resource, fault="smart-leak-read") or await self._refusal(type_, data)
        if refused:
            return refused
        condition = request.headers.get("if-none-exist")
        if condition is not None:
            query = parse_query(parse_qsl(condition.split("?", 1)[-1], keep_blank_values=True), type_)
            if not query.criteria:
                return self.error(400, "If-None-Exist has no supported search parameter "
                                       f"({', '.join(params_for(type_))})", "not-supported")
            found = [version for version in self.store.live(type_) if matches(version.resource or {}, query)]
            if len(found) > 1:
                return self.error(412, f"If-None-Exist matches {len(found)} resources; the criteria are "
                                       "not selective enough", "duplicate")
            if found:
                return self._written(request, found[0], 200, location=True)
        version = self.store.create(type_, resource)
        if self.config.has("wrong-status"):
            return self._written(request, version, 200, location=False)
        return self._written(request, version, 201, location=True)

    async def search(self, request: Request) -> Response:
        refused = self._guard(request, "fhir.read", "s")
        if refused:
            return refused
        type_ = request.path_params["type"]
        pairs = list(request.query_params.multi_items())
        if request.method == "POST":
            pairs += parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        query = parse_query(pairs, type_)
        found = [version for version in self.store.live(type_) if matches(version.resource or {}, query)]
        grant = smart_grant(request)
        if grant is not None and not self.config.has("smart-leak-search"):
            found = [version for version in found if grant.sees(version.resource or {})]
        return fhir_response(self.searchset(self.base(request), type_, query, found))

    async def compartment(self, request: Request) -> Response:
        """Search in a patient's compartment: ``GET Patient/ID/TYPE?…``."""
        patient, type_ = request.path_params["id"], request.path_params["ctype"]
        if type_ not in COMPARTMENT:
            return self.error(404, f"{type_!r} is not a type of the patient compartment this server serves "
                                   f"({', '.join(COMPARTMENT)})", "not-supported")
        refused = self._guard(request, "fhir.read", "s", type_)
        if refused:
            return refused
        grant = smart_grant(request)
        if grant is not None and grant.patient != patient and not self.config.has("smart-leak-compartment"):
            return self.error(403, f"Patient/{patient} is not the token's patient", "forbidden")
        query = parse_query(list(request.query_params.multi_items()), type_)
        found = [version for version in self.store.live(type_)
                 if in_compartment(version.resource or {}, patient) and matches(version.resource or {}, query)]
        return fhir_response(self.searchset(self.base(request), type_, query, found, path=f"Patient/{patient}/{type_}"))

    def searchset(self, fhir_base: str, type_: str, query: Query, found: list[Version],
                  path: str | None = None) -> dict[str, Any]:
        """A searchset Bundle of a page of ``found``; ``path`` is what was searched (default: the type)."""
        searched = path or type_
        total = len(found)
        links = []
        if self.config.has("no-paging"):
            page = found
            links.append({"relation": "self", "url": _url(fhir_base, searched, query.params())})
        else:
            page = found[query.offset:query.offset + query.count]
            links.append({"relation": "self", "url": _url(fhir_base, searched, query.params() + [
                ("_count", str(query.count)), ("_offset", str(query.offset))])})
            following = query.offset + query.count
            if query.count and following < total:
                links.append({"relation": "next", "url": _url(fhir_base, searched, query.params() + [
                    ("_count", str(query.count)), ("_offset", str(following))])})
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"lastUpdated": now_instant()},
            "type": "searchset",
            "total": total,
            "link": links,
        }
        if page:
            bundle["entry"] = [{"fullUrl": f"{fhir_base}/{type_}/{version.id}",
                                "resource": self._shown(version.resource or {}),
                                "search": {"mode": "match"}} for version in page]
        return bundle

    # -- instance level -----------------------------------------------------------------
    async def instance(self, request: Request) -> Response:
        if request.method == "PUT":
            return await self.update(request)
        if request.method == "DELETE":
            return await self.delete(request)
        return await self.read(request)

    async def read(self, request: Request) -> Response:
        refused = self._guard(request, "fhir.read", "r")
        if refused:
            return refused
        type_, id_ = request.path_params["type"], request.path_params["id"]
        version = self.store.current(type_, id_)
        if version is None:
            return self.error(404, f"{type_}/{id_} is not known", "not-found")
        if version.deleted:
            return self.error(410, f"{type_}/{id_} was deleted", "deleted")
        hidden = self._not_the_patients(request, version.resource, fault="smart-leak-read")
        if hidden:
            return hidden
        return fhir_response(self._shown(version.resource or {}), 200, self._headers(version))

    async def vread(self, request: Request) -> Response:
        refused = self._guard(request, "fhir.read", "r")
        if refused:
            return refused
        type_, id_, vid = (request.path_params[name] for name in ("type", "id", "vid"))
        version = self.store.version(type_, id_, int(vid)) if vid.isdigit() else None
        if version is None:
            return self.error(404, f"{type_}/{id_}/_history/{vid} is not known", "not-found")
        if version.deleted:
            return self.error(410, f"{type_}/{id_}/_history/{vid} is a deletion", "deleted")
        hidden = self._not_the_patients(request, version.resource, fault="smart-leak-read")
        if hidden:
            return hidden
        return fhir_response(self._shown(version.resource or {}), 200, self._headers(version))

    async def history(self, request: Request) -> Response:
        refused = self._guard(request, "fhir.read", "r")
        if refused:
            return refused
        type_, id_ = request.path_params["type"], request.path_params["id"]
        versions = self.store.history(type_, id_)
        if not versions:
            return self.error(404, f"{type_}/{id_} is not known", "not-found")
        hidden = self._not_the_patients(request, next((v.resource for v in versions if v.resource), None),
                                        fault="smart-leak-read")
        if hidden:
            return hidden
        base = self.base(request)
        entries = []
        for version in versions:
            entry: dict[str, Any] = {"fullUrl": f"{base}/{type_}/{id_}"}
            if version.deleted:
                entry["request"] = {"method": "DELETE", "url": f"{type_}/{id_}"}
                entry["response"] = {"status": "204", "lastModified": version.last_updated}
            else:
                entry["resource"] = self._shown(version.resource or {})
                first = version.version == 1
                entry["request"] = {"method": "POST" if first else "PUT",
                                    "url": type_ if first else f"{type_}/{id_}"}
                entry["response"] = {"status": "201" if first else "200", "lastModified": version.last_updated}
            if not self.config.has("no-versioning"):
                entry["response"]["etag"] = version.etag
            entries.append(entry)
        return fhir_response({
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"lastUpdated": now_instant()},
            "type": "history",
            "total": len(entries),
            "link": [{"relation": "self", "url": f"{base}/{type_}/{id_}/_history"}],
            "entry": entries,
        })

    async def update(self, request: Request) -> Response:
        refused = self._guard(request, "fhir.write", "u")
        if refused:
            return refused
        type_, id_ = request.path_params["type"], request.path_params["id"]
        if not ID_PATTERN.fullmatch(id_):
            return self.error(400, f"{id_!r} is not a valid resource id ([A-Za-z0-9-.]{{1,64}})", "invalid")
        parsed = await self._body(request)
        if isinstance(parsed, Response):
            return parsed
        resource, data = parsed
        if resource.get("id") != id_:
            return self.error(400, f"The body's id ({resource.get('id')!r}) must be the id in the URL ({id_!r})",
                              "invalid")
        current = self.store.current(type_, id_)
        hidden = self._not_the_patients(request, resource, fault="smart-leak-read") or \
            self._not_the_patients(request, current.resource if current else None, fault="smart-leak-read")
        if hidden:
            return hidden
        versioned = not self.config.has("no-versioning")
        if_match = request.headers.get("if-match")
        if if_match is not None and versioned:
            wanted = _etag_version(if_match)
            if current is None or wanted != current.version:
                have = f"is at version {current.version}" if current else "does not exist"
                return self.error(412, f"If-Match {if_match} does not match: {type_}/{id_} {have}", "conflict")
        refused = await self._refusal(type_, data)
        if refused:
            return refused
        version = self.store.put(type_, id_, resource, versioned=versioned)
        if current is not None and not current.deleted:
            return self._written(request, version, 200, location=False)
        if self.config.has("wrong-status"):
            return self._written(request, version, 200, location=False)
        return self._written(request, version, 201, location=True)

    async def delete(self, request: Request) -> Response:
        refused = self._guard(request, "fhir.write", "d")
        if refused:
            return refused
        type_, id_ = request.path_params["type"], request.path_params["id"]
        current = self.store.current(type_, id_)
        hidden = self._not_the_patients(request, current.resource if current else None, fault="smart-leak-read")
        if hidden:
            return hidden
        version = self.store.delete(type_, id_, versioned=not self.config.has("no-versioning"))
        if version is None:
            return self.error(404, f"{type_}/{id_} is not known", "not-found")
        headers = {} if self.config.has("no-versioning") else {"ETag": version.etag}
        return Response(status_code=204, headers=headers)


def smart_grant(request: Request) -> SmartGrant | None:
    """The SMART grant the sandbox's token check left on the request (None: no SMART token)."""
    return getattr(request.state, "smart", None)


def _url(fhir_base: str, type_: str, params: list[tuple[str, str]]) -> str:
    return f"{fhir_base}/{type_}" + (f"?{urlencode(params)}" if params else "")


def _etag_version(value: str) -> int | None:
    """``W/"3"``, ``"3"`` or ``3`` → 3."""
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    return int(text) if text.isdigit() else None
