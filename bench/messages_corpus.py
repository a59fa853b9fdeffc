"""The real Norwegian messages through ``samsvar validate``'s pipeline (run on demand).

    python bench/messages_corpus.py

Installs the Sarepta schema pack from ../shared into a temporary schema home, then validates
every message under ``../shared/data/no/messages`` as ``samsvar validate`` does (schema layer,
then rules) and prints, per folder: messages judged invalid at the schema layer and at the
rule layer (errors), agreement of the schema verdict with ``XSD_VALIDATION_REPORT.tsv``, and
messages/s. ``bench/messages_schemas.py`` and ``bench/messages_rules.py`` look at one layer each.
"""

from __future__ import annotations

import collections
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.shared import shared_root  # noqa: E402

from samsvar.validators import Options, Severity, Validator  # noqa: E402


def _report(folder: Path) -> dict[str, str]:
    verdicts: dict[str, str] = {}
    for line in (folder / "XSD_VALIDATION_REPORT.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, status = line.split("\t")[:2]
            verdicts[name.removeprefix("./")] = status
    return verdicts


def main() -> int:
    root = shared_root()
    if root is None:
        print("../shared is not beside the repository; nothing to measure", file=sys.stderr)
        return 2
    os.environ["SAMSVAR_SCHEMA_HOME"] = tempfile.mkdtemp(prefix="samsvar-schemas-")
    from samsvar.validators.messages.schemas import install_schemas

    install_schemas(root / "data" / "no" / "xsd" / "sarepta-skjema")
    messages = root / "data" / "no" / "messages"
    report = _report(messages)
    validator = Validator(Options())
    rows: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    started = time.perf_counter()
    for path in sorted(p for p in messages.rglob("*") if p.suffix.lower() == ".xml"):
        name = path.relative_to(messages).as_posix()
        folder = name.split("/", 1)[0]
        issues = validator.validate_bytes(name, path.read_bytes()).issues
        schema_errors = any(i.rule == "MSG-XSD-001" or i.severity >= Severity.FATAL for i in issues)
        rule_errors = any(i.severity >= Severity.ERROR and not i.rule.startswith(("MSG-XSD", "INPUT")) for i in issues)
        counts = rows[folder]
        counts["files"] += 1
        counts["schema-invalid"] += schema_errors
        counts["rule-errors"] += rule_errors
        expected = report.get(name)
        if expected in ("valid", "invalid"):
            counts["compared"] += 1
            counts["agree"] += (expected == "invalid") == schema_errors
    elapsed = time.perf_counter() - started
    print(f"{'folder':<34} {'files':>6} {'schema-invalid':>15} {'rule errors':>12} {'agree':>9}")
    total: collections.Counter[str] = collections.Counter()
    for folder, counts in sorted(rows.items()):
        total.update(counts)
        print(f"{folder:<34} {counts['files']:>6} {counts['schema-invalid']:>15} {counts['rule-errors']:>12} "
              f"{counts['agree']:>4}/{counts['compared']:<4}")
    print(f"\n{total['files']} messages: schema verdict agrees with the report on {total['agree']}/{total['compared']}; "
          f"{total['files'] / elapsed:.0f} messages/s on 1 core (schema compilation included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
