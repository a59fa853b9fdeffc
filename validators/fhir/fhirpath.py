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
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from ..cache import parsed_fhirpath
from .fhirpath_fast import FHIR_CONSTANTS, compile_fast
from .fhirpath_errors import FhirPathEvaluationError, FhirPathMalformedTemporal, FhirPathSyntaxError, FhirPathUnsupported
from .fhirpath_hooks import HOOKS, VALUE_MEMBER, Hooks

__all__ = ["HOOKS", "Compiled", "FhirPathEvaluationError", "FhirPathMalformedTemporal", "FhirPathUnsupported", "Hooks", "compile_expression",
           "failure_kind", "grammar_errors", "parser_version"]


# --- Compiling and evaluating ------------------------------------------------------------------

FailureKind = str
"""``"unsupported"`` (a FHIRPath feature samsvar lacks), ``"evaluation"`` (an error FHIRPath itself
defines, on this data) or ``"internal"`` (samsvar's FHIRPath layer failed: a bug to report)."""


def failure_kind(exc: BaseException) -> FailureKind:
    """What kind of failure an exception from compiling or evaluating an expression is. By type,
    never by message: our own errors have their classes; fhirpathpy raises a plain ``Exception``
    for the errors it defines on purpose, whereas Python's own (``KeyError``, ``TypeError``,
    ``AttributeError``, ...) are failures of the engine."""
    if isinstance(exc, FhirPathUnsupported):
        return "unsupported"
    if isinstance(exc, FhirPathEvaluationError) or type(exc) is Exception:
        return "evaluation"
    return "internal"


def _unsupported_features(node: dict[str, Any]) -> Iterator[str]:
    """Functions the engine does not know, or calls with a number of arguments it does not take."""
    from .fhirpath_engine import known_function

    if node.get("type") == "Functn":
        children = node.get("children") or []
        name = (children[0].get("terminalNodeText") or [""])[0] if children else ""
        arguments = len(children[1].get("children") or []) if len(children) > 1 else 0
        known = known_function(name)
        if known is None or "fn" not in known:
            yield f"function {name}()"
        elif "arity" in known and "variadic" not in known and arguments not in known["arity"]:
            yield f"function {name}() with {arguments} argument{'s' if arguments != 1 else ''}"
    for child in node.get("children") or []:
        yield from _unsupported_features(child)

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
    """The parse tree (kept in the disk cache); an expression the grammar rejects is not parsed
    into a repaired tree, it raises :class:`FhirPathSyntaxError` (checked once per expression:
    only a tree that parsed cleanly is cached)."""
    from fhirpathpy.parser import parse

    errors = grammar_errors(expression)
    if errors:
        raise FhirPathSyntaxError(errors[0])
    return parse(expression)


class Compiled:
    """An expression parsed once, evaluated on any resource with samsvar's function table.

    Call it as fhirpathpy's compiled functions: ``compiled(resource, {"resource": ...})``; the
    result is the collection with typed nodes turned back into plain data.
    """

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self._tree = parsed_fhirpath(expression, _parse, parser_version() + "/grammar-checked")["children"][0]  # disk cache
        if _VALUE_NAVIGATION.search(expression):
            self._tree = _with_value_member(self._tree)
        self._constants = _fhir_constants(expression)
        self.fast = compile_fast(self._tree)
        """The expression on plain JSON (``fast(focus_items(value, type_path))``) when it is simple
        enough; it answers UNDECIDED when the engine must evaluate it (see :mod:`.fhirpath_fast`)."""
        if self.fast is None:  # the engine evaluates it: every function must be one the engine has
            missing = list(dict.fromkeys(_unsupported_features(self._tree)))
            if missing:
                raise FhirPathUnsupported(", ".join(missing))

    def __call__(self, resource: Any, context: Mapping[str, Any] | None = None) -> list[Any]:
        from .fhirpath_engine import evaluate

        return evaluate(self._tree, self._constants, resource, context)


_VALUE_NAVIGATION = re.compile(r"\.\s*`?value`?(?![\w(`])")


def _with_value_member(tree: dict[str, Any]) -> dict[str, Any]:
    """The tree with every ``X.value`` navigation as samsvar's ``value`` member function, which
    gives a primitive itself, as HL7's validator does (``birthDate.value``); other navigation
    to ``value`` is unchanged. Expressions without ``.value`` are not rewritten (and stay simple
    enough for the fast evaluator)."""
    replacement = _parse(f"x.{VALUE_MEMBER}()")["children"][0]["children"][1]

    def rewrite(node: dict[str, Any]) -> dict[str, Any]:
        children = [rewrite(c) for c in node.get("children") or []]
        if node.get("type") == "InvocationExpression" and len(children) == 2 and _is_value_member(children[1]):
            children[1] = replacement
        return {**node, "children": children} if "children" in node else node

    return rewrite(tree)


def _is_value_member(node: dict[str, Any]) -> bool:
    if node.get("type") != "MemberInvocation":
        return False
    identifier = (node.get("children") or [{}])[0]
    return identifier.get("type") == "Identifier" and identifier.get("text") == "value"


def grammar_errors(expression: str) -> list[str]:
    """What the FHIRPath grammar finds wrong with ``expression`` (the whole text must be one
    expression), first error first; empty when it is grammatical. fhirpathpy's own parse recovers
    from syntax errors silently (``name.exists() and`` compiles), so its generated parser is run
    here with a listener that keeps them."""
    from antlr4 import CommonTokenStream, InputStream  # type: ignore[import-untyped]
    from antlr4.error.ErrorListener import ErrorListener  # type: ignore[import-untyped]
    from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer  # type: ignore[import-untyped]
    from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser  # type: ignore[import-untyped]

    errors: list[str] = []

    class Collect(ErrorListener):  # type: ignore[misc]
        def syntaxError(self, _recognizer: Any, _symbol: Any, line: int, column: int, message: str,
                        _error: Any) -> None:
            errors.append(f"at {line}:{column + 1}: {message}")

    lexer = FHIRPathLexer(InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(Collect())
    parser = FHIRPathParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(Collect())
    try:
        parser.entireExpression()
    except Exception as failure:  # noqa: BLE001 - the grammar's own rejection
        errors.append(str(failure))
    return errors


def compile_expression(expression: str) -> Compiled:
    """A compiled FHIRPath expression over the R4 model, with samsvar's functions."""
    return Compiled(expression)


def _fhir_constants(expression: str) -> dict[str, str]:
    """FHIR's environment variables (FHIR R4, FHIRPath page, "Variables") the expression uses."""
    found = {"sct": FHIR_CONSTANTS["sct"], "loinc": FHIR_CONSTANTS["loinc"]}
    for kind, name in re.findall(r"%`?(vs|ext)-([A-Za-z0-9.\-]+)", expression):
        base = "ValueSet" if kind == "vs" else "StructureDefinition"
        found[f"{kind}-{name}"] = f"http://hl7.org/fhir/{base}/{name}"
    return found
