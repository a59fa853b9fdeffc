"""Hypothesis strategies generated from FHIR profiles (``pip install samsvar[testing]``).

::

    from hypothesis import given
    import samsvar
    from samsvar import strategies

    validator = samsvar.Validator(igs=["hl7.fhir.no.basis#2.2.2"])

    @given(strategies.resources("http://hl7.no/fhir/StructureDefinition/no-basis-Patient", validator=validator))
    def test_my_parser_reads_every_valid_patient(patient):
        assert my_parser(patient)

    @given(strategies.mutants(some_valid_patient, validator=validator))
    def test_my_receiver_rejects_what_samsvar_rejects(mutant):
        assert my_receiver(mutant.resource).rejected   # mutant.codes: what samsvar raises for it

:func:`resources` draws instances that satisfy the profile's snapshot; :func:`mutants` draws
one-mistake variants of a valid resource, each with the rule codes it must raise.
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401
except ImportError as exc:  # pragma: no cover - an install without the testing extra
    raise ImportError("samsvar.strategies needs Hypothesis: pip install 'samsvar[testing]'") from exc

from .core import Mutant, mutants, resources
from .generate import Unsatisfiable

__all__ = ["Mutant", "Unsatisfiable", "mutants", "resources"]
