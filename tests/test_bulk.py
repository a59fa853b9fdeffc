"""Bulk validation on Dask: byte ranges on line boundaries, the same findings as a plain run,
parquet output, and no part lost or counted twice when a worker dies (real LocalClusters)."""

from __future__ import annotations

import io
import json
import os
import signal
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import given, settings, strategies as st

from samsvar.conformance.bulk import Part, count_newlines, list_inputs, plan, run_bulk
from samsvar.conformance.session import ValidateRequest, run_validate
from samsvar.validators.issues import Severity
from samsvar.validators.policy import Policy
from samsvar.validators.runner import Options, iter_lines, iter_ndjson

distributed = pytest.importorskip("distributed", reason="the dask extra is part of the test extras")
pq = pytest.importorskip("pyarrow.parquet", reason="the dask extra is part of the test extras")

DIV = '<div xmlns="http://www.w3.org/1999/xhtml">bulk</div>'


def _export(path: Path, lines: int) -> Path:
    """Patients and Observations, every 25th Patient with a wrong gender code, a blank line now and then."""
    with path.open("w", encoding="utf-8") as out:
        for i in range(lines):
            if i % 2 == 0:
                resource = {"resourceType": "Patient", "id": f"p{i}", "text": {"status": "generated", "div": DIV},
                            "gender": "femalex" if i % 50 == 0 else "female"}
            else:
                resource = {"resourceType": "Observation", "id": f"o{i}", "text": {"status": "generated", "div": DIV},
                            "status": "final", "code": {"text": "pulse"}, "subject": {"reference": f"Patient/p{i - 1}"},
                            "effectiveDateTime": "2026-01-01", "performer": [{"reference": "Practitioner/d"}]}
            out.write(json.dumps(resource) + ("\n\n" if i % 97 == 0 else "\n"))
    return path


def _findings(results) -> list[tuple[str, str, int | None, int | None, str | None]]:
    return [(r.path, i.rule, i.line, i.column, i.expression) for r in results for i in r.issues]


# ----------------------------------------------------------------------------- ranges, no cluster
@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.sampled_from([b"", b"{}", b'{"a": 1}', b"  ", b"x" * 40, b"\r"]), max_size=40),
       cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=6))
def test_byte_ranges_hold_every_line_once_with_its_number_in_the_file(lines: list[bytes], cuts: list[int]) -> None:
    data = b"\n".join(lines)
    whole = [(line.number, line.data) for line in iter_lines("f", io.BytesIO(data), 1 << 20)]
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    pieces: list[tuple[int, bytes | None]] = []
    before = 0
    for start, end in zip(bounds, bounds[1:]):
        handle = io.BytesIO(data)
        handle.seek(start)
        pieces += [(line.number, line.data) for line in iter_lines("f", handle, 1 << 20, lines_before=before,
                                                                   start=start, end=end)]
        before += data[start:end].count(b"\n")
    assert pieces == whole


def test_ranges_agree_with_the_file_reader_and_with_the_newline_count(tmp_path: Path) -> None:
    export = _export(tmp_path / "export.ndjson", 500)
    size = export.stat().st_size
    parts = plan([(str(export), size)], part_bytes=997)
    assert parts[0].start == 0 and parts[-1].end == size
    assert all(a.end == b.start for a, b in zip(parts, parts[1:]))
    assert sum(count_newlines(str(export), p.start, p.end) for p in parts) == export.read_bytes().count(b"\n")


def test_plan_batches_files_and_splits_ndjson(tmp_path: Path) -> None:
    inputs = [(f"f{i}.json", 10) for i in range(70)] + [("big.ndjson", 100)] + [("last.xml", 10)]
    parts = plan(inputs, part_bytes=30)
    assert [len(p.files) for p in parts if p.files] == [64, 6, 1]
    assert [(p.start, p.end) for p in parts if p.ndjson] == [(0, 30), (30, 60), (60, 90), (90, 100)]
    assert [p.index for p in parts] == list(range(len(parts)))


def test_inputs_are_listed_as_the_plain_run_lists_them_and_urls_through_fsspec(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.json").write_text("{}")
    (tmp_path / "a" / ".hidden.json").write_text("{}")
    (tmp_path / "a" / "notes.txt").write_text("no")
    (tmp_path / "b.ndjson").write_text("{}\n")
    local = [name for name, _ in list_inputs([str(tmp_path / "a"), str(tmp_path / "*.ndjson")])]
    assert local == [str(tmp_path / "a" / "x.json"), str(tmp_path / "b.ndjson")]
    urls = [name for name, _ in list_inputs([f"file://{tmp_path}/a"])]
    assert urls == [f"file://{tmp_path}/a/x.json"]


# ----------------------------------------------------------------------------- on a LocalCluster
@pytest.fixture(scope="module")
def cluster(fhir_cache: Path) -> Iterator[str]:
    """Two worker processes on 127.0.0.1 that see the test's package cache."""
    previous = os.environ.get("SAMSVAR_FHIR_HOME")
    os.environ["SAMSVAR_FHIR_HOME"] = str(fhir_cache)
    local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     dashboard_address="127.0.0.1:0", silence_logs=50)
    try:
        yield local.scheduler_address
    finally:
        local.close()
        if previous is None:
            os.environ.pop("SAMSVAR_FHIR_HOME", None)
        else:
            os.environ["SAMSVAR_FHIR_HOME"] = previous


def test_a_dask_run_finds_what_a_plain_run_finds(cluster: str, env_cache: Path, tmp_path: Path) -> None:
    export = _export(tmp_path / "export.ndjson", 1200)
    single = tmp_path / "single.json"
    single.write_text(json.dumps({"resourceType": "Patient", "gender": "banana"}))
    request = ValidateRequest(paths=(str(export), str(single)), use_config=False)
    plain = run_validate(request)
    run = run_bulk(request, scheduler=cluster, part_bytes=4096, parquet=tmp_path / "issues")
    assert run.parts > 10 and run.workers == 2
    assert _findings(run.report.results) == _findings(plain.results)
    assert run.report.summary() == plain.summary()
    table = pq.read_table(tmp_path / "issues").to_pylist()
    assert len(table) == len(plain.issues)
    gender = [row for row in table if row["rule"] == "FHIR-BIND-001" and row["resource_type"] == "Patient"]
    assert {(row["file"], row["line"]) for row in gender} >= {(str(export), 1)}
    assert all(row["id"] and row["id"].startswith("p") for row in gender if row["file"] == str(export))


def test_a_killed_worker_loses_no_part_and_counts_none_twice(fhir_cache: Path, env_cache: Path,
                                                              tmp_path: Path) -> None:
    export = _export(tmp_path / "export.ndjson", 3000)
    resources = sum(1 for _ in iter_ndjson("x", export, 1 << 20))
    local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     dashboard_address="127.0.0.1:0", silence_logs=50)
    try:
        with distributed.Client(local) as watcher:
            pids = list(watcher.run(os.getpid).values())
        killed: list[int] = []

        def kill_one(done: int, total: int) -> None:
            if done == 3 and not killed:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])

        run = run_bulk(ValidateRequest(paths=(str(export),), use_config=False, keep_clean=False),
                       scheduler=local.scheduler_address, part_bytes=8192, parquet=tmp_path / "issues",
                       keep_results=False, on_progress=kill_one)
    finally:
        local.close()
    assert killed, "the worker was not killed mid-run"
    summary = run.report.summary()
    assert summary["files"] == resources  # every line once: none lost, none twice
    assert summary["issues"]["error"] == 60 and summary["files_failed"] == 60  # every 50th line
    rows = pq.read_table(tmp_path / "issues").to_pylist()
    assert len(rows) == sum(summary["issues"][s] for s in ("fatal", "error", "warning", "information"))
    assert len({(r["file"], r["line"], r["rule"]) for r in rows}) == len(rows)
    assert not list((tmp_path / "issues").glob(".*.tmp"))


def test_a_part_that_cannot_be_read_is_a_finding_not_a_pass(tmp_path: Path) -> None:
    missing = Part(0, ndjson=str(tmp_path / "gone.ndjson"), start=0, end=10)
    from samsvar.conformance import bulk

    outcome = bulk.validate_part(missing, bulk.RunSpec("t", Options(), Policy(), Severity.ERROR, None, None, True))
    assert [i.rule for r in outcome.results for i in r.issues] == ["SAMSVAR-001"]


# ----------------------------------------------------------------------------- the command line
def test_cli_dask_with_parquet_only_prints_the_summary_and_fails_on_errors(cluster: str, run, tmp_path: Path) -> None:
    export = _export(tmp_path / "export.ndjson", 200)
    outcome = run("validate", str(export), "--scheduler", cluster, "--part-size", "2KB",
                  "-f", "parquet", "-o", str(tmp_path / "out"))
    assert outcome.exit_code == 1, outcome.stderr
    assert "200 files checked: 4 failed" in outcome.stderr
    assert pq.read_table(tmp_path / "out").num_rows == 4


def test_cli_parquet_without_dask_and_its_usage_errors(run, tmp_path: Path) -> None:
    export = _export(tmp_path / "export.ndjson", 100)
    done = run("validate", str(export), "-f", "parquet", "-o", str(tmp_path / "out"), "-f", "text")
    assert done.exit_code == 1 and "100 files checked" in done.stdout
    assert pq.read_table(tmp_path / "out").num_rows == 2
    duckdb = pytest.importorskip("duckdb", reason="the README's query example uses DuckDB (a test extra)")
    by_rule = duckdb.sql(  # the README's example query, as written there
        f"SELECT rule, severity, count(*) AS n FROM '{tmp_path}/out/*.parquet' GROUP BY ALL ORDER BY n DESC").fetchall()
    assert by_rule == [("FHIR-BIND-001", "error", 2)]
    assert run("validate", str(export), "-f", "parquet").exit_code == 2
    assert run("validate", "-", "--dask", input=b"{}").exit_code == 2


def test_an_unreachable_scheduler_is_an_environment_error(run, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from samsvar.conformance import bulk

    monkeypatch.setattr(bulk, "CONNECT_TIMEOUT", "2s")
    export = _export(tmp_path / "export.ndjson", 10)
    done = run("validate", str(export), "--scheduler", "tcp://127.0.0.1:9")
    assert done.exit_code == 3 and "did not answer" in done.stderr


def test_nothing_to_check_on_a_cluster_is_exit_5_too(cluster: str, run, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "blank.ndjson").write_text("\n\n")
    assert run("validate", str(tmp_path / "empty"), "--scheduler", cluster).exit_code == 5
    assert run("validate", str(tmp_path / "blank.ndjson"), "--scheduler", cluster).exit_code == 5
    assert run("validate", f"file://{tmp_path}/empty", "--scheduler", cluster).exit_code == 5
    assert run("validate", str(tmp_path / "empty"), "--scheduler", cluster, "--allow-empty").exit_code == 0
