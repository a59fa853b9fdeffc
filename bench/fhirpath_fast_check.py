"""The FHIRPath fast path against the engine, on the official examples (run on demand).

    python bench/fhirpath_fast_check.py [--every N]

Validates the resources of hl7.fhir.r4.examples#4.0.1 (every Nth; default all) with
``VERIFY_FAST_PATH`` on: every invariant the fast path answers is evaluated by fhirpathpy too,
and any difference fails that resource (SAMSVAR-001 with the expression and both answers).
Prints the differences (there should be none) and how many evaluations the fast path answered.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.shared import shared_root  # noqa: E402
from hl7_defaults import hl7_defaults  # noqa: E402
from examples_corpus import _examples  # noqa: E402

from samsvar.validators import Options, Validator  # noqa: E402
from samsvar.validators.fhir import fhirpath_fast, invariants  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=int, default=1, help="validate every Nth example [default: 1, all]")
    args = parser.parse_args()
    root = shared_root()
    if root is None:
        print("../shared is not beside the repository; nothing to measure", file=sys.stderr)
        return 2
    invariants.VERIFY_FAST_PATH = True
    answered: collections.Counter[str] = collections.Counter()
    undecided: collections.Counter[str] = collections.Counter()
    original = invariants.InvariantChecker._compile

    def counting(self: invariants.InvariantChecker, expression: str):  # type: ignore[no-untyped-def]
        compiled = original(self, expression)
        fast = getattr(compiled, "fast", None)
        if fast is not None and not getattr(fast, "_counted", False):
            def counted(items, env, fast=fast, expression=expression):  # type: ignore[no-untyped-def]
                outcome = fast(items, env)
                (undecided if outcome is fhirpath_fast.UNDECIDED else answered)[expression] += 1
                return outcome
            counted._counted = True  # type: ignore[attr-defined]
            compiled.fast = counted
        return compiled

    invariants.InvariantChecker._compile = counting  # type: ignore[method-assign]
    examples = _examples(root / "data" / "fhir-packages" / "hl7.fhir.r4.examples-4.0.1.tgz")[::args.every]
    validator = Validator(Options(igs=tuple(hl7_defaults(root))))
    validator.definitions()
    differences = 0
    started = time.perf_counter()
    for name, data in examples:
        for issue in validator.validate_bytes(name, data).issues:
            if issue.rule == "SAMSVAR-001":
                differences += 1
                print(f"{name}: {issue.message}")
    print(f"{len(examples)} examples in {time.perf_counter() - started:.0f} s (both ways, {os.cpu_count()} cores): "
          f"{differences} differences; fast path answered {sum(answered.values()):,} evaluations of "
          f"{len(answered)} expressions, left {sum(undecided.values()):,} to the engine")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
