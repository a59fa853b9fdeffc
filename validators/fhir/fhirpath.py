"""FHIRPath for validation: compile once, evaluate cheaply, load the engine only when needed.

An expression is parsed once (the parse tree is kept in the disk cache between runs). Simple
expressions, most of the invariants of the base specification among them, are evaluated on the
JSON by :mod:`.fhirpath_fast`; everything else goes to fhirpathpy's evaluator with samsvar's
FHIR functions (:mod:`.fhirpath_engine`, which says what those add and correct). fhirpathpy is
imported the first time an expression needs it (to be parsed, or evaluated by the engine), so a
run whose expressions are all simple, or all parsed before, never loads it.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from ..cache import parsed_fhirpath
from .fhirpath_fast import compile_fast
from .fhirpath_hooks import HOOKS, Hooks

__all__ = ["HOOKS", "Compiled", "Hooks", "compile_expression", "parser_version"]


# --- Compiling and evaluating ------------------------------------------------------------------

@lru_cache(maxsize=1)
def parser_version() -> str:
    """fhirpathpy's version (part of the key of cached parse trees), read without importing it."""
    spec = importlib.util.find_spec("fhirpathpy")
    try:
        head = open(spec.origin, encoding="utf-8").read() if spec and spec.origin else ""  # noqa: SIM115
    except OSError:
        head = ""
    found = re.search(r'^__version__\s*=\s*["\']([^"\']+)', head, re.MULTILINE)
    return found.group(1) if found else "unknown"


def _parse(expression: str) -> Any:
    from fhirpathpy.parser import parse

    return parse(expression)


class Compiled:
    """An expression parsed once, evaluated on any resource with samsvar's function table.

    Call it as fhirpathpy's compiled functions: ``compiled(resource, {"resource": ...})``; the
    result is the collection with typed nodes turned back into plain data.
    """

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self._tree = parsed_fhirpath(expression, _parse, parser_version())["children"][0]  # disk cache
        self._constants = _fhir_constants(expression)
        self.fast = compile_fast(self._tree)
        """The expression on plain JSON (``fast(focus_items(value, type_path))``) when it is simple
        enough; it answers UNDECIDED when the engine must evaluate it (see :mod:`.fhirpath_fast`)."""

    def __call__(self, resource: Any, context: Mapping[str, Any] | None = None) -> list[Any]:
        from .fhirpath_engine import evaluate

        return evaluate(self._tree, self._constants, resource, context)


def compile_expression(expression: str) -> Compiled:
    """A compiled FHIRPath expression over the R4 model, with samsvar's functions."""
    return Compiled(expression)


def _fhir_constants(expression: str) -> dict[str, str]:
    """FHIR's environment variables (FHIR R4, FHIRPath page, "Variables") the expression uses."""
    found = {"sct": "http://snomed.info/sct", "loinc": "http://loinc.org"}
    for kind, name in re.findall(r"%`?(vs|ext)-([A-Za-z0-9.\-]+)", expression):
        base = "ValueSet" if kind == "vs" else "StructureDefinition"
        found[f"{kind}-{name}"] = f"http://hl7.org/fhir/{base}/{name}"
    return found
