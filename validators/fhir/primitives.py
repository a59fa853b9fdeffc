"""Primitive values: JSON type, the regex the core StructureDefinitions give, and what a regex
cannot say (real calendar dates, time zones on times, integer ranges, base64)."""

from __future__ import annotations

import base64
import binascii
import calendar
import re
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable

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
    found = _FORMAT_CHECKS.get(code)
    if found is None or found[0] != regex:
        found = _FORMAT_CHECKS[code] = (regex, _format_check(code, regex))
    return found[1](value)


FormatCheck = Callable[[Any], "str | None"]
_FORMAT_CHECKS: dict[str, tuple[str | None, FormatCheck]] = {}
"""The check of each type (for the regex it was last asked with), made once: a value pays for its
own type's tests only."""


def _format_check(code: str, regex: str | None) -> FormatCheck:
    """The test ``format_problem`` makes of values of type ``code`` whose regex is ``regex``."""
    if code in INTEGER_TYPES:
        low, high = INTEGER_TYPES[code]

        def in_range(value: Any) -> str | None:
            if not low <= value <= high:
                return f"The value {value} is outside the range of {code} ({low} to {high})"
            return None
        return in_range
    if code == "decimal":
        return _no_problem
    matches = _matcher(regex) if regex is not None else None
    text_type = code in ("string", "markdown")
    after = _AFTER_REGEX.get(code)

    def check(value: Any) -> str | None:
        text = value if type(value) is str else str(value).lower() if isinstance(value, bool) else str(value)
        if text_type:
            if text == "":
                return "@value cannot be empty"
            if len(text) > 1_048_576:
                return f"The value is longer than the maximum of 1,048,576 characters ({len(text):,})"
        if matches is not None and not matches(text):
            return f"The value '{_short(text)}' is not a valid {code}"
        return after(code, text) if after is not None else None
    return check


def _no_problem(_value: Any) -> None:
    return None


def _matcher(regex: str) -> Callable[[str], bool]:
    """Whether a text is in the language of ``regex`` (a full match, Java's ASCII ``\\s``): for the
    regexes of the core types that a string method says as well (tests/test_primitives.py proves
    each on every code point), that method, several times faster than the regex engine on long
    texts; else the compiled regex."""
    known = _STRING_TESTS.get(regex)
    if known is not None:
        return known
    fullmatch = _compiled(regex).fullmatch
    return lambda text: fullmatch(text) is not None


def _no_ascii_space(text: str) -> bool:
    return not (" " in text or "\t" in text or "\n" in text or "\r" in text or "\f" in text or "\v" in text)


_BASE64_OTHER = re.compile(r"[^0-9a-zA-Z+/=\s]", re.ASCII)
_BASE64_RUN = re.compile(r"[0-9a-zA-Z+/=]+")


def _base64_groups(text: str) -> bool:
    """``(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+`` in one linear pass (the regex backtracks on every group
    of a megabyte of base64): only base64 letters and white space, some letters, and every run of
    letters a whole number of groups of four."""
    if _BASE64_OTHER.search(text) is not None:
        return False
    runs = _BASE64_RUN.findall(text)
    return bool(runs) and all(len(run) % 4 == 0 for run in runs)


_STRING_TESTS: dict[str, Callable[[str], bool]] = {
    # string, markdown: one or more of anything but form feed and vertical tab
    r"[ \r\n\t\S]+": lambda text: text != "" and "\f" not in text and "\v" not in text,
    # uri, url, canonical: no (ASCII) white space
    r"\S*": _no_ascii_space,
    r"true|false": lambda text: text == "true" or text == "false",
    r"(\s*([0-9a-zA-Z\+/=]){4}\s*)+": _base64_groups,
}


def _uri_problem(code: str, text: str) -> str | None:
    if code in ("uri", "url", "canonical", "uuid") and text.startswith("urn:uuid:") \
            and not _UUID.fullmatch(text[9:]):
        return f"UUIDs must be valid and lowercase ({_short(text[9:])})"
    if code in ("uri", "url", "canonical", "oid") and text.startswith("urn:oid:") and not _OID.fullmatch(text[8:]):
        return f"OIDs must be valid ({_short(text[8:])})"
    return None


def _base64_problem(_code: str, text: str) -> str | None:
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


_AFTER_REGEX: dict[str, Callable[[str, str], "str | None"]] = {
    "date": _calendar_problem, "dateTime": _calendar_problem, "instant": _calendar_problem,
    "uri": _uri_problem, "url": _uri_problem, "canonical": _uri_problem, "uuid": _uri_problem, "oid": _uri_problem,
    "base64Binary": _base64_problem,
}
"""What a type's value is tested for once its regex matched (what a regex cannot say)."""
