"""Imports every module that declares rules, so the registry is complete."""

from . import load, national_ids, policy, runner  # noqa: F401
from .messages import apprec, rules, schemas, standards  # noqa: F401
from .fhir import (  # noqa: F401
    bindings, extensions, invariants, narrative, profile_definitions, profiles, questionnaire, references, slicing,
    structure, validate, xmlformat,
)
