"""Every official R4 example (hl7.fhir.r4.examples#4.0.1) through samsvar (run on demand).

    python bench/examples_corpus.py [--verbose]

The official examples should produce no errors except a few known-bad ones; prints how many
resources raise errors, the errors by rule, and the throughput in resources/s.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.shared import shared_root  # noqa: E402

from samsvar.validators import Options, Severity, Validator  # noqa: E402
from samsvar.validators.fhir.packages import PackageCache  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", "-v", action="store_true", help="print every error")
    args = parser.parse_args()
    root = shared_root()
    if root is None:
        print("../shared is not beside the repository; nothing to measure", file=sys.stderr)
        return 2
    packages = root / "data" / "fhir-packages"
    cache = Path(tempfile.mkdtemp(prefix="samsvar-bench-"))
    PackageCache(cache).install_tgz(packages / "hl7.fhir.r4.core-4.0.1.tgz")
    with tarfile.open(packages / "hl7.fhir.r4.examples-4.0.1.tgz") as archive:
        examples = [(m.name, archive.extractfile(m).read()) for m in archive.getmembers()  # type: ignore[union-attr]
                    if m.isfile() and m.name.endswith(".json") and not m.name.endswith(("package.json", ".index.json"))]
    validator = Validator(Options(cache_root=cache))
    validator.definitions()
    by_rule: collections.Counter[str] = collections.Counter()
    failing = 0
    started = time.perf_counter()
    for name, data in examples:
        result = validator.validate_bytes(name, data)
        errors = [i for i in result.issues if i.severity >= Severity.ERROR]
        failing += bool(errors)
        by_rule.update(i.rule for i in errors)
        if args.verbose:
            for issue in errors:
                print(f"{name}: {issue.rule} {issue.expression}: {issue.message}")
    elapsed = time.perf_counter() - started
    print(f"{len(examples)} examples, {failing} with errors ({failing / len(examples):.1%}); "
          f"{len(examples) / elapsed:.0f} resources/s on 1 core")
    for code, count in by_rule.most_common():
        print(f"  {code}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
