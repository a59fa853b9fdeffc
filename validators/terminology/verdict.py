"""The answer to one ``$validate-code``, whether the offline store or a terminology server gave it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .valuesets import Tri


@dataclass
class CodeVerdict:
    """The answer to one ``$validate-code``."""

    valid: Tri
    message: str = ""
    kind: str = "member"
    """member, not-member, unknown-code, unknown, format-error, format-only, server-down."""
    display_ok: bool | None = None
    displays: list[str] = field(default_factory=list)
    system: str | None = None
