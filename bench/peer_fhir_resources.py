"""samsvar's full validation against fhir.resources' model parsing, per resource (run on demand).

    python bench/peer_fhir_resources.py [--max-kb 30] [--every 1] [--runs 3] [--parts] [--cold]

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

``--parts`` also times, warm and per resource, what the full validation is made of: reading
the JSON (``json.loads``) and samsvar's structure walk alone (``StructureChecker`` with no
element checks: cardinality, JSON shape, primitives' types and formats), so the rest is the
element checks (invariants, bindings, narrative, references, URLs, ...) and what a document
costs around them (issues, positions, identifiers).

``--cold`` also times each side as the issue's own figures were taken: one new process each
over all the examples, from before the library is imported to the last resource (samsvar with
the core package in a package cache and its disk caches warm from an earlier run; the
examples are read from files before the clock starts).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
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


def time_parts(validator: object, items: list[tuple[str, bytes]]) -> tuple[float, float]:
    """Seconds for ``json.loads`` of every item, and for samsvar's structure walk alone on them."""
    from samsvar.validators.fhir.structure import StructureChecker

    definitions = validator.definitions()  # type: ignore[attr-defined]
    start = time.perf_counter()
    trees = [json.loads(data) for _, data in items]
    loading = time.perf_counter() - start
    start = time.perf_counter()
    for tree in trees:
        for _ in StructureChecker(definitions).check_resource(tree, (), tree["resourceType"]):
            pass
    return loading, time.perf_counter() - start


_COLD = {
    "fhir.resources": """
from fhir.resources.R4B import get_fhir_model_class
for resource in resources:
    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except Exception:
        pass
""",
    "samsvar": """
from samsvar.validators import Options, Validator
validator = Validator(Options())
for name, data in items:
    validator.validate_bytes(name, data)
""",
}
"""What each side runs in a new process, on ``items`` (name, bytes) and ``resources`` (their JSON)."""

_CHILD = """
import json, pathlib, sys, time
folder = pathlib.Path(sys.argv[1])
items = [(path.name, path.read_bytes()) for path in sorted(folder.iterdir())]
resources = [json.loads(data) for _, data in items] if sys.argv[2] == "fhir.resources" else []
start = time.perf_counter()
exec(sys.argv[3])
print(time.perf_counter() - start)
"""


def time_cold(items: list[tuple[str, bytes]], side: str) -> float:
    """Seconds of one new process validating (or parsing) every item: import, loading and the work."""
    with tempfile.TemporaryDirectory() as folder:
        for n, (name, data) in enumerate(items):
            Path(folder, f"{n:05d}-{name}").write_bytes(data)
        done = subprocess.run([sys.executable, "-c", _CHILD, folder, side, _COLD[side]],
                              capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-kb", type=int, default=30)
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parts", action="store_true", help="also time JSON reading and the structure walk alone")
    parser.add_argument("--cold", action="store_true", help="also time one new process each, as the issue did")
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
        ours, theirs, parts = [], [], []
        for _ in range(args.runs):
            seconds, our_rejected = time_samsvar(validator, items)
            ours.append(seconds)
            seconds, their_rejected = time_fhir_resources(items)
            theirs.append(seconds)
            if args.parts:
                parts.append(time_parts(validator, items))
        cold: dict[str, list[float]] = {"fhir.resources": [], "samsvar": []}
        if args.cold:
            time_cold(items[:20], "samsvar")  # the disk caches as an earlier run leaves them
            for _ in range(args.runs):
                for side, seconds_taken in cold.items():
                    seconds_taken.append(time_cold(items, side))
    n = len(items)
    our, their = statistics.median(ours), statistics.median(theirs)
    print(f"{n} official examples of at most {args.max_kb} KB (no conformance resources), {args.runs} runs, one process")
    print(f"fhir.resources R4B parse : {their / n * 1e6:8.0f} us/resource, rejects {their_rejected}")
    print(f"samsvar full validation  : {our / n * 1e6:8.0f} us/resource, errors on {our_rejected}")
    if parts:
        loading = statistics.median(part[0] for part in parts)
        walk = statistics.median(part[1] for part in parts)
        print(f"  of which json.loads    : {loading / n * 1e6:8.0f} us/resource")
        print(f"  structure walk alone   : {walk / n * 1e6:8.0f} us/resource (no element checks)")
        print(f"  the rest               : {(our - loading - walk) / n * 1e6:8.0f} us/resource "
              "(element checks, issues, positions, identifiers)")
    print(f"samsvar / fhir.resources : x{our / their:.2f} of its time per resource (goal: at most x0.5)")
    if args.cold:
        cold_ours, cold_theirs = statistics.median(cold["samsvar"]), statistics.median(cold["fhir.resources"])
        print(f"one new process each     : fhir.resources {cold_theirs:.2f} s, samsvar {cold_ours:.2f} s: "
              f"x{cold_ours / cold_theirs:.2f} (import, loading and all {n} resources)")


if __name__ == "__main__":
    main()
