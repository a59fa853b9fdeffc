"""NDJSON (Bulk Data export) input and the parallel, order-keeping, flat-memory runner."""

from __future__ import annotations

import io
import itertools
import json
import tomllib
from pathlib import Path

import pytest

from samsvar.validators import Options, Validator
from samsvar.validators.load import Limits
from samsvar.validators.runner import Line, available_cores, iter_items, iter_ndjson, resolve_jobs

from .conftest import FIXTURES

NDJSON = FIXTURES / "ndjson"
MANIFEST = tomllib.loads((NDJSON / "expected-lines.toml").read_text(encoding="utf-8"))
PATIENT = ('{"resourceType": "Patient", "id": "p%d", "text": {"status": "generated", "div": '
           '"<div xmlns=\\"http://www.w3.org/1999/xhtml\\">Kari</div>"}, "gender": "%s"}')


def _patients(count: int, bad_every: int = 7) -> str:
    return "".join(PATIENT % (i, "femalex" if i % bad_every == 0 else "female") + "\n" for i in range(1, count + 1))


@pytest.mark.parametrize("case", sorted(MANIFEST))
def test_each_line_is_a_result_with_its_rules_at_its_line(case: str, fhir_cache: Path) -> None:
    path = NDJSON / MANIFEST[case]["file"]
    expected = {int(line): codes for line, codes in MANIFEST[case]["lines"].items()}
    results = list(Validator(Options(cache_root=fhir_cache)).validate_paths([str(path)]))
    assert [r.path for r in results] == [f"{path}:{line}" for line in sorted(expected)]
    for result, line in zip(results, sorted(expected)):
        assert result.source == str(path)
        assert sorted({i.rule for i in result.issues}) == sorted(expected[line]), (line, result.issues)
        for issue in result.issues:
            assert issue.line == line, (line, issue)  # each resource sits on one line of the file
            assert issue.column is not None and issue.column >= 1


def test_the_cli_reports_file_line_column_and_jobs_change_nothing(run) -> None:
    one = run("validate", str(NDJSON), "-f", "json", "--jobs", "1")
    two = run("validate", str(NDJSON), "-f", "json", "--jobs", "2")
    assert one.exit_code == two.exit_code == 1
    assert json.loads(one.stdout)["results"] == json.loads(two.stdout)["results"]
    text = run("validate", str(NDJSON / "broken.ndjson")).stdout
    assert f"{NDJSON / 'broken.ndjson'}:3:" in text and "INPUT-001" in text  # FILE:LINE:COLUMN, as editors read it
    assert f"{NDJSON / 'broken.ndjson'}:3:3:" not in text
    assert "14 files checked" in run("validate", str(NDJSON)).stdout


def test_a_malformed_line_does_not_stop_the_file(run, tmp_path: Path) -> None:
    export = tmp_path / "Patient.ndjson"
    export.write_text(_patients(3) + "{not json\n" + _patients(2), encoding="utf-8")
    report = json.loads(run("validate", str(export), "-f", "json").stdout)
    assert [r["path"].rsplit(":", 1)[1] for r in report["results"]] == ["1", "2", "3", "4", "5", "6"]
    assert [i["rule"] for i in report["results"][3]["issues"]] == ["INPUT-001"]
    assert report["results"][3]["issues"][0]["line"] == 4
    assert all(not r["issues"] for i, r in enumerate(report["results"]) if i != 3)


def test_an_over_size_line_is_skipped_and_located(run, tmp_path: Path) -> None:
    export = tmp_path / "big.ndjson"
    long_line = PATIENT.replace('"id": "p%d"', '"id": "p%d", "language": "' + "x" * 5000 + '"') % (2, "female")
    export.write_text(PATIENT % (1, "female") + "\n" + long_line + "\n" + PATIENT % (3, "female") + "\n",
                      encoding="utf-8")
    report = json.loads(run("validate", str(export), "-f", "json", "--max-size", "2KB").stdout)
    assert [r["path"] for r in report["results"]] == [f"{export}:{n}" for n in (1, 2, 3)]
    big = report["results"][1]["issues"]
    assert [i["rule"] for i in big] == ["INPUT-005"] and big[0]["line"] == 2
    assert f"{len(long_line):,} bytes" in big[0]["message"]
    assert not report["results"][0]["issues"] and not report["results"][2]["issues"]


def test_an_unreadable_export_is_a_located_finding(run, tmp_path: Path) -> None:
    dangling = tmp_path / "gone.ndjson"
    dangling.symlink_to(tmp_path / "nowhere.ndjson")
    outcome = run("validate", str(dangling), "-f", "json")
    assert outcome.exit_code == 1
    assert [[i["rule"] for i in r["issues"]] for r in json.loads(outcome.stdout)["results"]] == [["INPUT-011"]]


class _RecordingFile(io.BytesIO):
    """A file that remembers the largest piece it was asked for."""

    largest = 0

    def readline(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        chunk = super().readline(size)
        _RecordingFile.largest = max(_RecordingFile.largest, len(chunk))
        return chunk

    def read(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        raise AssertionError("an NDJSON file is read line by line, never whole")


class _FakePath:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def open(self, _mode: str) -> _RecordingFile:
        return _RecordingFile(self.data)


def test_lines_are_read_one_at_a_time_within_the_limit() -> None:
    data = (_patients(50) + "{" + " " * 300_000 + "}\n" + _patients(50)).encode()
    _RecordingFile.largest = 0
    lines = list(iter_ndjson("x.ndjson", _FakePath(data), max_bytes=10_000))  # type: ignore[arg-type]
    assert len(lines) == 101 and [line.number for line in lines] == list(range(1, 102))
    assert lines[50].data is None and lines[50].size == 300_002
    assert _RecordingFile.largest <= 1 << 20  # never the file, never more than a chunk of the long line


def test_items_are_produced_lazily(tmp_path: Path) -> None:
    export = tmp_path / "lazy.ndjson"
    export.write_text(_patients(5), encoding="utf-8")
    items = iter_items([str(export)])
    first = next(items)
    assert isinstance(first, Line) and first.number == 1
    with export.open("a", encoding="utf-8") as handle:  # lines are read as they are needed
        handle.write(PATIENT % (6, "female") + "\n")
    assert [item.number for item in items] == [2, 3, 4, 5, 6]  # type: ignore[union-attr]


def test_many_lines_in_parallel_keep_their_order(fhir_cache: Path, tmp_path: Path) -> None:
    export = tmp_path / "many.ndjson"
    export.write_text(_patients(450), encoding="utf-8")  # several batches for each of two workers
    validator = Validator(Options(cache_root=fhir_cache))
    serial = [(r.path, [(i.rule, i.line, i.column) for i in r.issues]) for r in validator.validate_paths([str(export)])]
    parallel = [(r.path, [(i.rule, i.line, i.column) for i in r.issues])
                for r in validator.validate_paths([str(export)], jobs=2)]
    assert parallel == serial
    assert [p for p, issues in parallel if issues] == [f"{export}:{n}" for n in range(7, 451, 7)]


def test_stopping_early_stops_the_workers(fhir_cache: Path, tmp_path: Path) -> None:
    export = tmp_path / "long.ndjson"
    export.write_text(_patients(3000), encoding="utf-8")
    results = Validator(Options(cache_root=fhir_cache)).validate_paths([str(export)], jobs=2)
    first = list(itertools.islice(results, 3))
    results.close()  # shuts the pool down without validating the rest
    assert [r.path for r in first] == [f"{export}:{n}" for n in (1, 2, 3)]


def test_jobs_default_to_every_core() -> None:
    assert resolve_jobs(None) == available_cores() >= 1
    assert resolve_jobs("auto") == resolve_jobs(0) == available_cores()
    assert resolve_jobs(3) == resolve_jobs("3") == 3
    for bad in ("many", -1):
        with pytest.raises(ValueError):
            resolve_jobs(bad)


def test_jobs_in_the_config(run, tmp_path: Path) -> None:
    (tmp_path / "samsvar.toml").write_text('jobs = "auto"\n', encoding="utf-8")
    assert run("validate", str(NDJSON / "valid.ndjson")).exit_code == 0
    (tmp_path / "samsvar.toml").write_text('jobs = "lots"\n', encoding="utf-8")
    outcome = run("validate", str(NDJSON / "valid.ndjson"))
    assert outcome.exit_code == 2 and "jobs" in outcome.stderr


def test_one_item_runs_in_process(fhir_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import samsvar.validators.runner as runner

    def no_pool(*_args, **_kwargs):
        raise AssertionError("a single artifact must not start worker processes")

    monkeypatch.setattr(runner.Validator, "_parallel", no_pool)
    results = list(Validator(Options(cache_root=fhir_cache)).validate_paths(
        [str(FIXTURES / "fhir" / "identifiers" / "valid-fnr.json")], jobs=4))
    assert len(results) == 1 and Limits().max_bytes > 0


def test_text_reports_count_clean_results_without_keeping_them(fhir_cache: Path, tmp_path: Path) -> None:
    from samsvar.conformance.reports import render
    from samsvar.conformance.session import ValidateRequest, run_validate

    export = tmp_path / "export.ndjson"
    export.write_text(_patients(30), encoding="utf-8")
    request = ValidateRequest(paths=(str(export),), use_config=False, cache_root=fhir_cache, jobs=1)
    kept = run_validate(request)
    counted = run_validate(ValidateRequest(paths=(str(export),), use_config=False, cache_root=fhir_cache, jobs=1,
                                           keep_clean=False))
    assert len(kept.results) == 30 and kept.clean == 0
    assert len(counted.results) == 4 and counted.clean == 26  # lines 7, 14, 21, 28 have a finding
    assert counted.summary() == kept.summary() and counted.notices == kept.notices
    assert render(counted, "text") == render(kept, "text")
