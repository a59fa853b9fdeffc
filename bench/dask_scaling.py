"""Bulk validation on Dask: 1 worker against 2, and against ``--jobs`` on the same input (run on demand).

    python bench/dask_scaling.py [--lines 1000000] [--part-size 32MB] [--workers 1,2]

Writes a generated NDJSON export (bench/ndjson_100k.py's generator: Patients and Observations,
every 50th line with an error) and validates it, in this one process as the client:
- on a LocalCluster of 1 worker, then of 2 workers (``run_bulk``, parquet output only: the client
  keeps counts, not results), printing wall time, resources per second, the speed-up of 2 over 1,
  and the peak RSS of each worker (``getrusage`` in the worker) and of the client;
- with ``samsvar validate FILE --jobs 2`` in a child process (text to /dev/null), for the overhead
  of Dask against the process pool on one machine.
Checks that every run counts exactly the file's resources. Needs ``pip install 'samsvar[dask]'``
and the core package (from ../shared, installed into a temporary cache).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ndjson_100k import write_export  # noqa: E402
from tests.shared import shared_root  # noqa: E402


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_on_cluster(export: Path, workers: int, part_bytes: int, out: Path) -> dict[str, float]:
    import distributed

    from samsvar.conformance.bulk import run_bulk
    from samsvar.conformance.session import ValidateRequest

    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address="127.0.0.1:0", silence_logs=50)
    try:
        start = time.perf_counter()
        run = run_bulk(ValidateRequest(paths=(str(export),), use_config=False, keep_clean=False),
                       scheduler=cluster.scheduler_address, part_bytes=part_bytes, parquet=out, keep_results=False)
        wall = time.perf_counter() - start
        with distributed.Client(cluster) as client:
            rss = sorted(client.run(_peak_rss_mb).values())
    finally:
        cluster.close()
    return {"wall": wall, "files": run.report.summary()["files"], "parts": run.parts, "worker_rss": rss[-1]}


def run_jobs(export: Path, jobs: int, env: dict[str, str]) -> float:
    start = time.perf_counter()
    samsvar = Path(sys.executable).parent / "samsvar"
    subprocess.run([str(samsvar), "validate", str(export), "--jobs", str(jobs), "--no-config"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--part-size", default="32MB")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--no-jobs", action="store_true", help="skip the --jobs comparison")
    args = parser.parse_args()

    from samsvar.validators.fhir.packages import PackageCache
    from samsvar.validators.policy import parse_size

    shared = shared_root()
    if shared is None:
        sys.exit("../shared is not beside the repository (the core package comes from there); set SAMSVAR_SHARED")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        PackageCache(root / "fhir").install_tgz(shared / "data" / "fhir-packages" / "hl7.fhir.r4.core-4.0.1.tgz")
        os.environ["SAMSVAR_FHIR_HOME"] = str(root / "fhir")
        export = root / "export.ndjson"
        write_export(export, args.lines)
        size_mb = export.stat().st_size / 1e6
        print(f"{args.lines:,} resources, {size_mb:.0f} MB, {os.cpu_count()} cores, part size {args.part_size}")
        walls: dict[int, float] = {}
        for workers in [int(w) for w in args.workers.split(",")]:
            figures = run_on_cluster(export, workers, parse_size(args.part_size), root / f"out-{workers}")
            assert figures["files"] == args.lines, f"counted {figures['files']} of {args.lines} resources"
            walls[workers] = figures["wall"]
            print(f"dask {workers} worker(s): {figures['wall']:.1f} s, {args.lines / figures['wall']:,.0f} resources/s, "
                  f"{figures['parts']} parts, peak RSS per worker {figures['worker_rss']:.0f} MB")
        if 1 in walls and 2 in walls:
            print(f"speed-up 2 workers / 1 worker: x{walls[1] / walls[2]:.2f}")
        print(f"client peak RSS {_peak_rss_mb():.0f} MB")
        if not args.no_jobs:
            jobs_wall = run_jobs(export, 2, dict(os.environ))
            print(f"--jobs 2: {jobs_wall:.1f} s, {args.lines / jobs_wall:,.0f} resources/s"
                  + (f"; dask 2 workers / --jobs 2: x{walls[2] / jobs_wall:.2f} of its time" if 2 in walls else ""))


if __name__ == "__main__":
    main()
