"""The rule catalogue is data (validators/rules.toml): one declaration per code, read without
importing any check, and every declaration matches the code that raises it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from samsvar.validators.rules import CATALOGUE_FILE, CatalogueError, _rule_of, all_rules, declared

REPO = Path(__file__).resolve().parent.parent
_DECLARED = re.compile(r'\bdeclared\(\s*"([A-Z0-9-]+)"\s*\)')


def _module_file(module: str) -> Path:
    parts = module.split(".")
    assert parts[0] == "samsvar", module
    return REPO.joinpath(*parts[1:]).with_suffix(".py")


def _declarations_in_source() -> dict[str, set[str]]:
    """code -> the modules (dotted) whose source takes it with declared("CODE")."""
    found: dict[str, set[str]] = {}
    for folder in ("validators", "conformance"):
        for path in (REPO / folder).rglob("*.py"):
            module = "samsvar." + ".".join(path.relative_to(REPO).with_suffix("").parts)
            for code in _DECLARED.findall(path.read_text(encoding="utf-8")):
                found.setdefault(code, set()).add(module)
    return found


def test_every_code_taken_in_the_code_is_declared_in_the_module_the_catalogue_names() -> None:
    catalogue = {r.code: r for r in all_rules()}
    for code, modules in _declarations_in_source().items():
        assert code in catalogue, f"{sorted(modules)} take {code}, which {CATALOGUE_FILE.name} does not declare"
        assert modules == {catalogue[code].module}, (
            f"{code} is taken in {sorted(modules)} but {CATALOGUE_FILE.name} says {catalogue[code].module}"
        )


def test_every_implemented_rule_is_taken_by_its_module_and_planned_ones_by_none() -> None:
    in_source = _declarations_in_source()
    for rule in all_rules():
        assert _module_file(rule.module).is_file(), f"{rule.code}: module {rule.module} does not exist"
        if rule.implemented:
            assert rule.code in in_source, f"{rule.code} is declared implemented but no check takes it"
        else:
            assert rule.code not in in_source, f"{rule.code} is planned but {sorted(in_source[rule.code])} raise it"


def test_declarations_are_complete() -> None:
    rules = all_rules()
    assert len(rules) > 100
    for rule in rules:
        assert re.fullmatch(r"[A-Z]+(-[A-Z0-9]+)*-\d{3}", rule.code), rule.code
        assert rule.title and rule.explanation and rule.bad and rule.good, rule.code


def test_reading_the_catalogue_imports_no_check() -> None:
    """all_rules() is complete on its own and imports nothing beyond the package itself."""
    probe = (
        "import sys, samsvar.validators.rules as rules; before = set(sys.modules); n = len(rules.all_rules()); "
        "print(n, sorted(m for m in set(sys.modules) - before if m.startswith('samsvar')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    count, imported = out.split(" ", 1)
    assert int(count) == len(all_rules()) and imported.strip() == "[]"


def test_a_code_not_in_the_catalogue_is_refused() -> None:
    with pytest.raises(CatalogueError, match="NOPE-001"):
        declared("NOPE-001")


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ({"title": "t", "severity": "error", "module": "m", "explanation": "e", "bad": "b"}, "lacks"),
        ({"title": "t", "severity": "error", "module": "m", "explanation": "e", "bad": "b", "good": "g",
          "sevrity": "x"}, "unknown keys"),
        ({"title": "t", "severity": "severe", "module": "m", "explanation": "e", "bad": "b", "good": "g"},
         "unknown severity"),
        ({"title": "t", "severity": "error", "module": "m", "explanation": "e", "bad": "b", "good": "g",
          "status": "maybe"}, "status"),
    ],
)
def test_a_malformed_declaration_is_refused(entry: dict[str, str], complaint: str) -> None:
    with pytest.raises(CatalogueError, match=complaint):
        _rule_of("X-001", entry)
