"""Agreement with HL7's Java validator on part of its own test suite (run on demand).

    python bench/peer_fhir_test_cases.py [--verbose] [--only NAME]

Reads ``../shared/data/peer/fhir-test-cases/manifest.r4-offline.json``. For every validation
step of every case (``base``, and ``profile`` where the case has a profile) samsvar validates
the file with the case's supporting files (``--ig``) and profile (``--profile``); the step
agrees when samsvar's set of error paths (error and fatal issues) equals the Java
validator's. HL7's ``/*Type/id*/`` annotations in paths are ignored. The harness options
samsvar has an equivalent for are passed on: ``examples`` (HL7's harness allows example URLs
unless it is false) as samsvar's example-urls option, and ``validateContains: IGNORE`` as
``--no-contained``, and the harness's resource fetcher (every URL but example.org ones
resolves) as ``resolve_urls=False``, and ``assumeValidRestReferences`` as
``assume_valid_rest_references``, ``security-checks`` as ``security_checks`` and
``noHtmlInMarkdown`` as ``html_in_markdown="error"``, ``validateReference`` as
``reference_policy`` with the case's ``reference_targets`` (the files the harness's fetcher
resolves references to). Locations are compared as HL7 writes them (samsvar's ``hl7_paths``;
``--true-paths`` for samsvar's own). Prints the share per topic, for the
``clean`` tier, overall, and (``--verbose``) every disagreement.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.shared import shared_root  # noqa: E402
from hl7_defaults import hl7_defaults  # noqa: E402

from samsvar.validators import EnvironmentProblem, Options, Severity, Validator  # noqa: E402
from samsvar.validators.fhir.packages import PackageCache  # noqa: E402

_ANNOTATION = re.compile(r"/\*.*?\*/")
_POLICIES = {"IGNORE": "ignore", "CHECK_TYPE_IF_EXISTS": "ignore", "CHECK_EXISTS": "exists",
             "CHECK_EXISTS_AND_TYPE": "type", "CHECK_VALID": "valid"}
"""HL7's reference validation policies (the harness's validateReference) as samsvar's reference_policy."""


@dataclass
class Step:
    case: dict
    step: str
    expected: set[str]
    found: set[str] | None = None
    error: str | None = None

    @property
    def agrees(self) -> bool:
        return self.found is not None and self.found == self.expected


def _normalise(path: str) -> str:
    return _ANNOTATION.sub("", path)


def _cache(root: Path) -> Path:
    cache = Path(tempfile.mkdtemp(prefix="samsvar-bench-"))
    PackageCache(cache).install_tgz(root / "data" / "fhir-packages" / "hl7.fhir.r4.core-4.0.1.tgz")
    return cache


def _profile_url(path: Path) -> str | None:
    from samsvar.validators.load import load_bytes

    loaded = load_bytes(str(path), path.read_bytes())
    if loaded.document is None:
        return None
    if loaded.document.format == "json":
        return loaded.document.tree.get("url")
    url = loaded.document.tree.find("{http://hl7.org/fhir}url")
    return url.get("value") if url is not None else None


def run_step(case: dict, step: str, folder: Path, cache: Path, defaults: list[str] | None = None,
             hl7_paths: bool = True) -> Step:
    """One validation step; locations as HL7's validator writes them unless ``hl7_paths`` is False."""
    expected = {_normalise(p) for p in case["expected"][step]["error_paths"]}
    result = Step(case, step, expected)
    igs = list(defaults or [])
    igs += [str(folder / s) for s in case.get("supporting") or []]
    profiles: tuple[str, ...] = ()
    if step == "profile" and case.get("profile"):
        igs += [str(folder / s) for s in case.get("profile_supporting") or []]
        igs.append(str(folder / case["profile"]))
        url = _profile_url(folder / case["profile"])
        profiles = (url,) if url else ()
    try:
        # the harness's "examples" option (HL7's test harness allows example URLs unless told not to)
        examples = bool((case.get("options") or {}).get("examples", True))
        # and its validateContains option (IGNORE: findings inside contained resources are not reported)
        contained = (case.get("options") or {}).get("validateContains", "VALIDATE") != "IGNORE"
        # and its resource fetcher, which takes every URL but example.org ones as resolving
        # and assumeValidRestReferences (recorded for the case; a profile step's own is not in the manifest)
        assume = bool((case.get("options") or {}).get("assumeValidRestReferences", False))
        # and its security checks (HTML-looking strings are errors) and noHtmlInMarkdown (raw HTML in markdown an error)
        security = bool((case.get("options") or {}).get("security-checks", False))
        markdown = "error" if (case.get("options") or {}).get("noHtmlInMarkdown") else "warning"
        # and its reference policy (validateReference), with the files its fetcher resolves references to
        policy = _POLICIES.get(str((case.get("options") or {}).get("validateReference", "IGNORE")), "ignore")
        targets = tuple(str(folder / t) for t in case.get("reference_targets") or [])
        validator = Validator(Options(cache_root=cache, igs=tuple(igs), profiles=profiles,
                                      allow_example_urls=examples, check_contained=contained, resolve_urls=False,
                                      assume_valid_rest_references=assume, security_checks=security,
                                      html_in_markdown=markdown, reference_policy=policy,
                                      reference_targets=targets, hl7_paths=hl7_paths))
        target = folder / case["file"]
        outcome = validator.validate_bytes(str(target), target.read_bytes())
    except EnvironmentProblem as exc:
        result.error = f"environment: {exc}"
        return result
    result.found = {_normalise(i.expression or "") for i in outcome.issues if i.severity >= Severity.ERROR}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--true-paths", action="store_true",
                        help="samsvar's own (true) locations instead of HL7's (hl7_paths off)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every disagreement")
    parser.add_argument("--only", help="run only cases whose name contains this text")
    args = parser.parse_args()

    root = shared_root()
    if root is None:
        print("../shared is not beside the repository; nothing to measure", file=sys.stderr)
        return 2
    folder = root / "data" / "peer" / "fhir-test-cases" / "validator"
    manifest = json.loads((folder.parent / "manifest.r4-offline.json").read_text())
    cache = _cache(root)
    defaults = hl7_defaults(root)
    started = time.perf_counter()
    steps: list[Step] = []
    for case in manifest["test-cases"]:
        if args.only and args.only not in case["name"]:
            continue
        for step in case["expected"]:
            steps.append(run_step(case, step, folder, cache, defaults, hl7_paths=not args.true_paths))
    elapsed = time.perf_counter() - started

    by_topic: dict[str, list[Step]] = collections.defaultdict(list)
    for step in steps:
        for topic in step.case.get("topics") or ["(none)"]:
            by_topic[topic].append(step)
    print(f"{'topic':<32} {'agree':>7} {'steps':>6} {'share':>7}   clean tier")
    for topic in sorted(by_topic):
        group = by_topic[topic]
        clean = [s for s in group if s.case.get("tier") == "clean"]
        share = sum(s.agrees for s in group) / len(group)
        clean_share = f"{sum(s.agrees for s in clean)}/{len(clean)}" if clean else "-"
        print(f"{topic:<32} {sum(s.agrees for s in group):>7} {len(group):>6} {share:>7.1%}   {clean_share}")
    agree = sum(s.agrees for s in steps)
    clean = [s for s in steps if s.case.get("tier") == "clean"]
    print(f"\nall steps: {agree}/{len(steps)} agree ({agree / max(len(steps), 1):.1%}); "
          f"clean tier {sum(s.agrees for s in clean)}/{len(clean)}; "
          f"expected-clean steps with a false error: "
          f"{sum(1 for s in steps if not s.expected and s.found)}; "
          f"{len(steps) / elapsed:.1f} steps/s")
    if args.verbose:
        print("\ndisagreements:")
        for step in steps:
            if not step.agrees:
                missing = sorted(step.expected - (step.found or set()))
                extra = sorted((step.found or set()) - step.expected)
                print(f"- {step.case['name']} [{step.step}] {step.error or ''}\n    missing: {missing}\n    extra:   {extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
