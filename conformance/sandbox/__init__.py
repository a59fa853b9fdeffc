"""The reference sandbox: a small conformant FHIR R4 + messaging endpoint on the local machine.

Vendors look at it to see conformant behaviour; the live suites run against it, and against it
with one fault switched on (:data:`FAULTS`) to prove that each test can fail::

    from samsvar.conformance.sandbox import SandboxConfig, serve_in_thread

    with serve_in_thread(SandboxConfig(faults=frozenset({"no-paging"}))) as sandbox:
        requests.get(sandbox.fhir_url + "/Patient?_count=2", timeout=10)

The names below are imported on first use, so that ``samsvar.conformance.sandbox.faults`` (the
CLI's help) does not load the web server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Sandbox": "app", "create_app": "app",
    "ALLOWED_SCOPES": "auth", "ASSERTION_TYPE": "auth", "TokenService": "auth", "read_client_option": "auth",
    "DEFAULT_AUDIENCE": "config", "SandboxConfig": "config",
    "FAULTS": "faults", "UnknownFault": "faults", "parse_faults": "faults",
    "FAULT_ELEMENT": "fhir", "SUPPORTED_TYPES": "fhir",
    "DropWatcher": "messaging", "MessageReceiver": "messaging", "Receipt": "messaging",
    "SEARCH_PARAMS": "search", "TYPE_PARAMS": "search", "params_for": "search",
    "RunningSandbox": "server", "SandboxStartError": "server", "serve_in_thread": "server",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .app import Sandbox, create_app
    from .auth import ALLOWED_SCOPES, ASSERTION_TYPE, TokenService, read_client_option
    from .config import DEFAULT_AUDIENCE, SandboxConfig
    from .faults import FAULTS, UnknownFault, parse_faults
    from .fhir import FAULT_ELEMENT, SUPPORTED_TYPES
    from .messaging import DropWatcher, MessageReceiver, Receipt
    from .search import SEARCH_PARAMS, TYPE_PARAMS, params_for
    from .server import RunningSandbox, SandboxStartError, serve_in_thread


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
