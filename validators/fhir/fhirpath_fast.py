"""A fast path for the simple FHIRPath of invariants, evaluated on the JSON itself.

Profiling the official examples showed FHIRPath evaluation as the hottest path of validation
(about half of it): every element occurrence evaluates its constraints, and most of them are
simple (``extension.exists() != value.exists()``, ``name.exists() or uri.exists()``,
``(code = 'Reference' or code = 'canonical') or targetProfile.empty()``), while each evaluation
through fhirpathpy's interpreter costs tens of microseconds of node wrapping and table lookups.

:func:`compile_fast` turns the parse tree of such an expression into a Python closure over the
JSON value, for a subset of FHIRPath: member navigation (with fhirpathpy's model of choice
elements and type paths), ``$this``, ``%resource``/``%rootResource``/``%context``,
``%ucum``/``%sct``/``%loinc``;
``exists()``, ``empty()``, ``count()``, ``not()``, ``toInteger()``, ``isDistinct()``,
``first()``, ``tail()``, ``children()``, ``descendants()``, ``hasValue()`` without arguments;
``select()``, ``where()``, ``all()``, ``iif()``, ``trace()``, ``startsWith()``, ``contains()``;
``matches()``, ``matchesFull()``, ``replaceMatches()`` and ``substring()`` with literal
arguments; ``combine()`` after navigation; the Boolean operators, ``=``/``!=`` on strings,
Booleans and counts, ``+`` on counts, ``<``/``>``/``<=``/``>=`` on integers and on dates and
times, ``in`` and
``contains`` on strings, Booleans and integers, ``|`` and ``&``; string, integer and Boolean
literals.
Anything else (other functions and variables, types, arithmetic, dates, quantities) makes it
return None at compile time, and the engine evaluates the expression.

At run time the closure answers the collection the engine would (``[True]``, ``[False]``,
``[]``, ...) or :data:`UNDECIDED` whenever the data leaves the cases it mirrors exactly: a
primitive extension (``_name``), a JSON null, more than one item where one is expected, a
comparison of anything but plain strings, Booleans or integers. Then the engine evaluates it,
so a fast answer is never a different answer; ``SAMSVAR_VERIFY_FAST_PATH=1`` makes the
invariant checker evaluate both and fail loudly on a difference (``bench/fhirpath_fast_check.py``
runs it over the official examples).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Callable

from .fhirpath_hooks import VALUE_MEMBER


UNDECIDED: Any = object()
"""The fast path cannot answer for this data: evaluate with the engine."""

Items = list[Any]
Fn = Callable[[Items, Any, Any], Any]
"""(input items, ``$this``, environment) in, items (or UNDECIDED) out. ``$this`` is what
fhirpathpy's context holds: the input of the nearest operator or function argument, None at the
top (unset). The environment maps ``resource``/``rootResource``/``context`` to their items."""

_STRINGY = frozenset({"string", "code", "uri", "url", "canonical", "id", "oid", "uuid", "markdown", "System.String"})
_BOOLEAN_OPERATORS = ("and", "or", "xor", "implies")
_COMPARISONS = {"<": lambda a, b: a < b, ">": lambda a, b: a > b,
                "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}


Node = tuple
"""A navigated JSON value and fhirpathpy's type path for it: the pair ``(value, path)``, a plain
tuple (cheapest to make); no other item of a collection is a tuple (JSON values, literals and
function results never are), so ``type(item) is Node`` tells navigated values apart."""


_SCALARS = frozenset({str, bool, int, float, Decimal})
"""JSON's scalar types as loaded: told apart by type, before the (slower) Mapping ABC check."""


def _is_object(value: Any) -> bool:
    """A JSON object (a dict, as loaded; any Mapping as the engine sees it)."""
    return type(value) is dict or (type(value) not in _SCALARS and isinstance(value, Mapping))


_MODEL: dict[str, Any] | None = None


def _model() -> dict[str, Any]:
    """fhirpathpy's R4 model (choice types, type paths), read from its data files: importing
    ``fhirpathpy.models`` would import the whole engine and parse the models of four versions."""
    global _MODEL
    if _MODEL is None:
        import importlib.util
        import json
        from pathlib import Path

        spec = importlib.util.find_spec("fhirpathpy")
        folders = [Path(p) / "models" / "r4" for p in (spec.submodule_search_locations or [])] if spec else []
        files = sorted(f for folder in folders for f in folder.glob("*.json"))
        if files:
            _MODEL = {f.stem: json.loads(f.read_bytes()) for f in files}
        else:  # an unusual installation: as the engine loads it
            from fhirpathpy.models import models

            _MODEL = models["r4"]
    return _MODEL


def uniq(items: list[Any]) -> list[Any]:
    """fhirpathpy's ``uniq`` (imported when first used)."""
    from fhirpathpy.engine.util import uniq as engine_uniq

    return engine_uniq(items)


def _distinct(values: list[Any]) -> list[Any]:
    """What :func:`uniq` answers, without its JSON text of every value when the answer is plain:
    strings (equal exactly when their JSON is), or a few values no two of which are equal (two
    values with the same JSON text or ``str`` are equal, or the same object; but for a bare
    float, whose text can be a Decimal's: ``0.1``)."""
    if len(values) < 2:
        return list(values)
    if all(type(value) is str for value in values):
        return list(dict.fromkeys(values))
    if len(values) <= _FEW and not any(type(value) is float for value in values):
        for index, value in enumerate(values):
            for other in values[index + 1:]:
                if value is other or value == other:
                    return uniq(values)
        return list(values)
    return uniq(values)


_FEW = 8


def focus_items(value: Any, path: str) -> Items:
    """The focus as the engine's ``ResourceNode.create_node(value, path)`` sees it."""
    if _is_object(value) and "resourceType" in value:
        path = value["resourceType"]
    return [(value, path)]


def compile_fast(tree: dict[str, Any]) -> Callable[[Items, dict[str, Items]], Any] | None:
    """A closure for the expression's parse tree, called with the focus (:func:`focus_items`) and
    the environment (:func:`environment`); None when the expression leaves the subset."""
    try:
        compiled = _compile(tree, top=True)
    except _Unsupported:
        return None
    return lambda items, env: compiled(items, None, env)


def environment(resource: Any, root: Any, focus: Items) -> dict[str, Items]:
    """``%resource``, ``%rootResource`` and ``%context`` as the invariant checker sets them."""
    return {"resource": focus_items(resource, ""), "rootResource": focus_items(root, ""), "context": focus}


class _Unsupported(Exception):
    pass


def _compile(node: dict[str, Any], top: bool = False) -> Fn:
    """The closure for a node; ``top``: outside any function's argument, where the input is always
    the focus (operators and chains pass their input on)."""
    kind = node.get("type")
    children = node.get("children") or []
    if kind in ("TermExpression", "InvocationTerm", "ParenthesizedTerm") and len(children) == 1:
        return _compile(children[0], top)
    compiled = _compile_node(node, kind, children, top)
    if kind == "InvocationExpression" and _collection_valued(children[1]):
        if _constant(node):
            return _memoized(compiled, node, focus_only=False)
        if top and not _reads_this(node):
            return _memoized(compiled, node, focus_only=True)
    return compiled


_NAVIGATING = frozenset({"where", "select", "children", "descendants", "first", "tail", "trace", "combine"})


def _collection_valued(step: dict[str, Any]) -> bool:
    """Whether a chain's last step navigates or filters (``snapshot.element``,
    ``children().element.where(...)``): values worth sharing, where a step such as ``exists()``
    or ``count()`` ends the chain in a value that one constraint alone asks for."""
    if step.get("type") == "MemberInvocation":
        return True
    return step.get("type") == "FunctionInvocation" and _function_parts(step)[0] in _NAVIGATING


_MEMO: Any = object()
"""The key in the environment of the values of subexpressions worked out during one visit."""


def _memoized(compiled: Fn, node: dict[str, Any], focus_only: bool) -> Fn:
    """A subexpression whose value depends only on the environment (``%resource.snapshot.element``),
    or, ``focus_only``, on its input when that is the focus (``snapshot.element`` at the top):
    worked out once per environment, that is once per visit of the invariant checker, and shared
    by every constraint of the visit and by every item of a function's argument."""
    key = json.dumps(node, sort_keys=True)

    def memoized(items: Items, this: Any, env: Any) -> Any:
        if focus_only and items is not env.get("context"):
            return compiled(items, this, env)
        memo = env.get(_MEMO)
        if memo is None:
            memo = env[_MEMO] = {}
        found = memo.get(key)
        if found is None:
            found = memo[key] = compiled(items, this, env)
        return found
    return memoized


_OPERATORS = frozenset({"AndExpression", "OrExpression", "XorExpression", "ImpliesExpression", "EqualityExpression",
                        "InequalityExpression", "UnionExpression", "AdditiveExpression", "MembershipExpression"})
_OWN_THIS = frozenset({"where", "select", "all", "iif"})
"""Functions whose arguments are evaluated with ``$this`` their own input (or its items)."""


def _function_parts(node: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    functn = (node.get("children") or [{}])[0]
    parts = functn.get("children") or []
    name = str(parts[0].get("text") or "") if parts else ""
    return name, (parts[1].get("children") or []) if len(parts) > 1 else []


def _reads_this(node: dict[str, Any]) -> bool:
    """Whether the node's value may depend on the ``$this`` it is evaluated with (not only on its
    input and the environment): ``$this`` itself, or a function argument evaluated on ``$this``
    (``startsWith(x)``, ``combine(x)``) that is not constant. Operators give their operands their
    input as ``$this``."""
    kind = node.get("type")
    if kind == "ThisInvocation":
        return True
    if kind in _OPERATORS:
        return False
    if kind == "FunctionInvocation":
        name, arguments = _function_parts(node)
        return name not in _OWN_THIS and not all(_constant(argument) for argument in arguments)
    return any(_reads_this(child) for child in node.get("children") or [])


def _constant(node: dict[str, Any]) -> bool:
    """Whether the node's value depends only on the environment (literals, ``%resource`` and what
    is navigated or computed from them), not on its input nor on ``$this``."""
    kind = node.get("type")
    children = node.get("children") or []
    if kind in ("TermExpression", "InvocationTerm", "ParenthesizedTerm"):
        return len(children) == 1 and _constant(children[0])
    if kind in ("LiteralTerm", "ExternalConstantTerm"):
        return True
    if kind == "InvocationExpression":
        return len(children) == 2 and _constant(children[0]) and not _reads_this(children[1])
    if kind in _OPERATORS:
        return all(_constant(child) for child in children)
    return False


def _compile_node(node: dict[str, Any], kind: Any, children: list[dict[str, Any]], top: bool) -> Fn:
    if kind == "LiteralTerm" and len(children) == 1:
        return _literal(children[0])
    if kind == "ThisInvocation":
        return _this
    if kind == "ExternalConstantTerm":
        return _variable(children)
    if kind == "MemberInvocation":
        return _member(_identifier(children))
    if kind == "FunctionInvocation":
        return _function(children)
    if kind == "InvocationExpression" and len(children) == 2:
        presence = _presence_test(children, top)
        if presence is not None:
            return presence
        combined = _combine_argument(children[1])
        if combined is not None:
            if not _keeps_this(children[0]):
                raise _Unsupported("combine")
            return _combine(_compile(children[0], top), _compile(combined))
        return _chain(_compile(children[0], top), _compile(children[1]))
    operator = (node.get("terminalNodeText") or [None])[0]
    if kind == "TypeExpression" and operator == "is" and len(children) == 2:
        return _type_expression(_compile(children[0], top), _type_test(_type_name(children[1])))
    if len(children) == 2:
        left, right = _compile(children[0], top), _compile(children[1], top)
        if kind in ("AndExpression", "OrExpression", "XorExpression", "ImpliesExpression") \
                and operator in _BOOLEAN_OPERATORS:
            return _logical(operator, left, right)
        if kind == "EqualityExpression" and operator in ("=", "!="):
            return _operator(_equality(operator == "!="), left, right)
        if kind == "InequalityExpression" and operator in _COMPARISONS:
            return _operator(_comparison(_COMPARISONS[operator]), left, right)
        if kind == "UnionExpression" and operator == "|":
            return _operator(_union, left, right)
        if kind == "AdditiveExpression" and operator == "&":
            return _operator(_concatenate, left, right)
        if kind == "AdditiveExpression" and operator == "+":
            return _operator(_add_integers, left, right)
        if kind == "MembershipExpression" and operator in ("in", "contains"):
            return _operator(_membership(operator == "in"), left, right)
    raise _Unsupported(kind)


def _variable(children: list[dict[str, Any]]) -> Fn:
    """``%resource``, ``%rootResource`` and ``%context``; other variables are the engine's."""
    constant = children[0] if len(children) == 1 else {}
    parts = constant.get("children") or []
    if constant.get("type") != "ExternalConstant" or len(parts) != 1 or parts[0].get("type") != "Identifier":
        raise _Unsupported("variable")
    name = str(parts[0].get("text") or "").strip('"').replace("`", "")
    if name in FHIR_CONSTANTS:
        value = FHIR_CONSTANTS[name]
        return lambda _items, _this, _env: [value]
    if name not in ("resource", "rootResource", "context"):
        raise _Unsupported(name)
    return lambda _items, _this, env: env[name]


FHIR_CONSTANTS = {"ucum": "http://unitsofmeasure.org", "sct": "http://snomed.info/sct", "loinc": "http://loinc.org"}
"""FHIR's environment variables that are plain strings (``%ucum``, ``%sct``, ``%loinc``), as the
engine is given them."""


def _identifier(children: list[dict[str, Any]]) -> str:
    if len(children) != 1 or children[0].get("type") != "Identifier":
        raise _Unsupported("identifier")
    text = str(children[0].get("text") or "")
    if text.startswith('"'):
        raise _Unsupported("delimited identifier")
    name = text.replace("`", "")
    # Capitalised names filter resources by type; "length" of a string is special in fhirpathpy.
    if not name or not name[0].islower() or name == "length":
        raise _Unsupported(name)
    return name


def _literal(node: dict[str, Any]) -> Fn:
    kind, text = node.get("type"), str(node.get("text") or "")
    if kind == "BooleanLiteral":
        value: Any = text == "true"
    elif kind == "StringLiteral":
        value = _unquote(node)
    elif kind == "NumberLiteral" and text.isdigit():
        value = int(text)
    else:
        raise _Unsupported(kind)
    return lambda _items, _this, _env: [value]


def _unquote(node: dict[str, Any]) -> str:
    """A string literal's value, unescaped by the engine's own evaluator."""
    from fhirpathpy.engine.evaluators import string_literal

    return str(string_literal(None, None, node)[0])


def _string_argument(node: dict[str, Any]) -> str:
    while node.get("type") in ("TermExpression", "LiteralTerm") and len(node.get("children") or []) == 1:
        node = node["children"][0]
    if node.get("type") != "StringLiteral":
        raise _Unsupported("argument")
    return _unquote(node)


def _this(_items: Items, this: Any, _env: Any) -> Any:
    return UNDECIDED if this is None else this  # unset at the top: the engine reports it


def _chain(first: Fn, then: Fn) -> Fn:
    def chained(items: Items, this: Any, env: Any) -> Any:
        middle = first(items, this, env)
        return UNDECIDED if middle is UNDECIDED else then(middle, this, env)
    return chained


Route = tuple[str | None, tuple[tuple[str, str, str], ...]]


def _router(name: str) -> tuple[dict[Any, Route], Callable[[Any], Route]]:
    """Where ``name`` leads from a node of type ``path``, worked out once per type: (type of the
    child, or None for a choice element) and, for a choice, (property, its ``_`` twin, type) per
    allowed type. Returns the cache of routes and the function that fills it."""
    model = _model()
    elsewhere, choices, path2type = model["pathsDefinedElsewhere"], model["choiceTypePaths"], model["path2Type"]
    underscore = "_" + name
    routes: dict[Any, Route] = {}

    def route(path: Any) -> Route:
        child = f"{path}.{name}" if path else f"_.{name}"
        child = elsewhere.get(child, child)
        types = choices.get(child)
        found: Route
        if types:
            found = (None, tuple((name + t, underscore + t, path2type.get(child + t, child + t)) for t in types))
            routes[path] = found
        else:
            child = "Extension" if name == "extension" else child
            found = routes[path] = (path2type.get(child, child), ())
        return found
    return routes, route


def _present(value: Any) -> bool:
    """fhirpathpy's ``is_some``: the engine makes nodes of a property's value (even of an array of
    nulls), but not of null nor of an empty array."""
    return value is not None and not (type(value) is list and not value)


def _presence(name: str, base: Fn | None, exists: bool) -> Fn:
    """``X.name.exists()`` / ``X.name.empty()``: whether navigating to ``name`` (from ``X``, or the
    input) makes any node, as the engine navigates: a value or its ``_name`` twin, the first
    type of a choice that has either. Answers without making the nodes, also for primitives with
    extensions and arrays with nulls, which navigation leaves to the engine."""
    routes, route = _router(name)
    underscore = "_" + name

    def presence(items: Items, this: Any, env: Any) -> Any:
        if base is not None:
            items = base(items, this, env)
            if items is UNDECIDED:
                return UNDECIDED
        found = False
        for item in items:
            if type(item) is not Node:
                continue
            data, path = item
            if type(data) is not dict and (type(data) in _SCALARS or not isinstance(data, Mapping)):
                continue
            where = routes.get(path)
            child, alternatives = where if where is not None else route(path)
            if child is None:
                for prop, twin, _kind in alternatives:
                    value, extensions = data.get(prop), data.get(twin)
                    if value is not None or extensions is not None:
                        found = _present(value) or _present(extensions)
                        break
            else:  # _present() inline: this runs for most exists()/empty()
                value = data.get(name)
                if value is not None and (type(value) is not list or value):
                    found = True
                else:
                    extensions = data.get(underscore)
                    found = extensions is not None and (type(extensions) is not list or bool(extensions))
            if found:
                break
        return [found == exists]
    return presence


def _member(name: str) -> Fn:
    """fhirpathpy's member navigation (``create_reduce_member_invocation``) on plain JSON."""
    routes, route = _router(name)
    underscore = "_" + name

    def navigate(items: Items, _this: Any, _env: Any) -> Any:
        found: Items = []
        add = found.append
        for item in items:
            if type(item) is not Node:
                continue  # a literal or a function's result: no children
            data, path = item
            if type(data) is not dict and (type(data) in _SCALARS or not isinstance(data, Mapping)):
                continue  # a primitive has no children (and "length" is not compiled)
            where = routes.get(path)
            child, alternatives = where if where is not None else route(path)
            value: Any = None
            if child is None:
                for prop, twin, kind in alternatives:
                    if twin in data:
                        return UNDECIDED  # a primitive extension: the engine pairs the two
                    value = data.get(prop)
                    if value is not None:
                        child = kind
                        break
            else:
                if underscore in data:
                    return UNDECIDED
                value = data.get(name)
            if value is None:
                continue
            for entry in value if type(value) is list or isinstance(value, list) else (value,):
                if type(entry) is dict:
                    add((entry, entry["resourceType"]) if "resourceType" in entry else (entry, child))
                elif entry is None:
                    return UNDECIDED
                elif type(entry) not in _SCALARS and isinstance(entry, Mapping) and "resourceType" in entry:
                    add((entry, entry["resourceType"]))  # as ResourceNode types a resource
                else:
                    add((entry, child))
        return found

    return navigate


def _value_member() -> Fn:
    """``X.value``: a primitive's value is itself (as in HL7's validator); else navigation to ``value``."""
    member = _member("value")

    def value_member(items: Items, this: Any, env: Any) -> Any:
        found: Items = []
        for item in items:
            if type(item) is Node and not (_is_object(item[0]) or isinstance(item[0], list)):
                found.append(item)
                continue
            navigated = member([item], this, env)
            if navigated is UNDECIDED:
                return UNDECIDED
            found.extend(navigated)
        return found

    return value_member


def _function(children: list[dict[str, Any]]) -> Fn:
    if len(children) != 1 or children[0].get("type") != "Functn":
        raise _Unsupported("function")
    parts = children[0].get("children") or []
    if not parts or parts[0].get("type") != "Identifier" or len(parts) > 2:
        raise _Unsupported("function")
    name = str(parts[0].get("text") or "")
    arguments = (parts[1].get("children") or []) if len(parts) == 2 else []
    if len(parts) == 2 and (parts[1].get("type") != "ParamList" or not arguments):
        raise _Unsupported("parameters")
    if name == VALUE_MEMBER and not arguments:
        return _value_member()
    simple = _SIMPLE.get(name)
    if simple is not None and not arguments:
        return lambda items, _this, _env: simple(items)
    if name in ("select", "all", "where") and len(arguments) == 1:
        return _each(name, _compile(arguments[0]))
    if name == "trace" and len(arguments) == 1:
        _string_argument(arguments[0])  # a label: the result is the input
        return lambda items, _this, _env: items
    if name in ("contains", "startsWith") and len(arguments) == 1:
        try:
            literal: str | None = _string_argument(arguments[0])
        except _Unsupported:
            literal = None
        return _string_function(name, _compile(arguments[0]), literal)
    if name == "iif" and len(arguments) in (2, 3):
        return _iif(*(_compile(argument) for argument in arguments))
    if name == "matchesFull" and len(arguments) == 1:
        return _matches_full(_string_argument(arguments[0]))
    if name == "intersect" and len(arguments) == 1 and _constant(arguments[0]):
        return _intersect(_compile(arguments[0]))
    if name == "is" and len(arguments) == 1:
        test = _type_test(_type_name(arguments[0]))
        return lambda items, _this, _env: test(items)
    if name == "matches" and len(arguments) == 1:
        return _matches(_string_argument(arguments[0]))
    if name == "replaceMatches" and len(arguments) == 2:
        return _replace_matches(_string_argument(arguments[0]), _string_argument(arguments[1]))
    if name == "substring" and len(arguments) in (1, 2):
        return _substring(*(_integer_argument(argument) for argument in arguments))
    raise _Unsupported(name)


_TYPE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def _type_name(node: dict[str, Any]) -> str:
    """The type of ``is(T)`` / ``x is T``, as the engine reads it (the node's text); only a plain
    name of an R4 type (a namespace, or a System type such as ``String``, is the engine's)."""
    name = str(node.get("text") or "")
    types = _model()["type2Parent"]
    if not _TYPE_NAME.fullmatch(name) or (name not in types and name not in types.values()):
        raise _Unsupported("type")
    return name


def _type_test(name: str) -> Callable[[Items], Any]:
    """samsvar's ``is``: one item, of a FHIR type that is ``name`` or derives from it, as
    fhirpathpy's ``TypeInfo.is_type`` walks the model; items typed by an element path
    (backbone elements), System values and literals are the engine's."""
    model = _model()
    parents, path2type = model["type2Parent"], model["path2Type"]

    def test(items: Items) -> Any:
        if not items:
            return []
        item = items[0]
        if len(items) > 1 or type(item) is not Node:
            return UNDECIDED
        path = item[1]
        if type(path) is not str or "." in path or path.startswith("System"):
            return UNDECIDED
        while path:
            if path == name:
                return [True]
            path = parents.get(path) or path2type.get(path)
        return [False]
    return test


def _type_expression(operand: Fn, test: Callable[[Items], Any]) -> Fn:
    """``x is T``: the operand evaluated on the input (with ``$this`` the input), then tested."""
    def evaluate(items: Items, _this: Any, env: Any) -> Any:
        value = operand(items, items, env)
        return UNDECIDED if value is UNDECIDED else test(value)
    return evaluate


def _integer_argument(node: dict[str, Any]) -> int:
    while node.get("type") in ("TermExpression", "LiteralTerm") and len(node.get("children") or []) == 1:
        node = node["children"][0]
    text = str(node.get("text") or "")
    if node.get("type") != "NumberLiteral" or not text.isdigit():
        raise _Unsupported("argument")
    return int(text)


def _unwrapped(node: dict[str, Any]) -> dict[str, Any]:
    while node.get("type") in ("TermExpression", "InvocationTerm") and len(node.get("children") or []) == 1:
        node = node["children"][0]
    return node


def _presence_test(children: list[dict[str, Any]], top: bool) -> Fn | None:
    """``name.exists()`` / ``X.name.empty()`` (no arguments) as :func:`_presence`; None for other chains."""
    step = children[1]
    if step.get("type") != "FunctionInvocation":
        return None
    function, arguments = _function_parts(step)
    functn = (step.get("children") or [{}])[0]
    if function not in ("exists", "empty") or arguments or len(functn.get("children") or []) != 1:
        return None
    left = _unwrapped(children[0])
    if left.get("type") == "MemberInvocation":
        return _presence(_identifier(left.get("children") or []), None, function == "exists")
    parts = left.get("children") or []
    if left.get("type") == "InvocationExpression" and len(parts) == 2 and parts[1].get("type") == "MemberInvocation":
        return _presence(_identifier(parts[1].get("children") or []), _compile(parts[0], top), function == "exists")
    return None


def _combine_argument(node: dict[str, Any]) -> dict[str, Any] | None:
    """The argument of a ``combine(x)`` invocation node; None for any other node."""
    if node.get("type") != "FunctionInvocation":
        return None
    functn = (node.get("children") or [{}])[0]
    parts = functn.get("children") or []
    if functn.get("type") != "Functn" or len(parts) != 2 or parts[0].get("text") != "combine":
        return None
    arguments = parts[1].get("children") or []
    if parts[1].get("type") != "ParamList" or len(arguments) != 1:
        raise _Unsupported("combine")
    return arguments[0]


_KEEPS_THIS = frozenset({"TermExpression", "InvocationTerm", "InvocationExpression", "MemberInvocation", "Identifier",
                         "ParenthesizedTerm", "ThisInvocation", "LiteralTerm", "StringLiteral", "NumberLiteral",
                         "BooleanLiteral", "ExternalConstantTerm", "ExternalConstant", "FunctionInvocation", "Functn"})


def _keeps_this(node: dict[str, Any]) -> bool:
    """Whether evaluating the node leaves the engine's ``$this`` as it was: navigation, literals,
    variables and functions without arguments. Operators and functions with arguments set the
    engine's ``$this`` (and do not restore it), which ``combine()``'s argument then starts from."""
    if node.get("type") not in _KEEPS_THIS:
        return False
    return all(child.get("type") != "ParamList" and _keeps_this(child) for child in node.get("children") or [])


def _data(item: Any) -> Any:
    return item[0] if type(item) is Node else item


def _not(items: Items) -> Any:
    if not items:
        return []
    if len(items) == 1:
        value = _data(items[0])
        if isinstance(value, bool):
            return [not value]
    return UNDECIDED


_INTEGER = re.compile(r"^[+-]?\d+$")


def _to_integer(items: Items) -> Any:
    """``toInteger()`` as fhirpathpy's: one item, a Boolean, an integer or a string of digits."""
    if len(items) != 1:
        return []
    value = _data(items[0])
    if isinstance(value, bool):
        return [int(value)]
    if type(value) is int:
        return [value]
    if isinstance(value, str):
        return [int(value)] if _INTEGER.match(value) else []
    if isinstance(value, (float, Decimal)):
        return UNDECIDED  # the engine keeps a Decimal; leave such cases to it
    return []


def _is_distinct(items: Items) -> Any:
    """``isDistinct()`` as fhirpathpy's: the items' data, compared as its ``uniq`` compares them."""
    if not items:
        return [True]
    nodes = [type(item) is Node for item in items]
    if not all(nodes) and any(nodes):
        return UNDECIDED
    values = [_data(item) for item in items]
    return [len(_distinct(values)) == len(values)]


def _children(items: Items) -> Any:
    """``children()`` as fhirpathpy's (``create_reduce_children``): every property but ``_name``."""
    model = _model()
    elsewhere, path2type = model["pathsDefinedElsewhere"], model["path2Type"]
    found: Items = []
    for item in items:
        if type(item) is not Node or not _is_object(item[0]):
            continue
        data, path = item
        for prop, value in data.items():
            if prop.startswith("_"):
                continue
            if not _add_entries(value, _child_type(path, prop, elsewhere, path2type), found):
                return UNDECIDED  # the engine makes a node of a null
    return found


def _child_type(path: Any, prop: str, elsewhere: Mapping[str, str], path2type: Mapping[str, str]) -> str:
    """The type path the engine gives the child ``prop`` of a node of type ``path``."""
    child = "Extension" if prop == "extension" else (f"{path}.{prop}" if path is not None else "")
    child = elsewhere.get(child, child)
    return path2type.get(child, child)


def _add_entries(value: Any, child: str, found: Items) -> bool:
    """The nodes of one property's value appended to ``found`` (a resource typed by its own
    resourceType, anything else by ``child``); False at a null, of which the engine makes a node."""
    for entry in value if isinstance(value, list) else (value,):
        if entry is None:
            return False
        found.append((entry, entry["resourceType"]) if _is_object(entry) and "resourceType" in entry else (entry, child))
    return True


def _descendants(items: Items) -> Any:
    """``descendants()`` as fhirpathpy's: children level by level, ``_name`` twins included."""
    model = _model()
    elsewhere, path2type = model["pathsDefinedElsewhere"], model["path2Type"]
    found: Items = []
    level = items
    while level:
        below: Items = []
        for item in level:
            if type(item) is not Node or not _is_object(item[0]):
                continue
            data, path = item
            if path is None:
                return UNDECIDED  # the engine fails on an untyped node (after a union)
            for prop, value in data.items():
                if not _add_entries(value, _child_type(path, prop, elsewhere, path2type), below):
                    return UNDECIDED  # the engine makes a node of a null
        found += below
        level = below
    return found


def _has_value(items: Items) -> Any:
    """samsvar's ``hasValue()``: one primitive value (the fast path never holds extensions' nodes)."""
    return [len(items) == 1 and isinstance(_data(items[0]), (str, bool, int, float, Decimal))]


def _first(items: Items) -> Any:
    return items[:1]


def _tail(items: Items) -> Any:
    return items[1:]


_SIMPLE: dict[str, Callable[[Items], Any]] = {
    "exists": lambda items: [bool(items)],
    "empty": lambda items: [not items],
    "count": lambda items: [len(items)],
    "not": _not,
    "toInteger": _to_integer,
    "isDistinct": _is_distinct,
    "children": _children,
    "first": _first,
    "tail": _tail,
    "descendants": _descendants,
    "hasValue": _has_value,
}


def _is_true(items: Items) -> bool:
    """fhirpathpy's ``is_true``: one item equal to true (so also the number 1)."""
    return len(items) == 1 and _data(items[0]) == True  # noqa: E712 - as the engine compares


def _each(name: str, argument: Fn) -> Fn:
    """``select(e)`` / ``all(e)`` / ``where(e)``: ``e`` on each item alone, with ``$this`` the item."""
    def evaluate(items: Items, _this: Any, env: Any) -> Any:
        results: Items = []
        for item in items:
            one = [item]
            outcome = argument(one, one, env)
            if outcome is UNDECIDED:
                return UNDECIDED
            if name == "all":
                if not _is_true(outcome):
                    return [False]
            elif name == "where":
                if outcome and (type(outcome[0]) is Node or outcome[0]):  # the engine tests the first
                    results.append(item)                                   # item's truth, as Python does
            else:
                results.extend(outcome)
        return [True] if name == "all" else results
    return evaluate


def _iif(criterion: Fn, then: Fn, otherwise: Fn | None = None) -> Fn:
    """samsvar's ``iif()``: input and criterion single items or empty; branches on the input."""
    def evaluate(items: Items, _this: Any, env: Any) -> Any:
        if len(items) > 1:
            return UNDECIDED  # an error in the engine
        verdict = criterion(items, items, env)
        if verdict is UNDECIDED or len(verdict) > 1:
            return UNDECIDED
        if _is_true(verdict):
            return then(items, items, env)
        return otherwise(items, items, env) if otherwise is not None else []
    return evaluate


def _on_one_string(on_string: Callable[[str], Any]) -> Fn:
    """A function of one string: no answer for an empty input, ``on_string(value)`` for one
    string, and for anything else (several items, not a string) UNDECIDED: the engine's error
    or answer."""
    def evaluate(items: Items, _this: Any, _env: Any) -> Any:
        if not items:
            return []
        if len(items) == 1:
            value = _data(items[0])
            if isinstance(value, str):
                return on_string(value)
        return UNDECIDED
    return evaluate


def _pattern(regex: str, flags: int = 0) -> re.Pattern[str]:
    """A literal regular expression compiled once; one Python cannot read leaves the expression to the engine."""
    try:
        return re.compile(regex, flags)
    except re.error:
        raise _Unsupported("regex") from None


def _matches_full(regex: str) -> Fn:
    """samsvar's ``matchesFull()``: one string, the whole of it matching (DOTALL)."""
    pattern = _pattern(regex, re.DOTALL)
    return _on_one_string(lambda value: [pattern.fullmatch(value) is not None])


def _matches(regex: str) -> Fn:
    """fhirpathpy's ``matches()``: a search (not a whole-string match) in one string, DOTALL; an
    empty pattern answers nothing, whatever the input."""
    if not regex:
        return lambda _items, _this, _env: []
    pattern = _pattern(regex, re.DOTALL)
    return _on_one_string(lambda value: [pattern.search(value) is not None])


def _replace_matches(regex: str, substitution: str) -> Fn:
    """samsvar's ``replaceMatches()``: an empty pattern leaves the string; ``$1`` is a group."""
    pattern = _pattern(regex) if regex else None
    replacement = re.sub(r"\$(\d+)", r"\\\1", substitution)

    def replaced(value: str) -> Any:
        try:
            return [value if pattern is None else pattern.sub(replacement, value)]
        except (re.error, IndexError):
            return UNDECIDED  # a bad group reference: the engine's error
    return _on_one_string(replaced)


def _substring(start: int, length: int | None = None) -> Fn:
    """fhirpathpy's ``substring()`` on one string, with literal integer arguments."""
    def cut(value: str) -> Any:
        if start >= len(value):
            return []
        return [value[start:] if length is None else value[start:start + length]]
    return _on_one_string(cut)


def _intersect(other: Fn) -> Fn:
    """fhirpathpy's ``intersect()`` with an argument that depends only on the environment: the
    input's items equal to one of the other's, each once, compared by their data (as nodes
    compare); floats, which the engine compares as Decimals elsewhere, are left to it."""
    def evaluate(items: Items, this: Any, env: Any) -> Any:
        others = other(items, this, env)
        if others is UNDECIDED:
            return UNDECIDED
        wanted = [_data(item) for item in others]
        if any(type(value) is float for value in wanted):
            return UNDECIDED
        found: Items = []
        kept: list[Any] = []
        for item in items:
            value = _data(item)
            if type(value) is float:
                return UNDECIDED
            if value in wanted and value not in kept:
                found.append(item)
                kept.append(value)
        return found
    return evaluate


def _combine(first: Fn, argument: Fn) -> Fn:
    """``X.combine(y)``: ``y`` evaluated on the engine's ``$this``, which is the input of the
    nearest operator or function argument (the focus at the top) when ``X`` leaves it unchanged."""
    def combined(items: Items, this: Any, env: Any) -> Any:
        left = first(items, this, env)
        if left is UNDECIDED:
            return UNDECIDED
        root = items if this is None else this
        right = argument(root, root, env)
        return UNDECIDED if right is UNDECIDED else left + right
    return combined


def _string_function(name: str, argument: Fn, literal: str | None) -> Fn:
    """``startsWith(s)`` (samsvar's, nullable) and ``contains(s)`` (the engine's, nullable input)
    on one string. As the engine, the argument is evaluated on ``$this`` (not on the input):
    fhirpathpy passes String parameters the context's ``$this``."""
    def evaluate(items: Items, this: Any, env: Any) -> Any:
        if name == "contains" and not items:
            return []  # checked before the argument is evaluated
        if literal is not None:
            value: Any = [literal]
        elif this is None:
            return UNDECIDED  # the argument would be evaluated on the root data: leave it to the engine
        else:
            value = argument(this, this, env)
        if value is UNDECIDED or len(value) > 1:
            return UNDECIDED
        if not value:
            return [] if name == "startsWith" else UNDECIDED  # contains() has no answer for nothing
        text = _data(value[0])
        if not isinstance(text, str):
            return UNDECIDED
        if not items:
            return []
        if len(items) == 1:
            subject = _data(items[0])
            if isinstance(subject, str):
                return [subject.startswith(text) if name == "startsWith" else text in subject]
        return UNDECIDED
    return evaluate


def _operator(combine: Callable[[Items, Items], Any], left: Fn, right: Fn) -> Fn:
    """An infix operator: both operands on the input, each with ``$this`` the input, as the
    engine evaluates them (both, always)."""
    def evaluate(items: Items, _this: Any, env: Any) -> Any:
        a = left(items, items, env)
        if a is UNDECIDED:
            return UNDECIDED  # the engine's to answer, whatever the other operand holds
        b = right(items, items, env)
        if b is UNDECIDED:
            return UNDECIDED
        return combine(a, b)
    return evaluate


def _logical(operator: str, left: Fn, right: Fn) -> Fn:
    """A Boolean operator (:func:`_operator` with :func:`_logic`), its truth table looked up."""
    table = _truth_table(operator)

    def evaluate(items: Items, _this: Any, env: Any) -> Any:
        a = left(items, items, env)
        if a is UNDECIDED:
            return UNDECIDED
        b = right(items, items, env)
        if b is UNDECIDED:
            return UNDECIDED
        x = a[0] if len(a) == 1 and type(a[0]) is bool else _boolean(a)
        y = b[0] if len(b) == 1 and type(b[0]) is bool else _boolean(b)
        if x is UNDECIDED or y is UNDECIDED:
            return UNDECIDED
        result = table[x, y]
        return [] if result is None else [result]
    return evaluate


def _truth_table(operator: str) -> dict[tuple[Any, Any], Any]:
    """The operator's result (True, False or None for empty) for each pair of operands (True,
    False, or None for empty), as :func:`_logic` works it out."""
    combine = _logic(operator)
    values: tuple[Any, ...] = (True, False, None)
    table = {}
    for a in values:
        for b in values:
            result = combine([] if a is None else [a], [] if b is None else [b])
            table[a, b] = result[0] if result else None
    return table


def _union(a: Items, b: Items) -> Any:
    """``|`` as fhirpathpy's ``distinct_fn``: nodes deduplicated by their data and *re-made without
    their type path* (a resource keeps its type), plain values deduplicated as they are."""
    both = a + b
    nodes = [type(item) is Node for item in both]
    if all(nodes):
        return [(data, data["resourceType"] if _is_object(data) and "resourceType" in data else None)
                for data in _distinct([item[0] for item in both])]
    if any(nodes):
        return UNDECIDED
    return _distinct(both)


_MEMBER_DATA = (str, bool, int)


def _membership(is_in: bool) -> Callable[[Items, Items], Any]:
    """``a in b`` / ``b contains a`` as fhirpathpy's: one item looked for among the other side's,
    compared as the engine compares nodes (their data); strings, Booleans and integers only."""
    def combine(a_items: Items, b_items: Items) -> Any:
        one, many = (a_items, b_items) if is_in else (b_items, a_items)
        if not one:
            return []
        if not many:
            return [False]
        if len(one) > 1:
            return UNDECIDED  # an error in the engine
        wanted = _data(one[0])
        if type(wanted) not in _MEMBER_DATA:
            return UNDECIDED
        for item in many:
            value = _data(item)
            if type(value) not in _MEMBER_DATA:
                return UNDECIDED
            if value == wanted:
                return [True]
        return [False]
    return combine


def _add_integers(a: Items, b: Items) -> Any:
    """``+`` on two integers that are not navigated values (``count() + count()``): their sum, as
    the engine adds numbers; anything else (strings, dates, Quantities, elements) is the engine's."""
    if not a or not b:
        return []
    if len(a) == 1 and len(b) == 1 and type(a[0]) is int and type(b[0]) is int:
        return [a[0] + b[0]]
    return UNDECIDED


def _string_operand(items: Items) -> Any:
    if not items:
        return ""
    if len(items) == 1:
        value = _data(items[0])
        if isinstance(value, str):
            return value
    return UNDECIDED  # the engine raises


def _concatenate(a: Items, b: Items) -> Any:
    """``&``: strings, an empty operand as the empty string."""
    left, right = _string_operand(a), _string_operand(b)
    if left is UNDECIDED or right is UNDECIDED:
        return UNDECIDED
    return [left + right]


def _boolean(items: Items) -> Any:
    """Singleton evaluation of an operand: empty, its Boolean, or true for one other item."""
    if not items:
        return None
    if len(items) > 1:
        return UNDECIDED  # the engine reports it (a Boolean operator on a collection)
    value = _data(items[0])
    if isinstance(value, float):
        return UNDECIDED  # the engine makes a Decimal of it; leave such cases to it
    return value if isinstance(value, bool) else True


def _logic(operator: str) -> Callable[[Items, Items], Any]:
    def combine(a_items: Items, b_items: Items) -> Any:
        a, b = _boolean(a_items), _boolean(b_items)
        if a is UNDECIDED or b is UNDECIDED:
            return UNDECIDED
        if operator == "and":
            result = False if a is False or b is False else (True if a is True and b is True else None)
        elif operator == "or":
            result = True if a is True or b is True else (False if a is False and b is False else None)
        elif operator == "xor":
            result = None if a is None or b is None else a != b
        else:  # implies
            result = b if a is True else (True if a is False or b is True else None)
        return [] if result is None else [result]
    return combine


def _comparable(item: Any) -> Any:
    """A plain string or Boolean (or an integer of a literal or ``count()``) as ``=`` compares it,
    or UNDECIDED."""
    if type(item) is Node:
        value, path = item
        if isinstance(value, bool) or (isinstance(value, str) and path in _STRINGY):
            return value
        return UNDECIDED
    return item if type(item) in (str, bool, int) else UNDECIDED


def _equality(negate: bool) -> Callable[[Items, Items], Any]:
    def combine(a_items: Items, b_items: Items) -> Any:
        if not a_items or not b_items:
            return []
        if len(a_items) != len(b_items):
            return [negate]
        same = True
        for a, b in zip(a_items, b_items):
            a, b = _comparable(a), _comparable(b)
            if a is UNDECIDED or b is UNDECIDED or type(a) is not type(b):
                return UNDECIDED
            same = same and a == b
        return [same != negate]
    return combine


def _comparison(holds: Callable[[int, int], bool]) -> Callable[[Items, Items], Any]:
    def combine(a_items: Items, b_items: Items) -> Any:
        if not a_items or not b_items:
            return []
        if len(a_items) != 1 or len(b_items) != 1:
            return UNDECIDED
        a, b = a_items[0], b_items[0]
        if type(a) is Node and type(b) is Node and a[1] in _TEMPORAL and b[1] in _TEMPORAL:
            return _temporal_comparison(holds, a, b)
        a, b = _data(a), _data(b)
        if type(a) is not int or type(b) is not int:  # integers only (not Booleans, not decimals)
            return UNDECIDED
        return [holds(a, b)]
    return combine


_TEMPORAL = frozenset({"date", "dateTime", "instant", "time"})


_TEMPORAL_FUNCTIONS: Any = None


def _temporal_comparison(holds: Callable[[int, int], bool], a: Node, b: Node) -> Any:
    """Two dates, dateTimes, instants or times ordered as samsvar's engine functions order them
    (:func:`.fhirpath_temporal.temporal_order`; empty at different precisions). A value that
    does not parse, or a time against a date, is the engine's to report."""
    global _TEMPORAL_FUNCTIONS
    if _TEMPORAL_FUNCTIONS is None:  # imported on first use: it loads fhirpathpy's node types
        from .fhirpath_temporal import temporal_of, temporal_order

        _TEMPORAL_FUNCTIONS = (temporal_of, temporal_order)
    temporal_of, temporal_order = _TEMPORAL_FUNCTIONS
    left, right = temporal_of(a[0], a[1]), temporal_of(b[0], b[1])
    if left is None or right is None or (left.kind == "time") != (right.kind == "time"):
        return UNDECIDED
    order = temporal_order(left, right)
    return [] if order is None else [holds(order, 0)]
