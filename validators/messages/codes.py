"""Coded values in messages: the KITH pattern ``<X V="code" S="oid" DN="display"/>``.

Every element with ``V`` and ``S`` is checked with the terminology service against the Volven
code system ``urn:oid:<S>`` (MSG-RULE-010 unknown code, -011 code system not available offline,
-012 display differs). Elements of type ``kith:CS`` carry no ``S`` (their code system is fixed by
the standard); the rules that own them (message type, AppRec status, ...) call
:func:`check_code` with the code system they name. Outcomes are remembered per terminology
service, so a run over many messages looks each (code system, code, display) up once.
"""

from __future__ import annotations

import weakref
from typing import Iterator, Literal

from lxml import etree

from ..issues import Issue
from ..rules import Rule, declared
from ..terminology.codesystems import normalise_display
from ..terminology.service import TerminologyService
from .message import Message, at, local, oid_of, system_name, system_url

UNKNOWN_CODE = declared("MSG-RULE-010")
CODE_SYSTEM_UNAVAILABLE = declared("MSG-RULE-011")
DISPLAY_DIFFERS = declared("MSG-RULE-012")
CODE_RULES = (UNKNOWN_CODE, CODE_SYSTEM_UNAVAILABLE, DISPLAY_DIFFERS)
"""What :func:`coded_elements` raises."""


# -- coded values ------------------------------------------------------------------------------

def check_code(message: Message, element: etree._Element, oid: str, unknown: Rule, what: str) -> Iterator[Issue]:
    """``element/@V`` in code system ``oid``: ``unknown`` when it is not, a display warning when
    ``DN`` differs, one warning when the code system is not available."""
    code = element.get("V") or ""
    if not code.strip():
        yield unknown.issue(f"{what} has no code (V)", **at(element))
        return
    display = element.get("DN")
    outcome = code_outcome(message.terminology, oid, code, display)
    if outcome is None:
        return
    verdict, detail = outcome
    if verdict == "unknown":
        yield unknown.issue(f"{what} '{code}' is not a code of {system_name(oid)} ({oid}){detail}", **at(element))
    elif verdict == "unavailable":
        yield from _unavailable_once(
            message, oid, element, f"Codes of {system_name(oid)} in this message were not checked: {detail}")
    else:
        yield DISPLAY_DIFFERS.issue(f"DN '{display}' of code '{code}' in {system_name(oid)} differs from "
                                    f"the code system's display '{detail}'", **at(element))


def _unavailable_once(message: Message, oid: str, element: etree._Element, text_: str) -> Iterator[Issue]:
    """One MSG-RULE-011 per code system and message: the rest of its codes are not checked either."""
    if oid not in message.unavailable:
        message.unavailable.add(oid)
        yield CODE_SYSTEM_UNAVAILABLE.issue(text_, **at(element))


Outcome = tuple[Literal["unknown", "unavailable", "display"], str] | None
"""What a coded value comes to: None (fine), or the finding and its detail (the correction hint,
why the code system is not available, the official display)."""

_OUTCOMES: "weakref.WeakKeyDictionary[TerminologyService, dict[tuple[str, str, str | None], Outcome]]" = (
    weakref.WeakKeyDictionary())
_OUTCOMES_PER_SERVICE = 100_000
"""Distinct (code system, code, display) triples kept per terminology service: a run over many
messages meets the same few hundred codes again and again."""


def code_outcome(terminology: TerminologyService, oid: str, code: str, display: str | None) -> Outcome:
    """The outcome of one coded value, remembered per terminology service (its code systems do not
    change while it lives); an answer that a terminology server could not give is not remembered."""
    memo = _OUTCOMES.get(terminology)
    if memo is None:
        memo = _OUTCOMES[terminology] = {}
    key = (oid, code, display)
    if key in memo:
        return memo[key]
    verdict = terminology.validate_code(system_url(oid), code, display)
    outcome: Outcome = None
    if verdict.valid is False:
        outcome = ("unknown", _hint(terminology, oid, code))
    elif verdict.valid is None:
        outcome = ("unavailable", verdict.message)
    elif verdict.display_ok is False and not _display_matches(display or "", verdict.displays):
        outcome = ("display", "' or '".join(verdict.displays[:3]))
    if verdict.kind != "server-down":
        if len(memo) >= _OUTCOMES_PER_SERVICE:
            memo.clear()
        memo[key] = outcome
    return outcome


def _hint(terminology: TerminologyService, oid: str, code: str) -> str:
    """A likely correction: Volven codes (ICD-10 among them) are written without dots."""
    bare = code.replace(".", "")
    if bare != code and terminology.validate_code(system_url(oid), bare).valid:
        return f"; codes are written without the dot: '{bare}'"
    return ""


def _letters(display: str) -> str:
    return "".join(ch for ch in normalise_display(display) if ch.isalnum())


def _display_matches(display: str, official: list[str]) -> bool:
    """DN matches when, by letters and digits alone, it contains an official display or is
    contained in one: our Volven displays come from the KITH viewer and are sometimes abbreviated
    or punctuated differently, and senders add qualifiers ("[Hjemmetjenester:] ...")."""
    wanted = _letters(display)
    return any(wanted in _letters(o) or _letters(o) in wanted for o in official if o)



# -- every coded element -----------------------------------------------------------------------

_CODED = etree.XPath("descendant-or-self::*[@V and @S]")
"""Every element with a code and a code system, in document order."""


def coded_elements(message: Message) -> Iterator[Issue]:
    """MSG-RULE-010, -011, -012: every ``V``+``S`` element anywhere, against its code system."""
    for element in _CODED(message.root):
        if element in message.owned:
            continue
        oid = oid_of(element.get("S").strip())
        code = element.get("V")
        if code.strip() and code_outcome(message.terminology, oid, code, element.get("DN")) is None:
            continue  # the common case, without building the wording of an issue
        yield from check_code(message, element, oid, UNKNOWN_CODE, f"{local(element)} code")
