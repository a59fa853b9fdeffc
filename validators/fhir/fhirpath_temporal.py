"""FHIRPath's dates, times and date/time arithmetic, as the specification compares and shifts them.

A ``date``, ``dateTime``, ``instant`` or ``time`` becomes a :class:`Temporal`: the fields it
writes, in order, with its timezone. Two values of different precision are not ordered (an
empty result), boundaries fill the missing fields, and arithmetic with a time quantity keeps the
value's precision and timezone. :mod:`.fhirpath_engine` uses these for its comparison,
arithmetic and boundary functions.
"""

from __future__ import annotations

import calendar
import itertools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from functools import lru_cache
from typing import Any

from dateutil.relativedelta import relativedelta
from fhirpathpy.engine.nodes import FP_DateTime, FP_Time, ResourceNode
from fhirpathpy.engine.util import get_data

from .fhirpath_errors import FhirPathMalformedTemporal


_DATE_TIME = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:T(?:(\d{2})(?::(\d{2})(?::(\d{2}(?:\.\d+)?))?)?)?)?"
                        r"(Z|[+-]\d{2}:\d{2})?")
_TIME = re.compile(r"T?(\d{2})(?::(\d{2})(?::(\d{2}(?:\.\d+)?))?)?")
_TEMPORAL_TYPES = {"date": "date", "dateTime": "dateTime", "instant": "dateTime", "time": "time"}
_PRECISIONS = {"date": (4, 6, 8), "dateTime": (4, 6, 8, 10, 12, 14, 17), "time": (2, 4, 6, 9)}
_MILLISECOND = Decimal("0.001")


@dataclass(frozen=True)
class Temporal:
    """A date, dateTime or time as FHIRPath compares it: the fields present, in order.

    ``fields`` are year, month, day, hour, minute, second (a time: hour, minute, second), as
    far as the value goes; seconds are a Decimal carrying their fraction.
    """

    kind: str  # "date", "dateTime" or "time"
    fields: tuple[Any, ...]
    offset: str | None = None  # "Z" or "+hh:mm"; never for times

    @property
    def precision(self) -> int:
        """FHIRPath's precision(): the digits of the value (4 for a year ... 17 with milliseconds)."""
        return 2 * len(self.fields) + (0 if self.kind == "time" else 2) + _second_places(self)


def _field_count(kind: str) -> int:
    return 3 if kind == "time" else 6


def decimal_places(number: Decimal) -> int:
    """The digits after the decimal point, as written."""
    exponent = number.as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


def _second_places(value: Temporal) -> int:
    """The digits of the fraction of a second, when the value goes to seconds."""
    return decimal_places(value.fields[-1]) if len(value.fields) == _field_count(value.kind) else 0


def _parse_temporal(text: str, kind: str) -> Temporal | None:
    match = (_TIME if kind == "time" else _DATE_TIME).fullmatch(text)
    if match is None:
        return None
    groups = match.groups()
    offset = None if kind == "time" else groups[-1]
    present = list(itertools.takewhile(lambda group: group is not None, groups[:_field_count(kind)]))
    fields = tuple(Decimal(value) if index == _field_count(kind) - 1 else int(value) for index, value in enumerate(present))
    return Temporal(kind, fields, offset)


def as_temporal(item: Any) -> Temporal | None:
    """A date, dateTime, instant or time item (a typed FHIR value or a FHIRPath literal)."""
    if isinstance(item, ResourceNode):
        kind = _TEMPORAL_TYPES.get(item.path or "")
        return _parse_temporal(item.data, kind) if kind and isinstance(item.data, str) else None
    if isinstance(item, FP_Time):
        return _parse_temporal(item.asStr, "time")
    if isinstance(item, FP_DateTime):
        return _parse_temporal(item.asStr, "dateTime" if "T" in item.asStr else "date")
    return None


def temporal_of(data: Any, path: str) -> Temporal | None:
    """The value of a ``date``, ``dateTime``, ``instant`` or ``time`` element (its JSON string and
    type path), as :func:`as_temporal` reads its node; None when it is not one or does not parse."""
    return _temporal_text(data, path) if isinstance(data, str) else None


@lru_cache(maxsize=4096)
def _temporal_text(text: str, path: str) -> Temporal | None:
    """:func:`temporal_of` of a string, kept for the values met again (a Temporal is immutable)."""
    kind = _TEMPORAL_TYPES.get(path)
    return _parse_temporal(text, kind) if kind else None


def as_temporal_like(item: Any, other: Temporal) -> Temporal | None:
    """A string compared with a date or time, read as one (as fhirpathpy does)."""
    text = get_data(item)
    if not isinstance(text, str):
        return None
    return _parse_temporal(text, "time" if other.kind == "time" else "dateTime")


def _in_utc(value: Temporal) -> Temporal:
    if value.offset in (None, "Z") or len(value.fields) < 4:
        return value
    sign = 1 if value.offset[0] == "+" else -1
    shift = timedelta(hours=int(value.offset[1:3]), minutes=int(value.offset[4:6]))
    return _at(_moment(value) - sign * shift, value, "Z")


def _moment(value: Temporal) -> datetime:
    """The earliest instant the value stands for, as a naive datetime (a time on 2000-01-01)."""
    fields = _filled(value, high=False)
    seconds = fields[-1]
    clock = (int(seconds), int(seconds % 1 * 1_000_000))
    if value.kind == "time":
        return datetime(2000, 1, 1, fields[0], fields[1], *clock)
    return datetime(fields[0], fields[1], fields[2], fields[3], fields[4], *clock)


def _at(moment: datetime, like: Temporal, offset: str | None) -> Temporal:
    """The instant with the fields (the precision) of ``like``."""
    seconds = (Decimal(moment.second) + Decimal(moment.microsecond).scaleb(-6)).quantize(
        Decimal(1).scaleb(-_second_places(like)), rounding=ROUND_DOWN)
    fields = ((moment.hour, moment.minute, seconds) if like.kind == "time"
              else (moment.year, moment.month, moment.day, moment.hour, moment.minute, seconds))
    return Temporal(like.kind, fields[:len(like.fields)], offset)


def temporal_order(left: Temporal, right: Temporal) -> int | None:
    """-1, 0 or 1, field by field; None (empty) when only one of them has the deciding field.

    Timezone offsets are respected when both values have one; when only one has, the time of
    day cannot be compared (empty). Seconds and their fraction are one field.
    """
    if (left.kind == "time") != (right.kind == "time"):
        raise TypeError("a time cannot be compared with a date or dateTime")
    if left.offset and right.offset:
        left, right = _in_utc(left), _in_utc(right)
    one_offset = (left.offset is None) != (right.offset is None)
    for index, (a, b) in enumerate(itertools.zip_longest(left.fields, right.fields)):
        if a is None or b is None or (one_offset and index >= 3 and left.kind != "time"):
            return None
        if a != b:
            return -1 if a < b else 1
    return 0


def temporal_boundary(value: Temporal, precision: int | None, high: bool) -> Temporal | None:
    """The least (or greatest) value ``value`` may stand for, to ``precision`` digits."""
    levels = _PRECISIONS[value.kind]
    digits = levels[-1] if precision is None else precision
    if digits not in levels:
        return None
    full = _filled(value, high)
    count = min(levels.index(digits) + 1, _field_count(value.kind))
    fields = full[:count]
    if digits in (6, 14) and count == _field_count(value.kind):
        fields = (*fields[:-1], Decimal(int(fields[-1])))
    offset = None
    if value.kind == "dateTime" and count >= 4:
        offset = value.offset or ("-12:00" if high else "+14:00")
    return Temporal(value.kind, fields, offset)


def _filled(value: Temporal, high: bool) -> tuple[Any, ...]:
    """All fields, the missing ones at their least (or greatest) value; seconds to milliseconds."""
    fields = list(value.fields)
    if value.kind == "time":
        defaults: list[Any] = [23, 59, Decimal("59.999")] if high else [0, 0, Decimal("0.000")]
    else:
        month = fields[1] if len(fields) > 1 else (12 if high else 1)
        last_day = calendar.monthrange(fields[0], month)[1]
        defaults = [0, 12, last_day, 23, 59, Decimal("59.999")] if high else [0, 1, 1, 0, 0, Decimal("0.000")]
    filled = fields + defaults[len(fields):]
    seconds = filled[-1]
    places = decimal_places(seconds)
    if len(fields) == len(filled) and places < 3:
        seconds = seconds + (Decimal(1).scaleb(-places) - _MILLISECOND if high else 0)
    filled[-1] = seconds.quantize(_MILLISECOND, rounding=ROUND_DOWN) if places <= 3 else seconds
    return tuple(filled)


def render_temporal(value: Temporal) -> FP_DateTime | FP_Time:
    """A Temporal as fhirpathpy's value, written as a FHIRPath literal (without the ``@``)."""
    if value.kind == "time":
        return FP_Time(_clock(value.fields))
    year, *rest = value.fields
    text = f"{year:04d}" + "".join(f"-{part:02d}" for part in rest[:2])
    if len(value.fields) > 3:
        text += "T" + _clock(value.fields[3:]) + (value.offset or "")
    return FP_DateTime(text)


def _clock(fields: tuple[Any, ...]) -> str:
    parts = [f"{part:02d}" for part in fields[:2]]
    if len(fields) == 3:
        whole, _, fraction = format(fields[2], "f").partition(".")
        parts.append(whole.zfill(2) + (f".{fraction}" if fraction else ""))
    return ":".join(parts)


_STEPS = {  # date/time arithmetic: calendar durations and UCUM's definite time units
    **{word: step for step in ("years", "months", "weeks", "days", "hours", "minutes", "seconds")
       for word in (step, step[:-1], f"'{step[:-1]}'")},
    "milliseconds": "milliseconds", "millisecond": "milliseconds", "'millisecond'": "milliseconds",
    "'wk'": "weeks", "'d'": "days", "'h'": "hours", "'min'": "minutes", "'s'": "seconds", "'ms'": "milliseconds",
}


def shift_temporal(value: Temporal, unit: str, amount: Decimal) -> Temporal:
    """``value`` plus a time quantity, at the value's precision and in its timezone.

    The quantity's decimal part is dropped, as the specification asks for date/time arithmetic.
    """
    step = _STEPS.get(unit)
    if step is None:
        raise ValueError(f"date/time arithmetic needs a time-valued quantity, not {unit}")
    count = int(amount)
    delta = relativedelta(microseconds=count * 1000) if step == "milliseconds" else relativedelta(**{step: count})
    return _at(_moment(value) + delta, value, value.offset)


def reject_malformed_temporal(item: Any) -> None:
    """A date, dateTime, instant or time value that is not one cannot be ordered: an error on
    this data (HL7's validator: 'Invalid date/time format', and the constraint fails)."""
    data = item.data if isinstance(item, ResourceNode) else None
    if data is None or isinstance(data, (dict, list)):
        return  # no value (a primitive with extensions only), or a shape the structure check reports
    kind = _TEMPORAL_TYPES.get(item.path or "")
    if kind and (not isinstance(data, str) or _parse_temporal(data, kind) is None):
        raise FhirPathMalformedTemporal(f'Invalid date/time format: "{data}"')
