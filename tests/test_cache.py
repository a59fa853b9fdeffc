"""Disk caches: keyed by content, invalidated by changed inputs, safe against corruption and
concurrent writers, and never the reason a run fails."""

from __future__ import annotations

import json
import multiprocessing
from decimal import Decimal
from pathlib import Path

import pytest

from samsvar.validators import cache
from samsvar.validators.fhir.definitions import Definitions
from samsvar.validators.fhir.fhirpath import compile_expression
from samsvar.validators.fhir.igs import TarballPackage, load_definitions

from .shared import shared_path

NO_BASIS = "hl7.fhir.no.basis-2.2.2.tgz"


@pytest.fixture()
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("SAMSVAR_CACHE_DIR", str(root))
    monkeypatch.delenv("SAMSVAR_NO_CACHE", raising=False)
    return root


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".tmp-"))


def test_values_round_trip_with_decimals() -> None:
    value = {"a": [1, 2.5, "x", None, True], "fixed": Decimal("1.50"), "deep": [{"n": Decimal("-0.0")}]}
    assert cache.decode(cache.encode(value)) == value
    assert str(cache.decode(cache.encode(value))["fixed"]) == "1.50"  # the precision is kept
    with pytest.raises(ValueError):
        cache.encode({"no": object()})


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_a_damaged_entry_is_a_miss_and_is_removed(cache_root: Path, damage: str) -> None:
    store = cache.Store("test", cache_root)
    assert store.put("ab" * 32, {"value": list(range(100))})
    path = store.path("ab" * 32)
    data = path.read_bytes()
    path.write_bytes({"truncate": data[:-7], "flip": data[:-1] + bytes([data[-1] ^ 1]),
                      "garbage": b"\x00" * 80, "empty": b""}[damage])
    assert store.get("ab" * 32) is None
    assert not path.exists()
    assert store.get_or_build("ab" * 32, lambda: {"value": "rebuilt"}) == {"value": "rebuilt"}
    assert store.get("ab" * 32) == {"value": "rebuilt"}


def test_turned_off_or_unwritable_means_no_cache_and_no_error(cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMSVAR_NO_CACHE", "1")
    assert cache.cache_dir() is None
    assert cache.store("fhirpath").get_or_build("k", lambda: 42) == 42
    monkeypatch.delenv("SAMSVAR_NO_CACHE")
    blocker = cache_root / "file-not-folder"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("x")
    store = cache.Store("x", blocker)  # the cache "folder" is a file: every write fails
    assert store.put("cd" * 32, [1]) is False
    assert store.get("cd" * 32) is None


def _write_many(root: str, worker: int) -> None:
    store = cache.Store("race", Path(root))
    for _ in range(40):
        store.put("ef" * 32, {"payload": "x" * 20_000, "same": True})
        value = store.get("ef" * 32)
        assert value is None or value == {"payload": "x" * 20_000, "same": True}, worker


def test_concurrent_writers_never_leave_half_an_entry(cache_root: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_many, args=(str(cache_root), n)) for n in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]
    store = cache.Store("race", cache_root)
    assert store.get("ef" * 32) == {"payload": "x" * 20_000, "same": True}
    assert [p.name for p in _entries(cache_root / "race")] == ["ef" * 31]  # no temporary files left behind


def test_fhirpath_parses_are_reused(cache_root: Path) -> None:
    expression = "name.where(use = 'official').given.count() > 0 and telecom.exists()"
    before = cache.store("fhirpath").hits
    first = compile_expression(expression)
    entries = _entries(cache_root / "fhirpath")
    assert len(entries) == 1
    second = compile_expression(expression)
    assert cache.store("fhirpath").hits == before + 1
    patient = {"resourceType": "Patient", "name": [{"use": "official", "given": ["Kari"]}], "telecom": [{"value": "1"}]}
    assert first(patient) == second(patient) == [True]
    entries[0].write_bytes(b"not an entry")  # corrupt: parsed again, written again
    assert compile_expression(expression)(patient) == [True]
    assert cache.decode(entries[0].read_bytes())["children"]


PROFILE = {
    "resourceType": "StructureDefinition", "url": "http://example.org/StructureDefinition/cached-patient",
    "name": "CachedPatient", "status": "draft", "kind": "resource", "abstract": False, "type": "Patient",
    "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient", "derivation": "constraint",
    "differential": {"element": [{"id": "Patient.gender", "path": "Patient.gender", "min": 1}]},
}


def _generated(fhir_cache: Path, profile: dict) -> tuple[Definitions, list[dict]]:
    definitions, _ = load_definitions("hl7.fhir.r4.core#4.0.1", (), fhir_cache)
    definitions.add_resource(profile)
    elements = definitions.snapshot_elements(profile["url"])
    assert elements is not None
    return definitions, elements


def _gender(elements: list[dict]) -> dict:
    return next(e for e in elements if e["id"] == "Patient.gender")


def test_generated_snapshots_are_reused_and_follow_their_inputs(cache_root: Path, fhir_cache: Path) -> None:
    _, generated = _generated(fhir_cache, PROFILE)
    assert len(_entries(cache_root / "snapshots")) == 1
    hits = cache.store("snapshots").hits
    _, reused = _generated(fhir_cache, PROFILE)
    assert cache.store("snapshots").hits == hits + 1
    assert reused == generated and _gender(reused)["min"] == 1
    changed = json.loads(json.dumps(PROFILE))
    changed["differential"]["element"][0]["max"] = "0"
    changed["differential"]["element"][0]["min"] = 0
    _, regenerated = _generated(fhir_cache, changed)  # a changed profile is a new key
    assert _gender(regenerated)["max"] == "0" and len(_entries(cache_root / "snapshots")) == 2


def test_the_generator_source_is_part_of_the_key(cache_root: Path, fhir_cache: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    definitions, _ = _generated(fhir_cache, PROFILE)
    key = cache.snapshot_key(definitions.fingerprint(), PROFILE["url"])
    monkeypatch.setattr(cache, "_generator_digest", lambda: "another generator")
    assert cache.snapshot_key(definitions.fingerprint(), PROFILE["url"]) != key


def test_tarballs_are_unpacked_once_and_read_lazily(cache_root: Path) -> None:
    tgz = shared_path("fhir-packages", NO_BASIS)
    fresh = TarballPackage(tgz)
    assert isinstance(fresh._files, dict)
    unpacked = TarballPackage(tgz)
    assert isinstance(unpacked._files, cache.CachedFiles)
    assert unpacked.index == fresh.index and unpacked.manifest == fresh.manifest
    assert unpacked.sha256 == fresh.sha256 == cache.file_sha256(tgz)
    name = next(e["filename"] for e in fresh.index if e.get("resourceType") == "StructureDefinition")
    assert unpacked.load(name) == fresh.load(name)
    (cache.cache_dir() / "tarballs" / fresh.sha256 / "package" / name).unlink()  # type: ignore[operator]
    assert TarballPackage(tgz).load(name) == fresh.load(name)  # a lost file: read from the tarball
    (cache.cache_dir() / "tarballs" / fresh.sha256 / "meta.bin").write_bytes(b"corrupt")  # type: ignore[operator]
    again = TarballPackage(tgz)  # a corrupt entry: unpacked anew
    assert isinstance(again._files, dict) and again.index == fresh.index
    assert isinstance(TarballPackage(tgz)._files, cache.CachedFiles)


def test_a_run_with_a_warm_cache_reports_the_same(run, cache_root: Path) -> None:
    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "fhir" / "samsvar-profiles"
    args = ("validate", "--ig", str(fixtures.parent.parent.parent / "profiles" / "fhir"),
            "--ig", str(shared_path("fhir-packages", NO_BASIS)), "-f", "json", "--jobs", "1",
            str(fixtures / "valid-patient-fnr.json"), str(fixtures / "patient-two-fnr.json"))
    cold = json.loads(run(*args).stdout)
    assert _entries(cache_root / "snapshots") and _entries(cache_root / "tarballs")
    warm = json.loads(run(*args).stdout)
    assert warm["results"] == cold["results"]
