"""One-file cold start: ``samsvar validate FILE`` as a new process, with and without the disk caches
(run on demand).

    python bench/cold_start.py [--runs 5]

Each scenario runs ``samsvar validate`` in a fresh process (``python -c "from samsvar.cli import
main; main()"``, what the ``samsvar`` script does) against a package cache made from ../shared,
three ways: caches off (``SAMSVAR_NO_CACHE=1``), a cold cache (an empty cache directory: the run
builds the entries) and a warm cache (entries from an earlier run). Prints the median wall time
and peak RSS (``wait4``) of the runs and the core count. Scenarios:

- ``patient``: a Patient against the core definitions;
- ``profiled``: a Patient against samsvar's own Patient profile (differential only: the snapshot is
  generated) on hl7.fhir.no.basis, given as a ``.tgz`` (read from the tarball, or its cached copy);
- ``big-igs``: a Patient with HL7 terminology and the FHIR extensions pack given as ``.tgz``
  (about 60 MB of JSON: without the cache every run decompresses and indexes both);
- ``message``: a Dialogmelding (schema pack not installed; the rule layer).

The issue's target: a one-file cold start under 1 s.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO.parent))
sys.path.insert(0, str(REPO))

from tests.shared import shared_root  # noqa: E402

LAUNCH = "from samsvar.cli import main; main()"


def core_only(tgz: Path, folder: Path) -> Path:
    """A copy of a package tarball whose only dependency is the core (the extensions and
    terminology packs in ../shared name versions of each other that are not there)."""
    target = folder / tgz.name
    with tarfile.open(tgz) as source, tarfile.open(target, "w:gz") as out:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            if member.name.removeprefix("./") == "package/package.json" and data is not None:
                manifest = json.loads(data)
                manifest["dependencies"] = {"hl7.fhir.r4.core": "4.0.1"}
                data = json.dumps(manifest).encode()
                member.size = len(data)
            out.addfile(member, io.BytesIO(data) if data is not None else None)
    return target


def scenarios(root: Path, work: Path) -> dict[str, list[str]]:
    packages = root / "data" / "fhir-packages"
    patient = str(REPO / "fixtures" / "fhir" / "identifiers" / "valid-fnr.json")
    return {
        "patient": [patient],
        "profiled": ["--ig", str(REPO / "profiles" / "fhir"), "--ig", str(packages / "hl7.fhir.no.basis-2.2.2.tgz"),
                     str(REPO / "fixtures" / "fhir" / "samsvar-profiles" / "valid-patient-fnr.json")],
        "big-igs": ["--ig", str(core_only(packages / "hl7.terminology.r4-7.0.1.tgz", work)),
                    "--ig", str(core_only(packages / "hl7.fhir.uv.extensions.r4-5.3.0-ballot-tc1.tgz", work)), patient],
        "message": [str(REPO / "fixtures" / "messages" / "live" / "dialogmelding-valid.xml")],
    }


def once(arguments: list[str], env: dict[str, str]) -> tuple[float, float]:
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", LAUNCH, "validate", "--no-config", *arguments],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=tempfile.gettempdir())
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"samsvar failed: {stderr[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per scenario and mode; medians [default: 5]")
    args = parser.parse_args()
    root = shared_root()
    if root is None:
        print("../shared is not beside the repository; nothing to measure", file=sys.stderr)
        return 2
    from samsvar.validators.fhir.packages import PackageCache

    work = Path(tempfile.mkdtemp(prefix="samsvar-bench-cold-"))
    PackageCache(work / "packages").install_tgz(root / "data" / "fhir-packages" / "hl7.fhir.r4.core-4.0.1.tgz")
    base = {**os.environ, "SAMSVAR_FHIR_HOME": str(work / "packages")}
    base.pop("SAMSVAR_NO_CACHE", None)
    print(f"{os.cpu_count()} cores; median of {args.runs} runs each; wall time and peak RSS of the process")
    print(f"{'scenario':<10} {'caches off':>18} {'cold cache':>18} {'warm cache':>18}")
    for name, arguments in scenarios(root, work).items():
        off = [once(arguments, {**base, "SAMSVAR_NO_CACHE": "1"}) for _ in range(args.runs)]
        cold = []
        for run in range(args.runs):  # an empty cache directory every time
            cold.append(once(arguments, {**base, "SAMSVAR_CACHE_DIR": str(work / f"cold-{name}-{run}")}))
        warm_dir = str(work / f"warm-{name}")
        once(arguments, {**base, "SAMSVAR_CACHE_DIR": warm_dir})  # fills it
        warm = [once(arguments, {**base, "SAMSVAR_CACHE_DIR": warm_dir}) for _ in range(args.runs)]
        cells = [f"{statistics.median(t for t, _ in m):.2f} s {statistics.median(r for _, r in m):4.0f} MB"
                 for m in (off, cold, warm)]
        print(f"{name:<10} {cells[0]:>18} {cells[1]:>18} {cells[2]:>18}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
