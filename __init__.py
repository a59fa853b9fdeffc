"""samsvar: the open conformance suite for Norwegian health interoperability.

The Python API is imported on first use, so that ``import samsvar`` (and the command line)
stays cheap::

    import samsvar
    result = samsvar.validate({"resourceType": "Patient", "id": "p1"})
    validator = samsvar.Validator(igs=["hl7.fhir.no.basis#2.2.2"])
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = ("Validator", "ValidationResult", "Finding", "validate")
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    # By name, not an import statement: every module imports this package (for __version__), and
    # a static import of samsvar.api here would read, to the layer contracts, as every layer
    # reaching up to the API.
    if name in _API:
        return getattr(importlib.import_module(f"{__name__}.api"), name)
    raise AttributeError(f"module 'samsvar' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
