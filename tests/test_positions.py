"""Issue positions: the partial map (only what leads to the issues) equals the full one."""

from __future__ import annotations

import json
import random

from samsvar.validators.positions import JsonLocator, json_offsets, json_offsets_for

from .conftest import FIXTURES

TEXT = """{
  "resourceType": "Bundle", "a~b/c": {"x": [1, {"y": "z"}]},
  "entry": [ {"resource": {"resourceType": "Patient", "name": [{"given": ["K\\u00e5ri", "O"]}]}},
             {"resource": {"resourceType": "Observation", "valueQuantity": {"value": 1.5e3}}} ],
  "dup": 1, "dup": {"later": true}, "empty": {}, "list": [], "text": "{[\\"]}"
}"""


def _every_pointer_and_ancestors(pointers: list[str]) -> set[str]:
    wanted = set()
    for pointer in pointers:
        parts = pointer.split("/")
        wanted.update("/".join(parts[:depth + 1]) for depth in range(len(parts)))
    return wanted


def test_the_partial_map_gives_the_full_maps_offsets() -> None:
    full = json_offsets(TEXT)
    assert json_offsets_for(TEXT, set(full)) == full
    for pointer in full:
        wanted = _every_pointer_and_ancestors([pointer])
        assert json_offsets_for(TEXT, wanted) == {p: full[p] for p in wanted}, pointer


def test_the_partial_map_on_the_json_fixtures() -> None:
    random.seed(8)
    for path in sorted(FIXTURES.rglob("*.json")):
        text = path.read_bytes().decode("utf-8-sig", "replace")
        try:
            json.loads(text)
        except (ValueError, RecursionError):
            continue  # positions are only asked of JSON that parsed
        full = json_offsets(text)
        wanted = _every_pointer_and_ancestors(random.sample(sorted(full), min(len(full), 12)))
        try:
            partial = json_offsets_for(text, wanted)
        except RecursionError:
            assert "deep" in path.name  # nesting past Python's stack: the locator falls back to the full map
            continue
        assert partial == {p: full[p] for p in wanted if p in full}, path


def test_the_locator_uses_the_partial_map_and_falls_back_to_the_full_one() -> None:
    expected = JsonLocator(TEXT)
    given = ("entry", 0, "resource", "name", 0, "given", 1)
    nothing = ("entry", 0, "resource", "name", 0, "nothing")
    positions = {path: expected.locate(path) for path in (given, nothing, ("dup", "later"))}
    assert positions[given] == (3, 88) and positions[nothing] == expected.locate(given[:5]) == (3, 64)
    locator = JsonLocator(TEXT)
    locator.prepare([given, nothing])
    assert locator.locate(given) == positions[given] and locator.locate(nothing) == positions[nothing]
    assert locator._offsets is None  # noqa: SLF001 - nothing mapped in full
    assert locator.locate(("dup", "later")) == positions[("dup", "later")]  # not prepared: the full map
    assert locator._offsets is not None  # noqa: SLF001


def test_prepared_positions_are_the_line_starts_positions() -> None:
    """Lines and columns counted once for all prepared offsets equal those of the list of line starts."""
    paths = [(), ("entry",), ("entry", 1, "resource", "valueQuantity", "value"), ("text",), ("dup", "later"),
             ("a~b/c", "x", 1, "y"), ("entry", 0, "resource", "name", 0, "given", 0)]
    prepared, whole = JsonLocator(TEXT), JsonLocator(TEXT)
    prepared.prepare(paths)
    assert [prepared.locate(path) for path in paths] == [whole.locate(path) for path in paths]
