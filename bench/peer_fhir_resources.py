"""samsvar's full validation against fhir.resources' model parsing, per resource (run on demand).

    python bench/peer_fhir_resources.py [--max-kb 30] [--every 1] [--runs 3]

Takes the official R4 examples (``../shared/data/fhir-packages/hl7.fhir.r4.examples-4.0.1.tgz``)
of at most ``--max-kb`` KB that are not conformance resources, in memory, and times in this one
process, after a warm-up pass of each:
- fhir.resources' R4B models (``pip install fhir.resources``): structure only, the closest it has
  to R4 (``get_fhir_model_class(type).model_validate``);
- samsvar's whole validation of the same bytes (``Validator.validate_bytes``: structure, profiles,
  invariants, bindings, references, narrative, identifiers), with the core package.
Prints the median per-resource time of each over ``--runs`` passes and the ratio (samsvar /
fhir.resources: below 1 means samsvar is faster), and how many resources each rejects: the
issue's goal is samsvar at least 2x faster per resource while checking far more.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.shared import shared_root  # noqa: E402

CONFORMANCE = {"StructureDefinition", "ValueSet", "CodeSystem", "ConceptMap", "SearchParameter", "OperationDefinition",
               "CapabilityStatement", "ImplementationGuide", "CompartmentDefinition", "NamingSystem",
               "StructureMap", "GraphDefinition", "MessageDefinition", "TerminologyCapabilities"}


def examples(tgz: Path, max_bytes: int, every: int) -> list[tuple[str, bytes]]:
    found = []
    with tarfile.open(tgz) as archive:
        members = sorted((m for m in archive.getmembers() if m.isfile() and m.name.endswith(".json")
                          and not m.name.endswith(("package.json", ".index.json")) and m.size <= max_bytes),
                         key=lambda m: m.name)
        for member in members[::every]:
            data = archive.extractfile(member).read()  # type: ignore[union-attr]
            if json.loads(data).get("resourceType") not in CONFORMANCE:
                found.append((Path(member.name).name, data))
    return found


def time_fhir_resources(items: list[tuple[str, bytes]]) -> tuple[float, int]:
    from fhir.resources.R4B import get_fhir_model_class

    rejected = 0
    start = time.perf_counter()
    for _, data in items:
        resource = json.loads(data)
        try:
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        except Exception:  # noqa: BLE001 - a rejection is the verdict being counted
            rejected += 1
    return time.perf_counter() - start, rejected


def time_samsvar(validator: object, items: list[tuple[str, bytes]]) -> tuple[float, int]:
    from samsvar.validators.issues import Severity

    rejected = 0
    start = time.perf_counter()
    for name, data in items:
        result = validator.validate_bytes(name, data)  # type: ignore[attr-defined]
        rejected += any(issue.severity >= Severity.ERROR for issue in result.issues)
    return time.perf_counter() - start, rejected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-kb", type=int, default=30)
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = shared_root()
    if root is None:
        sys.exit("../shared is not beside the repository; set SAMSVAR_SHARED")
    try:
        import fhir.resources  # noqa: F401
    except ImportError:
        sys.exit("needs fhir.resources: pip install fhir.resources")

    from samsvar.validators import Options, Validator
    from samsvar.validators.fhir.packages import PackageCache

    packages = root / "data" / "fhir-packages"
    items = examples(packages / "hl7.fhir.r4.examples-4.0.1.tgz", args.max_kb * 1024, args.every)
    with tempfile.TemporaryDirectory() as home:
        PackageCache(Path(home)).install_tgz(packages / "hl7.fhir.r4.core-4.0.1.tgz")
        os.environ["SAMSVAR_FHIR_HOME"] = home
        validator = Validator(Options())
        time_samsvar(validator, items)  # warm-up: definitions, snapshots, compiled FHIRPath
        time_fhir_resources(items)
        ours, theirs = [], []
        for _ in range(args.runs):
            seconds, our_rejected = time_samsvar(validator, items)
            ours.append(seconds)
            seconds, their_rejected = time_fhir_resources(items)
            theirs.append(seconds)
    n = len(items)
    our, their = statistics.median(ours), statistics.median(theirs)
    print(f"{n} official examples of at most {args.max_kb} KB (no conformance resources), {args.runs} runs, one process")
    print(f"fhir.resources R4B parse : {their / n * 1e6:8.0f} us/resource, rejects {their_rejected}")
    print(f"samsvar full validation  : {our / n * 1e6:8.0f} us/resource, errors on {our_rejected}")
    print(f"samsvar / fhir.resources : x{our / their:.2f} of its time per resource (goal: at most x0.5)")


if __name__ == "__main__":
    main()
