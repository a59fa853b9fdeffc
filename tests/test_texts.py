"""One set of texts (``conformance/texts.py``): both languages for every key, every key the code
and the templates use exists, and no key is left over.

Uses are found by reading the code, not by running it: string constants given to ``text``,
``say``, ``problem`` and ``has``; ``table("area", ...)`` and the ``name["key"]`` lookups of what it
returned; and ``t.key`` / ``t["key"]`` in the HTML template. Keys looked up by a computed name are
declared in ``texts.COMPUTED`` and ``texts.COMPUTED_AREAS``.
"""

from __future__ import annotations

import ast
import re
import string
from collections import defaultdict
from pathlib import Path

from samsvar.conformance.texts import COMPUTED, COMPUTED_AREAS, LANGUAGES, TEXTS, table, text

REPO = Path(__file__).resolve().parent.parent
CODE = [path for folder in ("cli", "conformance", "api", "validators", "strategies")
        for path in sorted((REPO / folder).rglob("*.py")) if path.name != "texts.py"]
TEMPLATES = sorted((REPO / "conformance" / "reports" / "templates").glob("*.j2"))
KEY_CALLS = {"text", "say", "problem", "has"}
ONLY_ENGLISH_PASSED_THROUGH = ("catalogue.schema.", "catalogue.only_english")
"""Keys whose English is jsonschema's own message (``{message}``), so their fields differ by language."""
AREAS = {key.rsplit(".", 1)[0] for key in TEXTS}


def _name(func: ast.expr) -> str | None:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _constants(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _uses_in(path: Path) -> tuple[set[str], set[str]]:
    """(keys, areas) that one Python file uses."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    keys: set[str] = set()
    areas: set[str] = set()
    tables: dict[str, set[str]] = defaultdict(set)  # variable -> the areas of the table(s) it holds
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) in KEY_CALLS:
            keys.update(c for arg in node.args for c in _constants(arg) if "." in c and c.rsplit(".", 1)[0] in AREAS)
        if isinstance(node, ast.Call) and _name(node.func) == "table" and node.args:
            areas.update(_constants(node.args[0])[:1])
        if isinstance(node, ast.Assign):
            found = [_constants(call.args[0])[0] for call in ast.walk(node.value)
                     if isinstance(call, ast.Call) and _name(call.func) == "table" and call.args]
            for target in node.targets:
                if isinstance(target, ast.Name) and found:
                    tables[target.id].update(found)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in tables
                and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):
            keys.update(f"{area}.{node.slice.value}" for area in tables[node.value.id])
    return keys, areas


def _template_uses(path: Path) -> set[str]:
    """The template's ``t`` is ``table("html")``, overlaid with ``table("html.live")`` for live runs."""
    source = path.read_text(encoding="utf-8")
    names = set(re.findall(r"\bt\.(\w+)", source)) | set(re.findall(r"\bt\[['\"]([\w-]+)['\"]\]", source))
    return {f"{area}.{name}" for name in names for area in ("html", "html.live")}


def _used() -> tuple[set[str], set[str]]:
    keys: set[str] = set()
    areas: set[str] = set()
    for path in CODE:
        found, tables = _uses_in(path)
        keys |= found
        areas |= tables
    for path in TEMPLATES:
        keys |= _template_uses(path)
    return keys, areas


def _fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def test_every_key_has_both_languages_with_the_same_fields() -> None:
    assert LANGUAGES == ("nb", "en")
    for key, texts in TEXTS.items():
        assert set(texts) == set(LANGUAGES), f"{key}: languages {sorted(texts)}"
        assert all(isinstance(t, str) and t.strip() for t in texts.values()), f"{key}: an empty text"
        if not key.startswith(ONLY_ENGLISH_PASSED_THROUGH):
            assert _fields(texts["nb"]) == _fields(texts["en"]), f"{key}: nb and en fill different fields"


def test_every_key_used_in_the_code_and_the_templates_exists() -> None:
    keys, areas = _used()
    unknown_areas = {area for area in areas if not any(k.startswith(area + ".") for k in TEXTS)}
    assert not unknown_areas, f"table() of areas without texts: {sorted(unknown_areas)}"
    # The template's t.X is html.X (html.live.X only overlays it): html.X must exist for each.
    missing = {key for key in keys if key not in TEXTS and not key.startswith("html.live.")}
    assert not missing, f"texts used but not in conformance/texts.py: {sorted(missing)}"
    assert set(COMPUTED) <= set(TEXTS), sorted(set(COMPUTED) - set(TEXTS))
    assert all(any(k.startswith(area + ".") for k in TEXTS) for area in COMPUTED_AREAS)


def test_no_key_is_left_unused() -> None:
    keys, _ = _used()
    unused = {key for key in TEXTS if key not in keys and key not in COMPUTED
              and not any(key.startswith(area + ".") for area in COMPUTED_AREAS)}
    assert not unused, f"texts nobody uses (remove them, or declare the computed lookup): {sorted(unused)}"


def test_live_texts_replace_report_texts_of_the_same_name() -> None:
    for lang in LANGUAGES:
        assert set(table("html.live", lang)) <= set(table("html", lang))


def test_the_scan_finds_what_it_is_meant_to(tmp_path: Path) -> None:
    """The detector itself: a made-up module's uses are found, so the tests above can fail."""
    module = tmp_path / "module.py"
    module.write_text('t = table("requirements", lang)\nx = t["wrote"] + text("judge.blind", lang)\n'
                      'y = problem(f, p, "catalogue.not_json")\nz = "catalogue.json"\n', encoding="utf-8")
    keys, areas = _uses_in(module)
    assert keys == {"requirements.wrote", "judge.blind", "catalogue.not_json"}
    assert areas == {"requirements"}


def test_text_fills_fields_and_falls_back_to_english() -> None:
    assert text("cli.error", "nb", message="x") == "Feil: x"
    assert text("cli.error", "sv", message="x") == "Error: x"
    assert table("matrix", "en")["requirement"] == "Requirement"
