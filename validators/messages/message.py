"""The message being checked, and how the message rules read it.

:class:`Message` is a parsed MsgHead or AppRec with what its rules share (the terminology
service, the time of checking, the coded elements a dedicated rule owns). Elements are found by
local name, so a rule reads the same whether a payload writes ``fk1:Ident`` or ``Ident``.
Locations are XPath-like expressions of local names (``/MsgHead/MsgInfo/Type``, with ``[n]``
where siblings share a name) and the element's source line; lxml keeps no column, so the column
is 1. Dates are read as MsgHead writes them (``GenDate``: ISO date-time, Norwegian time when no
offset is given).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Callable, Iterable, Iterator, TypedDict

from lxml import etree

from ..issues import Issue
from ..terminology.service import TerminologyService

MSGHEAD_NS = "http://www.kith.no/xmlstds/msghead/2006-05-24"
APPREC_NAMESPACES = {
    "http://www.kith.no/xmlstds/apprec/2004-11-21": "1.0",
    "http://www.kith.no/xmlstds/apprec/2012-02-15": "1.1",
}
BASE64_NS = "http://www.kith.no/xmlstds/base64container"
VOLVEN = "2.16.578.1.12.4.1.1."
MSG_TYPES = VOLVEN + "8279"
APPREC_STATUS = VOLVEN + "8258"
APPREC_ERRORS = VOLVEN + "8221"
APPREC_ERROR_SYSTEMS = (APPREC_ERRORS, VOLVEN + "8222", VOLVEN + "8223")

_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$")


# -- the message being checked -----------------------------------------------------------------

def _oslo() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/Oslo")
    except Exception:  # no time zone database on this machine: CET, within the 24-hour margin
        return timezone(timedelta(hours=1))


OSLO = _oslo()


@dataclass
class Message:
    """A parsed MsgHead or AppRec and what its rules share."""

    root: etree._Element
    terminology: TerminologyService
    now: datetime
    kind: str
    """``msghead`` or ``apprec``."""
    header: etree._Element
    """``MsgInfo`` of a MsgHead; the root of an AppRec."""
    owned: set[etree._Element] = field(default_factory=set)
    """Coded elements that a dedicated rule checks (the generic code check leaves them alone)."""
    unavailable: set[str] = field(default_factory=set)
    """Code systems already reported as not available (:func:`samsvar.validators.messages.codes.check_code`)."""


Check = Callable[[Message], Iterable[Issue]]


# -- element helpers ---------------------------------------------------------------------------

def local(element: etree._Element) -> str:
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


_ANY_NAMESPACE: dict[str, str] = {}


def _any_namespace(name: str) -> str:
    """``{*}name``: lxml's own filter for a local name in any namespace or none (matched in C,
    so the helpers below do not call Python for every node they pass)."""
    tag = _ANY_NAMESPACE.get(name)
    if tag is None:
        tag = _ANY_NAMESPACE[name] = "{*}" + name
    return tag


def child(element: etree._Element | None, name: str) -> etree._Element | None:
    """The first child element with this local name."""
    if element is None:
        return None
    for node in element.iterchildren(_any_namespace(name)):
        return node
    return None


def children(element: etree._Element | None, name: str) -> list[etree._Element]:
    return [] if element is None else list(element.iterchildren(_any_namespace(name)))


def descendants(element: etree._Element | None, name: str) -> Iterator[etree._Element]:
    """The element itself and every element below it with this local name, in document order."""
    if element is None:
        return iter(())
    return element.iter(_any_namespace(name))


def text(element: etree._Element | None) -> str:
    return "" if element is None or element.text is None else element.text.strip()


def xpath(element: etree._Element) -> str:
    """``/MsgHead/MsgInfo/Sender/Organisation/Ident[2]/Id``: local names, positions where needed."""
    steps = []
    node: etree._Element | None = element
    while node is not None:
        name = local(node)
        parent = node.getparent()
        if parent is not None:
            same = list(parent.iterchildren(node.tag))
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        steps.append(name)
        node = parent
    return "/" + "/".join(reversed(steps))


class Where(TypedDict):
    """The location arguments of :meth:`Rule.issue` for an XML element."""

    expression: str
    line: int | None
    column: int | None


def at(element: etree._Element) -> Where:
    """The location of an issue about ``element`` (lxml keeps no column: 1 where the line is known)."""
    line = element.sourceline
    return {"expression": xpath(element), "line": line, "column": 1 if line else None}


def oid_of(system: str) -> str:
    return system[len("urn:oid:"):] if system.startswith("urn:oid:") else system


def system_url(oid: str) -> str:
    return f"urn:oid:{oid_of(oid)}"


def system_name(oid: str) -> str:
    return f"Volven {oid[len(VOLVEN):]}" if oid.startswith(VOLVEN) else oid


# -- dates -------------------------------------------------------------------------------------

def parse_datetime(value: str) -> datetime | None:
    """An ``xs:dateTime`` (four-digit years) as a datetime, or None when it is not one.

    Naive values (no time zone) are returned naive; fractions beyond microseconds are cut;
    ``24:00:00`` is the start of the next day, as XML Schema says.
    """
    match = _DATETIME.match(value)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zone = match.group(7), match.group(8)
    midnight = hour == 24 and minute == 0 and second == 0 and not (fraction and fraction.strip("0"))
    try:
        moment = datetime(year, month, day, 0 if midnight else hour, minute, second,
                          int((fraction or "0")[:6].ljust(6, "0")))
    except ValueError:
        return None
    if midnight:
        moment += timedelta(days=1)
    if zone:
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])) if zone != "Z" else timedelta()
        if offset > timedelta(hours=14) or int(zone[4:6] if zone != "Z" else 0) > 59:
            return None
        moment = moment.replace(tzinfo=timezone(-offset if zone[0] == "-" else offset))
    return moment


def reference_now(today: date | None) -> datetime:
    """Now, or the end of ``today`` (Norwegian time) when a day is given (tests, replays)."""
    if today is None:
        return datetime.now(timezone.utc)
    return datetime.combine(today + timedelta(days=1), time(0), tzinfo=OSLO).astimezone(timezone.utc)
