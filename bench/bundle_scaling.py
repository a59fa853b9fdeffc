"""Validation time against Bundle size: it must grow linearly (run on demand).

    python bench/bundle_scaling.py [--sizes 1000,4000,16000] [--type collection|document]

Builds Bundles of N Patient/Observation pairs, each Observation referring to its Patient by
``urn:uuid`` (in a document, the Composition's section lists every entry), validates each once
against the core definitions and prints seconds, entries per second and the ratio of time to
the previous size's time next to the ratio of sizes. Quadratic work (one search of the Bundle
per reference, as HL7's validator does) shows as a time ratio near the square of the size ratio.
"""

from __future__ import annotations

import argparse
import json
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
    parser.add_argument("--sizes", default="1000,4000,16000", help="entries per Bundle, comma-separated")
    parser.add_argument("--type", default="document", choices=("collection", "document"))
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
    previous: tuple[int, float] | None = None
    print(f"{'entries':>8} {'seconds':>9} {'entries/s':>10}   growth (time vs size)")
    for size in (int(s) for s in args.sizes.split(",")):
        data = bundle(size // 2, args.type)
        started = time.perf_counter()
        result = validator.validate_bytes(f"bundle-{size}.json", data)
        elapsed = time.perf_counter() - started
        growth = f"x{elapsed / previous[1]:.1f} for x{size / previous[0]:.1f}" if previous else ""
        print(f"{size:>8} {elapsed:>9.2f} {size / elapsed:>10.0f}   {growth}  ({len(result.issues)} issues)")
        previous = (size, elapsed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
