"""What can go wrong with a FHIRPath expression, as types: below the compiler (:mod:`.fhirpath`)
and the engine's functions (:mod:`.fhirpath_engine`), which both raise them."""

from __future__ import annotations


class FhirPathUnsupported(Exception):
    """A FHIRPath feature samsvar's engine does not support (found when the expression is compiled,
    before any data is seen): the constraint is not checked, and the message names the feature."""

    def __init__(self, feature: str) -> None:
        super().__init__(f"unsupported FHIRPath feature: {feature}")
        self.feature = feature


class FhirPathSyntaxError(FhirPathUnsupported):
    """An expression the FHIRPath grammar rejects (fhirpathpy's parser would silently evaluate a
    repaired version of it): like an unsupported feature, the constraint is not checked, and the
    message says where the grammar stopped."""

    def __init__(self, problem: str) -> None:
        Exception.__init__(self, f"not valid FHIRPath ({problem})")
        self.feature = problem


class FhirPathEvaluationError(ValueError):
    """The expression is in error on this data as FHIRPath defines it (one item expected where the
    data has several, a value of the wrong type): the data, not samsvar, decides it."""


class FhirPathMalformedTemporal(FhirPathEvaluationError):
    """A date, dateTime, instant or time value that is not one was ordered against another value:
    HL7's validator cannot read it either ('Invalid date/time format') and fails the constraint."""
