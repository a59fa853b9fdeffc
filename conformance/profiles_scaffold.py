"""``samsvar profiles new``: the skeleton of a new profile and its two fixtures, for a standards editor.

:func:`scaffold` writes, without any Python to edit afterwards:

- ``StructureDefinition-samsvar-NAME.json`` into the profiles folder (``profiles/fhir/`` by default): a
  differential-only profile on the base, with one example constraint (``samsvar-SLUG-1``: the
  resource has a narrative) for the editor to replace by the profile's own rules;
- ``valid-SLUG.json`` into the fixtures folder (``fixtures/fhir/samsvar-profiles/`` by default): an
  instance that declares the profile and fills every element the base requires (min ≥ 1) with a
  simple value (the first code of a required binding that can be expanded offline, a text, a display);
- ``SLUG-without-narrative.json``: the same instance without its narrative, which breaks the example
  constraint;
- their entries in the folder's ``expected.toml`` (``[expected]``: the rule codes each raises, and
  ``[reasons]``: the constraint the invalid one breaks).

The valid fixture is then validated as the fixture contract will: its findings, if any, are returned
so that the editor knows what the filler could not guess (a required slice, a code of a value set
that is not available offline) and fixes the fixture by hand.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .profiles_lint import DEFAULT_IGS, PROFILES_FOLDER

OWN_BASE = "http://samsvar.no/fhir/StructureDefinition/samsvar-"
CORE_BASE = "http://hl7.org/fhir/StructureDefinition/"
FIXTURES_FOLDER = PROFILES_FOLDER.parent.parent / "fixtures" / "fhir" / "samsvar-profiles"
"""Where samsvar's own profiles keep their valid and invalid examples."""
EXAMPLE_TIME = "2026-01-05T09:00:00+01:00"
_NAME = re.compile(r"[A-Z][A-Za-z0-9]{0,62}")

SIMPLE_VALUES: dict[str, Any] = {
    "boolean": True, "integer": 1, "positiveInt": 1, "unsignedInt": 0, "decimal": 1.0,
    "string": "Eksempel", "markdown": "Eksempel", "id": "eksempel", "code": "eksempel",
    "uri": "http://example.org/eksempel", "url": "http://example.org/eksempel",
    "canonical": "http://example.org/eksempel", "oid": "urn:oid:2.16.578.1.12.4.1.1.9999",
    "uuid": "urn:uuid:9b2c7f1e-7a7a-4c7e-9d38-2f1b3c5e6a70", "date": EXAMPLE_TIME[:10],
    "dateTime": EXAMPLE_TIME, "instant": EXAMPLE_TIME, "time": "09:00:00",
    "CodeableConcept": {"text": "Eksempel"}, "Coding": {"display": "Eksempel"}, "Reference": {"display": "Eksempel"},
    "Identifier": {"value": "eksempel"}, "Period": {"start": EXAMPLE_TIME}, "Quantity": {"value": 1},
    "HumanName": {"text": "Kari Nordmann"}, "Annotation": {"text": "Eksempel"}, "Attachment": {"title": "Eksempel"},
    "ContactPoint": {"system": "phone", "value": "+47 22 00 00 00"}, "Address": {"text": "Storgata 1, 0155 Oslo"},
}
"""A value the filler puts in a required element of each type (the editor replaces them as needed)."""


class ScaffoldError(ValueError):
    """The scaffold cannot be written (a bad name, an unknown base, a file that exists)."""


@dataclass
class Scaffold:
    """What :func:`scaffold` wrote, and what the valid fixture still raises."""

    profile: Path
    valid: Path
    invalid: Path
    manifest: Path
    url: str
    constraint: str
    findings: list[str] = field(default_factory=list)


def slug(name: str) -> str:
    """``HomeCareAppointment`` -> ``home-care-appointment``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name).lower()


def _definitions(profiles: Path, igs: tuple[str, ...], cache: Path | None) -> Any:
    from .profiles_lint import load_definitions

    return load_definitions(profiles, igs, cache)


def structure_definition(name: str, base: str, resource_type: str, constraint: str) -> dict[str, Any]:
    """The profile's skeleton: header, base and one example constraint on the root element."""
    return {
        "resourceType": "StructureDefinition",
        "id": f"samsvar-{name}",
        "url": OWN_BASE + name,
        "version": "0.1.0",
        "name": f"Samsvar{name}",
        "title": f"samsvar {name}",
        "status": "draft",
        "publisher": "samsvar",
        "description": f"TODO: what a {resource_type} conforming to this profile is for, and what it must carry.",
        "fhirVersion": "4.0.1",
        "kind": "resource",
        "abstract": False,
        "type": resource_type,
        "baseDefinition": base,
        "derivation": "constraint",
        "differential": {"element": [{
            "id": resource_type, "path": resource_type,
            "constraint": [{"key": constraint, "severity": "error",
                            "human": "The resource has a narrative (an example rule: replace it with the profile's own)",
                            "expression": "text.exists()", "source": OWN_BASE + name}]}]},
    }


def _children(elements: dict[str, dict[str, Any]], parent: str) -> list[dict[str, Any]]:
    prefix = parent + "."
    return [e for key, e in elements.items()
            if key.startswith(prefix) and "." not in key[len(prefix):] and ":" not in key[len(prefix):]]


def _required_value(element: dict[str, Any], code: str, elements: dict[str, dict[str, Any]], service: Any) -> Any:
    binding = element.get("binding") or {}
    if binding.get("strength") == "required" and binding.get("valueSet") and code in ("code", "Coding", "CodeableConcept"):
        codes, _ = service.expand(str(binding["valueSet"]))
        if codes:
            first = codes[0]
            coding = {"system": first["system"], "code": first["code"]}
            return first["code"] if code == "code" else coding if code == "Coding" else {"coding": [coding]}
    if code in ("BackboneElement", "Element"):
        return _fill(elements, str(element.get("id")), service)
    return SIMPLE_VALUES.get(code, {})


_EITHER = re.compile(r"\(?\s*([a-z][A-Za-z]*)\.exists\(\)(\s+or\s+[a-z][A-Za-z]*\.exists\(\))+\s*\)?")


def _either(element: dict[str, Any]) -> set[str]:
    """Children an error constraint of the form ``a.exists() or b.exists()`` asks one of: the first is filled."""
    wanted = set()
    for constraint in element.get("constraint") or []:
        match = _EITHER.fullmatch(str(constraint.get("expression", "")).strip())
        if match and constraint.get("severity", "error") == "error":
            wanted.add(match.group(1))
    return wanted


def _fill(elements: dict[str, dict[str, Any]], parent: str, service: Any) -> dict[str, Any]:
    """Every required child of ``parent`` (min ≥ 1), filled with a simple value of its first type (and the
    first child of an "either a or b" constraint on ``parent``)."""
    out: dict[str, Any] = {}
    either = _either(elements.get(parent) or {})
    for element in _children(elements, parent):
        name = str(element.get("id", "")).rsplit(".", 1)[-1]
        if name in ("id", "extension", "modifierExtension") or element.get("max") == "0":
            continue
        if int(element.get("min", 0)) < 1 and name.removesuffix("[x]") not in either:
            continue
        types = [t.get("code") for t in element.get("type") or [] if t.get("code")]
        code = str(types[0]) if types else "BackboneElement"
        key = name[:-3] + code[:1].upper() + code[1:] if name.endswith("[x]") else name
        value = _required_value(element, code, elements, service)
        out[key] = [value] if element.get("max") not in ("0", "1") else value
    return out


def minimal_instance(definitions: Any, url: str, resource_type: str, resource_id: str) -> dict[str, Any]:
    """An instance of the profile with its required elements filled and a narrative."""
    from ..validators.fhir.bindings import terminology

    elements = definitions.elements(url) or {}
    instance: dict[str, Any] = {"resourceType": resource_type, "id": resource_id, "meta": {"profile": [url]},
                                "text": {"status": "generated",
                                         "div": f'<div xmlns="http://www.w3.org/1999/xhtml">Eksempel: {resource_type}</div>'}}
    instance.update(_fill(elements, resource_type, terminology(definitions)))
    return instance


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def add_to_manifest(manifest: Path, expected: dict[str, list[str]], reasons: dict[str, str], igs: list[str]) -> None:
    """Add the files' entries to ``[expected]`` and ``[reasons]`` (a new manifest when there is none)."""
    if not manifest.is_file():
        manifest.write_text(f"# Each file and the rule codes it must raise (and nothing else).\n\nigs = "
                            f"[{', '.join(_toml_string(ig) for ig in igs)}]\n\n[expected]\n\n[reasons]\n", encoding="utf-8")
    lines = manifest.read_text(encoding="utf-8").splitlines()
    document = tomllib.loads("\n".join(lines))
    taken = sorted(set(expected) & set(document.get("expected", {})))
    if taken:
        raise ScaffoldError(f"{manifest} already lists {', '.join(taken)}")
    for table, entries in (("expected", {k: "[" + ", ".join(map(_toml_string, v)) + "]" for k, v in expected.items()}),
                           ("reasons", {k: _toml_string(v) for k, v in reasons.items()})):
        new = [f"{_toml_string(name)} = {value}" for name, value in entries.items()]
        if f"[{table}]" not in lines:
            lines += ["", f"[{table}]"]
        start = lines.index(f"[{table}]")
        end = next((n for n in range(start + 1, len(lines)) if lines[n].startswith("[")), len(lines))
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1
        lines[end:end] = new
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # still a manifest
    manifest.write_text(text, encoding="utf-8")


def scaffold(name: str, base: str, *, resource_type: str | None = None, profiles: Path = PROFILES_FOLDER,
             fixtures: Path = FIXTURES_FOLDER, igs: tuple[str, ...] = DEFAULT_IGS, cache: Path | None = None) -> Scaffold:
    """Write a new profile NAME on ``base`` and its valid and invalid fixture; raise ScaffoldError when it cannot."""
    if not _NAME.fullmatch(name):
        raise ScaffoldError(f"the name {name!r} must be a FHIR name in UpperCamelCase (letters and digits, "
                            "starting with a capital letter), e.g. HomeCareAppointment")
    url = OWN_BASE + name
    profile = profiles / f"StructureDefinition-samsvar-{name}.json"
    short = slug(name)
    valid, invalid = fixtures / f"valid-{short}.json", fixtures / f"{short}-without-narrative.json"
    existing = [str(p) for p in (profile, valid, invalid) if p.exists()]
    if existing:
        raise ScaffoldError(f"not overwriting what exists: {', '.join(existing)}")
    definitions = _definitions(profiles, igs, cache)
    base_sd = definitions.structure_definition(base.split("|", 1)[0])
    if base_sd is None:
        raise ScaffoldError(f"the base {base} is not known (load its package with --ig; loaded: {', '.join(igs) or 'core'})")
    resource_type = resource_type or str(base_sd.get("type") or "")
    if base_sd.get("type") != resource_type:
        raise ScaffoldError(f"the base {base} profiles {base_sd.get('type')}, not {resource_type}")
    if base_sd.get("kind") != "resource":
        raise ScaffoldError(f"the base {base} is not a resource profile (kind {base_sd.get('kind')})")
    constraint = f"samsvar-{short}-1"
    profiles.mkdir(parents=True, exist_ok=True)
    fixtures.mkdir(parents=True, exist_ok=True)
    _write(profile, structure_definition(name, base, resource_type, constraint))
    definitions = _definitions(profiles, igs, cache)  # now with the new profile
    instance = minimal_instance(definitions, url, resource_type, short)
    _write(valid, instance)
    broken = {key: value for key, value in instance.items() if key != "text"}
    broken["id"] = f"{short}-without-narrative"
    _write(invalid, broken)
    manifest = fixtures / "expected.toml"
    relative = Path(os.path.relpath(profiles.resolve(), fixtures.resolve())).as_posix()
    add_to_manifest(manifest, {valid.name: [], invalid.name: ["FHIR-INV-001", "FHIR-INV-003"]},
                    {invalid.name: constraint}, [relative, *igs])
    result = Scaffold(profile, valid, invalid, manifest, url, constraint)
    result.findings = _findings(valid, manifest, cache)
    return result


def _findings(path: Path, manifest: Path, cache: Path | None) -> list[str]:
    """What the valid fixture raises when validated as the fixture contract does (its manifest's igs)."""
    from ..validators import Options, Validator

    document = tomllib.loads(manifest.read_text(encoding="utf-8"))
    igs = tuple(ig if "#" in ig else str(manifest.parent / ig) for ig in document.get("igs", []))
    result = Validator(Options(igs=igs, cache_root=cache)).validate_bytes(str(path), path.read_bytes())
    return [f"{issue.severity.code} {issue.rule} {issue.expression or ''}: {issue.message}" for issue in result.issues]


def _write(path: Path, resource: dict[str, Any]) -> None:
    path.write_text(json.dumps(resource, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
