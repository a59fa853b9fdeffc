"""Norwegian example messages through samsvar's message rules (run on demand).

    python bench/messages_rules.py [--verbose] [--today YYYY-MM-DD]

Runs :func:`samsvar.validators.messages.packs.check_message` (envelope rules and the standards' rule packs) over every message of
``../shared/data/no/messages``, with the terminology service over ``profiles/terminology``.
Prints, per folder: how many files there are, how many have a root the rules check (MsgHead,
AppRec; others, such as bare lab reports or NAV fellesformat envelopes, are skipped), how many
of those raise rule errors, the errors by rule, and messages per second (parsing included,
reading the files not). ``--verbose`` lists every error.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lxml import etree  # noqa: E402

from tests.shared import shared_root  # noqa: E402

from samsvar.validators.fhir.definitions import Definitions  # noqa: E402
from samsvar.validators.fhir.igs import PROJECT_TERMINOLOGY, ProjectResources  # noqa: E402
from samsvar.validators.issues import Severity  # noqa: E402
from samsvar.validators.load import safe_xml_parser  # noqa: E402
from samsvar.validators.messages.packs import check_message  # noqa: E402
from samsvar.validators.messages.rules import message_kind  # noqa: E402
from samsvar.validators.terminology.service import TerminologyService  # noqa: E402


def messages(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".xml")


def run(folder: Path, today: date | None, verbose: bool) -> None:
    terminology = TerminologyService(Definitions([ProjectResources(PROJECT_TERMINOLOGY)]))
    files = [(p.relative_to(folder).as_posix(), p.read_bytes()) for p in messages(folder)]
    totals: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    by_rule: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    elapsed: collections.Counter[str] = collections.Counter()
    for name, data in files:
        group = name.split("/", 1)[0]
        totals[group]["files"] += 1
        started = time.perf_counter()
        try:
            root = etree.fromstring(data, safe_xml_parser())
        except etree.XMLSyntaxError:
            totals[group]["not well-formed"] += 1
            elapsed[group] += time.perf_counter() - started
            continue
        issues = check_message(root, terminology, today=today)
        elapsed[group] += time.perf_counter() - started
        if message_kind(root) is None:
            continue
        totals[group]["checked"] += 1
        errors = [i for i in issues if i.severity >= Severity.ERROR]
        totals[group]["with errors"] += bool(errors)
        for issue in errors:
            by_rule[group][issue.rule] += 1
            if verbose:
                print(f"  {name}:{issue.line} {issue.rule} {issue.message[:150]}")
    print(f"{'folder':34} {'files':>6} {'checked':>8} {'with errors':>12} {'msg/s':>8}   errors by rule")
    for group in sorted(totals):
        count = totals[group]
        rate = count["files"] / elapsed[group] if elapsed[group] else float("inf")
        rules = ", ".join(f"{rule} {n}" for rule, n in sorted(by_rule[group].items())) or "-"
        print(f"{group:34} {count['files']:>6} {count['checked']:>8} {count['with errors']:>12} {rate:>8.0f}   {rules}")
    all_files, all_time = sum(c["files"] for c in totals.values()), sum(elapsed.values())
    print(f"{'all':34} {all_files:>6} {sum(c['checked'] for c in totals.values()):>8} "
          f"{sum(c['with errors'] for c in totals.values()):>12} {all_files / all_time:>8.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true", help="list every rule error")
    parser.add_argument("--today", type=date.fromisoformat, help="the day of checking (GenDate in the future)")
    args = parser.parse_args()
    shared = shared_root()
    if shared is None:
        print("../shared is not beside the repository (set SAMSVAR_SHARED)", file=sys.stderr)
        return 2
    run(shared / "data" / "no" / "messages", args.today, args.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
