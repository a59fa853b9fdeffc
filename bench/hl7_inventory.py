"""Coverage of HL7's check inventory by samsvar (``validators/fhir/hl7_inventory.tsv``).

    python bench/hl7_inventory.py                 # coverage by family and status
    python bench/hl7_inventory.py --planned       # also list the planned keys, by family
    python bench/hl7_inventory.py --update-from PATH/TO/Messages.properties

The inventory has one line per message key of HL7's validator (its
``org.hl7.fhir.utilities/src/main/resources/Messages.properties``). The report counts, per
family, the keys samsvar implements, the keys that do not apply to validating an R4 instance
offline, and the keys planned; ``done`` is implemented / (implemented + planned), the share of
the applicable keys samsvar raises. It also names samsvar's FHIR rules that no key maps to.

``--update-from`` reads the key names of a newer ``Messages.properties`` and adds the keys the
inventory lacks as ``planned`` lines (family guessed from the key, to be reviewed); keys the
file no longer has are listed, not removed. Only key names are taken from HL7's file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from samsvar.validators.fhir import hl7_inventory as inventory  # noqa: E402
from samsvar.validators.rules import all_rules  # noqa: E402


def _report(entries: list[inventory.Entry], planned: bool) -> None:
    print(f"{'family':<20} {'keys':>5} {'implemented':>13} {'not applicable':>16} {'planned':>13} {'done':>6}")
    for row in inventory.coverage(entries):
        if row.family == "all":
            print("-" * 78)
        cells = [f"{row.counts[s]:>5} {row.share(s):5.1f}%" for s in inventory.STATUSES]
        done = "-" if row.applicable_done is None else f"{row.applicable_done:5.1f}%"
        print(f"{row.family:<20} {row.total:>5} {cells[0]:>13} {cells[1]:>16} {cells[2]:>13} {done:>6}")
    named = {code for e in entries for code in e.rules}
    unmapped = [r.code for r in all_rules() if r.code.startswith("FHIR-") and r.code not in named]
    print(f"\nsamsvar FHIR rules no HL7 key maps to ({len(unmapped)}): {', '.join(unmapped) or '-'}")
    if planned:
        print("\nplanned keys:")
        for entry in sorted((e for e in entries if e.status == "planned"), key=lambda e: (e.family, e.key)):
            print(f"  {entry.family:<20} {entry.key:<60} {entry.what}")


def _update(entries: list[inventory.Entry], properties: Path) -> int:
    try:
        text = properties.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as problem:
        print(f"error: cannot read {properties}: {problem}", file=sys.stderr)
        return 2
    keys = inventory.property_keys(text)
    if not keys:
        print(f"error: {properties} has no message keys", file=sys.stderr)
        return 2
    updated, added, gone = inventory.add_new_keys(entries, keys)
    inventory.INVENTORY.write_text(inventory.render(updated), encoding="utf-8")
    print(f"{len(keys)} keys in {properties.name}: {len(added)} added as planned, "
          f"{len(gone)} no longer there (kept)")
    for key in added:
        print(f"  + {key}")
    for key in gone:
        print(f"  ? {key} (not in {properties.name})")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planned", action="store_true", help="list the planned keys by family")
    parser.add_argument("--update-from", type=Path, metavar="MESSAGES_PROPERTIES",
                        help="add the keys of this Messages.properties that the inventory lacks")
    args = parser.parse_args()
    try:
        entries = inventory.load()
    except (OSError, inventory.InventoryError) as problem:
        print(f"error: {inventory.INVENTORY}: {problem}", file=sys.stderr)
        return 2
    if args.update_from:
        return _update(entries, args.update_from)
    _report(entries, args.planned)
    return 0


if __name__ == "__main__":
    sys.exit(main())
