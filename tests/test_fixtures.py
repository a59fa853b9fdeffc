"""Every fixture folder with an ``expected.toml`` is a contract: each file raises exactly the
rule codes listed for it, and, when the manifest's ``[reasons]`` table names it, one of its messages
(warning or worse) contains that text. A manifest's ``igs`` (folders beside it, or ``id#version`` packages of the
cache) are loaded as with ``--ig``,
and its ``[terminology]`` table is the terminology policy and ``example-urls`` the option, as in
``samsvar.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from samsvar.validators import Options, Validator
from samsvar.validators.issues import Severity
from samsvar.validators.terminology.service import TerminologyPolicy

from .conftest import FIXTURES


Case = tuple[Path, list[str], frozenset[str], Options, str | None]


def _cases() -> list[Case]:
    """(file, rule codes it must raise, codes the manifest says to leave out, options, reason)."""
    cases = []
    for manifest in sorted(FIXTURES.rglob("expected.toml")):
        document = tomllib.loads(manifest.read_text(encoding="utf-8"))
        ignored = frozenset(document.get("ignore", []))
        igs = tuple(ig if "#" in ig else str(manifest.parent / ig) for ig in document.get("igs", []))
        policy = TerminologyPolicy.from_settings(document["terminology"]) if "terminology" in document else None
        options = Options(igs=igs, terminology=policy, allow_example_urls=bool(document.get("example-urls", True)),
                          check_contained=bool(document.get("contained", True)),
                          security_checks=bool(document.get("security-checks", False)),
                          html_in_markdown=str(document.get("html-in-markdown", "warning")),
                          assume_valid_rest_references=bool(document.get("assume-valid-rest-references", False)),
                          reference_policy=str(document.get("reference-policy", "ignore")),
                          reference_targets=tuple(str(manifest.parent / t) for t in document.get("reference-targets", [])))
        reasons = document.get("reasons", {})
        cases.extend((manifest.parent / name, codes, ignored, options, reasons.get(name))
                     for name, codes in document["expected"].items())
    return cases


CASES = _cases()


def test_every_manifest_names_existing_files_and_every_file_is_listed() -> None:
    assert CASES, "no fixture manifests found"
    for manifest in FIXTURES.rglob("expected.toml"):
        listed = set(tomllib.loads(manifest.read_text(encoding="utf-8"))["expected"])
        present = {p.name for p in manifest.parent.iterdir() if p.is_file() and p.name != "expected.toml"}
        unlisted, missing = sorted(present - listed), sorted(listed - present)
        assert not unlisted and not missing, (
            f"{manifest.relative_to(FIXTURES.parent)}: "
            + "; ".join(part for part in (
                f"files in the folder that [expected] does not list: {', '.join(unlisted)}" if unlisted else "",
                f"files [expected] lists that are not in the folder: {', '.join(missing)}" if missing else "")
                if part))


@pytest.mark.parametrize(("path", "codes", "ignored", "options", "reason"), CASES,
                         ids=[str(case[0].relative_to(FIXTURES)) for case in CASES])
def test_fixture_raises_exactly_its_rules(path: Path, codes: list[str], ignored: frozenset[str],
                                          options: Options, reason: str | None, fhir_cache: Path) -> None:
    result = Validator(replace(options, cache_root=fhir_cache)).validate_bytes(str(path), path.read_bytes())
    raised = {i.rule for i in result.issues} - ignored
    found = "\n".join(f"  {i.rule} {i.severity.code}: {i.message}" for i in result.issues) or "  (nothing)"
    unexpected, absent = sorted(raised - set(codes)), sorted(set(codes) - raised)
    assert not unexpected and not absent, (
        f"{path.name}: " + "; ".join(part for part in (
            f"raised {', '.join(unexpected)}, which expected.toml does not list" if unexpected else "",
            f"did not raise {', '.join(absent)}, which expected.toml lists" if absent else "") if part)
        + f"\nfindings:\n{found}")
    if reason is not None:
        messages = [i.message for i in result.issues if i.severity >= Severity.WARNING]
        assert any(reason in message for message in messages), (
            f"{path.name}: no message says {reason!r} (its [reasons] entry)\nfindings:\n{found}")
    for issue in result.issues:
        assert issue.line is not None and issue.column is not None, f"{issue.rule} has no line/column"
        assert issue.line >= 1 and issue.column >= 1
