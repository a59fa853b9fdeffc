"""samsvar's layer over fhirpathpy: the FHIR-specific functions validation needs.

Imported only when an expression needs the engine (see :mod:`.fhirpath`: simple expressions
are evaluated on the JSON by :mod:`.fhirpath_fast` and never load fhirpathpy).

fhirpathpy implements FHIRPath itself: the parser, navigation over the R4 model and the
standard functions. This module adds, as entries of the engine's function table (its
``userInvocationTable``), what FHIR validation needs and the engine lacks or gets wrong; the
engine's own code is used unchanged and nothing in it is patched.

- FHIR's additions: ``hasValue()``, ``htmlChecks()``, ``resolve()``, ``conformsTo()`` and
  ``memberOf()`` (the last three ask the validator through :data:`HOOKS`), and FHIR's
  environment variables ``%sct``, ``%loinc``, ``%`vs-[name]``` and ``%`ext-[name]```.
- FHIRPath 3.0 functions: ``lowBoundary()``, ``highBoundary()``, ``precision()``,
  ``comparable()``, ``sort()``, ``matchesFull()``, ``escape()`` and ``unescape()``.
- Corrected semantics: ``=``, ``!=``, ``~``, ``!~``, ``<``, ``>``, ``<=`` and ``>=`` on dates
  and times of different precision (empty) and on Quantities (UCUM units converted for simple
  same-dimension cases, calendar durations as the specification says); ``~`` on collections
  ignores order; date/time arithmetic keeps the timezone and the precision; Quantity ``*``
  and ``/``; ``is``/``as``/``ofType`` on primitives that carry extensions, on Date literals
  and with unknown type names (an error); ``now()``/``today()``/``timeOfDay()`` typed;
  singleton evaluation for ``and``/``or``/``xor``/``implies``; errors for collections where
  one item is required (``single()``, ``not()``, ``iif()``); ``count()`` of primitives with
  extensions (see below); ``toString()`` of booleans,
  decimals, dates and times; edge cases of ``startsWith``, ``indexOf``, ``replace``,
  ``replaceMatches`` and ``round``.

FHIRPath's own value types live beside this module: dates and times (comparison at a
precision, boundaries, date/time arithmetic) in :mod:`.fhirpath_temporal`, Quantities (UCUM
and calendar units) in :mod:`.fhirpath_quantity`; this module wires them into the engine.

Why :class:`Compiled` rather than ``fhirpathpy.compile``: fhirpathpy hands the functions of
``userInvocationTable`` bare values (it strips its typed nodes), so a ``dateTime`` element
arrives as a plain string and a Quantity as a dictionary. ``Compiled`` evaluates the parsed
expression with fhirpathpy's own evaluator (``do_eval``) and a context built as
``fhirpathpy.apply_parsed_path`` builds it, with our table in the engine's calling convention
(``fn(ctx, items, *params)``), so our functions see the FHIR types.

Values fhirpathpy splits in two: a primitive with extensions (``birthDate`` and
``_birthDate``) navigates to two nodes, the value and its extensions. The functions here count
such a pair as one item (see :func:`_values`), and results leave the extensions' node out;
navigation itself is the engine's, so ``where()``/``select()`` still visit both nodes.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from fhirpathpy.engine import check_number_param, do_eval
from fhirpathpy.engine.invocations import datetime as engine_datetime
from fhirpathpy.engine.invocations import equality, existence, logic, misc, strings
from fhirpathpy.engine.invocations import invocation_registry as engine_functions
from fhirpathpy.engine.invocations import math as engine_math
from fhirpathpy.engine.invocations.constants import constants
from fhirpathpy.engine.nodes import FP_DateTime, FP_Quantity, FP_Time, FP_Type, ResourceNode, TypeInfo
from fhirpathpy.engine.util import arraify, get_data, is_number, is_true
from fhirpathpy.models import models

from .fhirpath_hooks import HOOKS, VALUE_MEMBER
from .fhirpath_quantity import UCUM, Quantity, as_decimal, as_quantity, canonical_quantity, quantity_order
from .fhirpath_temporal import (
    Temporal, as_temporal, as_temporal_like, decimal_places, reject_malformed_temporal, render_temporal,
    shift_temporal, temporal_boundary, temporal_order,
)

Items = list[Any]  # a FHIRPath collection as the engine holds it: typed nodes and plain values


# --- Compiling and evaluating ------------------------------------------------------------------

def evaluate(tree: dict[str, Any], constants_used: Mapping[str, str], resource: Any,
             context: Mapping[str, Any] | None = None) -> list[Any]:
    """The parsed expression ``tree`` on ``resource`` with fhirpathpy's evaluator and our functions."""
    constants.reset()  # now() and today() hold still during one evaluation
    root = _root(resource)
    data_root = arraify(root)
    ctx = {
        "dataRoot": data_root,
        "$this": data_root,  # $this outside a function is the input, as at the top of every expression
        "vars": {"context": root, "ucum": UCUM, **constants_used, **(context or {})},
        "model": models["r4"],
        "userInvocationTable": FUNCTIONS,
        "traceFn": _ignore_trace,
    }
    return _output(do_eval(ctx, data_root, tree))


def _root(resource: Any) -> Any:
    """A resource's typed node as its data: fhirpathpy resolves ``Patient.name`` only on data."""
    if isinstance(resource, ResourceNode) and isinstance(resource.data, Mapping) and "resourceType" in resource.data:
        return resource.data
    return resource


def _output(items: Items) -> list[Any]:
    """The result as plain data, without the nodes of primitives' extensions (nor JSON's nulls)."""
    return [_plain(item) for item in _values(items) if not _extension_only(item)]


def _plain(value: Any) -> Any:
    data = get_data(value)
    if isinstance(data, list):
        return [_plain(item) for item in data]
    if isinstance(data, Mapping):
        return {key: _plain(item) for key, item in data.items()}
    return data


def _ignore_trace(_label: str, _value: Any) -> None:
    """FHIRPath ``trace()`` would print to standard output; reports must stay clean."""


# --- Items -----------------------------------------------------------------------------------

def _extension_only(item: Any) -> bool:
    """A node fhirpathpy makes of a primitive's extensions (``_birthDate``)."""
    return (isinstance(item, ResourceNode) and (item.path or "")[:1].islower()
            and isinstance(item.data, Mapping) and set(item.data) <= {"extension", "id"})


def _values(items: Items) -> Items:
    """The items, counting a primitive's value and the node of its extensions as one item.

    fhirpathpy navigates ``given`` and ``_given`` one after the other, each with JSON's nulls
    that keep the two arrays aligned. This drops the nulls, and the node of an element's
    extensions when the element has a value: what is left is the value, or the extensions of an
    element that has no value.
    """
    valued = {item.propName for item in items
              if isinstance(item, ResourceNode) and item.data is not None and not isinstance(item.data, Mapping)}
    return [item for item in items
            if not (isinstance(item, ResourceNode) and item.data is None)
            and not (_extension_only(item) and item.propName in valued)]


def _single(items: Items, what: str = "this function") -> Any | None:
    """The one item of a collection, None when empty; more than one item is an error."""
    values = _values(items)
    if len(values) > 1:
        raise ValueError(f"{what} expects a single item, got {len(values)}")
    return values[0] if values else None


# --- Comparison, equality, equivalence -----------------------------------------------------------

def _typed_pair(left: Any, right: Any) -> tuple[Temporal, Temporal] | tuple[Quantity, Quantity] | None:
    """Both items as dates/times or both as Quantities, when this module compares them."""
    left_time, right_time = as_temporal(left), as_temporal(right)
    if left_time and not right_time:
        right_time = as_temporal_like(right, left_time)
    elif right_time and not left_time:
        left_time = as_temporal_like(left, right_time)
    if left_time or right_time:
        return (left_time, right_time) if left_time and right_time else None
    left_quantity, right_quantity = as_quantity(left), as_quantity(right)
    return (left_quantity, right_quantity) if left_quantity and right_quantity else None


def _order(pair: tuple[Any, Any]) -> int | None:
    left, right = pair
    return temporal_order(left, right) if isinstance(left, Temporal) else quantity_order(left, right)


def _comparison(engine_op: Callable[..., Any], holds: Callable[[int], bool]) -> Callable[..., Any]:
    def compare(ctx: dict[str, Any], left: Items, right: Items) -> Any:
        left_item, right_item = _single(left, "a comparison"), _single(right, "a comparison")
        reject_malformed_temporal(left_item)
        reject_malformed_temporal(right_item)
        pair = _typed_pair(left_item, right_item)
        if pair is None:
            return engine_op(ctx, left, right)
        order = _order(pair)
        return [] if order is None else [holds(order)]
    return compare


def _item_equals(left: Any, right: Any) -> bool | None:
    pair = _typed_pair(left, right)
    if pair is None:
        if as_temporal(left) or as_temporal(right):
            return False  # a date or time and something that is not one
        return bool(equality.equality(None, [left], [right]))
    if isinstance(pair[0], Temporal) and (pair[0].kind == "time") != (pair[1].kind == "time"):
        return False
    order = _order(pair)
    return None if order is None else order == 0


def _equals(_ctx: dict[str, Any], left: Items, right: Items) -> list[bool]:
    """``=``: item by item in order; empty when a pair cannot be compared (different precision)."""
    left, right = _values(left), _values(right)
    if len(left) != len(right):
        return [False]
    verdicts = [_item_equals(a, b) for a, b in zip(left, right)]
    if False in verdicts:
        return [False]
    return [] if None in verdicts else [True]


def _not_equals(ctx: dict[str, Any], left: Items, right: Items) -> list[bool]:
    return [not verdict for verdict in _equals(ctx, left, right)]


def _item_equivalent(left: Any, right: Any) -> bool:
    if as_temporal(left) or as_temporal(right):
        return _item_equals(left, right) is True
    return equality.equivalence(None, [left], [right]) is True


def _equivalent(_ctx: dict[str, Any], left: Items, right: Items) -> list[bool]:
    """``~``: the same number of items, each equivalent to one of the other side, in any order."""
    unmatched = _values(right)
    left = _values(left)
    if len(left) != len(unmatched):
        return [False]
    for item in left:
        match = next((index for index, other in enumerate(unmatched) if _item_equivalent(item, other)), None)
        if match is None:
            return [False]
        unmatched.pop(match)
    return [True]


def _not_equivalent(ctx: dict[str, Any], left: Items, right: Items) -> list[bool]:
    return [not verdict for verdict in _equivalent(ctx, left, right)]


# --- Arithmetic ----------------------------------------------------------------------------------

def _date_arithmetic(engine_op: Callable[..., Any], sign: int) -> Callable[..., Any]:
    """``+``/``-`` with a date or time and a time quantity done here; anything else by the engine."""
    def arithmetic(ctx: dict[str, Any], left: Items, right: Items) -> Any:
        value, quantity = as_temporal(_single(left, "arithmetic")), as_quantity(_single(right, "arithmetic"))
        if value is None or quantity is None:
            return engine_op(ctx, left, right)
        unit = quantity.unit if quantity.kind == "calendar" else f"'{quantity.unit}'"
        return render_temporal(shift_temporal(value, unit, sign * quantity.value))
    return arithmetic


def _multiply(ctx: dict[str, Any], left: Items, right: Items) -> Any:
    """``*`` on numbers (the engine) and on Quantities."""
    a, b = _single(left, "*"), _single(right, "*")
    quantity_a, quantity_b = as_quantity(a), as_quantity(b)
    if quantity_a and quantity_b:
        return _ucum_product(quantity_a, quantity_b, ".", quantity_a.value * quantity_b.value)
    if quantity_a:
        return quantity_a.engine_value(quantity_a.value * _number(b))
    if quantity_b:
        return quantity_b.engine_value(_number(a) * quantity_b.value)
    return engine_math.mul(ctx, check_number_param(a), check_number_param(b))


def _divide(ctx: dict[str, Any], left: Items, right: Items) -> Any:
    """``/`` on numbers (a Decimal, empty when dividing by zero) and on Quantities."""
    a, b = _single(left, "/"), _single(right, "/")
    quantity_a, quantity_b = as_quantity(a), as_quantity(b)
    if quantity_a is None and quantity_b is None:
        return engine_math.div(ctx, _number(a), _number(b))
    divisor = quantity_b.value if quantity_b else _number(b)
    if divisor == 0:
        return []
    numerator = quantity_a or Quantity(_number(a), "1", "ucum")
    if quantity_b is None:
        return numerator.engine_value(numerator.value / divisor)
    return _ucum_product(numerator, quantity_b, "/", numerator.value / divisor)


def _number(item: Any) -> Decimal:
    """A number operand as a Decimal; anything else is an error (the engine's check)."""
    return as_decimal(check_number_param(item))


def _ucum_product(left: Quantity, right: Quantity, operator: str, value: Decimal) -> FP_Quantity:
    """The Quantity of a product or quotient of two UCUM quantities (a single-term divisor)."""
    if left.kind != "ucum" or right.kind != "ucum" or (operator == "/" and re.search(r"[./]", right.unit)):
        raise ValueError(f"cannot combine the units {left.unit} and {right.unit}")
    return FP_Quantity(value, f"'{left.unit}{operator}{right.unit}'")


# --- Types -----------------------------------------------------------------------------------------

_SYSTEM_TYPES = {"Any", "Boolean", "String", "Integer", "Long", "Decimal", "Date", "DateTime", "Time", "Quantity"}


def _type_of(ctx: dict[str, Any], item: Any) -> TypeInfo:
    """The item's type; fhirpathpy calls every date literal a DateTime."""
    TypeInfo.model = ctx["model"]  # fhirpathpy's is()/as() read the model from here
    if isinstance(item, FP_DateTime) and "T" not in item.asStr:
        return TypeInfo(name="Date", namespace=TypeInfo.System)
    return TypeInfo.from_value(item)


def _known_type(ctx: dict[str, Any], wanted: TypeInfo) -> TypeInfo:
    """The type asked for; a name that is neither a System nor an R4 type is an error."""
    parents = ctx["model"]["type2Parent"]
    if wanted.namespace != TypeInfo.System and wanted.name not in parents and wanted.name not in parents.values() \
            and not (wanted.namespace is None and wanted.name in _SYSTEM_TYPES):
        raise ValueError(f"unknown type {wanted.name}")
    return wanted


def _is(ctx: dict[str, Any], items: Items, wanted: TypeInfo) -> Any:
    item = _single(items, "is")
    return [] if item is None else _type_of(ctx, item).is_(_known_type(ctx, wanted))


def _as(ctx: dict[str, Any], items: Items, wanted: TypeInfo) -> Items:
    item = _single(items, "as")
    return items if item is not None and _type_of(ctx, item).is_(_known_type(ctx, wanted)) else []


def _of_type(ctx: dict[str, Any], items: Items, wanted: TypeInfo) -> Items:
    wanted = _known_type(ctx, wanted)
    return [item for item in items if _type_of(ctx, item).is_(wanted)]


def _type(ctx: dict[str, Any], items: Items) -> list[dict[str, Any]]:
    return [vars(_type_of(ctx, item)) for item in _values(items)]


# --- FHIR's functions ------------------------------------------------------------------------------

def _has_value(_ctx: dict[str, Any], items: Items) -> list[bool]:
    """True when the focus is a single primitive with a value (not only extensions)."""
    values = _values(items)
    return [len(values) == 1 and isinstance(get_data(values[0]), (str, bool, int, float, Decimal, FP_Type))]


def _value_member(ctx: dict[str, Any], items: Items) -> Items:
    """``X.value`` as HL7's validator evaluates it: on a primitive, the primitive itself (HL7's
    element model gives primitives a ``value``); on anything else the engine's own navigation
    to a child ``value`` (a Quantity's number, an extension's ``value[x]``)."""
    from fhirpathpy.engine.evaluators import create_reduce_member_invocation

    found: Items = []
    navigate = create_reduce_member_invocation(ctx["model"], "value")
    for item in items:
        data = get_data(item)
        if isinstance(data, (str, bool, int, float, Decimal, FP_Type)) and not isinstance(data, FP_Quantity):
            found.append(item)
        else:
            found = navigate(found, item)
    return found


def _resolve(_ctx: dict[str, Any], items: Items) -> Items:
    """The resources the references (or canonical/uri strings) point to, as the validator finds them."""
    found = _ask(HOOKS.get().resolve, items)
    return [ResourceNode.create_node(resource, resource.get("resourceType")) for resource in found]


def _conforms_to(_ctx: dict[str, Any], items: Items, url: str) -> list[bool]:
    return _ask(HOOKS.get().conforms_to, items, url)


def _member_of(_ctx: dict[str, Any], items: Items, url: str) -> list[bool]:
    return _ask(HOOKS.get().member_of, items, url)


def _ask(hook: Callable[..., Any] | None, items: Items, *arguments: Any) -> list[Any]:
    """The hook's answers for each item's data; no hook, or an unknown answer, adds nothing."""
    if hook is None:
        return []
    answers = (hook(get_data(item), *arguments) for item in _values(items))
    return [answer for answer in answers if answer is not None]


def _html_checks(_ctx: dict[str, Any], items: Items) -> list[bool]:
    """FHIR's ``htmlChecks()`` on a narrative ``div``: true when the narrative layer's txt-1/txt-2
    checks (``narrative.xhtml_findings``) find nothing: safe XML, an XHTML ``div``, only the
    elements and attributes FHIR R4 allows, no script URL, some text or an image."""
    from .narrative import xhtml_findings

    values = _values(items)
    if not values:
        return []
    return [all(isinstance(get_data(v), str) and not any(xhtml_findings(get_data(v))) for v in values)]


# --- FHIRPath 3.0 functions ------------------------------------------------------------------------

_MAX_DECIMAL_PRECISION = 28
_DEFAULT_DECIMAL_PRECISION = 8


def _decimal_boundary(value: Decimal, precision: int | None, high: bool) -> Decimal | None:
    """The least (greatest) decimal ``value`` may stand for: half a unit of its last digit away.

    To fewer digits than the edge has, the low edge is truncated and the high edge rounded half
    up, as HL7's Java validator does (``Utilities.lowBoundaryForDecimal``); negative values
    mirror positive ones.
    """
    digits = _DEFAULT_DECIMAL_PRECISION if precision is None else precision
    if not 0 <= digits <= _MAX_DECIMAL_PRECISION:
        return None
    if value < 0:
        mirrored = _decimal_boundary(-value, digits, not high)
        return None if mirrored is None else -mirrored
    half = Decimal(5).scaleb(-(decimal_places(value) + 1))
    with localcontext() as context:
        context.prec = 2 * _MAX_DECIMAL_PRECISION
        edge = value + half if high else value - half
        return edge.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP if high else ROUND_DOWN)


def _boundary(high: bool) -> Callable[..., Any]:
    def boundary(_ctx: dict[str, Any], items: Items, precision: int | list[Any] | None = None) -> Any:
        """lowBoundary()/highBoundary() of a decimal, Quantity, date, dateTime or time."""
        item = _single(items, "lowBoundary()/highBoundary()")
        digits = precision if isinstance(precision, int) else None
        temporal, quantity, number = as_temporal(item), as_quantity(item), get_data(item)
        if temporal:
            bound = temporal_boundary(temporal, digits, high)
            return [] if bound is None else render_temporal(bound)
        if quantity:
            value = _decimal_boundary(quantity.value, digits, high)
            return [] if value is None else quantity.engine_value(value)
        if is_number(number):
            return _decimal_boundary(as_decimal(number), digits, high)
        return []
    return boundary


def _precision(_ctx: dict[str, Any], items: Items) -> Any:
    """The digits of precision of a decimal (after the point), date, dateTime or time."""
    item = _single(items, "precision()")
    temporal, number = as_temporal(item), get_data(item)
    if temporal:
        return temporal.precision
    return decimal_places(as_decimal(number)) if is_number(number) else []


def _comparable(_ctx: dict[str, Any], items: Items, other: Items) -> Any:
    """Whether two Quantities have units of the same dimension (convertible into each other)."""
    left, right = as_quantity(_single(items, "comparable()")), as_quantity(_single(other, "comparable()"))
    if left is None or right is None:
        return []
    return canonical_quantity(left)[1] == canonical_quantity(right)[1]


class _SortKey:
    """One item's sort key; an empty key sorts first."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _SortKey) -> bool:
        if self.value is None or other.value is None:
            return self.value is None and other.value is not None
        pair = _typed_pair(self.value, other.value)
        if pair is not None:
            return _order(pair) == -1
        return get_data(self.value) < get_data(other.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SortKey) and not self < other and not other < self


def _sort(_ctx: dict[str, Any], items: Items, *keys: Callable[[Any], Items]) -> Items:
    """``sort()`` ascending by the items, or by each key expression in turn.

    A key written with a leading minus on a number (``sort(-$this)``) sorts descending by
    arithmetic; descending order of strings is not supported (the minus is evaluated).
    """
    def key(item: Any) -> tuple[_SortKey, ...]:
        if not keys:
            return (_SortKey(item),)
        return tuple(_SortKey(next(iter(_values(expression(item))), None)) for expression in keys)
    return sorted(items, key=key)


def _matches_full(_ctx: dict[str, Any], items: Items, regex: str) -> bool:
    return re.fullmatch(regex, strings.ensure_string_singleton(_values(items)), re.DOTALL) is not None


_JSON_ESCAPE = re.compile(r'\\(?:["\\/bfnrt]|u[0-9A-Fa-f]{4})')


def _escape(_ctx: dict[str, Any], items: Items, target: str) -> Any:
    text = strings.ensure_string_singleton(_values(items))
    if target == "html":
        return html.escape(text)
    return json.dumps(text, ensure_ascii=False)[1:-1] if target == "json" else []


def _unescape(_ctx: dict[str, Any], items: Items, target: str) -> Any:
    text = strings.ensure_string_singleton(_values(items))
    if target == "html":
        return html.unescape(text)
    return _JSON_ESCAPE.sub(lambda escape: json.loads(f'"{escape.group(0)}"'), text) if target == "json" else []


# --- Corrections of the engine's functions ---------------------------------------------------------

def _starts_with(_ctx: dict[str, Any], items: Items, prefix: str) -> bool:
    return strings.ensure_string_singleton(_values(items)).startswith(prefix)


def _replace_matches(ctx: dict[str, Any], items: Items, regex: str, substitution: str) -> Any:
    """``replaceMatches()``; an empty pattern leaves the string unchanged."""
    if regex == "":
        return strings.ensure_string_singleton(_values(items))
    return strings.replace_matches(ctx, _values(items), regex, substitution)


def _on_values(engine_fn: Callable[..., Any]) -> Callable[..., Any]:
    """The engine's function on the items as :func:`_values` counts them."""
    def function(ctx: dict[str, Any], items: Items, *arguments: Any) -> Any:
        return engine_fn(ctx, _values(items), *arguments)
    return function


def _round(ctx: dict[str, Any], items: Items, digits: Any = None) -> Any:
    """``round([precision])``: the engine requires the precision."""
    return engine_math.rround(ctx, _values(items), [] if digits is None else digits)


def _to_string(ctx: dict[str, Any], items: Items) -> Any:
    """``toString()`` as FHIRPath writes values: ``true``, ``1.0``, dates as written."""
    values = _values(items)
    data = get_data(values[0]) if len(values) == 1 else None
    if isinstance(data, bool):
        return "true" if data else "false"
    if isinstance(data, Decimal):
        return format(data, "f")
    if isinstance(data, (FP_DateTime, FP_Time)):
        return data.asStr
    return misc.to_string(ctx, values)


def _boolean(items: Items) -> bool | list[Any]:
    """Singleton evaluation for a Boolean operand: one non-Boolean item counts as true."""
    item = _single(items, "a Boolean operator")
    if item is None:
        return []
    data = get_data(item)
    return data if isinstance(data, bool) else True


def _logic(engine_op: Callable[..., Any]) -> Callable[..., Any]:
    def operator(ctx: dict[str, Any], left: Items, right: Items) -> Any:
        return engine_op(ctx, _boolean(left), _boolean(right))
    return operator


def _count(_ctx: dict[str, Any], items: Items) -> int:
    """``count()``, a primitive's value and its extensions counting once."""
    return len(_values(items))


def _single_item(_ctx: dict[str, Any], items: Items) -> Items:
    """``single()``: the engine returns an error object instead of signalling the error."""
    return items if _single(items, "single()") is not None else []


def _not(ctx: dict[str, Any], items: Items) -> Any:
    _single(items, "not()")
    return existence.not_fn(ctx, _values(items))


def _iif(_ctx: dict[str, Any], items: Items, criterion: Callable[[Any], Items], then: Callable[[Any], Items],
         otherwise: Callable[[Any], Items] | None = None) -> Items:
    """``iif()``: the input and the criterion are single items or empty."""
    _single(items, "iif()")
    verdict = _values(criterion(items))
    _single(verdict, "iif()'s criterion")
    if is_true(verdict):
        return then(items)
    return otherwise(items) if otherwise else []


def _now(ctx: dict[str, Any], items: Items) -> FP_DateTime:
    """``now()`` as a DateTime (the engine returns its text)."""
    return FP_DateTime(engine_datetime.now(ctx, items))


def _today(ctx: dict[str, Any], items: Items) -> FP_DateTime:
    return FP_DateTime(engine_datetime.today(ctx, items))


def _time_of_day(ctx: dict[str, Any], items: Items) -> FP_Time:
    return FP_Time(engine_datetime.timeOfDay(ctx, items))


def _trace(_ctx: dict[str, Any], items: Items, _name: str = "", _projection: Any = None) -> Items:
    """``trace(name [, projection])``: the input unchanged (FHIRPath 2.0 added the projection, which
    R4's dom-3 uses); validation logs nothing."""
    return items


# --- The function table ----------------------------------------------------------------------------

_BOTH = {2: ["Any", "Any"]}
FUNCTIONS: dict[str, dict[str, Any]] = {
    # FHIR's additions
    "hasValue": {"fn": _has_value, "arity": {0: []}},
    VALUE_MEMBER: {"fn": _value_member, "arity": {0: []}},
    "htmlChecks": {"fn": _html_checks, "arity": {0: []}},
    "resolve": {"fn": _resolve, "arity": {0: []}},
    "conformsTo": {"fn": _conforms_to, "arity": {1: ["String"]}},
    "memberOf": {"fn": _member_of, "arity": {1: ["String"]}},
    # FHIRPath 3.0
    "lowBoundary": {"fn": _boundary(high=False), "arity": {0: [], 1: ["Integer"]}},
    "highBoundary": {"fn": _boundary(high=True), "arity": {0: [], 1: ["Integer"]}},
    "precision": {"fn": _precision, "arity": {0: []}},
    "comparable": {"fn": _comparable, "arity": {1: ["Any"]}},
    "sort": {"fn": _sort, "variadic": "Expr"},
    "matchesFull": {"fn": _matches_full, "arity": {1: ["String"]}, "nullable": True},
    "escape": {"fn": _escape, "arity": {1: ["String"]}, "nullable": True},
    "unescape": {"fn": _unescape, "arity": {1: ["String"]}, "nullable": True},
    # comparison, equality, arithmetic
    "=": {"fn": _equals, "arity": _BOTH, "nullable": True},
    "!=": {"fn": _not_equals, "arity": _BOTH, "nullable": True},
    "~": {"fn": _equivalent, "arity": _BOTH},
    "!~": {"fn": _not_equivalent, "arity": _BOTH},
    "<": {"fn": _comparison(equality.lt, lambda order: order < 0), "arity": _BOTH, "nullable": True},
    ">": {"fn": _comparison(equality.gt, lambda order: order > 0), "arity": _BOTH, "nullable": True},
    "<=": {"fn": _comparison(equality.lte, lambda order: order <= 0), "arity": _BOTH, "nullable": True},
    ">=": {"fn": _comparison(equality.gte, lambda order: order >= 0), "arity": _BOTH, "nullable": True},
    "+": {"fn": _date_arithmetic(engine_math.plus, 1), "arity": _BOTH, "nullable": True},
    "-": {"fn": _date_arithmetic(engine_math.minus, -1), "arity": _BOTH, "nullable": True},
    "*": {"fn": _multiply, "arity": _BOTH, "nullable": True},
    "/": {"fn": _divide, "arity": _BOTH, "nullable": True},
    # types
    "is": {"fn": _is, "arity": {1: ["TypeSpecifier"]}},
    "isOp": {"fn": _is, "arity": {2: ["Any", "TypeSpecifier"]}},
    "as": {"fn": _as, "arity": {1: ["TypeSpecifier"]}},
    "asOp": {"fn": _as, "arity": {2: ["Any", "TypeSpecifier"]}},
    "ofType": {"fn": _of_type, "arity": {1: ["TypeSpecifier"]}},
    "type": {"fn": _type, "arity": {0: []}},
    # corrections
    "and": {"fn": _logic(logic.and_op), "arity": _BOTH},
    "or": {"fn": _logic(logic.or_op), "arity": _BOTH},
    "xor": {"fn": _logic(logic.xor_op), "arity": _BOTH},
    "implies": {"fn": _logic(logic.implies_op), "arity": _BOTH},
    "count": {"fn": _count},
    "single": {"fn": _single_item},
    "not": {"fn": _not},
    "iif": {"fn": _iif, "arity": {2: ["Expr", "Expr"], 3: ["Expr", "Expr", "Expr"]}},
    "now": {"fn": _now},
    "today": {"fn": _today},
    "timeOfDay": {"fn": _time_of_day},
    "toString": {"fn": _to_string},
    "startsWith": {"fn": _starts_with, "arity": {1: ["String"]}, "nullable": True},
    "indexOf": {"fn": _on_values(strings.index_of), "arity": {1: ["String"]}, "nullable": True},
    "replace": {"fn": _on_values(strings.replace), "arity": {2: ["String", "String"]}, "nullable": True},
    "replaceMatches": {"fn": _replace_matches, "arity": {2: ["String", "String"]}, "nullable": True},
    "round": {"fn": _round, "arity": {0: [], 1: ["Number"]}},
    "trace": {"fn": _trace, "arity": {0: [], 1: ["String"], 2: ["String", "Expr"]}},
}


def known_function(name: str) -> dict[str, Any] | None:
    """The definition of a FHIRPath function, samsvar's own first, then the engine's (None: unknown)."""
    return FUNCTIONS.get(name) or engine_functions.get(name)
