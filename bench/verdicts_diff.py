"""Verdicts of the one-job validation path on the official R4 examples, saved and compared (run on demand).

    python bench/verdicts_diff.py save FILE [--every N] [--limit N]
    python bench/verdicts_diff.py compare FILE [--every N] [--limit N]

Validates, in this process and one resource at a time (``Validator.validate_bytes``), the
resources of ``../shared/data/fhir-packages/hl7.fhir.r4.examples-4.0.1.tgz`` (5,306 of them,
sorted by name; ``--every N`` keeps every Nth, ``--limit N`` the first N of those) with the FHIR
extensions pack and HL7 terminology loaded as in ``examples_corpus.py``. ``save`` writes every
issue as one canonical JSON line (file, rule, severity, expression, line, column, message,
profile, constraint); ``compare`` validates again and prints every line that differs from FILE,
exiting 1 on any difference. Used to show that a speed change leaves every verdict as it was.
Both print the CPU time (``time.process_time``) the validation took, which is less disturbed
than wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.shared import shared_root  # noqa: E402
from hl7_defaults import hl7_defaults  # noqa: E402

from samsvar.validators import Options, Validator  # noqa: E402


def examples(tgz: Path, every: int, limit: int | None) -> list[tuple[str, bytes]]:
    """The example resources, sorted by name, thinned to every Nth and cut to the first ``limit``."""
    with tarfile.open(tgz) as archive:
        members = sorted((m for m in archive.getmembers() if m.isfile() and m.name.endswith(".json")
                          and not m.name.endswith(("package.json", ".index.json"))), key=lambda m: m.name)
        chosen = members[::every][:limit]
        return [(m.name, archive.extractfile(m).read()) for m in chosen]  # type: ignore[union-attr]


def verdicts(every: int, limit: int | None) -> list[str]:
    """One canonical JSON line per issue, in validation order; prints the CPU time taken."""
    root = shared_root()
    if root is None:
        raise SystemExit("../shared is not beside the repository; nothing to compare")
    corpus = examples(root / "data" / "fhir-packages" / "hl7.fhir.r4.examples-4.0.1.tgz", every, limit)
    validator = Validator(Options(igs=tuple(hl7_defaults(root))))
    started = time.process_time()
    validator.definitions()
    loaded = time.process_time()
    lines = []
    for name, data in corpus:
        for issue in validator.validate_bytes(name, data).issues:
            lines.append(json.dumps({
                "file": name, "rule": issue.rule, "severity": issue.severity.name,
                "expression": issue.expression, "line": issue.line, "column": issue.column,
                "message": issue.message, "profile": issue.profile, "constraint": issue.constraint,
            }, sort_keys=True, ensure_ascii=False))
    done = time.process_time()
    print(f"{len(corpus)} resources, {len(lines)} issues; CPU time: definitions {loaded - started:.1f} s, "
          f"validation {done - loaded:.1f} s ({len(corpus) / max(done - loaded, 1e-9):.0f} resources per CPU second)",
          file=sys.stderr)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("save", "compare"))
    parser.add_argument("file", type=Path)
    parser.add_argument("--every", type=int, default=1, help="keep every Nth example [default: 1, all]")
    parser.add_argument("--limit", type=int, default=None, help="keep the first N of those [default: all]")
    args = parser.parse_args()
    lines = verdicts(args.every, args.limit)
    if args.command == "save":
        args.file.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        print(f"saved {len(lines)} issues to {args.file}")
        return 0
    saved = args.file.read_text(encoding="utf-8").splitlines()
    if saved == lines:
        print(f"identical: {len(lines)} issues")
        return 0
    sys.stdout.writelines(difflib.unified_diff([s + "\n" for s in saved], [n + "\n" for n in lines],
                                               str(args.file), "now"))
    print(f"DIFFERENT: {len(saved)} issues saved, {len(lines)} now")
    return 1


if __name__ == "__main__":
    sys.exit(main())
