"""No constraint is silently skipped: every constraint of core, no-basis, HL7 terminology and the
extensions pack compiles or names the FHIRPath feature it lacks, and on a deterministic sample of
the example corpora (``bench/constraint_sweep.py`` runs them whole) no evaluation fails inside
samsvar's FHIRPath layer."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from samsvar.validators.fhir.fhirpath import (
    FhirPathEvaluationError, FhirPathUnsupported, compile_expression, failure_kind,
)
from samsvar.validators.fhir.invariants import not_evaluated

from .conftest import REPO
from .shared import shared_path, shared_root

BENCH = REPO / "bench"


@pytest.fixture()
def bench(monkeypatch: pytest.MonkeyPatch):
    """``bench/constraint_sweep.py`` and its helper ``hl7_defaults``, imported from the bench folder."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("constraint_sweep"), importlib.import_module("hl7_defaults")


def test_this_at_the_top_of_an_expression_is_the_input() -> None:
    """no-basis-providedBy-identifier failed with KeyError('$this') on the no-basis examples."""
    compiled = compile_expression("$this.exists(identifier.exists())")
    assert compiled({"reference": "Organization/1", "identifier": {"value": "1"}}) == [True]
    assert compiled({"reference": "Organization/1"}) == [False]


def test_failures_are_told_apart_by_type_not_by_message() -> None:
    with pytest.raises(FhirPathUnsupported) as unsupported:
        compile_expression("name.noSuchFunction()")
    assert failure_kind(unsupported.value) == "unsupported" and "noSuchFunction()" in str(unsupported.value)
    with pytest.raises(FhirPathUnsupported, match="substring\\(\\) with 3 arguments"):
        compile_expression("name.substring(1, 2, 3)")
    assert failure_kind(FhirPathEvaluationError("single() of 2 items")) == "evaluation"
    assert failure_kind(Exception("the engine's own error on this data")) == "evaluation"
    for bug in (KeyError("$this"), TypeError("unhashable"), AttributeError("x")):
        assert failure_kind(bug) == "internal"
    assert not_evaluated("k-1", "x", KeyError("$this")).rule == "FHIR-INV-004"
    unsupported_issue = not_evaluated("k-1", "x", unsupported.value)
    assert unsupported_issue.rule == "FHIR-INV-002" and "unsupported FHIRPath feature" in unsupported_issue.message


def test_the_two_arguments_of_trace_are_supported() -> None:
    """R4's dom-3 uses FHIRPath 2.0's trace(name, projection)."""
    assert compile_expression("name.trace('n', given).given")({"name": [{"given": ["Kari"]}]}) == ["Kari"]


def test_the_sweep_finds_no_internal_failure_on_a_sample(fhir_cache: Path, bench) -> None:
    shared_path("fhir-packages", "hl7.fhir.r4.examples-4.0.1.tgz")  # skips with a reason when absent
    root = shared_root()
    sweep, defaults = bench

    examples = sweep.corpus(root, every=150)
    assert any("no-basis-HealthcareService" in name for name, _ in examples)
    found = sweep.sweep(examples, fhir_cache, [str(shared_path("fhir-packages", "hl7.fhir.no.basis-2.2.2.tgz")),
                                               *defaults.hl7_defaults(root)])
    assert found.expressions > 200 and found.resources == len(examples) and found.validations > found.resources
    assert found.failures == []
    assert set(found.unsupported) == set(), found.unsupported


def test_a_failure_inside_the_fhirpath_layer_is_its_own_finding(fhir_cache: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault injected into the engine (every evaluation raises KeyError, as '$this' did) is
    FHIR-INV-004, a warning that asks for a report, never an information note."""
    from samsvar.validators.fhir import fhirpath
    from samsvar.validators.runner import Options, Validator

    def broken(self, resource, context=None):  # noqa: ANN001 - the injected fault
        raise KeyError("$this")

    monkeypatch.setattr(fhirpath, "compile_fast", lambda tree: None)  # every expression through the engine
    monkeypatch.setattr(fhirpath.Compiled, "__call__", broken)
    patient = b'{"resourceType": "Patient", "id": "p", "name": [{"period": {"start": "2020", "end": "2021"}}]}'
    issues = Validator(Options(cache_root=fhir_cache)).validate_bytes("p.json", patient).issues
    failed = [i for i in issues if i.rule == "FHIR-INV-004"]
    assert failed and all(i.severity.code == "warning" and "please report" in i.message for i in failed)
    assert any("per-1" in i.message for i in failed)


def test_not_evaluated_messages_name_classes_not_memory_addresses() -> None:
    """The engine's failure text reaches the report; two runs must print the same message."""
    failure = Exception("Cannot compare <fhirpathpy.engine.nodes.ResourceNode object at 0x7f3a2c1d9e50> to 3")
    issue = not_evaluated("k-1", "a > 3", failure)
    assert issue.rule == "FHIR-INV-002"
    assert "object at 0x" not in issue.message and "Cannot compare ResourceNode to 3" in issue.message
