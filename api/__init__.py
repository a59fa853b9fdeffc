"""samsvar's Python API: validate inside your own code and tests.

::

    import samsvar

    validator = samsvar.Validator(igs=["hl7.fhir.no.basis#2.2.2"])   # load once, reuse
    result = validator.validate(patient)            # dict, JSON/XML text, bytes, path, lxml, Pydantic
    result.ok, result.issues, result.to_operation_outcome(), result.write("report.html")

The pytest plugin (:mod:`samsvar.api.pytest_plugin`) and the Hypothesis strategies
(:mod:`samsvar.strategies`) are built on this.
"""

from .core import Finding, ValidationResult, Validator, format_for, validate

__all__ = ["Finding", "ValidationResult", "Validator", "format_for", "validate"]
