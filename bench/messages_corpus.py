"""The real Norwegian messages through ``samsvar validate``'s pipeline (run on demand).

    python bench/messages_corpus.py [--jobs 1,2] [--runs 5] [--repeat 10] [--no-layers]

Installs the Sarepta schema pack from ../shared into a temporary schema home, then validates
every message under ``../shared/data/no/messages`` as ``samsvar validate`` does (schema layer,
then rules) and prints, per folder: messages judged invalid at the schema layer and at the
rule layer (errors), and agreement of the schema verdict with ``XSD_VALIDATION_REPORT.tsv``.

Then the figures: where the time of one message goes (loading, schema layer, rule layer, in one
process once every schema set is compiled), and messages/s of the folder given ``--repeat``
times to ``samsvar validate --jobs N`` (the library's ``validate_paths``) for each job count:
the median of ``--runs`` runs, each with a fresh validator and no compiled schema, as a new
``samsvar validate`` process has (the corpus needs about a hundred schema sets, one per
combination of namespaces; their compilation is in the timing). The results of every run
must be the same, whatever the job count. The machine's core count is printed: compare figures
within one run of this script; on a shared machine absolute figures move with the load.
``bench/messages_schemas.py`` and ``bench/messages_rules.py`` look at one layer each.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.shared import shared_root  # noqa: E402

from samsvar.validators import Options, Severity, Validator  # noqa: E402
from samsvar.validators.runner import available_cores  # noqa: E402


def _report(folder: Path) -> dict[str, str]:
    verdicts: dict[str, str] = {}
    for line in (folder / "XSD_VALIDATION_REPORT.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, status = line.split("\t")[:2]
            verdicts[name.removeprefix("./")] = status
    return verdicts


def _forget_compiled_schemas() -> None:
    """Start as a new process would: no schema set compiled yet."""
    from samsvar.validators.messages import schemas

    schemas._DEFAULT.clear()


def verdicts(messages: Path) -> float:
    """The table of verdicts and agreement (one pass, one job); returns its messages/s."""
    report = _report(messages)
    rows: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    _forget_compiled_schemas()
    started = time.perf_counter()
    results = list(Validator(Options()).validate_paths([str(messages)]))
    elapsed = time.perf_counter() - started
    for result in results:
        name = Path(result.path).relative_to(messages).as_posix()
        issues = result.issues
        schema_errors = any(i.rule == "MSG-XSD-001" or i.severity >= Severity.FATAL for i in issues)
        rule_errors = any(i.severity >= Severity.ERROR and not i.rule.startswith(("MSG-XSD", "INPUT")) for i in issues)
        counts = rows[name.split("/", 1)[0]]
        counts["files"] += 1
        counts["schema-invalid"] += schema_errors
        counts["rule-errors"] += rule_errors
        expected = report.get(name)
        if expected in ("valid", "invalid"):
            counts["compared"] += 1
            counts["agree"] += (expected == "invalid") == schema_errors
    print(f"{'folder':<34} {'files':>6} {'schema-invalid':>15} {'rule errors':>12} {'agree':>9}")
    total: collections.Counter[str] = collections.Counter()
    for folder, counts in sorted(rows.items()):
        total.update(counts)
        print(f"{folder:<34} {counts['files']:>6} {counts['schema-invalid']:>15} {counts['rule-errors']:>12} "
              f"{counts['agree']:>4}/{counts['compared']:<4}")
    print(f"\n{total['files']} files (two of them JSON, as samsvar validate walks the folder): schema verdict agrees with the report on {total['agree']}/{total['compared']}; "
          f"one pass, 1 job: {total['files'] / elapsed:.0f} messages/s (compiling every schema set included)")
    return total["files"] / elapsed


def layers(messages: Path, runs: int) -> None:
    """Mean time per message of each layer, in one process with every schema set compiled."""
    from samsvar.validators.detect import detect
    from samsvar.validators.load import load_bytes
    from samsvar.validators.messages.packs import check_message
    from samsvar.validators.messages.schemas import default_schema_set, schema_issues
    from samsvar.validators.messages.standards import describe, unsupported_issues

    files = [(p.name, p.read_bytes()) for p in sorted(messages.rglob("*")) if p.suffix.lower() == ".xml"]
    terminology = Validator(Options())._message_terminology()
    medians: dict[str, list[float]] = collections.defaultdict(list)
    for run in range(runs + 1):  # the first run compiles and fills the caches; not counted
        spent: collections.Counter[str] = collections.Counter()
        for name, data in files:
            started = time.perf_counter()
            loaded = load_bytes(name, data)
            if loaded.document is None:
                spent["loading"] += time.perf_counter() - started
                continue
            kind, _ = detect(loaded.document)
            checkpoint = time.perf_counter()
            spent["loading"] += checkpoint - started
            if kind.family != "message":
                continue
            root = loaded.document.tree
            unsupported_issues(describe(root))
            schema_issues(root, default_schema_set())
            middle = time.perf_counter()
            spent["schema"] += middle - checkpoint
            check_message(root, terminology)
            spent["rules"] += time.perf_counter() - middle
        if run:
            for layer, seconds in spent.items():
                medians[layer].append(seconds)
    shares = {layer: statistics.median(values) for layer, values in medians.items()}
    whole = sum(shares.values())
    print(f"\nper message, {len(files)} messages, warm (median of {runs}): " + ", ".join(
        f"{layer} {seconds / len(files) * 1e6:.0f} µs ({seconds / whole:.0%})" for layer, seconds in shares.items())
        + f"; together {whole / len(files) * 1e6:.0f} µs = {len(files) / whole:.0f} messages/s on 1 core")


def _one_run(paths: list[str], jobs: int) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (this process and its workers), results, and a digest of them."""
    _forget_compiled_schemas()
    digest = hashlib.sha256()
    count = 0
    before, started = os.times(), time.perf_counter()
    for result in Validator(Options()).validate_paths(paths, jobs=jobs):
        count += 1
        digest.update(repr((result.path, [(i.rule, int(i.severity), i.line) for i in result.issues])).encode())
    wall, after = time.perf_counter() - started, os.times()
    cpu = sum(getattr(after, f) - getattr(before, f) for f in ("user", "system", "children_user", "children_system"))
    return wall, cpu, count, digest.hexdigest()


def throughput(messages: Path, job_counts: list[int], runs: int, repeat: int) -> None:
    """Runs alternate between the job counts, so that a burst of other work on the machine
    falls on all of them alike. CPU seconds (this process and its workers) are printed too:
    they move less with other work than wall time does."""
    paths = [str(messages)] * repeat
    print(f"\nthe folder {repeat} times per run; {available_cores()} cores available ({os.cpu_count()} in the "
          f"machine); {runs} runs per job count, alternating, medians")
    walls: dict[int, list[float]] = collections.defaultdict(list)
    cpus: dict[int, list[float]] = collections.defaultdict(list)
    digests: set[str] = set()
    count = 0
    for _ in range(runs):
        for jobs in job_counts:
            wall, cpu, count, digest = _one_run(paths, jobs)
            walls[jobs].append(wall)
            cpus[jobs].append(cpu)
            digests.add(digest)
    first: float | None = None
    for jobs in job_counts:
        median, cpu = statistics.median(walls[jobs]), statistics.median(cpus[jobs])
        first = first or median
        print(f"--jobs {jobs}: {median:6.2f} s  {count / median:6.0f} messages/s  x{first / median:.2f}  "
              f"(runs: {', '.join(f'{t:.2f}' for t in walls[jobs])}); CPU {cpu:.2f} s, "
              f"{count / cpu:.0f} messages per CPU-second; {count} files a run")
    print("every run gave the same results" if len(digests) == 1 else
          f"RESULTS DIFFER between runs or job counts ({len(digests)} different)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", default="1,2", help="job counts to compare [default: 1,2]")
    parser.add_argument("--runs", type=int, default=5, help="runs per job count; the median is printed [default: 5]")
    parser.add_argument("--repeat", type=int, default=10, help="the folder this many times per run [default: 10]")
    parser.add_argument("--no-layers", action="store_true", help="skip the time per layer")
    args = parser.parse_args()
    root = shared_root()
    if root is None:
        print("../shared is not beside the repository; nothing to measure", file=sys.stderr)
        return 2
    from samsvar.validators.messages.schema_packs import install_schemas

    with tempfile.TemporaryDirectory(prefix="samsvar-schemas-") as home:
        os.environ["SAMSVAR_SCHEMA_HOME"] = home
        install_schemas(root / "data" / "no" / "xsd" / "sarepta-skjema")
        messages = root / "data" / "no" / "messages"
        verdicts(messages)
        if not args.no_layers:
            layers(messages, args.runs)
        throughput(messages, [int(j) for j in args.jobs.split(",")], args.runs, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
