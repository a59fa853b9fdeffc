"""SNOMED CT RF2 snapshot into SQLite: counts, is-a closure, status history, displays, errors."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from samsvar.validators.terminology.formats import snomed_ct_concept_id_problem, snomed_ct_id_problem
from samsvar.validators.terminology.rf2 import Rf2Summary, SnomedStore, load_rf2

from .conftest import FIXTURES

RF2 = FIXTURES / "terminology" / "rf2"
TERMINOLOGY = Path("Snapshot") / "Terminology"
CONCEPTS = TERMINOLOGY / "sct2_Concept_Snapshot_INT_20260101.txt"
RELATIONSHIPS = TERMINOLOGY / "sct2_Relationship_Snapshot_INT_20260101.txt"
DESCRIPTIONS_NO = TERMINOLOGY / "sct2_Description_Snapshot-no_NO1000202_20260101.txt"
US_ENGLISH, NORWEGIAN = "900000000000509007", "61000202103"

MI, HEART, ISCHEMIC, DISEASE, FINDING, ROOT = "22298006", "56265001", "414545008", "64572001", "404684003", "138875005"
DIABETES, TYPE2, HYPERTENSION = "73211009", "44054006", "38341003"
RETIRED, RETIRED_LATER = "1201005", "59621000"


def _open(database: Path) -> Iterator[SnomedStore]:
    with SnomedStore(database) as store:
        yield store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnomedStore]:
    database = tmp_path_factory.mktemp("rf2") / "snomed.sqlite"
    load_rf2(RF2, database)
    yield from _open(database)


@pytest.fixture(scope="module")
def us_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnomedStore]:
    database = tmp_path_factory.mktemp("rf2-us") / "snomed.sqlite"
    load_rf2(RF2, database, language_refset=US_ENGLISH)
    yield from _open(database)


@pytest.fixture(scope="module")
def no_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnomedStore]:
    database = tmp_path_factory.mktemp("rf2-no") / "snomed.sqlite"
    load_rf2(RF2, database, language_refset=NORWEGIAN)
    yield from _open(database)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A writable copy of the fixture snapshot."""
    return Path(shutil.copytree(RF2, tmp_path / "rf2"))


def _edit_line(path: Path, line: int, text: bytes) -> None:
    """Replace line ``line`` (1-based, header is 1) of an RF2 file, keeping its line ends."""
    data = path.read_bytes()
    end = b"\r\n" if b"\r\n" in data else b"\n"
    lines = data.split(end)
    lines[line - 1] = text
    path.write_bytes(end.join(lines))


def _append(path: Path, *rows: str) -> None:
    end = "\r\n" if b"\r\n" in path.read_bytes() else "\n"
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write("".join(row + end for row in rows))


# ------------------------------------------------------------------------------ the fixture itself
def test_fixture_ids_have_valid_check_digits_and_partitions() -> None:
    checked = 0
    for path in RF2.rglob("*.txt"):
        header, *rows = path.read_text(encoding="utf-8").splitlines()
        columns = header.split("\t")
        for row in rows:
            fields = dict(zip(columns, row.split("\t"), strict=True))
            for name, value in fields.items():
                if name in ("effectiveTime", "active", "relationshipGroup", "languageCode", "term"):
                    continue
                if name == "id" and path.name.startswith("der2_"):
                    continue  # reference set members are identified by UUIDs
                assert snomed_ct_id_problem(value) is None, (path.name, name, value)
                checked += 1
            if path.name.startswith("sct2_Concept"):
                assert snomed_ct_concept_id_problem(fields["id"]) is None
            if path.name.startswith("sct2_Description"):
                assert fields["id"][-3:-1] == "01"
            if path.name.startswith("sct2_Relationship"):
                assert fields["id"][-3:-1] == "02"
    assert checked > 200


# -------------------------------------------------------------------------------------- loading
def test_load_counts(tmp_path: Path) -> None:
    summary = load_rf2(RF2, tmp_path / "snomed.sqlite")
    assert summary == Rf2Summary(files=4, concepts=11, active_concepts=9, descriptions=31, is_a=9,
                                 closure=25, language_members=0)
    with_refset = load_rf2(RF2, tmp_path / "us.sqlite", language_refset=US_ENGLISH)
    assert with_refset.files == 6
    assert with_refset.language_members == 22  # the retired member of 7000011013 is left out


def test_database_has_indexes_for_the_lookups(tmp_path: Path) -> None:
    load_rf2(RF2, tmp_path / "snomed.sqlite")
    connection = sqlite3.connect(tmp_path / "snomed.sqlite")
    try:
        plan = " ".join(str(row) for row in connection.execute(
            "EXPLAIN QUERY PLAN SELECT descendant FROM closure WHERE ancestor = 64572001"))
        indexes = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    finally:
        connection.close()
    assert "closure_ancestor" in plan
    assert {"closure_ancestor", "description_concept", "isa_destination"} <= indexes


# -------------------------------------------------------------------------------------- is-a
def test_is_a_is_transitive(store: SnomedStore) -> None:
    for ancestor in (ISCHEMIC, HEART, DISEASE, FINDING, ROOT):
        assert store.is_a(MI, ancestor), ancestor
    assert store.is_a(TYPE2, DISEASE)
    assert not store.is_a(MI, DIABETES)
    assert not store.is_a(FINDING, MI)
    assert not store.is_a(TYPE2, HEART)


def test_is_a_itself_only_when_known(store: SnomedStore) -> None:
    assert store.is_a(MI, MI)
    assert not store.is_a("10000006", "10000006")  # well formed, not in the store
    for garbage in ("", "abc", "022298006", " 22298006", "1" * 19):
        assert not store.is_a(garbage, FINDING)
        assert not store.is_a(MI, garbage)
        assert not store.has_concept(garbage)
        assert store.active(garbage) is None
        assert store.display(garbage) is None


def test_descendants(store: SnomedStore) -> None:
    heart = list(store.descendants(HEART))
    assert sorted(heart) == sorted([ISCHEMIC, MI])  # MI is reached twice but listed once
    assert list(store.descendants(HEART, include_self=True))[0] == HEART
    assert set(store.descendants(DISEASE)) == {HEART, ISCHEMIC, MI, DIABETES, TYPE2, HYPERTENSION}
    assert len(list(store.descendants(ROOT))) == 8  # every active concept but the root
    assert list(store.descendants(MI)) == []
    assert list(store.descendants("10000006", include_self=True)) == []


# ------------------------------------------------------------------------------ status history
def test_latest_effective_time_wins(store: SnomedStore) -> None:
    # 59621000: active in 2002, retired in 2025 (the 2025 row comes first in the file).
    assert store.has_concept(RETIRED_LATER)
    assert store.active(RETIRED_LATER) is False
    assert not store.is_a(RETIRED_LATER, HYPERTENSION)  # its is-a was retired with it
    assert store.active(RETIRED) is False
    assert not store.is_a(RETIRED, HYPERTENSION)
    assert RETIRED_LATER not in set(store.descendants(HYPERTENSION))
    assert store.active(MI) is True
    assert store.active("10000006") is None
    assert not store.has_concept("10000006")


def test_inactive_concept_keeps_its_name(store: SnomedStore) -> None:
    assert store.display(RETIRED) == "Benign essential hypertension (disorder)"
    assert store.display(RETIRED_LATER, "en") == "Essential hypertension"


def test_later_row_in_another_file_wins(folder: Path, tmp_path: Path) -> None:
    extension = folder / "Extension" / "sct2_Concept_Snapshot_NO1000202_20260401.txt"
    extension.parent.mkdir()
    extension.write_text("id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId\n"
                         f"{RETIRED}\t20260401\t1\t51000202101\t900000000000074008\n"
                         f"{MI}\t20010101\t0\t51000202101\t900000000000074008\n", encoding="utf-8")
    load_rf2(folder, tmp_path / "snomed.sqlite")
    with SnomedStore(tmp_path / "snomed.sqlite") as merged:
        assert merged.active(RETIRED) is True
        assert merged.active(MI) is True  # the older row does not win


# -------------------------------------------------------------------------------------- display
def test_display_without_a_language_reference_set(store: SnomedStore) -> None:
    assert store.display(MI) == "Myocardial infarction (disorder)"  # no preference known: the FSN
    # Lowest active description id; 7000011013 "Cardiac infarction" is lower but retired.
    assert store.display(MI, "en") == "Heart attack"
    assert store.display(MI, "no") == "myokardinfarkt"
    assert store.display(ROOT, "no") == "SNOMED CT Concept (SNOMED RT+CTV3)"  # no Norwegian term
    assert store.display(HYPERTENSION, "no") == "høyt blodtrykk"
    assert store.display(MI, "de") == "Myocardial infarction (disorder)"


def test_display_with_us_english(us_store: SnomedStore) -> None:
    assert us_store.display(MI) == "Myocardial infarction"
    assert us_store.display(MI, "en") == "Myocardial infarction"
    assert us_store.display(MI, "en-US") == "Myocardial infarction"
    assert us_store.display(MI, "no") == "myokardinfarkt"  # no Norwegian preferences loaded
    assert us_store.display(RETIRED) == "Benign essential hypertension (disorder)"  # FSN only


def test_display_with_norwegian(no_store: SnomedStore) -> None:
    assert no_store.display(MI, "no") == "hjerteinfarkt"
    assert no_store.display(MI, "nb-NO") == "hjerteinfarkt"
    assert no_store.display(MI, "NO") == "hjerteinfarkt"
    assert no_store.display(MI) == "hjerteinfarkt"
    assert no_store.display(ROOT) == "SNOMED CT Concept (SNOMED RT+CTV3)"
    assert no_store.display(MI, "en") == "Heart attack"


def test_fsn_in_the_requested_language_first(folder: Path, tmp_path: Path) -> None:
    _append(folder / DESCRIPTIONS_NO, "\t".join([
        "7000033010", "20260101", "1", "51000202101", ROOT, "no", "900000000000003001",
        "SNOMED CT-begrep (SNOMED RT+CTV3)", "900000000000017005"]))
    load_rf2(folder, tmp_path / "snomed.sqlite")
    with SnomedStore(tmp_path / "snomed.sqlite") as fsn:
        assert fsn.display(ROOT, "nb") == "SNOMED CT-begrep (SNOMED RT+CTV3)"
        assert fsn.display(ROOT) == "SNOMED CT Concept (SNOMED RT+CTV3)"
        assert fsn.display(ROOT, "sv") == "SNOMED CT Concept (SNOMED RT+CTV3)"


def test_unknown_language_reference_set(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no active members of language reference set 450828004"):
        load_rf2(RF2, tmp_path / "snomed.sqlite", language_refset="450828004")
    with pytest.raises(ValueError, match="language_refset 'en-US' is not a SNOMED CT identifier"):
        load_rf2(RF2, tmp_path / "snomed.sqlite", language_refset="en-US")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(("file", "line", "text", "message"), [
    (CONCEPTS, 4, b"40468400x\t20020131\t1\t900000000000207008\t900000000000074008",
     "id '40468400x' is not a SNOMED CT identifier"),
    (CONCEPTS, 1, b"id\teffectiveTime\tactive\tmoduleId", "missing RF2 concept column(s) definitionStatusId"),
    (CONCEPTS, 3, b"138875005\t20020131\t1\t900000000000207008",
     "expected 5 tab-separated columns, found 4"),
    (CONCEPTS, 2, b"138875005\t2002-01-31\t1\t900000000000207008\t900000000000074008",
     "effectiveTime '2002-01-31' is not a date as YYYYMMDD"),
    (CONCEPTS, 5, b"64572001\t20200131\ttrue\t900000000000207008\t900000000000074008",
     "active 'true' is not 0 or 1"),
    (RELATIONSHIPS, 6, b"8000005026\t20020131\t1\t900000000000207008\t22298006\tMI\t0\t116680003"
                       b"\t900000000000011006\t900000000000451002",
     "destinationId 'MI' is not a SNOMED CT identifier"),
    (RELATIONSHIPS, 2, b"8000001024\t20020131\t1\t900000000000207008\t0404684003\t138875005\t0\t116680003"
                       b"\t900000000000011006\t900000000000451002",
     "sourceId '0404684003' is not a SNOMED CT identifier (1 to 18 digits, no leading zero)"),
    (DESCRIPTIONS_NO, 10, "38341003\t20260101\t1\t51000202101\t38341003\tno\t900000000000013009"
                          "\th\xf8yt\t900000000000448009".encode("latin-1"), "not UTF-8"),
    (DESCRIPTIONS_NO, 3, b"7000025014\t20260101\t1\t51000202101\t64572001\tno\t900000000000013009"
                         b"\t \t900000000000448009", "term is empty"),
])
def test_malformed_file_names_file_and_line(folder: Path, tmp_path: Path, file: Path, line: int,
                                             text: bytes, message: str) -> None:
    database = tmp_path / "snomed.sqlite"
    load_rf2(RF2, database)
    before = database.read_bytes()
    _edit_line(folder / file, line, text)
    with pytest.raises(ValueError) as raised:
        load_rf2(folder, database)
    assert str(raised.value).startswith(f"{folder / file}:{line}: ")
    assert message in str(raised.value)
    assert database.read_bytes() == before  # the old database is left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rf2", "snomed.sqlite"]  # no temp file left


def test_empty_file(folder: Path, tmp_path: Path) -> None:
    (folder / RELATIONSHIPS).write_bytes(b"")
    with pytest.raises(ValueError, match=r"sct2_Relationship_Snapshot_INT_20260101\.txt: empty file"):
        load_rf2(folder, tmp_path / "snomed.sqlite")


def test_missing_files(folder: Path, tmp_path: Path) -> None:
    (folder / RELATIONSHIPS).unlink()
    with pytest.raises(ValueError, match=r"no sct2_Relationship_Snapshot\*\.txt under "):
        load_rf2(folder, tmp_path / "snomed.sqlite")
    with pytest.raises(FileNotFoundError):
        load_rf2(tmp_path / "nowhere", tmp_path / "snomed.sqlite")


def test_is_a_cycle_is_refused(folder: Path, tmp_path: Path) -> None:
    _append(folder / RELATIONSHIPS, "\t".join([
        "8000013025", "20260101", "1", "900000000000207008", ROOT, MI, "0", "116680003",
        "900000000000011006", "900000000000451002"]))
    with pytest.raises(ValueError, match="is-a relationships form a cycle"):
        load_rf2(folder, tmp_path / "snomed.sqlite")


def test_store_refuses_what_is_not_its_database(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        SnomedStore(tmp_path / "missing.sqlite")
    (tmp_path / "text.sqlite").write_text("not a database", encoding="utf-8")
    with pytest.raises(ValueError, match="is not a samsvar SNOMED CT database"):
        SnomedStore(tmp_path / "text.sqlite")
    other = sqlite3.connect(tmp_path / "other.sqlite")
    other.execute("CREATE TABLE concept (id INTEGER)")
    other.close()
    with pytest.raises(ValueError, match="is not a samsvar SNOMED CT database"):
        SnomedStore(tmp_path / "other.sqlite")


def test_store_is_read_only(tmp_path: Path) -> None:
    database = tmp_path / "snomed.sqlite"
    load_rf2(RF2, database)
    before = database.read_bytes()
    with SnomedStore(database) as opened:
        assert opened.has_concept(MI)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            opened._connection.execute("DELETE FROM concept")
    assert database.read_bytes() == before


# ------------------------------------------------------------------------------------ rebuilding
def test_rebuilding_replaces_the_database(folder: Path, tmp_path: Path) -> None:
    database = tmp_path / "snomed.sqlite"
    load_rf2(folder, database)
    with SnomedStore(database) as first:
        assert first.is_a(TYPE2, DIABETES)
    _edit_line(folder / RELATIONSHIPS, 9, b"8000008029\t20260101\t0\t900000000000207008\t44054006"
                                          b"\t73211009\t0\t116680003\t900000000000011006\t900000000000451002")
    _append(folder / CONCEPTS, "10000006\t20260101\t1\t900000000000207008\t900000000000074008")
    summary = load_rf2(folder, database)
    assert (summary.concepts, summary.is_a) == (12, 8)
    with SnomedStore(database) as second:
        assert not second.is_a(TYPE2, DIABETES)
        assert second.has_concept("10000006")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rf2", "snomed.sqlite"]


def test_rebuild_while_a_store_is_open(folder: Path, tmp_path: Path) -> None:
    database = tmp_path / "snomed.sqlite"
    load_rf2(RF2, database)
    with SnomedStore(database) as old:
        _append(folder / CONCEPTS, "10000006\t20260101\t1\t900000000000207008\t900000000000074008")
        load_rf2(folder, database)
        assert not old.has_concept("10000006")  # the open store keeps reading the old file
    with SnomedStore(database) as new:
        assert new.has_concept("10000006")
