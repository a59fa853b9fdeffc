"""Validation time against Bundle size, up to 100,000 entries: it must grow linearly (run on demand).

    python bench/bundle_100k.py [--sizes 10000,50000,100000] [--runs 3] [--type collection|document]
    python bench/bundle_100k.py --sizes 1000,4000,16000 --runs 1 --type document

Builds Bundles of N entries (N/2 Patient/Observation pairs, each Observation referring to its
Patient by ``urn:uuid``; a document's Composition lists every entry) and validates each as ``samsvar validate bundle.json`` does after start-up: load (parse,
positions), the structure walk with every check, profiles, references, locations. Prints per
size the median wall time of the runs, entries per second, and the time ratio to the first
size next to the size ratio: linear work keeps the two close. Also the core count and the
peak RSS of this process. Quadratic work (one search of the Bundle per reference, as HL7's
validator does) would show as a time ratio near the square of the size ratio. The issue's
target: 100,000 entries in under 2 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.shared import shared_root  # noqa: E402

from samsvar.validators import Options, Validator  # noqa: E402
from samsvar.validators.fhir.packages import PackageCache  # noqa: E402

DIV = '<div xmlns="http://www.w3.org/1999/xhtml">benchmark</div>'


def bundle(pairs: int, kind: str) -> bytes:
    entries: list[dict[str, object]] = []
    for i in range(pairs):
        patient, observation = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'p{i}')}", \
            f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'o{i}')}"
        entries.append({"fullUrl": patient, "resource": {
            "resourceType": "Patient", "id": f"p{i}", "text": {"status": "generated", "div": DIV},
            "name": [{"family": "Nordmann", "given": ["Kari"]}], "gender": "female", "birthDate": "1972-09-13"}})
        entries.append({"fullUrl": observation, "resource": {
            "resourceType": "Observation", "id": f"o{i}", "text": {"status": "generated", "div": DIV},
            "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": patient},
            "valueQuantity": {"value": 60 + i % 40, "unit": "/min", "system": "http://unitsofmeasure.org",
                              "code": "/min"}}})
    document: dict[str, object] = {"resourceType": "Bundle", "id": "scaling", "type": kind, "entry": entries}
    if kind == "document":
        composition = {"resourceType": "Composition", "id": "c", "text": {"status": "generated", "div": DIV},
                       "status": "final", "type": {"text": "Måleserie"}, "date": "2026-11-26",
                       "author": [{"display": "samsvar"}], "title": "Måleserie",
                       "section": [{"title": "Målinger", "text": {"status": "generated", "div": DIV},
                                    "entry": [{"reference": e["fullUrl"]} for e in entries]}]}
        entries.insert(0, {"fullUrl": "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "c")), "resource": composition})
        document.update(identifier={"system": "urn:ietf:rfc:3986", "value": "urn:uuid:" + str(uuid.uuid4())},
                        timestamp="2026-11-26T10:00:00+01:00")
    return json.dumps(document).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,50000,100000", help="entries per Bundle, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="runs per size; the median is printed [default: 3]")
    parser.add_argument("--type", default="collection", choices=("collection", "document"))
    args = parser.parse_args()
    root = shared_root()
    if root is None:
        print("../shared is not beside the repository; nothing to measure", file=sys.stderr)
        return 2
    cache = Path(tempfile.mkdtemp(prefix="samsvar-bench-"))
    PackageCache(cache).install_tgz(root / "data" / "fhir-packages" / "hl7.fhir.r4.core-4.0.1.tgz")
    validator = Validator(Options(cache_root=cache))
    validator.definitions()
    validator.validate_bytes("warm-up.json", bundle(10, args.type))
    print(f"{args.type} Bundles; {os.cpu_count()} cores (one Bundle is one file: validated by one process); "
          f"median of {args.runs} runs")
    print(f"{'entries':>8} {'MB':>6} {'seconds':>9} {'entries/s':>10}   growth (time vs size)")
    first: tuple[int, float] | None = None
    for size in (int(s) for s in args.sizes.split(",")):
        data = bundle(size // 2, args.type)
        times, issues = [], 0
        for _ in range(args.runs):
            started = time.perf_counter()
            result = validator.validate_bytes(f"bundle-{size}.json", data)
            times.append(time.perf_counter() - started)
            issues = len(result.issues)
            del result
        elapsed = statistics.median(times)
        growth = f"x{elapsed / first[1]:.2f} for x{size / first[0]:.1f}" if first else ""
        print(f"{size:>8} {len(data) / 1e6:>6.1f} {elapsed:>9.2f} {size / elapsed:>10.0f}   {growth}  "
              f"({issues} issues; runs {', '.join(f'{t:.1f}' for t in times)})")
        first = first or (size, elapsed)
        del data
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
