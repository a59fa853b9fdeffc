"""samsvar's thin layer over fhirpathpy: the FHIR-specific functions validation needs.

fhirpathpy implements FHIRPath itself; functions that the FHIR specification adds for
validation are registered here through its user invocation table, so the upstream engine is
used unchanged. Implemented: ``hasValue()``. Planned with the engine issue: ``resolve()``
within Bundles and contained resources, ``conformsTo()``, ``memberOf()``, ``htmlChecks()``,
``lowBoundary()``/``highBoundary()`` and Quantity comparison.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable


def has_value(inputs: list[Any]) -> list[bool]:
    """True when the focus is a single primitive with a value (not only extensions)."""
    return [len(inputs) == 1 and isinstance(inputs[0], (str, bool, int, float, Decimal))]


FUNCTIONS: dict[str, dict[str, Any]] = {
    "hasValue": {"fn": has_value, "arity": {0: []}},
}


def compile_expression(expression: str) -> Callable[..., list[Any]]:
    """A compiled FHIRPath expression over the R4 model, with samsvar's functions."""
    from fhirpathpy import compile as compile_fhirpath
    from fhirpathpy.models import models

    return compile_fhirpath(expression, models["r4"], {"traceFn": _ignore_trace, "userInvocationTable": FUNCTIONS})


def _ignore_trace(_label: str, _value: Any) -> None:
    """FHIRPath ``trace()`` would print to standard output; reports must stay clean."""
