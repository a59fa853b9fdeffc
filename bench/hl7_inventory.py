"""Coverage of HL7's check inventory by samsvar (``validators/fhir/hl7_inventory.tsv``).

    python bench/hl7_inventory.py                 # coverage by family and status
    python bench/hl7_inventory.py --planned       # also list the planned keys, by family
    python bench/hl7_inventory.py --outcomes ../shared/data/peer/hl7-differential/outcomes/default
    python bench/hl7_inventory.py --update-from PATH/TO/Messages.properties

The inventory has one line per message key of HL7's validator (its
``org.hl7.fhir.utilities/src/main/resources/Messages.properties``). The report counts, per
family, the keys samsvar implements, the keys that do not apply to validating an R4 instance
offline, and the keys planned; ``done`` is implemented / (implemented + planned), the share of
the applicable keys samsvar raises. It also names samsvar's FHIR rules that no key maps to.

``--outcomes`` weighs the inventory by what HL7's validator actually said: it reads HL7's
OperationOutcomes under a folder (the ``operationoutcome-message-id`` of every issue) and counts
the issues whose key samsvar implements, plans, or holds not applicable, by severity, and lists
the planned keys HL7 raised most (errors first): what to build next.

``--update-from`` reads the key names of a newer ``Messages.properties`` and adds the keys the
inventory lacks as ``planned`` lines (family guessed from the key, to be reviewed); keys the
file no longer has are listed, not removed. Only key names are taken from HL7's file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
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


MESSAGE_ID = "http://hl7.org/fhir/StructureDefinition/operationoutcome-message-id"


def _message_ids(folder: Path) -> list[tuple[str, str]]:
    """(message id, severity) of every issue in the OperationOutcomes under a folder."""
    found = []
    for path in sorted(folder.rglob("*.json")):
        try:
            outcome = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for issue in outcome.get("issue") or [] if isinstance(outcome, dict) else []:
            for extension in issue.get("extension") or []:
                if extension.get("url") == MESSAGE_ID:
                    found.append((str(extension.get("valueCode") or extension.get("valueString")),
                                  str(issue.get("severity"))))
    return found


def _weighted(entries: list[inventory.Entry], folder: Path) -> int:
    by_key = {e.key: e for e in entries}
    ids = _message_ids(folder)
    if not ids:
        print(f"error: no OperationOutcome issues with a message id under {folder}", file=sys.stderr)
        return 2
    table: dict[str, Counter] = {}
    planned: Counter = Counter()
    for message_id, severity in ids:
        key = inventory.key_of_message_id(message_id, set(by_key))
        status = by_key[key].status if key else "unknown key"
        table.setdefault(status, Counter())[severity] += 1
        if status == "planned":
            planned[(key, severity)] += 1
    print(f"{len(ids)} HL7 issues with a message id under {folder}")
    print(f"{'status':<16} {'error':>7} {'warning':>8} {'information':>12} {'all':>6}")
    for status in (*inventory.STATUSES, "unknown key"):
        counts = table.get(status, Counter())
        total = sum(counts.values())
        print(f"{status:<16} {counts['error']:>7} {counts['warning']:>8} {counts['information']:>12} "
              f"{total:>6} {100.0 * total / len(ids):5.1f}%")
    print("\nplanned keys HL7 raised most (errors first):")
    ranked = sorted(planned.items(), key=lambda kv: (kv[0][1] != "error", -kv[1], kv[0][0]))
    for (key, severity), count in ranked[:30]:
        print(f"  {count:>5} {severity:<12} {by_key[key].family:<16} {key}")
    return 0


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
    parser.add_argument("--outcomes", type=Path, metavar="FOLDER",
                        help="weigh the inventory by the message ids in HL7's OperationOutcomes under FOLDER")
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
    if args.outcomes:
        return _weighted(entries, args.outcomes)
    _report(entries, args.planned)
    return 0


if __name__ == "__main__":
    sys.exit(main())
