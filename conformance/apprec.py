"""``samsvar apprec``'s library: the AppRec a conformant receiver returns for a message file, and
the judgement of a receiver's actual AppRec against it.

The message is validated as ``samsvar validate`` would (schema layer when a pack is installed,
then the rules); its findings decide the status and the 8221 error codes
(:func:`samsvar.validators.messages.apprec.expected_apprec`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from lxml import etree

from ..validators.issues import Issue
from ..validators.load import load_bytes
from ..validators.messages.apprec import compare_apprec, expected_apprec
from ..validators.runner import Options, Validator


class AppRecError(ValueError):
    """The message or the received AppRec cannot be used (not readable XML, not a MsgHead)."""


def expected_apprec_for(message: Path, *, now: dt.datetime | None = None) -> etree._Element:
    """The AppRec 1.1 a conformant receiver returns for the message file ``message``."""
    data = message.read_bytes()
    loaded = load_bytes(str(message), data)
    if loaded.document is None or loaded.document.format != "xml":
        reason = loaded.issues[0].message if loaded.issues else "not XML"
        raise AppRecError(f"{message}: not a readable XML message ({reason})")
    issues = Validator(Options()).validate_bytes(str(message), data).issues
    try:
        return expected_apprec(loaded.document.tree, issues, now=now or dt.datetime.now(dt.timezone.utc))
    except ValueError as exc:
        raise AppRecError(f"{message}: {exc}") from None


def judge_apprec(received: Path, expected: etree._Element) -> list[Issue]:
    """The issues of the receiver's AppRec in the file ``received``, judged against ``expected``."""
    answer = load_bytes(str(received), received.read_bytes())
    if answer.document is None or answer.document.format != "xml":
        raise AppRecError(f"{received}: not a readable XML AppRec")
    return compare_apprec(answer.document.tree, expected)


def apprec_text(apprec: etree._Element) -> str:
    """An AppRec as the XML text ``samsvar apprec`` writes."""
    return etree.tostring(apprec, pretty_print=True, xml_declaration=True, encoding="UTF-8").decode()
