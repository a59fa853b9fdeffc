"""Lint samsvar's own FHIR profiles (``profiles/fhir/``) before anything is validated against them.

Every StructureDefinition in a folder must parse, carry url/name/status/type/baseDefinition,
derive from a known base, have a differential that applies to it (samsvar generates the
snapshot), FHIRPath constraints that compile, bindings to value sets that resolve and type or
target profiles that resolve. ``samsvar profiles lint|list`` (:mod:`samsvar.cli.profiles`) is the
command line over it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal


Severity = Literal["error", "warning"]

PROFILES_FOLDER = Path(__file__).resolve().parent.parent / "profiles" / "fhir"
"""samsvar's own profiles; the default folder of ``samsvar profiles lint|list``."""

DEFAULT_IGS = ("hl7.fhir.no.basis#2.2.2",)
"""What samsvar's own profiles derive from: loaded when the default folder is linted without ``--ig``."""

REQUIRED_FIELDS = ("url", "name", "status", "type", "baseDefinition")

EXTERNAL_VALUE_SETS = ("http://snomed.info/sct", "http://loinc.org", "http://unitsofmeasure.org",
                       "urn:oid:2.16.578.1.12.4.1.1.")
"""Value sets of code systems samsvar does not hold offline: a binding to them is only a warning."""


@dataclass(frozen=True, slots=True)
class LintProblem:
    """One finding about one profile file."""

    file: Path
    message: str
    severity: Severity = "error"

    def line(self) -> str:
        return f"{self.file}: {self.severity} {self.message}"


# --------------------------------------------------------------------------- reading the folder

def profile_files(folder: Path) -> list[Path]:
    """The JSON files of a folder (recursively, sorted, no hidden entries)."""
    return sorted(p for p in folder.rglob("*.json")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def read_json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object of a file, or None and why it could not be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"does not parse as JSON ({exc})"
    if not isinstance(data, dict):
        return None, "is not a JSON object"
    return data, None


def structure_definitions(folder: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every readable StructureDefinition of a folder with its file."""
    for path in profile_files(folder):
        data, _ = read_json(path)
        if data is not None and data.get("resourceType") == "StructureDefinition":
            yield path, data


def list_profiles(folder: Path) -> list[dict[str, Any]]:
    """url, type, base and title of every StructureDefinition in a folder."""
    return [{"url": sd.get("url"), "type": sd.get("type"), "base": sd.get("baseDefinition"),
             "title": sd.get("title") or sd.get("name")} for _, sd in structure_definitions(folder)]


# --------------------------------------------------------------------------- the checks

def fhirpath_errors(expression: str) -> list[str]:
    """Why an expression does not compile: strict FHIRPath syntax, then samsvar's compiler.

    fhirpathpy's own parser recovers silently from syntax errors (``name.exists(`` compiles),
    so the grammar is run here with a listener that keeps them and must consume the whole text.
    """
    from ..validators.fhir.fhirpath import compile_expression, grammar_errors

    errors = grammar_errors(expression)
    if errors:
        return errors
    try:
        compile_expression(expression)
    except Exception as exc:  # noqa: BLE001 - any failure to compile is the finding
        return [f"{type(exc).__name__}: {exc}"]
    return []


def _header_problems(path: Path, sd: dict[str, Any]) -> list[LintProblem]:
    missing = [name for name in REQUIRED_FIELDS if not sd.get(name)]
    return [LintProblem(path, f"{name} is missing") for name in missing]


def _base_problems(path: Path, sd: dict[str, Any], definitions: Any) -> list[LintProblem]:
    base = str(sd.get("baseDefinition") or "")
    if base and definitions.structure_definition(base.split("|", 1)[0]) is None:
        return [LintProblem(path, f"the base {base} is not known (load its package with --ig)")]
    return []


def _snapshot_problems(path: Path, sd: dict[str, Any], definitions: Any) -> list[LintProblem]:
    url = str(sd.get("url") or "")
    if not url or definitions.snapshot_elements(url) is not None:
        return []
    reasons = definitions.snapshot_problems(url) or ["no snapshot could be generated"]
    return [LintProblem(path, f"the differential does not apply: {reason}") for reason in reasons]


def _differential(sd: dict[str, Any]) -> list[dict[str, Any]]:
    elements = (sd.get("differential") or {}).get("element") or []
    return [e for e in elements if isinstance(e, dict)]


def _element_id(element: dict[str, Any]) -> str:
    return str(element.get("id") or element.get("path") or "?")


def _constraint_problems(path: Path, sd: dict[str, Any]) -> list[LintProblem]:
    problems = []
    for element in _differential(sd):
        for constraint in element.get("constraint") or []:
            key, expression = constraint.get("key", "?"), constraint.get("expression")
            if not isinstance(expression, str) or not expression.strip():
                problems.append(LintProblem(path, f"{_element_id(element)}: constraint {key} has no expression"))
                continue
            problems.extend(LintProblem(path, f"{_element_id(element)}: constraint {key}: "
                                              f"FHIRPath '{expression}' does not compile ({error})")
                            for error in fhirpath_errors(expression)[:1])
    return problems


def _binding_problems(path: Path, sd: dict[str, Any], definitions: Any) -> list[LintProblem]:
    problems = []
    for element in _differential(sd):
        value_set = (element.get("binding") or {}).get("valueSet")
        if not isinstance(value_set, str) or definitions.get(value_set) is not None:
            continue
        where = f"{_element_id(element)}: binding to value set {value_set}"
        if value_set.startswith(EXTERNAL_VALUE_SETS):
            problems.append(LintProblem(path, f"{where} is an external terminology not held offline", "warning"))
        else:
            problems.append(LintProblem(path, f"{where} does not resolve in the loaded definitions"))
    return problems


CHECKED_STRENGTHS = ("required", "extensible")
"""Binding strengths an instance is checked against (preferred and example bindings are advice)."""


def _offline_problems(path: Path, sd: dict[str, Any], definitions: Any) -> list[LintProblem]:
    """Warnings for what instances of the profile cannot be checked against offline: checked bindings
    to value sets that cannot be expanded from the loaded definitions, and slices whose discriminator
    cannot be evaluated (then a slice's minimum is reported as not checked, FHIR-SLICE-007)."""
    from ..validators.fhir.bindings import terminology
    from ..validators.fhir.slicing import SliceMatcher

    service = terminology(definitions)
    problems = []
    for element in _differential(sd):
        binding = element.get("binding") or {}
        value_set = binding.get("valueSet")
        if binding.get("strength") in CHECKED_STRENGTHS and isinstance(value_set, str) and definitions.get(value_set):
            codes, why = service.expand(value_set)
            if codes is None:
                problems.append(LintProblem(path, f"{_element_id(element)}: {binding['strength']} binding to value set "
                                                  f"{value_set} cannot be evaluated offline ({why})", "warning"))
    url = str(sd.get("url") or "")
    ctx = definitions.context(url) if url else None
    if ctx is None:
        return problems
    matcher = SliceMatcher(definitions, lambda *_: False, lambda _: None)
    for element in _differential(sd):
        name = element.get("sliceName")
        own = _element_id(element)
        if not name or ":" not in own:
            continue
        base, slice_ = ctx.elements.get(own.rsplit(":", 1)[0]), ctx.elements.get(own)
        if base is None or slice_ is None or not (base.get("slicing") or {}).get("discriminator"):
            continue
        reason = matcher.undecidable(ctx, base, slice_)
        if reason:
            problems.append(LintProblem(path, f"{own}: the slice discriminator cannot be evaluated offline: {reason}",
                                        "warning"))
    return problems


def _referenced_profiles(element: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for type_ in element.get("type") or []:
        for key in ("profile", "targetProfile"):
            for url in type_.get(key) or []:
                if isinstance(url, str):
                    yield key, url


def _profile_reference_problems(path: Path, sd: dict[str, Any], definitions: Any) -> list[LintProblem]:
    return [LintProblem(path, f"{_element_id(element)}: {key} {url} does not resolve in the loaded definitions")
            for element in _differential(sd) for key, url in _referenced_profiles(element)
            if definitions.structure_definition(url.split("|", 1)[0]) is None]


def lint_definition(path: Path, sd: dict[str, Any], definitions: Any) -> list[LintProblem]:
    """Every problem of one StructureDefinition."""
    header = _header_problems(path, sd)
    base = _base_problems(path, sd, definitions)
    snapshot = [] if header or base else _snapshot_problems(path, sd, definitions)
    offline = [] if header or base or snapshot else _offline_problems(path, sd, definitions)
    return [*header, *base, *snapshot, *_constraint_problems(path, sd),
            *_binding_problems(path, sd, definitions), *_profile_reference_problems(path, sd, definitions), *offline]


def lint(folder: Path, definitions: Any) -> list[LintProblem]:
    """Every problem of every StructureDefinition in ``folder`` (files that do not parse included).

    ``definitions`` must hold the folder's own profiles and what they build on.
    """
    problems: list[LintProblem] = []
    for path in profile_files(folder):
        data, reason = read_json(path)
        if data is None:
            problems.append(LintProblem(path, str(reason)))
        elif data.get("resourceType") == "StructureDefinition":
            problems.extend(lint_definition(path, data, definitions))
    return problems


def load_definitions(folder: Path, igs: tuple[str, ...], cache: Path | None) -> Any:
    """Definitions as the validator builds them, from the folder's readable files and ``igs``."""
    from ..validators import Options, Validator

    readable = tuple(str(p) for p in profile_files(folder) if read_json(p)[0] is not None)
    return Validator(Options(igs=(*readable, *igs), cache_root=cache)).definitions()


@dataclass(frozen=True, slots=True)
class LintOutcome:
    """What :func:`lint_folder` found: every problem, and how many profiles the folder holds."""

    folder: Path
    problems: list[LintProblem]
    profiles: int

    @property
    def errors(self) -> list[LintProblem]:
        return [p for p in self.problems if p.severity == "error"]

    def summary(self) -> str:
        """The last line of ``samsvar profiles lint``."""
        if self.errors:
            return f"{self.profiles} profiles, {len(self.errors)} error(s), {len(self.problems) - len(self.errors)} warning(s)"
        return f"{self.profiles} profiles, no problems" + (f" ({len(self.problems)} warning(s))" if self.problems else "")


def lint_folder(folder: Path | None = None, igs: tuple[str, ...] = (), cache: Path | None = None) -> LintOutcome:
    """Lint every StructureDefinition in ``folder`` (default: samsvar's own, with :data:`DEFAULT_IGS`
    when no ``igs`` are given) against the definitions they build on. A package missing offline is
    an :class:`~samsvar.validators.issues.EnvironmentProblem`."""
    folder = folder or PROFILES_FOLDER
    if not igs and folder.resolve() == PROFILES_FOLDER:
        igs = DEFAULT_IGS
    problems = lint(folder, load_definitions(folder, igs, cache))
    return LintOutcome(folder, problems, len(list(structure_definitions(folder))))

