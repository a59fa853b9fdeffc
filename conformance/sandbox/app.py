"""The sandbox as one ASGI application: FHIR at ``/fhir``, messaging at ``/messaging``, OAuth at ``/token``.

:func:`create_app` builds a Starlette app from a :class:`SandboxConfig`; its state holds the
:class:`Sandbox` (store, validator, token service, message receiver). Any ASGI server can run
it; :func:`~samsvar.conformance.sandbox.server.serve_in_thread` runs it with uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ...validators.runner import Options, Result, Validator
from .auth import BearerError, TokenRequestError, TokenService
from .config import SandboxConfig
from .dpop import ProofChecker
from .faults import FAULTS
from .fhir import FhirApi
from .messaging import DropWatcher, MessageReceiver
from .responses import error_response
from .smart import CLIENT_ID as SMART_CLIENT
from .smart import OTHER_PATIENT, TEST_PATIENT, SmartServer, seed
from .smart import REDIRECT_URI as SMART_REDIRECT
from .store import ResourceStore, now_instant

DATABASE_NAME = "sandbox.sqlite"


class Sandbox:
    """What one sandbox holds while it runs."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.started = now_instant()
        self._temporary: Path | None = None
        if config.data_dir is None:
            self._temporary = Path(tempfile.mkdtemp(prefix="samsvar-sandbox-"))
            data_dir = self._temporary
        else:
            data_dir = config.data_dir
            data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self._validator = Validator(Options(cache_root=config.cache_root))
        self._validator_lock = threading.Lock()
        self._validator.definitions()  # the FHIR core package must be there: an environment error up front
        self.store = ResourceStore(data_dir / DATABASE_NAME)
        self.tokens = TokenService(config.clients, config.audience, dpop_required=config.dpop_required,
                                   proofs=ProofChecker(nonces=config.dpop_nonce, broken=config.has)) if config.auth else None
        self.smart = SmartServer(config.has) if config.smart else None
        if self.smart is not None:
            seed(self.store)
        self.receiver = MessageReceiver(config, self.validate)
        self.drop: DropWatcher | None = None
        if config.drop_dir is not None:
            self.drop = DropWatcher(self.receiver, config.drop_dir, poll_interval=config.poll_interval,
                                    delay=config.apprec_delay)

    def validate(self, name: str, data: bytes) -> Result:
        """samsvar's validation of an artifact (one at a time: the validator is not shared across threads)."""
        with self._validator_lock:
            return self._validator.validate_bytes(name, data)

    def authorize(self, request: Request, scope: str) -> Response | None:
        """None when the request may go on; the 401/403 response otherwise. With SMART, a FHIR
        request with a SMART token (or any FHIR request when there is no HelseID token service)
        is checked as a patient-level token and its grant kept in ``request.state.smart``."""
        if self.smart is not None and request.url.path.startswith("/fhir"):
            header = request.headers.get("authorization")
            if self.tokens is None or (header and self.smart.is_smart_token(header)):
                try:
                    request.state.smart = self.smart.check(header)
                except BearerError as exc:
                    return error_response(self.config, exc.status, exc.description, code="login",
                                          headers=exc.headers())
                return None
        if self.tokens is None or self.config.has("no-auth"):
            return None
        base = str(request.base_url).rstrip("/")
        try:
            self.tokens.check_access(request.headers.get("authorization"), scope,
                                     audiences=(self.config.audience, base + "/fhir", base), proof=dpop_header(request),
                                     method=request.method, url=str(request.url),
                                     proof_optional=self.config.has("dpop-proof-optional"))
        except BearerError as exc:
            code = "login" if exc.status == 401 else "forbidden"
            return error_response(self.config, exc.status, exc.description, code=code, headers=exc.headers())
        return None

    def start(self) -> None:
        if self.drop is not None:
            self.drop.start()

    def close(self) -> None:
        if self.drop is not None:
            self.drop.stop()
        self.store.close()
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)


def dpop_header(request: Request) -> str | None:
    """The request's DPoP proof header (several are joined, and refused as such), or None."""
    values = request.headers.getlist("dpop")
    return ", ".join(values) if values else None


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def token_endpoint(request: Request, answer: Callable[[dict[str, str]], dict[str, Any]]) -> Response:
    """An OAuth token endpoint's shell (RFC 6749 §3.2, §5): a form-encoded body, the answer of
    ``answer(form)`` or its :class:`TokenRequestError`, never cached. HelseID-style and SMART
    token endpoints differ only in ``answer``."""
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return JSONResponse({"error": "invalid_request",
                             "error_description": "the body must be application/x-www-form-urlencoded"},
                            400, headers=_NO_STORE)
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    try:
        body = answer(form)
    except TokenRequestError as exc:
        return JSONResponse(exc.body(), exc.status, headers={**_NO_STORE, **exc.headers})
    return JSONResponse(body, headers=_NO_STORE)


def create_app(config: SandboxConfig) -> Starlette:
    """The sandbox's ASGI app; ``app.state.sandbox`` is its :class:`Sandbox`."""
    sandbox = Sandbox(config)
    fhir = FhirApi(sandbox)

    async def index(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        lines = [f"samsvar sandbox: {base}", f"FHIR R4 (JSON): {base}/fhir (CapabilityStatement: {base}/fhir/metadata)",
                 f"Messaging (POST a MsgHead, get its AppRec): {base}/messaging"]
        if sandbox.tokens is not None:
            lines.append(f"OAuth2 token endpoint: {base}/token (discovery: {base}/.well-known/openid-configuration)")
        if sandbox.smart is not None:
            lines.append(f"SMART App Launch: {base}/fhir/.well-known/smart-configuration (client_id {SMART_CLIENT}, "
                         f"redirect_uri {SMART_REDIRECT}; test patient {TEST_PATIENT}, another patient {OTHER_PATIENT})")
        if config.drop_dir is not None:
            lines.append(f"File drop: {config.drop_dir}/inbox -> {config.drop_dir}/outbox")
        lines.append("Faults: " + (", ".join(f"{name} ({FAULTS[name]})" for name in sorted(config.faults)) or "none"))
        return PlainTextResponse("\n".join(lines) + "\n")

    async def messaging(request: Request) -> Response:
        refused = sandbox.authorize(request, "messaging")
        if refused:
            return refused
        data = await request.body()
        receipt = await run_in_threadpool(sandbox.receiver.receive, data)
        if receipt.refused is not None:
            return PlainTextResponse(receipt.refused + "\n", status_code=400)
        if config.apprec_delay:
            await asyncio.sleep(config.apprec_delay)
        if receipt.apprec is None:
            return Response(status_code=202)
        return Response(receipt.apprec, media_type="application/xml; charset=utf-8")

    async def token(request: Request) -> Response:
        assert sandbox.tokens is not None
        tokens = sandbox.tokens
        base = str(request.base_url).rstrip("/")
        return await token_endpoint(request, lambda form: tokens.token_response(
            form, token_url=base + "/token", issuer=base, dpop=dpop_header(request)))

    async def discovery(request: Request) -> Response:
        assert sandbox.tokens is not None
        return JSONResponse(sandbox.tokens.discovery(str(request.base_url).rstrip("/")))

    async def smart_configuration(request: Request) -> Response:
        assert sandbox.smart is not None
        return JSONResponse(sandbox.smart.discovery(str(request.base_url).rstrip("/")))

    async def smart_authorize(request: Request) -> Response:
        assert sandbox.smart is not None
        fhir_base = str(request.base_url).rstrip("/") + "/fhir"
        answer = sandbox.smart.authorize(dict(request.query_params), fhir_base)
        if answer.location is not None:
            return Response(status_code=answer.status, headers={"Location": answer.location, "Cache-Control": "no-store"})
        return PlainTextResponse(answer.text + "\n", status_code=answer.status)

    async def smart_token(request: Request) -> Response:
        assert sandbox.smart is not None
        smart = sandbox.smart
        base = str(request.base_url).rstrip("/")
        return await token_endpoint(request, lambda form: smart.token_response(form, issuer=base,
                                                                               audience=base + "/fhir"))

    async def jwks(_request: Request) -> Response:
        assert sandbox.tokens is not None
        return JSONResponse(sandbox.tokens.jwks())

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else f"internal error ({type(exc).__name__})"
        if request.url.path.startswith("/fhir"):
            code = {404: "not-found", 405: "not-supported"}.get(status, "exception")
            headers = getattr(exc, "headers", None)
            return error_response(config, status, f"{request.method} {request.url.path}: {detail}", code=code,
                                  headers=headers)
        return PlainTextResponse(f"{detail}\n", status_code=status)

    routes = [Route("/", index, methods=["GET"])]
    if sandbox.smart is not None:  # before the FHIR routes: /fhir/.well-known/… is no resource type
        routes += [Route("/fhir/.well-known/smart-configuration", smart_configuration, methods=["GET"]),
                   Route("/smart/authorize", smart_authorize, methods=["GET"]),
                   Route("/smart/token", smart_token, methods=["POST"])]
    routes += [*fhir.routes(),
              Route("/messaging", messaging, methods=["POST"])]
    if sandbox.tokens is not None:
        routes += [Route("/token", token, methods=["POST"]),
                   Route("/.well-known/openid-configuration", discovery, methods=["GET"]),
                   Route("/jwks", jwks, methods=["GET"])]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        sandbox.start()
        try:
            yield
        finally:
            sandbox.close()

    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: http_error, Exception: http_error})
    app.state.sandbox = sandbox
    return app
