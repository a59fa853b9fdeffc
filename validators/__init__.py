"""Offline validators: loading, detection, every check, and the issue model.

Library use::

    from samsvar.validators import Validator, Options
    result = Validator(Options()).validate_bytes("patient.json", data)
"""

from .issues import EnvironmentProblem, Issue, Severity
from .runner import Options, Result, Validator

__all__ = ["EnvironmentProblem", "Issue", "Options", "Result", "Severity", "Validator"]
