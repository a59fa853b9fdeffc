"""The message rules with every standard's rule pack: the envelope's and the receipt's rules
(:mod:`samsvar.validators.messages.rules`), then the packs of the standards that have their own
(e-resept: :mod:`samsvar.validators.messages.eresept`; the citizen dialogue of helsenorge:
:mod:`samsvar.validators.messages.citizen`).

This is the one place that says which packs run: :data:`PACK_CHECKS` is their registry, in the
order they run, and :func:`check_message` is what the message validator calls.
"""

from __future__ import annotations

from datetime import date

from lxml import etree

from ..issues import Issue
from ..rules import Rule
from ..terminology.service import TerminologyService
from . import rules
from .citizen import CITIZEN_CHECKS
from .eresept import ERESEPT_CHECKS

PACK_CHECKS: tuple[tuple[tuple[Rule, ...], rules.Check], ...] = (*ERESEPT_CHECKS, *CITIZEN_CHECKS)
"""The checks of the standards' rule packs, run on a MsgHead after the envelope's rules."""


def check_message(root: etree._Element, terminology: TerminologyService, *, today: date | None = None) -> list[Issue]:
    """The rule issues of a MsgHead message (envelope rules and every pack) or an AppRec."""
    return rules.check_message(root, terminology, today=today, packs=PACK_CHECKS)


def all_message_rules() -> list[Rule]:
    """Every rule the envelope, the receipt and the packs raise, once each, in registry order."""
    seen = {rule.code: rule for rule in rules.all_message_rules()}
    for raised, _ in PACK_CHECKS:
        for rule in raised:
            seen.setdefault(rule.code, rule)
    return list(seen.values())
