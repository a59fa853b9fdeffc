"""A generated NDJSON export of 100,000 lines: wall time and peak memory (run on demand).

    python bench/ndjson_100k.py [--lines 10000,100000] [--jobs 2] [--runs 3]

Writes a Bulk Data style NDJSON file (one resource per line: Patients and Observations that refer
to them, every 50th line with an error) to a temporary folder and runs
``samsvar validate FILE --jobs N`` on it in a child process, as a user would (text report to
/dev/null). Prints per size the median wall time, lines per second, and the peak RSS of the
samsvar process and of its largest worker (``getrusage`` in the child: ``RUSAGE_SELF`` and
``RUSAGE_CHILDREN``), with the core count. Memory must stay flat as the file grows: compare
the two sizes. The issue's target: peak RSS under 300 MB regardless of length.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.shared import shared_root  # noqa: E402

DIV = '<div xmlns="http://www.w3.org/1999/xhtml">bulk</div>'

CHILD = """
import json, resource, sys
from samsvar.cli import main
sys.argv = ["samsvar", *sys.argv[1:]]
try:
    main()
except SystemExit as exit:
    code = exit.code
usage = {"self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
         "workers": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "exit": code}
print("RUSAGE " + json.dumps(usage), file=sys.stderr)
"""


def write_export(path: Path, lines: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(lines):
            if i % 2 == 0:
                resource = {"resourceType": "Patient", "id": f"p{i}", "text": {"status": "generated", "div": DIV},
                            "name": [{"family": "Nordmann", "given": ["Kari"]}],
                            "gender": "femalex" if i % 50 == 0 else "female", "birthDate": "1972-09-13"}
            else:
                resource = {"resourceType": "Observation", "id": f"o{i}", "text": {"status": "generated", "div": DIV},
                            "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                            "category": [{"coding": [{
                                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                "code": "vital-signs"}]}],
                            "subject": {"reference": f"Patient/p{i - 1}"},
                            "effectiveDateTime": "2026-01-01T08:00:00+01:00",
                            "performer": [{"reference": f"Patient/p{i - 1}"}],
                            "valueQuantity": {"value": 60 + i % 40, "unit": "/min",
                                              "system": "http://unitsofmeasure.org", "code": "/min"}}
            out.write(json.dumps(resource) + "\n")


def run(export: Path, jobs: int, cache: Path) -> tuple[float, float, float]:
    env = {**os.environ, "SAMSVAR_FHIR_HOME": str(cache)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, "validate", str(export), "--jobs", str(jobs), "--no-config"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    line = next((l for l in done.stderr.splitlines() if l.startswith("RUSAGE ")), None)
    if line is None or json.loads(line[7:])["exit"] not in (0, 1):
        raise SystemExit(f"samsvar failed: {done.stderr[-2000:]}")
    usage = json.loads(line[7:])
    return elapsed, usage["self"] / 1024, usage["workers"] / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", default="10000,100000", help="lines per export, comma-separated")
    parser.add_argument("--jobs", type=int, default=2, help="--jobs for samsvar [default: 2]")
    parser.add_argument("--runs", type=int, default=3, help="runs per size; medians are printed [default: 3]")
    args = parser.parse_args()
    root = shared_root()
    if root is None:
        print("../shared is not beside the repository; nothing to measure", file=sys.stderr)
        return 2
    from samsvar.validators.fhir.packages import PackageCache

    folder = Path(tempfile.mkdtemp(prefix="samsvar-bench-ndjson-"))
    cache = folder / "packages"
    PackageCache(cache).install_tgz(root / "data" / "fhir-packages" / "hl7.fhir.r4.core-4.0.1.tgz")
    print(f"--jobs {args.jobs}; {os.cpu_count()} cores; median of {args.runs} runs; "
          "peak RSS of the samsvar process and of its largest worker")
    print(f"{'lines':>8} {'MB':>6} {'seconds':>8} {'lines/s':>8} {'RSS main':>9} {'RSS worker':>11}")
    for lines in (int(n) for n in args.lines.split(",")):
        export = folder / f"Patient-{lines}.ndjson"
        write_export(export, lines)
        measured = [run(export, args.jobs, cache) for _ in range(args.runs)]
        elapsed = statistics.median(m[0] for m in measured)
        main_rss = statistics.median(m[1] for m in measured)
        worker_rss = statistics.median(m[2] for m in measured)
        print(f"{lines:>8} {export.stat().st_size / 1e6:>6.1f} {elapsed:>8.1f} {lines / elapsed:>8.0f} "
              f"{main_rss:>7.0f}MB {worker_rss:>9.0f}MB   (runs: {', '.join(f'{m[0]:.1f}' for m in measured)})")
        export.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
