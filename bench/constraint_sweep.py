"""Every constraint of the shared packages over the example corpora: no evaluation may fail inside
samsvar (run on demand; ``tests/test_constraint_sweep.py`` runs it on a sample).

    python bench/constraint_sweep.py [--every N] [--verbose]

Loads the core, hl7.fhir.no.basis#2.2.2, HL7 terminology and the FHIR extensions pack (all from
``../shared/data/fhir-packages``) and

1. compiles every constraint expression of every StructureDefinition they hold: an expression
   that uses a FHIRPath feature samsvar does not support is named here, with the feature;
2. validates every resource of the official R4 examples, the no-basis examples and samsvar's
   own FHIR fixtures against the base definitions *and every profile of its resource type* in
   those packages, so that the constraints of the profiles, of the data types and of the
   extensions the resources use are evaluated on real data.

A constraint that could not be decided is ``FHIR-INV-002`` (an unsupported feature, or an error
FHIRPath defines on that data); a failure of samsvar's FHIRPath layer itself (KeyError,
TypeError, ...) is ``FHIR-INV-004``, and this bench exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from hl7_defaults import hl7_defaults  # noqa: E402

from samsvar.validators.fhir.fhirpath import compile_expression, failure_kind  # noqa: E402
from samsvar.validators.fhir.invariants import INVARIANT_ENGINE_FAILED, INVARIANT_NOT_EVALUATED  # noqa: E402
from samsvar.validators.fhir.packages import PackageCache  # noqa: E402
from samsvar.validators.fhir.validate import FhirOptions, validate_resource  # noqa: E402
from samsvar.validators.runner import Options, Validator  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
Example = tuple[str, dict[str, Any]]


@dataclass
class Sweep:
    """What one sweep found."""

    constraints: int = 0
    expressions: int = 0
    unsupported: dict[str, list[str]] = field(default_factory=dict)
    """Unsupported feature -> the constraint keys that use it (from compiling every expression)."""
    compile_failures: list[tuple[str, str, str]] = field(default_factory=list)
    """(key, expression, error) of expressions that failed to compile inside samsvar."""
    resources: int = 0
    validations: int = 0
    not_evaluated: collections.Counter[str] = field(default_factory=collections.Counter)
    """FHIR-INV-002 messages (one per constraint and reason), counted."""
    internal: list[tuple[str, str]] = field(default_factory=list)
    """(resource, message) of every FHIR-INV-004: samsvar's FHIRPath layer failed."""

    @property
    def failures(self) -> list[str]:
        return [f"{key}: {error} ({expression})" for key, expression, error in self.compile_failures] + \
               [f"{name}: {message}" for name, message in self.internal]


def shared_packages(root: Path) -> tuple[Path, list[str]]:
    """A package cache with the core, and the ``--ig`` list: no-basis, terminology, extensions."""
    packages = root / "data" / "fhir-packages"
    cache = Path(tempfile.mkdtemp(prefix="samsvar-sweep-"))
    PackageCache(cache).install_tgz(packages / "hl7.fhir.r4.core-4.0.1.tgz")
    return cache, [str(packages / "hl7.fhir.no.basis-2.2.2.tgz"), *hl7_defaults(root)]


def corpus(root: Path, every: int = 1) -> list[Example]:
    """The official R4 examples (every ``every``-th, by name), the no-basis examples and the FHIR
    fixtures of this repository, parsed."""
    packages = root / "data" / "fhir-packages"
    found: list[Example] = []
    found.extend(_tarball_json(packages / "hl7.fhir.r4.examples-4.0.1.tgz", "", every))
    found.extend(_tarball_json(packages / "hl7.fhir.no.basis-2.2.2.tgz", "package/examples/"))
    fixtures = sorted((REPO / "fixtures" / "fhir").rglob("*.json"))
    for path in fixtures[::every] if every > 1 else fixtures:
        resource = _resource(path.read_bytes())
        if resource is not None:
            found.append((str(path.relative_to(REPO)), resource))
    return found


def _tarball_json(tgz: Path, folder: str, every: int = 1) -> list[Example]:
    """The JSON resources of a tarball under ``folder``: every ``every``-th by name."""
    found = []
    with tarfile.open(tgz) as archive:
        members = sorted((m for m in archive.getmembers()
                          if m.isfile() and m.name.endswith(".json") and m.name.startswith(folder)
                          and not m.name.endswith(("package.json", ".index.json"))), key=lambda m: m.name)
        for member in members[::every]:
            resource = _resource(archive.extractfile(member).read())  # type: ignore[union-attr]
            if resource is not None:
                found.append((member.name, resource))
    return found


def _resource(data: bytes) -> dict[str, Any] | None:
    try:
        resource = json.loads(data)
    except ValueError:
        return None
    return resource if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str) else None


def structure_definitions(definitions: Any) -> Iterable[dict[str, Any]]:
    for url in definitions.canonicals():
        if definitions.resource_type(url) == "StructureDefinition":
            sd = definitions.get(url)
            if isinstance(sd, dict):
                yield sd


def sweep(examples: list[Example], cache: Path, igs: list[str]) -> Sweep:
    validator = Validator(Options(cache_root=cache, igs=tuple(igs)))
    definitions = validator.definitions()
    found = Sweep()
    profiles: dict[str, list[str]] = collections.defaultdict(list)
    expressions: set[str] = set()
    for sd in structure_definitions(definitions):
        if sd.get("kind") == "resource" and sd.get("derivation") == "constraint" and not sd.get("abstract"):
            profiles[str(sd.get("type"))].append(str(sd["url"]))
        for element in [*(sd.get("snapshot") or {}).get("element", []), *(sd.get("differential") or {}).get("element", [])]:
            for constraint in element.get("constraint") or []:
                expression = constraint.get("expression")
                if not expression or expression in expressions:
                    continue
                expressions.add(expression)
                found.constraints += 1
                try:
                    compile_expression(expression)
                except Exception as exc:  # noqa: BLE001 - what the sweep is for
                    if failure_kind(exc) == "unsupported":
                        found.unsupported.setdefault(str(exc), []).append(str(constraint.get("key")))
                    else:
                        found.compile_failures.append((str(constraint.get("key")), expression,
                                                       f"{type(exc).__name__}: {exc}"))
    found.expressions = len(expressions)
    for name, resource in examples:
        found.resources += 1
        for chosen in [(), *((url,) for url in profiles.get(resource["resourceType"], ()))]:
            found.validations += 1
            options = FhirOptions(profiles=chosen)
            for issue in validate_resource(resource, definitions, options):
                if issue.rule == INVARIANT_ENGINE_FAILED.code:
                    found.internal.append((name, issue.message))
                elif issue.rule == INVARIANT_NOT_EVALUATED.code:
                    found.not_evaluated[issue.message] += 1
    return found


def main() -> int:
    from tests.shared import shared_root

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=int, default=1, help="every N-th official example and fixture (default: all)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every constraint not evaluated")
    args = parser.parse_args()
    root = shared_root()
    if root is None:
        print("../shared is not beside the repository; nothing to sweep", file=sys.stderr)
        return 2
    cache, igs = shared_packages(root)
    examples = corpus(root, args.every)
    started = time.perf_counter()
    found = sweep(examples, cache, igs)
    elapsed = time.perf_counter() - started
    print(f"{found.expressions} distinct constraint expressions of core, no-basis, terminology and extensions "
          f"compiled: {sum(len(keys) for keys in found.unsupported.values())} use an unsupported feature, "
          f"{len(found.compile_failures)} failed inside samsvar")
    for feature, keys in sorted(found.unsupported.items()):
        print(f"  {feature}: {', '.join(sorted(set(keys)))}")
    print(f"{found.resources} resources, {found.validations} validations (base + every profile of the type) "
          f"in {elapsed:.0f} s: {sum(found.not_evaluated.values())} constraint evaluations not decided "
          f"(FHIR-INV-002, {len(found.not_evaluated)} distinct), {len(found.internal)} internal failures (FHIR-INV-004)")
    for message, count in found.not_evaluated.most_common(None if args.verbose else 15):
        print(f"  {count:>6}  {message}")
    for failure in found.failures:
        print(f"  INTERNAL {failure}")
    return 1 if found.failures else 0


if __name__ == "__main__":
    sys.exit(main())
