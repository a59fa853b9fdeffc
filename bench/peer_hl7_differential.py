"""Agreement with HL7's Java validator on its judged differential corpus (run on demand).

    python bench/peer_hl7_differential.py [-v] [--json FILE] [--jobs N] [--only TEXT]
                                          [--config allow-example-urls|default]

Reads ``../shared/data/peer/hl7-differential/manifest.json``: official R4 examples, the same
examples with one plausible mistake each, and no-basis examples with one mistake each, with
the OperationOutcome HL7's validator gave for each in two configurations. samsvar validates
every input as HL7 did: the core, HL7 terminology and the FHIR extensions pack loaded
(``bench/hl7_defaults.py``) plus the case's ``ig``. Two pairings:

- samsvar's default (example URLs allowed) against HL7's ``allow-example-urls``;
- samsvar with ``--no-example-urls`` against HL7's ``default``.

Per file: the *verdict* (any error or fatal issue, or none) agrees, and the *set of error
paths* is equal (HL7's ``/*Type/id*/`` annotations ignored, as in
``bench/peer_fhir_test_cases.py``). Issue by issue: each of HL7's error/warning issues has a
samsvar issue at the same path with the same severity. The disagreements are grouped by
*family*: a false error (a samsvar error at a path where HL7 has no error) by samsvar's rule
code, split by what HL7 said there (warning, information or nothing); a missed error (an HL7
error path where samsvar has none) by HL7's message id. ``-v`` lists every disagreeing file,
``--json`` writes every detail.

HL7 validated each group folder (``base``, ``m-ex``, ``m-nob``) in one run, which first loads
the canonical resources among the run's inputs as definitions (a MeasureReport is compared with
the Measure beside it); samsvar does the same with ``Validator.with_input_definitions`` over the
whole group folder, whatever ``--only`` selects. ``--no-inputs-as-definitions`` validates each
input alone, with the packages only.

samsvar runs with ``hl7_paths=True`` (locations as HL7's validator writes them where it differs
from the true location, e.g. fullUrl findings on ``Bundle.entry[0]``). Findings of samsvar's
rules that HL7's validator has no counterpart for (the Norwegian national rules, ``NO-*``: the
checksums of fødselsnummer, D-nummer, HPR-nummer, organisasjonsnummer, ...) are counted apart
as *beyond HL7*, on their own line: they are neither compared with HL7's verdicts nor counted as
false errors.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.shared import shared_root  # noqa: E402
from hl7_defaults import hl7_defaults  # noqa: E402

from samsvar.validators import Options, Severity, Validator  # noqa: E402
from samsvar.validators.fhir.packages import PackageCache  # noqa: E402

_ANNOTATION = re.compile(r"/\*.*?\*/")
_MESSAGE_ID = "http://hl7.org/fhir/StructureDefinition/operationoutcome-message-id"
_SEVERITIES = {"fatal": 3, "error": 2, "warning": 1, "information": 0}
BEYOND_HL7 = ("NO-",)
"""Rule-code prefixes of samsvar's checks that HL7's validator does not make (national rules)."""

PAIRINGS = {
    # HL7 configuration -> samsvar's allow_example_urls
    "allow-example-urls": True,
    "default": False,
}
PAIRING_LABEL = {
    "allow-example-urls": "samsvar default vs HL7 allow-example-urls",
    "default": "samsvar --no-example-urls vs HL7 default",
}


def normalise(path: str | None) -> str:
    """A path as both sides are compared: HL7's ``/*Type/id*/`` annotations dropped."""
    return _ANNOTATION.sub("", path or "")


@dataclass
class Finding:
    """One issue of either side, reduced to what is compared."""

    severity: int
    path: str
    family: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity >= 2

    @property
    def beyond_hl7(self) -> bool:
        """A samsvar rule with no counterpart in HL7's validator (kept apart from the comparison)."""
        return self.family.startswith(BEYOND_HL7)


@dataclass
class FileResult:
    input: str
    group: str
    mutation: dict | None
    hl7: list[Finding]
    ours: list[Finding] = field(default_factory=list)
    problem: str | None = None

    def error_paths(self, side: str) -> set[str]:
        return {f.path for f in getattr(self, side) if f.is_error and not f.beyond_hl7}

    def beyond(self) -> list[Finding]:
        """samsvar errors of rules HL7 has no counterpart for."""
        return [f for f in self.ours if f.is_error and f.beyond_hl7]

    @property
    def verdict_agrees(self) -> bool:
        return self.problem is None and bool(self.error_paths("hl7")) == bool(self.error_paths("ours"))

    @property
    def paths_agree(self) -> bool:
        return self.problem is None and self.error_paths("hl7") == self.error_paths("ours")

    def false_errors(self) -> list[tuple[Finding, str]]:
        """samsvar errors at paths where HL7 has no error, with what HL7 said there."""
        hl7_errors = self.error_paths("hl7")
        said: dict[str, int] = {}
        for f in self.hl7:
            said[f.path] = max(said.get(f.path, -1), f.severity)
        out = []
        for f in self.ours:
            if f.is_error and not f.beyond_hl7 and f.path not in hl7_errors:
                out.append((f, {1: "warning", 0: "information"}.get(said.get(f.path, -1), "nothing")))
        return out

    def missed_errors(self) -> list[Finding]:
        ours = self.error_paths("ours")
        return [f for f in self.hl7 if f.is_error and f.path not in ours]

    def issue_agreement(self) -> tuple[int, int]:
        """(HL7 error/warning issues matched by a samsvar issue of the same path and severity, total)."""
        ours = {(f.path, min(f.severity, 2)) for f in self.ours}
        relevant = [f for f in self.hl7 if f.severity >= 1]
        return sum((f.path, min(f.severity, 2)) in ours for f in relevant), len(relevant)


def hl7_findings(outcome: Path) -> list[Finding]:
    data = json.loads(outcome.read_text(encoding="utf-8"))
    found = []
    for issue in data.get("issue") or []:
        ident = next((e.get("valueCode") for e in issue.get("extension") or [] if e.get("url") == _MESSAGE_ID), None)
        expression = (issue.get("expression") or [None])[0]
        found.append(Finding(_SEVERITIES.get(issue.get("severity"), 0), normalise(expression),
                             ident or "(no message id)", (issue.get("details") or {}).get("text", "")))
    return found


# one process's validators, by (igs, allow_example_urls); filled lazily in each worker
_STATE: dict[str, Any] = {}


def _init(cache: str, defaults: list[str], packages: str, inputs_as_definitions: bool = True) -> None:
    _STATE.update(cache=Path(cache), defaults=defaults, packages=Path(packages), validators={},
                  inputs_as_definitions=inputs_as_definitions)


def _package_path(spec: str) -> str:
    """``name#version`` as the ``.tgz`` in ../shared."""
    name, _, version = spec.partition("#")
    return str(_STATE["packages"] / f"{name}-{version}.tgz")


def _validator(igs: tuple[str, ...], examples: bool, group: Path) -> Validator:
    """HL7 validated each group folder (base, m-ex, m-nob) in one run, which loads the canonical
    resources among the group's inputs as definitions first (a MeasureReport in base finds the
    Measure in base); samsvar does the same over the whole group, whatever ``--only`` picks."""
    key = (igs, examples, group if _STATE.get("inputs_as_definitions", True) else None)
    validators = _STATE["validators"]
    if key not in validators:
        validator = Validator(Options(cache_root=_STATE["cache"], igs=tuple(_STATE["defaults"]) + igs,
                                      allow_example_urls=examples, hl7_paths=True))
        if key[2] is not None:
            validator = validator.with_input_definitions([str(group)])
        validators[key] = validator
    return validators[key]


def _run(job: tuple[dict, str, str]) -> FileResult:
    case, config, corpus = job
    folder = Path(corpus)
    result = FileResult(case["input"], case["group"], case.get("mutation"),
                        hl7_findings(folder / case["hl7"][config]["outcome"]))
    igs = tuple(_package_path(spec) for spec in case.get("ig") or [])
    try:
        validator = _validator(igs, PAIRINGS[config], (folder / case["input"]).parent)
        target = folder / case["input"]
        outcome = validator.validate_bytes(target.name, target.read_bytes())
    except Exception as exc:  # noqa: BLE001 - a bench reports a crash as a disagreement, not a traceback
        result.problem = f"{type(exc).__name__}: {exc}"
        return result
    result.ours = [Finding(int(i.severity), normalise(i.expression), i.rule, i.message) for i in outcome.issues]
    return result


@dataclass
class Summary:
    config: str
    files: int
    verdicts: int
    paths: int
    issues_matched: int
    issues_total: int
    false_error_files: int
    false_errors_where_hl7_clean: int
    false_errors: int
    missed_errors: int
    beyond_hl7: int
    beyond_hl7_files: int
    beyond_by_rule: dict[str, int]
    false_by_family: dict[str, int]
    missed_by_family: dict[str, int]


def summarise(config: str, results: list[FileResult]) -> Summary:
    false_by: collections.Counter[str] = collections.Counter()
    missed_by: collections.Counter[str] = collections.Counter()
    beyond_by: collections.Counter[str] = collections.Counter()
    matched = total = 0
    for r in results:
        beyond_by.update(f.family for f in r.beyond())
        for f, said in r.false_errors():
            false_by[f"{f.family} (HL7: {said})"] += 1
        for f in r.missed_errors():
            missed_by[f.family] += 1
        m, t = r.issue_agreement()
        matched += m
        total += t
    return Summary(
        config=config, files=len(results),
        verdicts=sum(r.verdict_agrees for r in results),
        paths=sum(r.paths_agree for r in results),
        issues_matched=matched, issues_total=total,
        false_error_files=sum(1 for r in results if r.false_errors()),
        false_errors_where_hl7_clean=sum(1 for r in results if not r.error_paths("hl7") and r.error_paths("ours")),
        false_errors=sum(false_by.values()), missed_errors=sum(missed_by.values()),
        beyond_hl7=sum(beyond_by.values()), beyond_hl7_files=sum(1 for r in results if r.beyond()),
        beyond_by_rule=dict(beyond_by.most_common()),
        false_by_family=dict(false_by.most_common()), missed_by_family=dict(missed_by.most_common()),
    )


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / max(whole, 1):.1%})"


def print_summary(s: Summary) -> None:
    print(f"\n== {PAIRING_LABEL[s.config]} ==")
    print(f"verdicts agree:         {_share(s.verdicts, s.files)}")
    print(f"error-path sets equal:  {_share(s.paths, s.files)}")
    print(f"issues (path+severity): {_share(s.issues_matched, s.issues_total)} of HL7's errors and warnings")
    print(f"false errors: {s.false_errors} in {s.false_error_files} files "
          f"({s.false_errors_where_hl7_clean} files where HL7 has no error); missed errors: {s.missed_errors}")
    print(f"beyond HL7 (samsvar rules HL7 has no counterpart for, not compared): {s.beyond_hl7} errors in "
          f"{s.beyond_hl7_files} files" + (f" ({', '.join(f'{k} {v}' for k, v in s.beyond_by_rule.items())})"
                                           if s.beyond_by_rule else ""))
    if s.false_by_family:
        print("false errors by samsvar rule (what HL7 said at that path):")
        for family, count in s.false_by_family.items():
            print(f"  {count:>4}  {family}")
    if s.missed_by_family:
        print("missed errors by HL7 message id:")
        for family, count in s.missed_by_family.items():
            print(f"  {count:>4}  {family}")


def print_disagreements(results: list[FileResult]) -> None:
    for r in results:
        if r.paths_agree:
            continue
        print(f"- {r.input}" + (f"  [{r.mutation['operator']} at {r.mutation['at']}]" if r.mutation else "")
              + (f"  {r.problem}" if r.problem else ""))
        for f in r.missed_errors():
            print(f"    missed {f.family} {f.path}: {f.message[:160]}")
        for f, said in r.false_errors():
            print(f"    false  {f.family} {f.path} (HL7: {said}): {f.message[:160]}")
        for f in r.beyond():
            print(f"    beyond {f.family} {f.path}: {f.message[:160]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", "-v", action="store_true", help="list every disagreeing file")
    parser.add_argument("--json", metavar="FILE", help="write every file's findings and the summaries")
    parser.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--only", help="run only inputs whose path contains this text")
    parser.add_argument("--config", choices=tuple(PAIRINGS), action="append",
                        help="run one pairing (repeatable; default both)")
    parser.add_argument("--no-inputs-as-definitions", action="store_true",
                        help="validate each input alone, without the group's canonical resources as definitions")
    args = parser.parse_args()

    root = shared_root()
    if root is None:
        print("../shared is not beside the repository; nothing to measure", file=sys.stderr)
        return 2
    corpus = root / "data" / "peer" / "hl7-differential"
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    cases = [c for c in manifest["cases"] if not args.only or args.only in c["input"]]
    cache = Path(tempfile.mkdtemp(prefix="samsvar-bench-"))
    PackageCache(cache).install_tgz(root / "data" / "fhir-packages" / "hl7.fhir.r4.core-4.0.1.tgz")
    init = (str(cache), hl7_defaults(root), str(root / "data" / "fhir-packages"),
            not args.no_inputs_as_definitions)

    report: dict[str, Any] = {"validator": manifest.get("validator"), "pairings": {}}
    for config in args.config or list(PAIRINGS):
        jobs = [(c, config, str(corpus)) for c in cases]
        started = time.perf_counter()
        if args.jobs > 1:
            with multiprocessing.get_context("fork").Pool(args.jobs, _init, init) as pool:
                results = pool.map(_run, jobs, chunksize=8)
        else:
            _init(*init)
            results = [_run(job) for job in jobs]
        elapsed = time.perf_counter() - started
        summary = summarise(config, results)
        print_summary(summary)
        print(f"({len(results)} files in {elapsed:.0f} s)")
        if args.verbose:
            print("\ndisagreements:")
            print_disagreements(results)
        report["pairings"][config] = {"summary": asdict(summary), "files": [asdict(r) for r in results]}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
