"""Primitive values: JSON type, the regex the core StructureDefinitions give, and what a regex
cannot say (real calendar dates, time zones on times, integer ranges, base64)."""

from __future__ import annotations

import base64
import binascii
import calendar
import re
from decimal import Decimal
from functools import lru_cache
from typing import Any

INTEGER_TYPES = {"integer": (-2**31, 2**31 - 1), "positiveInt": (1, 2**31 - 1), "unsignedInt": (0, 2**31 - 1),
                 "integer64": (-2**63, 2**63 - 1)}
NUMBER_TYPES = {"decimal", *INTEGER_TYPES}
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")


@lru_cache(maxsize=None)
def _compiled(regex: str) -> re.Pattern[str]:
    # Java and XML Schema semantics: \s and \S are ASCII-only (U+00A0 is not white space there).
    return re.compile(regex, re.ASCII)


def json_type_problem(code: str, value: Any) -> str | None:
    """Why ``value`` is the wrong JSON type for primitive ``code``, or None."""
    if code == "boolean":
        return None if isinstance(value, bool) else "must be a JSON boolean (true or false)"
    if code in INTEGER_TYPES:
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be a JSON number without a fraction"
    if code == "decimal":
        ok = isinstance(value, (int, Decimal, float)) and not isinstance(value, bool)
        return None if ok else "must be a JSON number"
    return None if isinstance(value, str) else "must be a JSON string"


def format_problem(code: str, value: Any, regex: str | None) -> str | None:
    """Why ``value`` is not a valid ``code``, or None."""
    if code in INTEGER_TYPES:
        low, high = INTEGER_TYPES[code]
        if not low <= value <= high:
            return f"The value {value} is outside the range of {code} ({low} to {high})"
        return None
    if code == "decimal":
        return None
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if code in ("string", "markdown") and text == "":
        return "@value cannot be empty"
    if code in ("string", "markdown") and len(text) > 1_048_576:
        return f"The value is longer than the maximum of 1,048,576 characters ({len(text):,})"
    if regex is not None and not _compiled(regex).fullmatch(text):
        return f"The value '{_short(text)}' is not a valid {code}"
    if code in ("date", "dateTime", "instant"):
        return _calendar_problem(code, text)
    if code in ("uri", "url", "canonical", "uuid") and text.startswith("urn:uuid:") \
            and not _UUID.fullmatch(text[9:]):
        return f"UUIDs must be valid and lowercase ({_short(text[9:])})"
    if code in ("uri", "url", "canonical", "oid") and text.startswith("urn:oid:") and not _OID.fullmatch(text[8:]):
        return f"OIDs must be valid ({_short(text[8:])})"
    if code == "base64Binary":
        try:
            base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            return f"The value '{_short(text)}' is not a valid Base64 value"
    return None


def id_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return "Invalid Resource id: must be a string"
    if len(value) > 64:
        return f"Invalid Resource id: Too long ({len(value)} chars)"
    if not _ID.fullmatch(value):
        return f"Invalid Resource id: Invalid Characters ('{_short(value)}')"
    return None


def _calendar_problem(code: str, text: str) -> str | None:
    match = _DATE.match(text)
    if match and match.group(3):
        year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3))
        if day > calendar.monthrange(year, month)[1]:
            return f"The value '{text}' is not a valid {code}: {year}-{month:02d} has no day {day}"
    if code == "dateTime" and "T" in text and not re.search(r"(Z|[+-]\d{2}:\d{2})$", text):
        return "If a date has a time, it must have a timezone"
    return None


def _short(text: str) -> str:
    return text if len(text) <= 100 else text[:97] + "..."
