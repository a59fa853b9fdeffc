"""HL7's check inventory (validators/fhir/hl7_inventory.tsv) stays well-formed and honest.

That every catalogued rule (FHIR-* included) has a fixture that trips it, or a named test, is
tests/test_rule_coverage.py's job; here an inventory line may only say ``implemented`` for
rules that exist and that test_rule_coverage.py counts as proven.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from samsvar.validators.fhir import hl7_inventory as inventory
from samsvar.validators.rules import get_rule

from .test_rule_coverage import PROVEN_BY_TESTS, _codes_in_manifests


@pytest.fixture(scope="module")
def entries() -> list[inventory.Entry]:
    return inventory.load()


def test_the_file_parses_and_is_sorted_one_line_per_key(entries: list[inventory.Entry]) -> None:
    keys = [e.key for e in entries]
    assert len(keys) > 1000, "the inventory should hold every key of HL7's Messages.properties"
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    assert not duplicates, f"keys listed twice: {duplicates}"
    assert keys == sorted(keys), "keep the lines sorted by key (python bench/hl7_inventory.py --update-from sorts them)"
    assert inventory.render(entries) == inventory.INVENTORY.read_text(encoding="utf-8")


def test_columns_take_their_allowed_values(entries: list[inventory.Entry]) -> None:
    bad = [(e.key, e.status, e.family, e.severity) for e in entries
           if e.status not in inventory.STATUSES or e.family not in inventory.FAMILIES
           or e.severity not in inventory.SEVERITIES or not e.what]
    assert not bad, f"status/family/severity outside the allowed sets, or no 'what': {bad[:20]}"


def test_every_line_not_implemented_says_why(entries: list[inventory.Entry]) -> None:
    silent = [e.key for e in entries if e.status != "implemented" and not e.reason]
    assert not silent, f"planned or not-applicable lines without a reason: {silent}"


def test_implemented_lines_name_catalogued_rules_a_fixture_proves(entries: list[inventory.Entry]) -> None:
    proven = _codes_in_manifests() | set(PROVEN_BY_TESTS)
    no_rule = [e.key for e in entries if e.status == "implemented" and not e.rules]
    assert not no_rule, f"implemented lines that name no samsvar rule: {no_rule}"
    unknown = sorted({(e.key, code) for e in entries for code in e.rules if get_rule(code) is None})
    assert not unknown, f"lines naming rule codes samsvar does not catalogue: {unknown}"
    unproven = sorted({(e.key, code) for e in entries if e.status == "implemented"
                       for code in e.rules if code not in proven})
    assert not unproven, f"implemented lines whose rule no fixture or named test trips: {unproven}"


def test_update_adds_new_keys_as_planned_and_keeps_the_others(tmp_path: Path) -> None:
    properties = tmp_path / "Messages.properties"
    properties.write_text(
        "# a comment\n"
        "Known_Key = first line \\\n"
        "   continued = not a key\n"
        "Brand\\ New\\=Key=value\n"
        "QUESTIONNAIRE_QR_NEW_CHECK: value\n"
        "! another comment\n",
        encoding="utf-8",
    )
    assert inventory.property_keys(properties.read_text(encoding="utf-8")) == [
        "Known_Key", "Brand New=Key", "QUESTIONNAIRE_QR_NEW_CHECK"]
    known = inventory.Entry("Known_Key", "other", "x", "", ("FHIR-001",), "implemented", "")
    dropped = inventory.Entry("Old_Key", "other", "y", "", (), "planned", "z")
    updated, added, gone = inventory.add_new_keys([known, dropped], inventory.property_keys(
        properties.read_text(encoding="utf-8")))
    assert added == ["Brand New=Key", "QUESTIONNAIRE_QR_NEW_CHECK"] and gone == ["Old_Key"]
    assert [e.key for e in updated] == sorted(e.key for e in updated)
    new = {e.key: e for e in updated}["QUESTIONNAIRE_QR_NEW_CHECK"]
    assert (new.status, new.family, new.rules) == ("planned", "questionnaire", ()) and new.reason
    reread = inventory.parse(inventory.render(updated))
    assert reread == updated


def test_a_malformed_line_is_a_located_error() -> None:
    header = "\t".join(inventory.COLUMNS)
    with pytest.raises(inventory.InventoryError, match="line 2: 3 columns"):
        inventory.parse(f"{header}\nKEY\tother\tonly three\n")
    with pytest.raises(inventory.InventoryError, match="line 1"):
        inventory.parse("key,family\n")


def test_message_ids_of_hl7_outcomes_find_their_key(entries: list[inventory.Entry]) -> None:
    keys = {e.key for e in entries}
    assert inventory.key_of_message_id("Extension_EXT_Unknown_NotHere", keys) == "Extension_EXT_Unknown_NotHere"
    assert inventory.key_of_message_id("Validation_VAL_Profile_Minimum", keys) == "Validation_VAL_Profile_Minimum_one"
    assert inventory.key_of_message_id("http://hl7.org/fhir/StructureDefinition/Bundle#bdl-7", keys) == "INV_FAILED"
    assert inventory.key_of_message_id("NOT_A_KEY_OF_HL7", keys) is None
