"""Norwegian example messages through samsvar's schema layer (run on demand).

    python bench/messages_schemas.py [--verbose] [--pack PATH]

Installs the sarepta-skjema XSDs from ``../shared`` (or ``--pack``, a folder or zip) into a
temporary schema home, then validates every message of ``../shared/data/no/messages`` with
the MsgHead schema and its payloads' schemas in one pass. Prints, per folder, how many messages
samsvar judges valid, invalid, not well-formed or without an installed schema, how often that
verdict agrees with ``XSD_VALIDATION_REPORT.tsv`` (one published lxml run), and messages/s.
The first message of each new set of namespaces pays for compiling its schema; that is in the
timing, as it would be in a real run.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.shared import shared_root  # noqa: E402

from samsvar.validators.load import load_bytes  # noqa: E402
from samsvar.validators.messages.schema_packs import install_schemas  # noqa: E402
from samsvar.validators.messages.schemas import SchemaSet  # noqa: E402

VERDICTS = ("valid", "invalid", "not-wellformed", "no-schema-for-root")


def verdict(schemas: SchemaSet, data: bytes, name: str) -> tuple[str, str]:
    """samsvar's verdict in the report's vocabulary, and the first issue's message."""
    loaded = load_bytes(name, data)
    if loaded.document is None:
        return "not-wellformed", loaded.issues[0].message if loaded.issues else ""
    issues = schemas.validate(loaded.document.tree)
    rules = {i.rule for i in issues}
    first = issues[0].message if issues else ""
    if "MSG-XSD-001" in rules:
        return "invalid", first
    return ("no-schema-for-root" if "MSG-XSD-002" in rules else "valid"), first


def read_report(folder: Path) -> dict[str, str]:
    rows = (folder / "XSD_VALIDATION_REPORT.tsv").read_text(encoding="utf-8").splitlines()
    return {r.split("\t")[0].removeprefix("./"): r.split("\t")[1] for r in rows if r and not r.startswith("#")}


def messages(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".xml")


def run(schemas: SchemaSet, folder: Path, verbose: bool) -> None:
    report = read_report(folder)
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    agreed: collections.Counter[str] = collections.Counter()
    compared: collections.Counter[str] = collections.Counter()
    disagreements: list[str] = []
    files = messages(folder)
    payloads = [(p.relative_to(folder).as_posix(), p.read_bytes()) for p in files]
    started = time.perf_counter()
    for name, data in payloads:
        group = name.split("/", 1)[0]
        mine, first = verdict(schemas, data, name)
        counts[group][mine] += 1
        expected = report.get(name)
        if expected is None:
            continue
        compared[group] += 1
        agreed[group] += mine == expected
        if mine != expected:
            disagreements.append(f"  {name}: report {expected}, samsvar {mine}: {first[:160]}")
        elif verbose and mine == "invalid":
            print(f"  {name}: {first[:160]}")
    elapsed = time.perf_counter() - started
    print(f"{'folder':34} " + " ".join(f"{v:>18}" for v in VERDICTS) + "   agreement")
    for group in sorted(counts):
        cells = " ".join(f"{counts[group][v]:>18}" for v in VERDICTS)
        print(f"{group:34} {cells}   {agreed[group]}/{compared[group]}")
    total, together = sum(compared.values()), sum(agreed.values())
    print(f"\n{len(payloads)} messages ({total} in the report), agreement {together}/{total} "
          f"= {together / max(total, 1):.1%}; {len(payloads) / elapsed:.0f} messages/s on 1 core "
          f"({elapsed:.2f} s, schema compilation included)")
    if disagreements:
        print("disagreements:\n" + "\n".join(disagreements))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print the first error of every invalid message")
    parser.add_argument("--pack", type=Path, help="a folder or zip of XSDs (default: ../shared sarepta-skjema)")
    args = parser.parse_args()
    shared = shared_root()
    if shared is None:
        print("../shared is not beside the repository; set SAMSVAR_SHARED", file=sys.stderr)
        return 2
    pack = args.pack or shared / "data" / "no" / "xsd" / "sarepta-skjema"
    with tempfile.TemporaryDirectory(prefix="samsvar-schemas-") as home:
        started = time.perf_counter()
        info = install_schemas(pack, Path(home))
        print(f"installed {info.name}: {len(info.files)} XSDs, {len(info.namespaces)} namespaces, "
              f"{len(info.skipped)} unreadable, in {time.perf_counter() - started:.2f} s\n")
        run(SchemaSet([info]), shared / "data" / "no" / "messages", args.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
