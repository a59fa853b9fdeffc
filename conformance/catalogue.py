"""The requirements catalogue: principles (why), technical requirements (what) and how each is verified.

The catalogue is data in ``profiles/requirements/``: ``catalogue.json`` (principles and
requirements) and ``schema.json`` (its JSON Schema, draft 2020-12), so that a standards editor
changes it without Python. :func:`load_catalogue` reads it with samsvar's own JSON loader
(positions, duplicate keys), validates it against the schema, then makes the checks a schema
cannot express: unique ids, known principles, rule codes and prefixes that exist in samsvar's
rule registry, artefact kinds that agree with the requirement's artefacts. Every problem is
collected, located (file, line and column, JSON path) and reported at once in a
:class:`CatalogueError`.

A requirement is verified by samsvar **rules** (codes like ``NO-ID-003`` or prefixes like
``FHIR-SLICE``), by live-suite **tests** (still to come: ``status: planned``) or by **manual**
inspection (what a certifier must look at). :mod:`samsvar.conformance.judge` turns a run's
issues into a verdict per requirement.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Iterator, Union

if TYPE_CHECKING:
    import jsonschema


from ..validators.issues import Severity
from ..validators.load import load_bytes
from .texts import LANGUAGES, has, text

REQUIREMENTS_DIR = Path(__file__).resolve().parent.parent / "profiles" / "requirements"
CATALOGUE_FILE = "catalogue.json"
SCHEMA_FILE = "schema.json"
LEVELS = ("SHALL", "SHOULD", "MAY")
VERIFICATION_KINDS = ("rule", "test", "manual")
DEFAULT_RUN = "validate"
PROFILE_RULES = ("FHIR",)
"""The rules of a verification that names a profile and no rules: every FHIR check of the profile's walk."""
CONSTRAINT_RULES = ("FHIR-INV",)
"""The rules of a verification that names constraint keys and no rules: the invariant checks."""

JsonPath = tuple[Union[str, int], ...]


# -- model ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Text:
    """A text in Norwegian bokmål and English."""

    nb: str
    en: str

    def get(self, lang: str) -> str:
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r} (expected one of: {', '.join(LANGUAGES)})")
        return self.nb if lang == "nb" else self.en

    @classmethod
    def from_json(cls, value: str | dict[str, str]) -> "Text":
        """``{"nb": ..., "en": ...}``, or one string used for both languages."""
        if isinstance(value, str):
            return cls(value, value)
        return cls(value["nb"], value["en"])


@dataclass(frozen=True, slots=True)
class Standard:
    name: str
    url: str | None = None
    oid: str | None = None

    @property
    def reference(self) -> str:
        """The URL, else ``urn:oid:...``."""
        return self.url or f"urn:oid:{self.oid}"


@dataclass(frozen=True, slots=True)
class RuleVerification:
    """Verified by samsvar rules: a finding of one of them at or above the fail level fails."""

    kind: ClassVar[str] = "rule"
    rules: tuple[str, ...]
    kinds: tuple[str, ...] = ()
    """Globs on ``family:name`` of the artefacts judged (empty: every artefact of the families)."""
    inconclusive: tuple[str, ...] = ()
    """Rules saying the check could not be made on an artefact, which then does not count as checked."""
    run: str = DEFAULT_RUN
    """The command whose findings carry these rules: ``validate``, ``apprec-check`` or ``verify``."""
    profile: str | None = None
    """A profile (canonical URL): only artefacts validated against it are judged, on its findings alone."""
    constraints: tuple[str, ...] = ()
    """Constraint keys (``samsvar-pat-1``): only findings about these constraints count."""

    def covers(self, code: str) -> bool:
        return any(matches_rule(code, pattern) for pattern in self.rules)

    def covers_issue(self, issue: Any) -> bool:
        """Is this finding one the verification judges: its rule, and its profile and constraint when they are named?"""
        return (self.covers(issue.rule) and (self.profile is None or issue.profile == self.profile)
                and (not self.constraints or issue.constraint in self.constraints))

    def is_inconclusive(self, code: str) -> bool:
        return any(matches_rule(code, pattern) for pattern in self.inconclusive)

    def applies_to_kind(self, kind: str) -> bool:
        return not self.kinds or any(fnmatch.fnmatchcase(kind, pattern) for pattern in self.kinds)


@dataclass(frozen=True, slots=True)
class TestVerification:
    """Verified by live-suite tests; ``planned`` ones are still to come."""

    kind: ClassVar[str] = "test"
    __test__: ClassVar[bool] = False  # not a pytest test class
    tests: tuple[str, ...]
    status: str = "planned"


@dataclass(frozen=True, slots=True)
class ManualVerification:
    """Verified by a certifier, who inspects what ``inspect`` says."""

    kind: ClassVar[str] = "manual"
    inspect: Text


Verification = Union[RuleVerification, TestVerification, ManualVerification]


@dataclass(frozen=True, slots=True)
class Principle:
    id: str
    title: Text
    rationale: Text


@dataclass(frozen=True, slots=True)
class Requirement:
    id: str
    principle: str
    level: str
    title: Text
    text: Text
    standards: tuple[Standard, ...]
    artefacts: tuple[str, ...]
    verification: tuple[Verification, ...]
    status: str = "proposed"

    @property
    def rule_verifications(self) -> tuple[RuleVerification, ...]:
        return tuple(v for v in self.verification if isinstance(v, RuleVerification))

    @property
    def test_verifications(self) -> tuple[TestVerification, ...]:
        return tuple(v for v in self.verification if isinstance(v, TestVerification))

    @property
    def manual_verifications(self) -> tuple[ManualVerification, ...]:
        return tuple(v for v in self.verification if isinstance(v, ManualVerification))

    @property
    def verification_kinds(self) -> tuple[str, ...]:
        """``rule``, ``test``, ``manual``: those this requirement uses, in that order."""
        used = {v.kind for v in self.verification}
        return tuple(kind for kind in VERIFICATION_KINDS if kind in used)

    @property
    def rules(self) -> tuple[str, ...]:
        """Every rule code or prefix of its rule verifications, in order, once."""
        return tuple(dict.fromkeys(p for v in self.rule_verifications for p in v.rules))

    @property
    def tests(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for v in self.test_verifications for t in v.tests))


@dataclass(frozen=True, slots=True)
class Catalogue:
    id: str
    version: str
    status: str
    title: Text
    principles: tuple[Principle, ...]
    requirements: tuple[Requirement, ...]
    description: Text | None = None
    source: Path | None = None
    _principles: dict[str, Principle] = field(init=False, repr=False, compare=False)
    _requirements: dict[str, Requirement] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_principles", {p.id: p for p in self.principles})
        object.__setattr__(self, "_requirements", {r.id: r for r in self.requirements})

    def principle(self, principle_id: str) -> Principle:
        """The principle with this id (``KeyError`` when there is none)."""
        return self._principles[principle_id.strip().upper()]

    def requirement(self, requirement_id: str) -> Requirement:
        """The requirement with this id, case-insensitive (``KeyError`` when there is none)."""
        return self._requirements[requirement_id.strip().upper()]

    def find(self, requirement_id: str) -> Requirement | None:
        return self._requirements.get(requirement_id.strip().upper())

    def requirements_of(self, principle_id: str) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements if r.principle == principle_id)

    def verified_by(self, code: str) -> tuple[Requirement, ...]:
        """The requirements a rule code helps verify."""
        return tuple(r for r in self.requirements if any(v.covers(code) for v in r.rule_verifications))


# -- rule codes -----------------------------------------------------------------------------
def matches_rule(code: str, pattern: str) -> bool:
    """``NO-ID-003`` matches itself and the prefixes ``NO-ID`` and ``NO``; ``NO-ID-00`` matches nothing."""
    return code == pattern or code.startswith(pattern + "-")


def expand_rules(patterns: Iterable[str], codes: Iterable[str]) -> list[str]:
    """The codes (sorted, once) that the patterns match."""
    patterns = tuple(patterns)
    return sorted({code for code in codes if any(matches_rule(code, p) for p in patterns)})


def registered_rule_codes() -> frozenset[str]:
    """Every rule code in samsvar's registry."""
    from ..validators.rules import all_rules
    from . import suite  # noqa: F401 - registers the live-suite rules (LIVE-*)

    return frozenset(rule.code for rule in all_rules())


# -- problems -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a catalogue, located by JSON path and, when known, line and column."""

    file: str
    path: JsonPath
    message: str
    line: int | None = None
    column: int | None = None
    nb: str | None = None
    """The message in Norwegian bokmål (``message`` is English); None: only the English text exists."""

    @property
    def json_path(self) -> str:
        return json_path(self.path)

    def text(self, lang: str = "en") -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        message = self.message if lang != "nb" else self.nb or text("catalogue.only_english", lang, message=self.message)
        return f"{where}: {self.json_path}: {message}"

    def __str__(self) -> str:
        return self.text("en")


def problem(file: str, path: JsonPath, key: str, **values: Any) -> Problem:
    """A problem whose message is the text ``key`` (in English, with its bokmål beside it)."""
    return Problem(file, path, text(key, "en", **values), nb=text(key, "nb", **values))


class CatalogueError(ValueError):
    """The catalogue cannot be used; ``problems`` says every reason, located."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(self.text("en"))

    def text(self, lang: str = "en") -> str:
        """Every problem, in one language (``nb`` or ``en``)."""
        where = self.problems[0].file if self.problems else "catalogue"
        count = len(self.problems)
        head = text("catalogue.head_one" if count == 1 else "catalogue.head_many", lang, count=count, where=where)
        return head + "\n" + "\n".join(f"  {p.text(lang)}" for p in self.problems)


def json_path(path: JsonPath) -> str:
    """``$.requirements[3].verification[0].rules[1]``."""
    return "$" + "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)


# -- loading --------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _schema(path: Path) -> dict[str, Any]:
    schema = json.loads(path.read_text(encoding="utf-8"))
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def load_schema(directory: Path = REQUIREMENTS_DIR) -> dict[str, Any]:
    """The catalogue's JSON Schema (checked against the 2020-12 meta-schema)."""
    return _schema(directory / SCHEMA_FILE)


def catalogue_path(path: Path | str | None = None) -> Path:
    """A catalogue file, or ``catalogue.json`` in a folder; default: the shipped catalogue."""
    chosen = REQUIREMENTS_DIR if path is None else Path(path)
    return chosen / CATALOGUE_FILE if chosen.is_dir() else chosen


def load_catalogue(path: Path | str | None = None, *, rule_codes: Iterable[str] | None = None,
                   schema: dict[str, Any] | None = None) -> Catalogue:
    """Read, validate and cross-check a catalogue; raise :class:`CatalogueError` naming every problem.

    ``rule_codes`` defaults to samsvar's rule registry; ``schema`` to ``profiles/requirements/schema.json``.
    """
    file = catalogue_path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise CatalogueError([problem(str(file), (), "catalogue.unreadable", reason=exc.strerror or exc)]) from None
    loaded = load_bytes(str(file), data)
    if loaded.document is None or loaded.document.format != "json":
        raise CatalogueError(_load_problems(str(file), loaded.issues) or [
            problem(str(file), (), "catalogue.not_json")])
    locate = loaded.document.locator.locate
    problems = _load_problems(str(file), loaded.issues, locate)
    codes = registered_rule_codes() if rule_codes is None else frozenset(rule_codes)
    problems += [_located(p, locate) for p in iter_problems(loaded.document.tree, str(file), codes, schema)]
    if problems:
        raise CatalogueError(problems)
    return catalogue_from_json(loaded.document.tree, file)


def _load_problems(file: str, issues: list[Any], locate: Any = None) -> list[Problem]:
    out = []
    for issue in issues:
        if issue.severity < Severity.ERROR:
            continue  # a byte order mark is tolerated
        problem = Problem(file, tuple(issue.path or ()), issue.message, issue.line, issue.column)
        out.append(_located(problem, locate) if locate and issue.line is None else problem)
    return out


def _located(problem: Problem, locate: Any) -> Problem:
    position = locate(problem.path) if locate else None
    if position is None:
        return problem
    return Problem(problem.file, problem.path, problem.message, *position, nb=problem.nb)


def iter_problems(data: Any, file: str, rule_codes: Iterable[str],
                  schema: dict[str, Any] | None = None) -> Iterator[Problem]:
    """Schema violations first; when there are none, the cross-checks (lazily, in document order)."""
    schema_problems = list(_schema_problems(data, file, schema or load_schema()))
    if schema_problems:
        yield from schema_problems
        return
    codes = frozenset(rule_codes)
    yield from _duplicate_ids(data, file)
    yield from _unknown_principles(data, file)
    yield from _unknown_rules(data, file, codes)
    yield from _kinds_outside_artefacts(data, file)
    yield from _profiles_outside_fhir(data, file)
    yield from _without_verification(data, file)


# -- schema ---------------------------------------------------------------------------------
def _schema_problems(data: Any, file: str, schema: dict[str, Any]) -> Iterator[Problem]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: [_sort_key(step) for step in e.absolute_path])
    for error in errors:
        shown = _deepest(error)
        path = tuple(shown.absolute_path)
        yield Problem(file, path, _schema_message(shown, data, path), nb=_schema_message(shown, data, path, "nb"))


def _sort_key(step: str | int) -> tuple[int, int, str]:
    return (0, step, "") if isinstance(step, int) else (1, 0, step)


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For oneOf/anyOf failures, the sub-error a human should read (jsonschema's best_match),
    unless every alternative only asks for a property: then the error itself, worded by
    :func:`_schema_message` as "needs one of"."""
    if error.context and not _alternative_properties(error):
        import jsonschema

        return jsonschema.exceptions.best_match(error.context) or error
    return error


def _alternative_properties(error: jsonschema.ValidationError) -> list[str]:
    """``["url", "oid"]`` for an anyOf of ``required`` alternatives; empty otherwise."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return []
    if any(sub.validator != "required" or sub.relative_path for sub in error.context):
        return []
    return [name for sub in error.context for name in sub.validator_value]


def _schema_message(error: jsonschema.ValidationError, data: Any, path: JsonPath, lang: str = "en") -> str:
    requirement = _requirement_id_at(data, path)
    alternatives = _alternative_properties(error)
    context = text("catalogue.in_requirement", lang, requirement=requirement) if requirement else ""
    message = (text("catalogue.needs_one_of", lang, names=", ".join(map(repr, alternatives))) if alternatives
               else _schema_keyword_message(error, lang))
    return f"{message}{context} [schema: {'/'.join(str(p) for p in error.absolute_schema_path)}]"


def _schema_keyword_message(error: jsonschema.ValidationError, lang: str) -> str:
    """jsonschema's message for the keywords the catalogue's schema uses: its own English, or bokmål
    (``catalogue.schema.KEYWORD``); a keyword without a bokmål text keeps the English, marked as such."""
    key = f"catalogue.schema.{error.validator}"
    if not has(key):
        return text("catalogue.only_english", lang, message=error.message)
    value, wanted = error.instance, error.validator_value
    extra = sorted(set(value) - set(error.schema.get("properties", {}))) if isinstance(value, dict) else []
    return text(key, lang, message=error.message, name=error.message.removesuffix(" is a required property"),
                names=", ".join(map(repr, extra)), shown=json.dumps(value, ensure_ascii=False)[:80],
                wanted=json.dumps(wanted, ensure_ascii=False))


def _requirement_id_at(data: Any, path: JsonPath) -> str | None:
    if len(path) >= 2 and path[0] == "requirements" and isinstance(path[1], int):
        requirements = data.get("requirements") if isinstance(data, dict) else None
        if isinstance(requirements, list) and path[1] < len(requirements):
            entry = requirements[path[1]]
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                return entry["id"]
    return None


# -- cross-checks (on a document the schema accepted) ---------------------------------------
def _duplicate_ids(data: dict[str, Any], file: str) -> Iterator[Problem]:
    seen: dict[str, JsonPath] = {}
    for section in ("principles", "requirements"):
        for n, entry in enumerate(data[section]):
            here = (section, n, "id")
            if entry["id"] in seen:
                yield problem(file, here, "catalogue.duplicate_id", id=entry["id"], first=json_path(seen[entry["id"]]))
            else:
                seen[entry["id"]] = here


def _unknown_principles(data: dict[str, Any], file: str) -> Iterator[Problem]:
    known = {p["id"] for p in data["principles"]}
    for n, entry in enumerate(data["requirements"]):
        if entry["principle"] not in known:
            yield problem(file, ("requirements", n, "principle"), "catalogue.unknown_principle", id=entry["id"],
                          principle=entry["principle"], known=", ".join(sorted(known)))


def _unknown_rules(data: dict[str, Any], file: str, codes: frozenset[str]) -> Iterator[Problem]:
    for n, entry in enumerate(data["requirements"]):
        for v, verification in enumerate(entry["verification"]):
            for key in ("rules", "inconclusive"):
                for r, pattern in enumerate(verification.get(key, ()) if verification["kind"] == "rule" else ()):
                    if not any(matches_rule(code, pattern) for code in codes):
                        yield problem(file, ("requirements", n, "verification", v, key, r), "catalogue.unknown_rule",
                                      id=entry["id"], pattern=pattern)


def _kinds_outside_artefacts(data: dict[str, Any], file: str) -> Iterator[Problem]:
    for n, entry in enumerate(data["requirements"]):
        for v, verification in enumerate(entry["verification"]):
            for k, pattern in enumerate(verification.get("kinds", ()) if verification["kind"] == "rule" else ()):
                family = pattern.split(":", 1)[0]
                if family not in entry["artefacts"]:
                    yield problem(file, ("requirements", n, "verification", v, "kinds", k),
                                  "catalogue.kind_outside_artefacts", id=entry["id"], pattern=pattern, family=family,
                                  artefacts=entry["artefacts"])


def _profiles_outside_fhir(data: dict[str, Any], file: str) -> Iterator[Problem]:
    for n, entry in enumerate(data["requirements"]):
        for v, verification in enumerate(entry["verification"]):
            if verification["kind"] == "rule" and "profile" in verification and "fhir" not in entry["artefacts"]:
                yield problem(file, ("requirements", n, "verification", v, "profile"), "catalogue.profile_outside_fhir",
                              id=entry["id"], artefacts=entry["artefacts"])


def _without_verification(data: dict[str, Any], file: str) -> Iterator[Problem]:
    for n, entry in enumerate(data["requirements"]):
        if not entry["verification"]:  # the schema says so too; kept for catalogues checked without it
            yield problem(file, ("requirements", n, "verification"), "catalogue.without_verification", id=entry["id"])


# -- building the model ---------------------------------------------------------------------
def catalogue_from_json(data: dict[str, Any], source: Path | None = None) -> Catalogue:
    """The model of a catalogue document that :func:`iter_problems` found nothing wrong with."""
    return Catalogue(
        id=data["id"],
        version=data["version"],
        status=data["status"],
        title=Text.from_json(data["title"]),
        description=Text.from_json(data["description"]) if "description" in data else None,
        principles=tuple(Principle(p["id"], Text.from_json(p["title"]), Text.from_json(p["rationale"]))
                         for p in data["principles"]),
        requirements=tuple(_requirement(r) for r in data["requirements"]),
        source=source,
    )


def _requirement(data: dict[str, Any]) -> Requirement:
    return Requirement(
        id=data["id"],
        principle=data["principle"],
        level=data["level"],
        title=Text.from_json(data["title"]),
        text=Text.from_json(data["text"]),
        standards=tuple(Standard(s["name"], s.get("url"), s.get("oid")) for s in data["standards"]),
        artefacts=tuple(data["artefacts"]),
        verification=tuple(_verification(v) for v in data["verification"]),
        status=data.get("status", "proposed"),
    )


def _verification(data: dict[str, Any]) -> Verification:
    if data["kind"] == "rule":
        constraints = tuple(data.get("constraints", ()))
        rules = data.get("rules") or (PROFILE_RULES if "profile" in data else CONSTRAINT_RULES)
        return RuleVerification(rules=tuple(rules), kinds=tuple(data.get("kinds", ())),
                                inconclusive=tuple(data.get("inconclusive", ())), run=data.get("run", DEFAULT_RUN),
                                profile=data.get("profile"), constraints=constraints)
    if data["kind"] == "test":
        return TestVerification(tests=tuple(data["tests"]), status=data["status"])
    return ManualVerification(inspect=Text.from_json(data["inspect"]))
