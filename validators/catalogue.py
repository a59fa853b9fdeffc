"""Imports every module that declares rules, so the registry is complete."""

from . import load, national_ids, policy, runner  # noqa: F401
from .fhir import bindings, extensions, invariants, profiles, references, structure, validate, xmlformat  # noqa: F401
