"""What only the validator knows, for the FHIRPath functions that ask it (``resolve()``,
``conformsTo()``, ``memberOf()``): set for the duration of an evaluation."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Hooks:
    resolve: Callable[[Any], Any | None] | None = None          # a Reference (dict) or url string -> resource dict or None
    conforms_to: Callable[[Any, str], bool | None] | None = None  # (resource dict, profile url) -> True/False/None (unknown)
    member_of: Callable[[Any, str], bool | None] | None = None    # (code/Coding/CodeableConcept value, value set url) -> True/False/None


VALUE_MEMBER = "samsvarValueMember"
"""The function samsvar evaluates ``X.value`` navigation with (a primitive's value is itself, as in HL7's validator)."""

HOOKS: contextvars.ContextVar[Hooks] = contextvars.ContextVar("samsvar_fhirpath_hooks", default=Hooks())
