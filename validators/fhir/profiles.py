"""Profiles: an instance checked against a profile's snapshot (``--profile``, ``meta.profile``).

The same structure walk runs over the profile's snapshot instead of the base definition, so
its cardinalities, types, bindings, invariants, fixed/pattern values and ranges apply (a
profile without a snapshot gets one generated, see ``snapshot.py``; slices are matched in
``slicing.py``). A profile that cannot be used is reported, never silently skipped.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterator

from ..issues import Issue
from ..rules import declared
from .definitions import Definitions
from .visit import Visit

FIXED_VALUE = declared("FHIR-PROF-001")
PATTERN_VALUE = declared("FHIR-PROF-002")
PROFILE_NOT_USABLE = declared("FHIR-PROF-003")

OUT_OF_RANGE = declared("FHIR-PROF-004")
TOO_LONG = declared("FHIR-PROF-005")
VALUE_REQUIRED = declared("FHIR-PROF-006")
MUST_HAVE_VALUE = "ElementDefinition.mustHaveValue"
VALUE_ALTERNATIVES = "ElementDefinition.valueAlternatives"


def matches_pattern(value: Any, pattern: Any) -> bool:
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(matches_pattern(value.get(k), v) for k, v in pattern.items())
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(matches_pattern(item, p) for item in value) for p in pattern)
    return value == pattern


class FixedPatternChecker:
    """An element check: fixed[x], pattern[x], minValue[x], maxValue[x] and maxLength of the definition."""

    def __init__(self, now: Callable[[], dt.datetime] | None = None) -> None:
        self.now = now or (lambda: dt.datetime.now(dt.timezone.utc))
        """The clock for limits relative to now (a Duration as minValue/maxValue of a date)."""

    @staticmethod
    def relevant(element: dict[str, Any], _code: str | None) -> bool:
        """Whether the definition has anything this check reads (asked once per element, see StructureChecker)."""
        return any(key.startswith("fixed") and len(key) > 5 or key.startswith("pattern") and len(key) > 7
                   or key.startswith(("minValue", "maxValue")) and len(key) > 8 or key == "maxLength"
                   for key in element)

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        for key, expected in visit.element.items():
            if key.startswith("fixed") and len(key) > 5:
                yield from _fixed_differences(visit.value, expected, visit.path, visit.expression)
            elif key.startswith("pattern") and len(key) > 7:
                if not matches_pattern(visit.value, expected):
                    yield PATTERN_VALUE.issue(f"Value is {_show(visit.value)} but must match the pattern "
                                              f"{_show(expected)}", path=visit.path, expression=visit.expression)
            elif key.startswith(("minValue", "maxValue")) and len(key) > 8:
                low = key.startswith("min")
                if isinstance(expected, dict) and isinstance(visit.value, str):
                    message = relative_limit_violation(visit.value, expected, low, self.now())
                    if message:
                        yield OUT_OF_RANGE.issue(message, path=visit.path, expression=visit.expression)
                    continue
                order = _compare(visit.value, expected)
                if order is not None and (order < 0 if low else order > 0):
                    word = "less than the specified minimum" if low else "greater than the specified maximum"
                    yield OUT_OF_RANGE.issue(f"The value in the instance ({_show(_plain(visit.value))}) is {word} "
                                             f"value ({_show(_plain(expected))})", path=visit.path,
                                             expression=visit.expression)
            elif key == "maxLength" and isinstance(visit.value, str) and isinstance(expected, int):
                if len(visit.value) > expected:
                    yield TOO_LONG.issue(f"The value is {len(visit.value)} characters long, more than the "
                                         f"maxLength of {expected}", path=visit.path, expression=visit.expression)


def _fixed_differences(value: Any, fixed: Any, path: tuple[str | int, ...], expression: str) -> Iterator[Issue]:
    """fixed[x] is exact: every element of the fixed value, and nothing else, as HL7 compares it."""
    if isinstance(value, dict) and isinstance(fixed, dict):
        for key in value:
            if key not in fixed and key != "id" and not (key.startswith("_") and key[1:] in fixed):
                yield FIXED_VALUE.issue(f"The element {key} is present in the instance but not allowed in the "
                                        "applicable fixed value specified in profile", path=(*path, key),
                                        expression=f"{expression}.{key}")
        for key, wanted in fixed.items():
            if key not in value:
                yield FIXED_VALUE.issue(f"Missing element '{key}' - required by fixed value {_show(fixed)}",
                                        path=path, expression=expression)
            else:
                yield from _fixed_differences(value[key], wanted, (*path, key), f"{expression}.{key}")
    elif isinstance(value, list) and isinstance(fixed, list) and len(value) == len(fixed):
        for i, (item, wanted) in enumerate(zip(value, fixed)):
            yield from _fixed_differences(item, wanted, (*path, i), f"{expression}[{i}]")
    elif value != fixed:
        yield FIXED_VALUE.issue(f"Value is {_show(value)} but is fixed to {_show(fixed)}", path=path,
                                expression=expression)


def _plain(value: Any) -> Any:
    if isinstance(value, dict) and "value" in value:
        return f"{value.get('value')} {value.get('code') or value.get('unit') or ''}".strip()
    return value


UCUM = "http://unitsofmeasure.org"
_PREFIXES = {"": 1, "k": Decimal(1000), "h": Decimal(100), "da": Decimal(10), "d": Decimal("0.1"),
             "c": Decimal("0.01"), "m": Decimal("0.001"), "u": Decimal("1e-6"), "n": Decimal("1e-9")}
_BASE_UNITS = ("g", "m", "L", "l", "s", "mol")


def _in_base_unit(quantity: dict[str, Any]) -> tuple[Decimal, str] | None:
    """A Quantity's value in its UCUM base unit (``1 kg`` -> ``1000 g``): metric prefixes only."""
    raw, system, code = quantity.get("value"), quantity.get("system"), quantity.get("code")
    if isinstance(raw, bool) or not isinstance(raw, (int, float, Decimal)):
        return None
    value = Decimal(str(raw))
    if system != UCUM or not isinstance(code, str):
        return (value, f"{system}|{code}") if code is not None or system is not None else (value, "")
    for base in _BASE_UNITS:
        prefix = code[:-len(base)] if code.endswith(base) else None
        if prefix is not None and prefix in _PREFIXES:
            return value * _PREFIXES[prefix], base.upper() if base in ("L", "l") else base
    return value, code


def _compare(value: Any, limit: Any) -> int | None:
    """-1, 0 or 1 when the value and the limit can be ordered; None when they cannot."""
    if isinstance(limit, dict):  # Quantity: only in the same unit
        if not isinstance(value, dict) or "value" not in value or "value" not in limit:
            return None
        a, b = _in_base_unit(value), _in_base_unit(limit)
        if a is None or b is None or a[1] != b[1]:
            return None
        value, limit = a[0], b[0]
    if isinstance(limit, bool) or isinstance(value, bool):
        return None
    if isinstance(limit, (int, float, Decimal)) and isinstance(value, (int, float, Decimal)):
        a, b = Decimal(str(value)), Decimal(str(limit))
        return (a > b) - (a < b)
    if isinstance(limit, str) and isinstance(value, str):
        # dates and times: compared at the precision both have; equal there is not out of range
        size = min(len(value), len(limit))
        a, b = value[:size], limit[:size]
        return (a > b) - (a < b)
    return None


_TIME_UNITS = {"a": Decimal("31557600"), "mo": Decimal("2629800"), "wk": Decimal(604800), "d": Decimal(86400),
               "h": Decimal(3600), "min": Decimal(60), "s": Decimal(1), "ms": Decimal("0.001")}
"""Seconds per UCUM unit of time (a = 365.25 d, mo = a/12); whole years and months are added on the calendar."""
_DATE_TIME = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2})(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]+)?)?"
                        r"(Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?")


def relative_limit_violation(value: str, limit: dict[str, Any], low: bool, now: dt.datetime) -> str | None:
    """Why a date, dateTime or instant breaks a minValue/maxValue given as a Duration, or None.

    The limit is now minus the duration (minValue) or now plus it (maxValue). A date (or a year,
    a month) is compared with the limit's date (UTC) at its own precision; a dateTime breaks the
    limit only if all of the period it names (a minute, a second) lies beyond it."""
    unit = limit.get("code") if limit.get("code") is not None else limit.get("unit")
    if unit not in _TIME_UNITS or limit.get("system") not in (None, UCUM):
        return None
    try:
        amount = Decimal(str(limit.get("value")))
    except (InvalidOperation, ValueError):
        return None
    shifted = _shift(now, amount, unit, -1 if low else 1) if amount.is_finite() else None
    bounds = _period(value)
    if bounds is None or shifted is None:
        return None
    if "T" not in value:
        day = shifted.astimezone(dt.timezone.utc)
        limit_date = f"{day.year:04d}-{day.month:02d}-{day.day:02d}"[:len(value)]
        broken = value < limit_date if low else value > limit_date
    else:
        earliest, latest = bounds
        broken = latest <= shifted if low else earliest > shifted
    if broken:
        word, side = ("minValue", "before") if low else ("maxValue", "after")
        return (f"The date/time value '{value}' is not legal: {word} is {amount}{unit} {side} now (which is "
                f"{now.astimezone(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}, so the limit is "
                f"{shifted.astimezone(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ})")
    return None


def _shift(now: dt.datetime, amount: Decimal, unit: str, sign: int) -> dt.datetime | None:
    try:
        if unit in ("a", "mo") and amount == amount.to_integral_value():
            months = sign * int(amount) * (12 if unit == "a" else 1)
            year, month = divmod(now.month - 1 + months, 12)
            year, month = now.year + year, month + 1
            return now.replace(year=year, month=month, day=min(now.day, calendar.monthrange(year, month)[1]))
        return now + sign * dt.timedelta(seconds=float(amount * _TIME_UNITS[unit]))
    except (OverflowError, ValueError):
        return None


def _period(value: str) -> tuple[dt.datetime, dt.datetime] | None:
    """The first instant of the period a FHIR date/dateTime/instant names and the first after it (UTC);
    without a time zone, widened to every zone (+14:00 to -12:00)."""
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    try:
        start = dt.datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                            int(second or 0))
        if second is not None:
            end = start + dt.timedelta(seconds=1)
        elif minute is not None:
            end = start + dt.timedelta(minutes=1)
        elif day is not None:
            end = start + dt.timedelta(days=1)
        elif month is not None:
            end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        else:
            end = start.replace(year=start.year + 1)
    except (ValueError, OverflowError):
        return None
    if zone:
        offset = dt.timedelta(0) if zone == "Z" else (1 if zone[0] == "+" else -1) * dt.timedelta(
            hours=int(zone[1:3]), minutes=int(zone[4:6]))
        tz = dt.timezone(offset)
        return start.replace(tzinfo=tz), end.replace(tzinfo=tz)
    utc = dt.timezone.utc
    return (start.replace(tzinfo=utc) - dt.timedelta(hours=14), end.replace(tzinfo=utc) + dt.timedelta(hours=12))


def _show(value: Any) -> str:
    text = f"'{value}'" if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 160 else text[:157] + "..."


def usable_profile(definitions: Definitions, url: str, resource_type: str) -> tuple[str | None, str]:
    """The profile URL if it can be checked, else None and the reason."""
    profile = definitions.structure_definition(url)
    if profile is None:
        return None, f"Profile {url} is not in the loaded packages; load it with --ig. It was not checked."
    if definitions.snapshot_elements(url) is None:
        why = "; ".join(definitions.snapshot_problems(url)) or "it has no snapshot"
        hint = definitions.requirement_hint(url)
        return None, f"Profile {url} could not be used: {why}. It was not checked." + (f" {hint}" if hint else "")
    if profile.get("type") != resource_type:
        return None, f"Profile {url} is for {profile.get('type')}, not {resource_type}. It was not checked."
    return str(profile["url"]), ""


def value_required(element: dict[str, Any], extras: Any, profile: str, path: tuple[str | int, ...],
                   expression: str) -> Iterator[Issue]:
    """mustHaveValue and valueAlternatives of ``element``, for a primitive given only as ``_name``."""
    flags = {str(ext.get("url", "")).rsplit("extension-", 1)[-1]: ext for ext in element.get("extension") or []
             if isinstance(ext, dict)}
    must = flags.get(MUST_HAVE_VALUE, {}).get("valueBoolean") is True
    alternatives = [str(ext.get("valueCanonical") or ext.get("valueUri")) for ext in element.get("extension") or []
                    if isinstance(ext, dict) and str(ext.get("url", "")).endswith(VALUE_ALTERNATIVES)]
    if not must and not alternatives:
        return
    items = extras if isinstance(extras, list) else [extras]
    for item in items:
        used = {str(e.get("url")) for e in (item or {}).get("extension") or [] if isinstance(e, dict)}
        where = f"``{element.get('path')}`` in the profile '{profile}'"
        if must:
            yield VALUE_REQUIRED.issue(f"The element definition {where} requires that a value be present in this "
                                       "element", path=path, expression=expression)
        elif not used & set(alternatives):
            yield VALUE_REQUIRED.issue(f"The element definition {where} requires that if a value is not present, "
                                       f"one of the extensions {', '.join(alternatives)} must be present",
                                       path=path, expression=expression)
