"""Bulk validation on Dask, for inputs one machine cannot get through in time.

The inputs (files, folders, globs, NDJSON files, fsspec URLs such as ``s3://bucket/export/``)
become *parts*: batches of whole files, and byte ranges of NDJSON files cut on line boundaries,
so one huge export spreads over every worker. Each worker loads the definitions once (one
validator per run and process) and validates its parts with the same engine as
``samsvar validate``; nothing of the engine knows about Dask.

Line numbers stay those of the whole file: a first pass counts the newlines of every range on
the cluster, and each range is then validated knowing how many lines come before it. A line
belongs to the range that holds its first byte, so every line is validated exactly once.

A task lost with its worker is run again by Dask; its outcome is collected once, and a parquet
part is written under a temporary name and renamed, so nothing is lost or counted twice. A part
that still fails is reported as a finding (``SAMSVAR-001``), never passed over.
"""

from __future__ import annotations

import datetime as dt
import glob
import logging
import os
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ..validators.detect import Kind
from ..validators.issues import EnvironmentProblem, Severity
from ..validators.policy import Policy
from ..validators.runner import (
    INTERNAL, NDJSON_SUFFIXES, VALIDATED_SUFFIXES, Input, Options, Result, Validator, iter_inputs, iter_lines,
)
from .report import Report, Tally
from .session import ValidateRequest, build_report, nothing_checked, prepare, refuse_empty_folders

DEFAULT_PART_BYTES = 32 << 20
"""An NDJSON range of 32 MB (about 10,000 to 30,000 resources): seconds of work per task, so the
scheduler's cost per task (about a millisecond) is noise, and a lost worker costs little."""
FILES_PER_PART, FILE_BYTES_PER_PART = 64, 16 << 20
"""Whole files go out in batches of up to 64 files or 16 MB."""
_GLOB_CHARACTERS = "*?["
CONNECT_TIMEOUT = "20s"
"""How long a client waits for the scheduler of ``--scheduler`` before the run is an environment error."""


class BulkError(EnvironmentProblem):
    """The run cannot start: no Dask installed, a scheduler that does not answer, unreadable inputs (exit 3)."""


@dataclass(frozen=True, slots=True)
class Part:
    """One task: whole files, or the lines of one NDJSON file whose first byte is in [start, end)."""

    index: int
    files: tuple[str, ...] = ()
    ndjson: str | None = None
    start: int = 0
    end: int = 0

    def describe(self) -> str:
        if self.ndjson is not None:
            return f"{self.ndjson} bytes {self.start}-{self.end}"
        return ", ".join(self.files[:3]) + (f" and {len(self.files) - 3} more" if len(self.files) > 3 else "")


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What every task of one run needs: sent with each task (a few KB), cached per worker by token."""

    token: str
    options: Options
    policy: Policy
    fail_on: Severity
    today: dt.date | None
    parquet: str | None
    keep_results: bool
    input_definitions: Any = None
    """The canonical resources among the run's local inputs (``Options.inputs_as_definitions``),
    collected once on the client; inputs given as URLs are not searched for them."""


@dataclass(slots=True)
class PartOutcome:
    index: int
    checked: int = 0
    clean: int = 0
    families: set[str] = field(default_factory=set)
    results: list[Result] = field(default_factory=list)
    """The results with findings, when the run keeps them (every format but parquet needs them)."""
    unkept: Tally = field(default_factory=Tally)
    rules: Counter[str] = field(default_factory=Counter)


# ----------------------------------------------------------------------------- inputs and parts
def _is_url(path: str) -> bool:
    return "://" in path


def list_inputs(paths: tuple[str, ...] | list[str]) -> list[tuple[str, int]]:
    """(path or URL, size) of every artifact, in input order: files as given, folders walked
    (``*.json``, ``*.xml``, ``*.ndjson``, no hidden entries), globs expanded, fsspec URLs listed."""
    found: list[tuple[str, int]] = []
    for raw in paths:
        if raw == "-":
            raise BulkError("standard input cannot be split over a cluster; give files, folders or URLs")
        if _is_url(raw):
            found.extend(_list_url(raw))
        elif any(c in raw for c in _GLOB_CHARACTERS) and not Path(raw).exists():
            for match in sorted(glob.glob(raw, recursive=True)):
                found.extend(_list_local(match))
        else:
            found.extend(_list_local(raw))
    return found


def _list_local(raw: str) -> Iterator[tuple[str, int]]:
    for item in iter_inputs([raw]):
        assert item.path is not None
        try:
            size = item.path.stat().st_size
        except OSError:
            size = 0  # reading it reports the problem where it belongs
        yield item.name, size


def _list_url(url: str) -> Iterator[tuple[str, int]]:
    fsspec = _require("fsspec")
    try:
        fs, root = fsspec.core.url_to_fs(url)
        if any(c in root for c in _GLOB_CHARACTERS):
            matches = sorted(fs.glob(root))
        elif fs.isdir(root):
            matches = sorted(p for p in fs.find(root) if p.lower().endswith(VALIDATED_SUFFIXES)
                             and not any(part.startswith(".") for part in p[len(root):].split("/")))
        else:
            matches = [root]
        for path in matches:
            yield fs.unstrip_protocol(path), int(fs.size(path) or 0)
    except (OSError, ValueError) as exc:
        raise BulkError(f"{url}: {type(exc).__name__}: {exc}") from None


def plan(inputs: list[tuple[str, int]], part_bytes: int = DEFAULT_PART_BYTES) -> list[Part]:
    """The parts of a run, in input order: NDJSON files in ranges of ``part_bytes``, other files in batches."""
    parts: list[Part] = []
    batch: list[str] = []
    batch_bytes = 0

    def flush() -> None:
        nonlocal batch, batch_bytes
        if batch:
            parts.append(Part(len(parts), files=tuple(batch)))
            batch, batch_bytes = [], 0

    for name, size in inputs:
        if name.lower().endswith(NDJSON_SUFFIXES):
            flush()
            ranges = max(1, -(-size // part_bytes))
            for i in range(ranges):
                parts.append(Part(len(parts), ndjson=name, start=i * part_bytes, end=min((i + 1) * part_bytes, size)))
            continue
        batch.append(name)
        batch_bytes += size
        if len(batch) >= FILES_PER_PART or batch_bytes >= FILE_BYTES_PER_PART:
            flush()
    flush()
    return parts


def _input_definitions(options: Options, local: tuple[str, ...]) -> Any:
    """The canonical resources among the local inputs, for every worker (None when there are none)."""
    if not options.inputs_as_definitions:
        return None
    found = Validator(options).with_input_definitions(local).input_definitions
    return found if found is not None and found.resources else None


# ----------------------------------------------------------------------------- on the workers
_VALIDATORS: dict[str, Validator] = {}


def _validator(spec: RunSpec) -> Validator:
    """One validator per run and worker process: the definitions load once, on the first FHIR file."""
    found = _VALIDATORS.get(spec.token)
    if found is None:
        _VALIDATORS.clear()  # a worker serves one run at a time; an earlier run's validator goes
        found = _VALIDATORS[spec.token] = Validator(spec.options)
        found.input_definitions = spec.input_definitions
    return found


def _open(name: str) -> Any:
    if _is_url(name):
        import fsspec

        return fsspec.open(name, "rb").open()
    return open(name, "rb")


def count_newlines(name: str, start: int, end: int) -> int:
    """Newlines in bytes [start, end) of a file (the first pass that numbers the lines of each range)."""
    count = 0
    with _open(name) as handle:
        handle.seek(start)
        left = end - start
        while left > 0:
            chunk = handle.read(min(left, 8 << 20))
            if not chunk:
                break
            count += chunk.count(b"\n")
            left -= len(chunk)
    return count


def _results_of(part: Part, validator: Validator, lines_before: int) -> Iterator[Result]:
    if part.ndjson is not None:
        try:
            handle = _open(part.ndjson)
        except OSError as exc:
            yield Result(part.ndjson, Kind("unknown", "unknown"), None, [INTERNAL.issue(
                f"could not open {part.ndjson}: {exc}", line=1, column=1)])
            return
        with handle:
            handle.seek(part.start)
            for line in iter_lines(part.ndjson, handle, validator.options.limits.max_bytes,
                                   lines_before=lines_before, start=part.start, end=part.end):
                yield validator.validate_item(line)
        return
    for name in part.files:
        if _is_url(name):
            with _open(name) as handle:
                data = handle.read(validator.options.limits.max_bytes + 1)
            yield validator.validate_bytes(name, data)
        else:
            yield validator.validate_input(Input(name, Path(name)))


def validate_part(part: Part, spec: RunSpec, lines_before: int = 0) -> PartOutcome:
    """Validate one part on a worker: policy applied, parquet part written, outcome returned."""
    validator = _validator(spec)
    outcome = PartOutcome(part.index)
    kept: list[Result] = []
    for result in _results_of(part, validator, lines_before):
        result.issues = spec.policy.apply(result.path, result.issues, spec.today)
        outcome.checked += 1
        outcome.families.add(result.kind.family)
        if not result.issues:
            outcome.clean += 1
            continue
        outcome.rules.update(issue.rule for issue in result.issues if not issue.waived)
        kept.append(result)
    if spec.parquet is not None and kept:
        from .reports.parquet import write_part

        write_part(kept, spec.parquet, part.index)
    if spec.keep_results:
        outcome.results = kept
    else:
        for result in kept:
            outcome.unkept.artifacts += 1
            outcome.unkept.failed += any(i.severity >= spec.fail_on and not i.waived for i in result.issues)
            for issue in result.issues:
                key = "waived" if issue.waived else issue.severity.code
                outcome.unkept.counts[key] = outcome.unkept.counts.get(key, 0) + 1
    return outcome


# ----------------------------------------------------------------------------- on the client
def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise BulkError(f"--dask needs the dask extra: pip install 'samsvar[dask]' ({module} is missing)") from None


@dataclass(slots=True)
class BulkRun:
    """What a bulk run reports besides its report: where to watch it and how it was cut."""

    report: Report
    parts: int
    workers: int
    dashboard: str | None
    rules: Counter[str]


def start_client(scheduler: str | None, workers: int | None) -> tuple[Any, Any, str | None]:
    """A client of the scheduler at ``scheduler``, or of a new LocalCluster on this machine (its
    workers on 127.0.0.1), and the link to the Dask dashboard where there is one."""
    distributed = _require("distributed")
    for name in ("distributed", "distributed.worker", "distributed.nanny", "distributed.scheduler"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        if scheduler:
            client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
            return client, None, client.dashboard_link
        try:
            import bokeh  # noqa: F401 - the dashboard needs it; without it there is none, quietly
            dashboard = True
        except ImportError:
            dashboard = False
        cluster = distributed.LocalCluster(
            n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
            host="127.0.0.1", dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL)
        return distributed.Client(cluster), cluster, cluster.dashboard_link if dashboard else None
    except (OSError, TimeoutError) as exc:
        raise BulkError(f"the Dask scheduler {scheduler or '(local)'} did not answer: {exc}") from None


def run_bulk(request: ValidateRequest, *, scheduler: str | None = None, workers: int | None = None,
             part_bytes: int = DEFAULT_PART_BYTES, parquet: str | Path | None = None, keep_results: bool = True,
             on_progress: Callable[[int, int], None] | None = None,
             on_start: Callable[[str | None, int, int], None] | None = None) -> BulkRun:
    """Validate ``request.paths`` on Dask; the report is the one ``samsvar validate`` would give.

    ``keep_results=False`` keeps no result in memory (only counts): for a run whose findings go to
    ``parquet``. ``on_start(dashboard, parts, workers)`` and ``on_progress(done, total)`` let a
    caller show progress.
    """
    policy, fail_on, options = prepare(request)
    local = tuple(path for path in request.paths if not _is_url(path))
    if not request.allow_empty:
        refuse_empty_folders(local)
    inputs = list_inputs(request.paths)
    if not inputs and not request.allow_empty:
        raise nothing_checked(request.paths)
    parts = plan(inputs, part_bytes)
    spec = RunSpec(uuid.uuid4().hex, options, policy, fail_on, request.today,
                   str(Path(parquet).resolve()) if parquet is not None and not _is_url(str(parquet)) else
                   (str(parquet) if parquet is not None else None), keep_results,
                   _input_definitions(options, local))
    if spec.parquet is not None and not _is_url(spec.parquet):
        Path(spec.parquet).mkdir(parents=True, exist_ok=True)
    client, cluster, dashboard = start_client(scheduler, workers)
    try:
        distributed = _require("distributed")
        worker_count = len(client.scheduler_info().get("workers", {}))
        if on_start is not None:
            on_start(dashboard, len(parts), worker_count)
        lines_before = _number_ranges(client, parts)
        futures = [client.submit(validate_part, part, spec, lines_before.get(part.index, 0),
                                 key=f"samsvar-part-{spec.token}-{part.index}", retries=1, pure=False)
                   for part in parts]
        outcomes: dict[int, PartOutcome] = {}
        for done, (future, outcome) in enumerate(distributed.as_completed(futures, with_results=True,
                                                                           raise_errors=False), 1):
            if isinstance(outcome, BaseException) or future.status == "error":
                index = futures.index(future)
                outcome = _failed_part(parts[index], future.exception() if future.status == "error" else outcome)
            outcomes[outcome.index] = outcome
            future.release()  # the outcome is here now; the cluster need not hold it
            if on_progress is not None:
                on_progress(done, len(parts))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    run = _assemble(request, policy, fail_on, options, parts, outcomes, spec.input_definitions)
    run.workers, run.dashboard = worker_count, dashboard
    if not request.allow_empty and not sum(outcome.checked for outcome in outcomes.values()) and not run.report.results:
        raise nothing_checked(request.paths)  # empty NDJSON files: parts, but not one resource
    return run


def _number_ranges(client: Any, parts: list[Part]) -> dict[int, int]:
    """For each NDJSON range, the newlines in its file before it (counted on the cluster)."""
    ranges = [part for part in parts if part.ndjson is not None]
    counts = client.gather([client.submit(count_newlines, p.ndjson, p.start, p.end, pure=False) for p in ranges])
    before: dict[int, int] = {}
    running: dict[str, int] = {}
    for part, count in zip(ranges, counts):
        assert part.ndjson is not None
        before[part.index] = running.get(part.ndjson, 0)
        running[part.ndjson] = before[part.index] + count
    return before


def _failed_part(part: Part, error: BaseException | None) -> PartOutcome:
    name = part.ndjson or (part.files[0] if part.files else "?")
    issue = INTERNAL.issue(f"this part ({part.describe()}) could not be validated on the cluster "
                           f"({type(error).__name__}: {error}); nothing in it counts as checked", line=1, column=1)
    return PartOutcome(part.index, results=[Result(name, Kind("unknown", "unknown"), None, [issue])],
                       rules=Counter([issue.rule]))


def _assemble(request: ValidateRequest, policy: Policy, fail_on: Severity, options: Options, parts: list[Part],
              outcomes: dict[int, PartOutcome], input_definitions: Any = None) -> BulkRun:
    results: list[Result] = []
    families: set[str] = set()
    clean = 0
    unkept = Tally()
    rules: Counter[str] = Counter()
    for part in parts:  # input order
        outcome = outcomes[part.index]
        results.extend(outcome.results)
        families |= outcome.families
        clean += outcome.clean
        unkept.add(outcome.unkept)
        rules.update(outcome.rules)
    validator = Validator(options)
    validator.last_input_definitions = input_definitions
    report = build_report(request, policy, fail_on, options, validator, results, families, clean)
    report.unkept = unkept
    return BulkRun(report, len(parts), 0, None, rules)
