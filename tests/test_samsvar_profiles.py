"""samsvar's own profiles (profiles/fhir/): each has a valid and an invalid example, and each invalid
example says why it fails.

The fixture contract (tests/test_fixtures.py) fixes the rule codes and checks the ``[reasons]`` of a
manifest; a code such as FHIR-INV-001 or FHIR-STRUCT-002 is raised for many reasons, so every invalid
example of samsvar's profiles must have a reason there (the constraint, slice or element it breaks).
Everything here is read from the data: a profile or fixture added to the folders needs no Python edit.
"""

from __future__ import annotations

import json
import tomllib

from .conftest import FIXTURES, REPO

FOLDER = FIXTURES / "fhir" / "samsvar-profiles"
PROFILES = REPO / "profiles" / "fhir"


def _manifest() -> dict:
    return tomllib.loads((FOLDER / "expected.toml").read_text(encoding="utf-8"))


def test_every_profile_has_a_valid_and_an_invalid_example() -> None:
    """Each of our profiles is declared (meta.profile) by at least one valid-*.json and one other example."""
    declared: dict[str, set[str]] = {}
    for path in FOLDER.glob("*.json"):
        resource = json.loads(path.read_text(encoding="utf-8"))
        resources = [entry["resource"] for entry in resource.get("entry", [])] or [resource]
        for url in {url for r in resources for url in r.get("meta", {}).get("profile", [])}:
            declared.setdefault(url, set()).add("valid" if path.name.startswith("valid-") else "invalid")
    definitions = [json.loads(p.read_text(encoding="utf-8")) for p in PROFILES.glob("*.json")]
    ours = sorted(d["url"] for d in definitions if d["resourceType"] == "StructureDefinition")
    assert ours, f"no StructureDefinition in {PROFILES}"
    lacking = [f"{url} has no {kind} example in {FOLDER.relative_to(REPO)} (a file whose meta.profile names it"
               f"{', named valid-*.json' if kind == 'valid' else ', not named valid-*'})"
               for url in ours for kind in ("valid", "invalid") if kind not in declared.get(url, set())]
    assert not lacking, "\n".join(lacking)


def test_every_invalid_example_has_a_reason() -> None:
    manifest = _manifest()
    reasons = manifest.get("reasons", {})
    invalid = sorted(name for name in manifest["expected"] if not name.startswith("valid-"))
    missing = [name for name in invalid if not reasons.get(name)]
    assert not missing, (f"{FOLDER.relative_to(REPO)}/expected.toml: these invalid examples have no entry in "
                         f"[reasons] (a text one of their messages must contain): {', '.join(missing)}")
    stray = sorted(set(reasons) - set(manifest["expected"]))
    assert not stray, f"[reasons] names files that [expected] does not list: {', '.join(stray)}"
