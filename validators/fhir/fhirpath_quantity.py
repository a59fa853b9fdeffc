"""FHIRPath's Quantities: FHIR's quantity types read as one value and unit, UCUM units
converted for simple same-dimension cases, calendar durations as the specification says.

:mod:`.fhirpath_engine` uses these for its comparison, equality and arithmetic functions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fhirpathpy.engine.nodes import FP_Quantity, ResourceNode

UCUM = "http://unitsofmeasure.org"


_QUANTITY_TYPES = {"Quantity", "Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity"}
_CALENDAR_WORDS = {"year", "month", "week", "day", "hour", "minute", "second", "millisecond"}
Dimensions = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    unit: str  # a UCUM code, a calendar word ("year" ... "millisecond"), or another code
    kind: str  # "ucum", "calendar" or "other"

    def engine_value(self, value: Decimal) -> FP_Quantity:
        """fhirpathpy's Quantity with this unit and another value."""
        return FP_Quantity(value, self.unit if self.kind == "calendar" else f"'{self.unit}'")


def as_quantity(item: Any) -> Quantity | None:
    """A Quantity item: a FHIRPath literal or a FHIR Quantity (Age, Duration, ...) element."""
    if isinstance(item, FP_Quantity):
        unit = item.unit or "'1'"
        if unit.startswith("'"):
            return Quantity(as_decimal(item.value), unit.strip("'"), "ucum")
        word = unit.removesuffix("s")
        return Quantity(as_decimal(item.value), word, "calendar" if word in _CALENDAR_WORDS else "other")
    if not (isinstance(item, ResourceNode) and item.path in _QUANTITY_TYPES and isinstance(item.data, Mapping)):
        return None
    data = item.data
    if data.get("value") is None:
        return None
    if data.get("system") == UCUM and data.get("code"):
        return Quantity(as_decimal(data["value"]), data["code"], "ucum")
    return Quantity(as_decimal(data["value"]), str(data.get("code") or data.get("unit") or "1"), "other")


def as_decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


_PREFIXES = {"Y": 24, "Z": 21, "E": 18, "P": 15, "T": 12, "G": 9, "M": 6, "k": 3, "h": 2, "da": 1,
             "d": -1, "c": -2, "m": -3, "u": -6, "n": -9, "p": -12, "f": -15, "a": -18, "z": -21, "y": -24}
_PRESSURE = {"g": 1, "m": -1, "s": -2}
# UCUM atoms samsvar converts: code -> (factor to base units, base dimensions, takes a prefix)
_ATOMS: dict[str, tuple[Decimal, dict[str, int], bool]] = {
    "1": (Decimal(1), {}, False), "%": (Decimal("0.01"), {}, False),
    "m": (Decimal(1), {"m": 1}, True), "g": (Decimal(1), {"g": 1}, True), "s": (Decimal(1), {"s": 1}, True),
    "K": (Decimal(1), {"K": 1}, True), "mol": (Decimal(1), {"mol": 1}, True), "eq": (Decimal(1), {"eq": 1}, True),
    "U": (Decimal(1), {"U": 1}, True), "[iU]": (Decimal(1), {"[iU]": 1}, True), "[IU]": (Decimal(1), {"[iU]": 1}, True),
    "L": (Decimal("0.001"), {"m": 3}, True), "l": (Decimal("0.001"), {"m": 3}, True),
    "min": (Decimal(60), {"s": 1}, False), "h": (Decimal(3600), {"s": 1}, False), "d": (Decimal(86400), {"s": 1}, False),
    "wk": (Decimal(604800), {"s": 1}, False), "mo": (Decimal(2629800), {"s": 1}, False),
    "a": (Decimal(31557600), {"s": 1}, False), "Hz": (Decimal(1), {"s": -1}, True),
    "[in_i]": (Decimal("0.0254"), {"m": 1}, False), "[ft_i]": (Decimal("0.3048"), {"m": 1}, False),
    "[lb_av]": (Decimal("453.59237"), {"g": 1}, False), "[oz_av]": (Decimal("28.349523125"), {"g": 1}, False),
    "N": (Decimal(1000), {"g": 1, "m": 1, "s": -2}, True), "J": (Decimal(1000), {"g": 1, "m": 2, "s": -2}, True),
    "W": (Decimal(1000), {"g": 1, "m": 2, "s": -3}, True), "cal": (Decimal(4184), {"g": 1, "m": 2, "s": -2}, True),
    "Pa": (Decimal(1000), _PRESSURE, True), "bar": (Decimal(100_000_000), _PRESSURE, True),
    "m[Hg]": (Decimal(133_322_000), _PRESSURE, True),
}
# Calendar durations: weeks and shorter equal UCUM's units; years and months count months and
# so are comparable with each other only, not with UCUM's 'a' and 'mo' (FHIRPath, "Quantity").
_CALENDAR = {"year": (Decimal(12), (("[calendar month]", 1),)), "month": (Decimal(1), (("[calendar month]", 1),)),
             "week": (Decimal(604800), (("s", 1),)), "day": (Decimal(86400), (("s", 1),)),
             "hour": (Decimal(3600), (("s", 1),)), "minute": (Decimal(60), (("s", 1),)),
             "second": (Decimal(1), (("s", 1),)), "millisecond": (Decimal("0.001"), (("s", 1),))}
_TERM = re.compile(r"(10[*^][+-]?\d+|[^\d+-]+|\d+)([+-]?\d+)?")


def canonical_quantity(quantity: Quantity) -> tuple[Decimal, Dimensions]:
    """The factor to base units and the dimensions; a unit samsvar cannot read is its own dimension."""
    if quantity.kind == "calendar":
        return _CALENDAR[quantity.unit]
    parsed = _ucum(quantity.unit) if quantity.kind == "ucum" else None
    return parsed or (Decimal(1), ((quantity.unit, 1),))


@functools.lru_cache(maxsize=512)
def _ucum(unit: str) -> tuple[Decimal, Dimensions] | None:
    """A UCUM unit made of atoms, prefixes, exponents, ``.`` and ``/`` (no parentheses)."""
    text = re.sub(r"\{[^}]*\}", "", unit)
    if "(" in text:
        return None
    factor = Decimal(1)
    dimensions: dict[str, int] = {}
    tokens = re.split(r"([./])", text)
    sign = 1
    for token in tokens:
        if token in (".", "/"):
            sign = 1 if token == "." else -1
            continue
        term = _ucum_term(token or "1")
        if term is None:
            return None
        term_factor, term_dimensions, exponent = term
        factor *= term_factor ** (sign * exponent)
        for base, power in term_dimensions.items():
            dimensions[base] = dimensions.get(base, 0) + sign * exponent * power
    return factor, tuple(sorted((base, power) for base, power in dimensions.items() if power))


def _ucum_term(token: str) -> tuple[Decimal, dict[str, int], int] | None:
    match = _TERM.fullmatch(token)
    if match is None:
        return None
    atom, exponent = match.group(1), int(match.group(2) or 1)
    if atom[:3] in ("10*", "10^"):
        return Decimal(10) ** int(atom[3:]), {}, exponent
    if atom.isdigit():
        return Decimal(atom), {}, exponent
    found = _ucum_atom(atom)
    return (found[0], found[1], exponent) if found else None


def _ucum_atom(atom: str) -> tuple[Decimal, dict[str, int]] | None:
    if atom in _ATOMS:
        return _ATOMS[atom][:2]
    for prefix, power in _PREFIXES.items():
        base = _ATOMS.get(atom[len(prefix):]) if atom.startswith(prefix) else None
        if base and base[2]:
            return base[0] * Decimal(10) ** power, base[1]
    return None


def quantity_order(left: Quantity, right: Quantity) -> int | None:
    """-1, 0 or 1 on values in base units; None (empty) when the dimensions differ."""
    left_factor, left_dimensions = canonical_quantity(left)
    right_factor, right_dimensions = canonical_quantity(right)
    if left_dimensions != right_dimensions:
        return None
    a, b = left.value * left_factor, right.value * right_factor
    return (a > b) - (a < b)
