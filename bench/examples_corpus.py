"""Official example corpora through samsvar (run on demand).

    python bench/examples_corpus.py [--verbose] [--only r4|no-basis]

- every resource of hl7.fhir.r4.examples#4.0.1 against the core definitions, with the FHIR
  extensions pack and HL7 terminology loaded as HL7's validator loads them: the official
  examples should produce no errors except a few known-bad ones;
- every example of hl7.fhir.no.basis#2.2.2 with that package loaded (``--ig``), so each is
  also checked against the no-basis profiles it declares in meta.profile.

Prints, per corpus, how many resources raise errors, the errors by rule, and the throughput.
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
from hl7_defaults import hl7_defaults  # noqa: E402

from samsvar.validators import Options, Severity, Validator  # noqa: E402
from samsvar.validators.fhir.packages import PackageCache  # noqa: E402


Example = tuple[str, bytes]


def _examples(tgz: Path, folder: str = "") -> list[Example]:
    with tarfile.open(tgz) as archive:
        return [(m.name, archive.extractfile(m).read()) for m in archive.getmembers()  # type: ignore[union-attr]
                if m.isfile() and m.name.endswith(".json") and m.name.startswith(folder)
                and not m.name.endswith(("package.json", ".index.json"))]


def run_corpus(label: str, examples: list[Example], options: Options, verbose: bool) -> None:
    validator = Validator(options)
    validator.definitions()
    by_rule: collections.Counter[str] = collections.Counter()
    failing = 0
    started = time.perf_counter()
    for name, data in examples:
        result = validator.validate_bytes(name, data)
        errors = [i for i in result.issues if i.severity >= Severity.ERROR]
        failing += bool(errors)
        by_rule.update(i.rule for i in errors)
        if verbose:
            for issue in errors:
                print(f"{name}: {issue.rule} {issue.expression}: {issue.message}")
    elapsed = time.perf_counter() - started
    print(f"{label}: {len(examples)} examples, {failing} with errors ({failing / max(len(examples), 1):.1%}); "
          f"{len(examples) / elapsed:.0f} resources/s on 1 core")
    for code, count in by_rule.most_common():
        print(f"  {code}: {count}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", "-v", action="store_true", help="print every error")
    parser.add_argument("--only", choices=("r4", "no-basis"), help="run one corpus")
    args = parser.parse_args()
    root = shared_root()
    if root is None:
        print("../shared is not beside the repository; nothing to measure", file=sys.stderr)
        return 2
    packages = root / "data" / "fhir-packages"
    cache = Path(tempfile.mkdtemp(prefix="samsvar-bench-"))
    PackageCache(cache).install_tgz(packages / "hl7.fhir.r4.core-4.0.1.tgz")
    if args.only in (None, "no-basis"):
        basis = packages / "hl7.fhir.no.basis-2.2.2.tgz"
        run_corpus("hl7.fhir.no.basis#2.2.2 examples", _examples(basis, "package/examples/"),
                   Options(cache_root=cache, igs=(str(basis),)), args.verbose)
    if args.only in (None, "r4"):
        run_corpus("hl7.fhir.r4.examples#4.0.1", _examples(packages / "hl7.fhir.r4.examples-4.0.1.tgz"),
                   Options(cache_root=cache, igs=tuple(hl7_defaults(root))), args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
