"""Throughput of full validation on the official R4 examples, with 1 and with 2 jobs (run on demand).

    python bench/examples_throughput.py [--jobs 1,2] [--runs 3] [--every N] [--compare-fast-path]

Unpacks the resources of ``../shared/data/fhir-packages/hl7.fhir.r4.examples-4.0.1.tgz`` (5,306
of them, 187 MB; nothing is copied into the repository) into a temporary folder and validates
the folder as ``samsvar validate FOLDER --jobs N`` does (the library's ``validate_paths``), with
the FHIR extensions pack and HL7 terminology loaded as in ``examples_corpus.py``. Each run starts
a fresh validator (definitions loaded, caches warm on disk). Prints, per job count, the median
wall time of the runs, resources per second, and the speed-up over the first job count, with
the machine's core count: compare figures within one run of this script, not across machines.
``--compare-fast-path`` adds, per job count, the same runs with the FHIRPath fast path turned
off (every invariant through fhirpathpy), for the speed-up it gives in the same conditions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.shared import shared_root  # noqa: E402
from hl7_defaults import hl7_defaults  # noqa: E402

from samsvar.validators import Options, Validator  # noqa: E402
from samsvar.validators.runner import available_cores  # noqa: E402


def unpack(tgz: Path, every: int) -> tuple[Path, int, int]:
    """The example resources in a temporary folder: (folder, files, bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="samsvar-bench-examples-"))
    count = size = 0
    with tarfile.open(tgz) as archive:
        members = [m for m in archive.getmembers() if m.isfile() and m.name.endswith(".json")
                   and not m.name.endswith(("package.json", ".index.json"))]
        for member in sorted(members, key=lambda m: m.name)[::every]:
            data = archive.extractfile(member).read()  # type: ignore[union-attr]
            (folder / Path(member.name).name).write_bytes(data)
            count, size = count + 1, size + len(data)
    return folder, count, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", default="1,2", help="job counts to compare [default: 1,2]")
    parser.add_argument("--runs", type=int, default=3, help="runs per job count; the median is printed [default: 3]")
    parser.add_argument("--every", type=int, default=1, help="validate every Nth example [default: 1, all]")
    parser.add_argument("--compare-fast-path", action="store_true",
                        help="also run without the FHIRPath fast path (fhirpathpy for every invariant)")
    parser.add_argument("--no-inputs-as-definitions", action="store_true",
                        help="do not take the canonical examples as definitions for the run (samsvar's default does)")
    args = parser.parse_args()
    root = shared_root()
    if root is None:
        print("../shared is not beside the repository; nothing to measure", file=sys.stderr)
        return 2
    folder, count, size = unpack(root / "data" / "fhir-packages" / "hl7.fhir.r4.examples-4.0.1.tgz", args.every)
    options = Options(igs=tuple(hl7_defaults(root)), inputs_as_definitions=not args.no_inputs_as_definitions)
    Validator(options).definitions()  # first use of the disk caches happens here, not in a timed run
    print(f"{count} example resources ({size / 1e6:.0f} MB); {available_cores()} cores available "
          f"({os.cpu_count()} in the machine); {args.runs} runs per job count, medians")
    from samsvar.validators.fhir import fhirpath

    fast = fhirpath.compile_fast
    first: float | None = None
    for jobs in (int(j) for j in args.jobs.split(",")):
        for fast_path in (True, False) if args.compare_fast_path else (True,):
            fhirpath.compile_fast = fast if fast_path else (lambda _tree: None)
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                results = sum(1 for _ in Validator(options).validate_paths([str(folder)], jobs=jobs))
                times.append(time.perf_counter() - started)
                assert results == count, (results, count)
            median = statistics.median(times)
            first = first or median
            label = f"--jobs {jobs}" + ("" if fast_path else ", fast path off")
            print(f"{label:<28} {median:6.1f} s  {count / median:6.0f} resources/s  x{first / median:.2f}  "
                  f"(runs: {', '.join(f'{t:.1f}' for t in times)})")
    fhirpath.compile_fast = fast
    return 0


if __name__ == "__main__":
    sys.exit(main())
