"""One-file cold start: ``samsvar validate FILE`` as a new process, with and without the disk caches
(run on demand).

    python bench/cold_start.py [--runs 5] [--wheel | --python PATH]

``--wheel`` builds the wheel (with the embedded default, from ../shared), installs it into a
fresh virtual environment and measures that installation (what a user gets); ``--python`` uses
an interpreter that has samsvar installed already; without either, this checkout's.

Each scenario runs ``samsvar validate`` in a fresh process (``python -c "from samsvar.cli import
main; main()"``, what the ``samsvar`` script does) against a package cache made from ../shared,
three ways: caches off (``SAMSVAR_NO_CACHE=1``), a cold cache (an empty cache directory: the run
builds the entries) and a warm cache (entries from an earlier run). Prints the median wall time
and peak RSS (``wait4``) of the runs and the core count. Scenarios:

- ``patient``: a Patient against the core definitions, the core installed in the package cache;
- ``embedded``: the same Patient with an empty package cache: the core from the embedded default
  (the wheel's zip; in a development install the pinned tarball beside the checkout);
- ``profiled``: a Patient against samsvar's own Patient profile (differential only: the snapshot is
  generated) on hl7.fhir.no.basis, given as a ``.tgz`` (read from the tarball, or its cached copy);
- ``big-igs``: a Patient with HL7 terminology and the FHIR extensions pack given as ``.tgz``
  (about 60 MB of JSON: without the cache every run decompresses and indexes both);
- ``message``: a Dialogmelding (schema pack not installed; the rule layer).

Targets: a one-file cold start under 1 s; ``embedded`` from an installed wheel under 0.3 s and
no more memory than ``patient`` (issue 15). Compare the figures of one run as ratios: the
machine's load moves wall times between runs.
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
        "embedded": [patient],
        "profiled": ["--ig", str(REPO / "profiles" / "fhir"), "--ig", str(packages / "hl7.fhir.no.basis-2.2.2.tgz"),
                     str(REPO / "fixtures" / "fhir" / "samsvar-profiles" / "valid-patient-fnr.json")],
        "big-igs": ["--ig", str(core_only(packages / "hl7.terminology.r4-7.0.1.tgz", work)),
                    "--ig", str(core_only(packages / "hl7.fhir.uv.extensions.r4-5.3.0-ballot-tc1.tgz", work)), patient],
        "message": [str(REPO / "fixtures" / "messages" / "live" / "dialogmelding-valid.xml")],
    }


def once(arguments: list[str], env: dict[str, str], python: str = sys.executable) -> tuple[float, float, float]:
    """Wall time, CPU time (user + system) and peak RSS (MB) of one run."""
    started = time.perf_counter()
    process = subprocess.Popen([python, "-c", LAUNCH, "validate", "--no-config", *arguments],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=tempfile.gettempdir())
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"samsvar failed: {stderr[-2000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def installed_wheel(work: Path, root: Path) -> str:
    """Build the wheel (embedding from ../shared), install it into a fresh venv; its python."""
    env = {**os.environ, "SAMSVAR_EMBED_FROM": str(root / "data" / "fhir-packages")}
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(REPO)],
                   env=env, check=True, capture_output=True)
    wheel = next((work / "dist").glob("samsvar-*.whl"))
    print(f"wheel: {wheel.name}, {wheel.stat().st_size / 1e6:.1f} MB")
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
    subprocess.run([str(work / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
                   check=True, capture_output=True)
    return str(work / "venv" / "bin" / "python")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per scenario and mode; medians [default: 5]")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--wheel", action="store_true", help="build the wheel and measure it in a fresh venv")
    chosen.add_argument("--python", help="interpreter with samsvar installed [default: this one]")
    parser.add_argument("--only", nargs="*", help="scenarios to run [default: all]")
    args = parser.parse_args()
    root = shared_root()
    if root is None:
        print("../shared is not beside the repository; nothing to measure", file=sys.stderr)
        return 2
    from samsvar.validators.fhir.packages import PackageCache

    work = Path(tempfile.mkdtemp(prefix="samsvar-bench-cold-"))
    python = args.python or (installed_wheel(work, root) if args.wheel else sys.executable)
    PackageCache(work / "packages").install_tgz(root / "data" / "fhir-packages" / "hl7.fhir.r4.core-4.0.1.tgz")
    (work / "empty").mkdir()
    base = {**os.environ, "SAMSVAR_FHIR_HOME": str(work / "packages")}
    base.pop("SAMSVAR_NO_CACHE", None)
    print(f"{os.cpu_count()} cores; median of {args.runs} runs each; wall time (CPU time) and peak RSS of the "
          f"process; {python}")
    print(f"{'scenario':<10} {'caches off':>24} {'cold cache':>24} {'warm cache':>24}")
    chosen = {name: arguments for name, arguments in scenarios(root, work).items() if not args.only or name in args.only}
    envs = {name: {**base, "SAMSVAR_FHIR_HOME": str(work / "empty")} if name == "embedded" else base for name in chosen}
    for name, arguments in chosen.items():
        once(arguments, {**envs[name], "SAMSVAR_CACHE_DIR": str(work / f"warm-{name}")}, python)  # fills it
    measured: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for run in range(args.runs):  # scenarios take turns, so that a change of load hits them alike
        for name, arguments in chosen.items():
            for mode, extra in (("off", {"SAMSVAR_NO_CACHE": "1"}),
                                ("cold", {"SAMSVAR_CACHE_DIR": str(work / f"cold-{name}-{run}")}),  # empty every time
                                ("warm", {"SAMSVAR_CACHE_DIR": str(work / f"warm-{name}")})):
                measured.setdefault((name, mode), []).append(once(arguments, {**envs[name], **extra}, python))
    for name in chosen:
        cells = [f"{statistics.median(w for w, _, _ in m):.2f} s ({statistics.median(c for _, c, _ in m):.2f}) "
                 f"{statistics.median(r for _, _, r in m):3.0f} MB"
                 for m in (measured[(name, mode)] for mode in ("off", "cold", "warm"))]
        print(f"{name:<10} {cells[0]:>24} {cells[1]:>24} {cells[2]:>24}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
