"""Measure and MeasureReport: the checks that need more than the structure definitions.

A Measure's groups, populations and stratifiers need codes when there are several of them, and
its CQL criteria must name a definition of a Library the Measure uses (resolved among the loaded
definitions, ``--ig``): the Library must be there, carry its compiled ELM
(``application/elm+xml``) and define the name. A MeasureReport is compared with its Measure
(the canonical ``measure``, resolved among the loaded definitions or the contained resources):
every group, population and stratifier of the report matches one of the Measure by code, none
is repeated and none of the Measure's is left out; the population counts agree with the subjects
listed (``subject-list`` reports) or no subjects are listed (other reports); the measure score
follows the Measure's scoring (none for cohort measures and data-collection reports, a number
between 0 and 1 without a unit for proportions). What HL7's validator says as a warning or a
note is a warning or a note here too.
"""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterator

from lxml import etree

from ..issues import Issue, Path, Severity
from ..load import safe_xml_parser
from ..rules import declared
from .definitions import Definitions
from .references import DocumentIndex
from .visit import Visit

MEASURE_ADVICE = declared("FHIR-MEASURE-001")
CQL_CRITERIA = declared("FHIR-MEASURE-002")
CRITERIA_NOT_CHECKED = declared("FHIR-MEASURE-003")
LIBRARY_NOT_FOUND = declared("FHIR-MEASURE-004")
MEASURE_NOT_FOUND = declared("FHIR-MEASURE-005")
REPORT_GROUPS = declared("FHIR-MEASURE-006")
REPORT_SUBJECTS = declared("FHIR-MEASURE-007")
REPORT_SCORE = declared("FHIR-MEASURE-008")

_POPULATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-population"
_SCORINGS = ("proportion", "ratio", "continuous-variable", "cohort")
_PERSONS = ("Patient", "Practitioner", "Person", "PractitionerRole", "RelatedPerson")
_ELM = "urn:hl7-org:elm:r1"
_UNIT_EXTENSION = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _codings(concept: Any) -> list[tuple[Any, Any]]:
    return [(c.get("system"), c.get("code")) for c in _list((concept or {}).get("coding"))] if isinstance(concept, dict) else []


def _shows(concept: Any) -> str:
    """A CodeableConcept as 'system#code' (several in brackets) and 'text'."""
    if not isinstance(concept, dict):
        return ""
    codes = [f"{s}#{c}" for s, c in _codings(concept)]
    shown = codes[0] if len(codes) == 1 else f"[{', '.join(codes)}]" if codes else ""
    text = concept.get("text")
    if isinstance(text, str):
        shown = f"{shown}: '{text}'" if shown else f"'{text}'"
    return shown


def _matches(report: Any, definition: Any) -> bool:
    """The report's code has one of the definition's codings (system and code)."""
    wanted = set(_codings(definition))
    return any(c in wanted for c in _codings(report))


class _Here:
    __slots__ = ("path", "expression")

    def __init__(self, path: Path, expression: str) -> None:
        self.path = path
        self.expression = expression

    def child(self, name: str, index: int | None = None) -> "_Here":
        if index is None:
            return _Here((*self.path, name), f"{self.expression}.{name}")
        return _Here((*self.path, name, index), f"{self.expression}.{name}[{index}]")


class MeasureChecker:
    """An element check on Measure and MeasureReport resources."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions
        self.index = DocumentIndex()

    @staticmethod
    def relevant(element: dict[str, Any], _code: str | None) -> bool:
        """Only a resource's root element is visited with the resource itself (see StructureChecker)."""
        return "." not in element.get("path", "")

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        resource = visit.value
        if visit.value is not visit.resource or not isinstance(resource, dict):
            return
        here = _Here(visit.path, visit.expression)
        if resource.get("resourceType") == "Measure":
            yield from self._measure(resource, here)
        elif resource.get("resourceType") == "MeasureReport":
            yield from self._report(resource, here, visit)

    # Measure ------------------------------------------------------------------------------

    def _measure(self, measure: dict[str, Any], here: _Here) -> Iterator[Issue]:
        libraries: list[dict[str, Any]] = []
        for i, ref in enumerate(measure.get("library") or [] if isinstance(measure.get("library"), list) else []):
            if not isinstance(ref, str) or not ref:
                continue
            library = self.definitions.get(ref)
            if library is None or library.get("resourceType") != "Library":
                at = here.child("library", i)
                yield LIBRARY_NOT_FOUND.issue(f"The Library {ref} could not be found among the loaded definitions, "
                                              "so the CQL criteria cannot be checked against it",
                                              path=at.path, expression=at.expression)
                continue
            libraries.append(library)
        groups = _list(measure.get("group"))
        if not groups:
            yield MEASURE_ADVICE.issue("A Measure should contain at least one group", path=here.path,
                                       expression=here.expression)
            return
        for g, group in enumerate(groups):
            at = here.child("group", g)
            if len(groups) > 1 and "code" not in group:
                yield MEASURE_ADVICE.issue("Groups should have codes when there is more than one group",
                                           path=at.path, expression=at.expression)
            populations = _list(group.get("population"))
            if not populations:
                yield MEASURE_ADVICE.issue("A Measure group should have at least one population",
                                           path=at.path, expression=at.expression)
            for p, population in enumerate(populations):
                if len(populations) > 1 and "code" not in population:
                    pat = at.child("population", p)
                    yield MEASURE_ADVICE.issue("A group population should have a code when the group has more "
                                               "than one population", path=pat.path, expression=pat.expression)
            stratifiers = _list(group.get("stratifier"))
            for s, stratifier in enumerate(stratifiers):
                sat = at.child("stratifier", s)
                if len(stratifiers) > 1 and "code" not in stratifier:
                    yield MEASURE_ADVICE.issue("A group stratifier should have a code when the group has more "
                                               "than one stratifier", path=sat.path, expression=sat.expression)
                criteria = stratifier.get("criteria")
                if isinstance(criteria, dict):
                    yield from self._criteria(criteria, libraries, sat.child("criteria"))

    def _criteria(self, criteria: dict[str, Any], libraries: list[dict[str, Any]], here: _Here) -> Iterator[Issue]:
        language = criteria.get("language")
        if not isinstance(language, str) or not language:
            return  # required by the structure: reported there
        if language not in ("text/cql", "text/cql.identifier"):
            yield CRITERIA_NOT_CHECKED.issue(f"The expression language {language} is not supported, so the criteria "
                                             "cannot be checked", path=here.path, expression=here.expression)
            return
        expression = criteria.get("expression")
        if not libraries:
            yield CQL_CRITERIA.issue("No CQL Library of this Measure is available (Measure.library, loaded with --ig), "
                                     "so the CQL criteria cannot be resolved", path=here.path, expression=here.expression)
            return
        if not isinstance(expression, str):
            return
        name = expression
        if "." in expression:
            namespace, name = expression.split(".", 1)
            named = [lib for lib in libraries if lib.get("name") == namespace]
            if len(named) != 1:
                problem = "Several Libraries" if named else "No Library"
                yield CQL_CRITERIA.issue(f"{problem} of this Measure named {namespace!r} (the namespace of "
                                         f"{expression!r})", path=here.path, expression=here.expression)
                return
            library = named[0]
        elif len(libraries) == 1:
            library = libraries[0]
        else:
            yield CQL_CRITERIA.issue("The CQL expression has no namespace (Library name), and the Measure has more "
                                     "than one Library", path=here.path, expression=here.expression)
            return
        url = library.get("url")
        elm = _elm(library)
        if elm is None:
            yield CQL_CRITERIA.issue(f"Error in {url}: no compiled version of the CQL (ELM, application/elm+xml) "
                                     "was found", path=here.path, expression=here.expression)
        elif isinstance(elm, str):
            yield CQL_CRITERIA.issue(f"Error in {url}: its compiled CQL could not be read ({elm})",
                                     path=here.path, expression=here.expression)
        elif name not in elm:
            yield CQL_CRITERIA.issue(f"The definition {name!r} does not exist in the library {url}",
                                     path=here.path, expression=here.expression)

    # MeasureReport ------------------------------------------------------------------------

    def _report(self, report: dict[str, Any], here: _Here, visit: Visit) -> Iterator[Issue]:
        canonical = report.get("measure")
        if not isinstance(canonical, str) or not canonical:
            return
        at = here.child("measure")
        if canonical.startswith("#"):
            measure = next((c for c in _list(report.get("contained")) if c.get("id") == canonical[1:]), None)
        else:
            measure = self.definitions.get(canonical)
        if measure is None or measure.get("resourceType") != "Measure":
            yield MEASURE_NOT_FOUND.issue(f"The Measure '{canonical}' could not be found (load it with --ig), so the "
                                          "report was not compared with it", path=at.path, expression=at.expression)
            return
        scoring = next((c for _, c in _codings(measure.get("scoring"))), None)
        if scoring not in _SCORINGS:
            yield MEASURE_NOT_FOUND.issue("The scoring of this Measure is unknown, so the measure scores cannot be "
                                          "checked", path=at.path, expression=at.expression, severity=Severity.INFORMATION)
        session = _Report(self, report, measure, scoring, visit)
        yield from session.groups(here)


class _Report:
    """One MeasureReport compared with its Measure."""

    def __init__(self, checker: MeasureChecker, report: dict[str, Any], measure: dict[str, Any],
                 scoring: str | None, visit: Visit) -> None:
        self.checker = checker
        self.report = report
        self.measure = measure
        self.scoring = scoring
        self.type = report.get("type")
        self.visit = visit

    def groups(self, here: _Here) -> Iterator[Issue]:
        defined = _list(self.measure.get("group"))
        if not defined:
            return
        reported = _list(self.report.get("group"))
        if len(reported) == 1 and len(defined) == 1:
            group, definition = reported[0], defined[0]
            at = here.child("group", 0)
            if "code" in definition and "code" in group:
                if not any(s and c for s, c in _codings(group["code"])):
                    yield REPORT_GROUPS.issue("None of the group's codes can be compared with the Measure: at least "
                                              "one needs both a system and a code", path=at.path, expression=at.expression)
                    return
                if not _matches(group["code"], definition["code"]):
                    yield REPORT_GROUPS.issue(f"The group's code ({_shows(group['code'])}) does not match the code of "
                                              f"the Measure's group ({_shows(definition['code'])})",
                                              path=at.path, expression=at.expression)
            yield from self.group(group, definition, at)
            return
        issues, pairs, used = _paired("group", "the Measure's groups", reported, defined, here,
                                      lambda part: part.get("code"), lambda code, d: "code" in d and _matches(code, d["code"]))
        yield from issues
        for group, definition, at in pairs:
            yield from self.group(group, definition, at)
        if self.type != "data-collection":
            for i, definition in enumerate(defined):
                if i not in used:
                    yield REPORT_GROUPS.issue(f"The MeasureReport does not include a group for the Measure's group "
                                              f"with code '{_shows(definition.get('code'))}'",
                                              path=here.path, expression=here.expression)

    def group(self, group: dict[str, Any], definition: dict[str, Any], here: _Here) -> Iterator[Issue]:
        yield from self.populations(group, definition, here)
        yield from self.score(group, here)
        yield from self.stratifiers(group, definition, here)

    def populations(self, group: dict[str, Any], definition: dict[str, Any], here: _Here) -> Iterator[Issue]:
        defined = _list(definition.get("population"))
        issues, pairs, used = _paired("population", "the Measure's group", _list(group.get("population")), defined, here,
                                      lambda part: part.get("code"), lambda code, d: _matches(code, d.get("code")))
        yield from issues
        for population, _, at in pairs:
            yield from self.subjects(population, at)
        for i, population in enumerate(defined):
            if i not in used and (_POPULATION_SYSTEM, "measure-observation") not in _codings(population.get("code")):
                yield REPORT_GROUPS.issue(f"The MeasureReport does not include a population for the Measure's "
                                          f"population with code '{_shows(population.get('code'))}'",
                                          path=here.path, expression=here.expression)

    def subjects(self, population: dict[str, Any], here: _Here) -> Iterator[Issue]:
        listed = population.get("subjectResults")
        if self.type != "subject-list":
            if listed is not None:
                yield REPORT_SUBJECTS.issue("Reports whose type is not 'subject-list' do not list subjects",
                                            path=here.path, expression=here.expression)
            if "count" not in population:
                yield REPORT_SUBJECTS.issue("The count should be given in reports whose type is not 'subject-list'",
                                            path=here.path, expression=here.expression, severity=Severity.WARNING)
            return
        count = population.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or listed is None:
            return
        counted, why = self._count(listed)
        if counted is None:
            yield REPORT_SUBJECTS.issue(f"The count {count} could not be checked: {why}", path=here.path,
                                        expression=here.expression, severity=Severity.INFORMATION)
        elif counted != count:
            yield REPORT_SUBJECTS.issue(f"The count {count} does not match the number of subjects listed ({counted})",
                                        path=here.path, expression=here.expression)

    def _count(self, listed: Any) -> tuple[int | None, str]:
        reference = listed.get("reference") if isinstance(listed, dict) else None
        if not isinstance(reference, str):
            return None, "the subject reference has no reference"
        target = self.checker.index.resolve(reference, self.visit.root, self.visit.top)
        if target is None and reference.startswith("#"):
            target = next((c for c in _list(self.report.get("contained")) if c.get("id") == reference[1:]), None)
        if target is None:
            kind = reference.split("/")[0] if reference.count("/") == 1 else None
            if kind in _PERSONS:
                return 1, ""
            return None, f"the subject reference {reference} could not be resolved"
        kind = target.get("resourceType")
        if kind in _PERSONS:
            return 1, ""
        if kind == "List":
            return len(_list(target.get("entry"))), ""
        return None, f"the subject reference {reference} is a {kind}, which cannot be counted"

    def score(self, group: dict[str, Any], here: _Here) -> Iterator[Issue]:
        score = group.get("measureScore")
        at = here.child("measureScore")
        if self.type == "data-collection" or self.scoring == "cohort":
            if score is not None:
                why = ("the type of the report is 'data-collection'" if self.type == "data-collection"
                       else "the scoring of the Measure is 'cohort'")
                yield REPORT_SCORE.issue(f"No measureScore when {why}", path=at.path, expression=at.expression)
            return
        if self.scoring not in ("proportion", "ratio", "continuous-variable"):
            return
        if not isinstance(score, dict):
            yield REPORT_SCORE.issue(f"A measureScore is required when the Measure's scoring is {self.scoring}",
                                     path=here.path, expression=here.expression)
            return
        value = score.get("value")
        if value is None:
            yield REPORT_SCORE.issue(f"A measureScore value is required when the Measure's scoring is {self.scoring}",
                                     path=at.path, expression=at.expression)
            return
        if self.scoring == "proportion":
            for name in ("unit", "system", "code"):
                if name in score:
                    unit = at.child(name)
                    yield REPORT_SCORE.issue("A measureScore of a proportion has no unit", path=unit.path,
                                             expression=unit.expression)
            try:
                number = Decimal(str(value))
            except (InvalidOperation, ValueError):
                return  # not a number: the structure check says so
            if not Decimal(0) <= number <= Decimal(1):
                val = at.child("value")
                yield REPORT_SCORE.issue(f"The score of a proportion is between 0 and 1, not {value}", path=val.path,
                                         expression=val.expression)
            return
        fixed = next((e.get("valueCoding") for e in _list(self.measure.get("extension"))
                      if e.get("url") == _UNIT_EXTENSION and isinstance(e.get("valueCoding"), dict)), None)
        if "code" in score and fixed is not None:
            if score.get("code") != fixed.get("code") or score.get("system") != fixed.get("system"):
                yield REPORT_SCORE.issue(f"The Measure fixes the unit of the score to {fixed.get('system')}#"
                                         f"{fixed.get('code')}", path=at.path, expression=at.expression)
        elif fixed is not None:
            yield REPORT_SCORE.issue(f"The Measure fixes the unit of the score to {fixed.get('system')}#"
                                     f"{fixed.get('code')}, and the score has none", path=at.path, expression=at.expression)
        elif self.scoring == "ratio" and "code" not in score:
            yield REPORT_SCORE.issue("A unit should be present when the scoring is ratio", path=at.path,
                                     expression=at.expression, severity=Severity.WARNING)

    def stratifiers(self, group: dict[str, Any], definition: dict[str, Any], here: _Here) -> Iterator[Issue]:
        defined = _list(definition.get("stratifier"))
        issues, _, used = _paired("stratifier", "the Measure's group", _list(group.get("stratifier")), defined, here,
                                  lambda part: next(iter(_list(part.get("code"))), None),
                                  lambda code, d: _stratifier_matches(code, d.get("code")))
        yield from issues
        for i, stratifier in enumerate(defined):
            if i not in used:
                ident = f" (id '{stratifier['id']}')" if isinstance(stratifier.get("id"), str) else ""
                yield REPORT_GROUPS.issue(f"The MeasureReport does not include a stratifier for the Measure's "
                                          f"stratifier with code '{_shows(stratifier.get('code'))}'{ident}",
                                          path=here.path, expression=here.expression)


def _paired(kind: str, where: str, reported: list[dict[str, Any]], defined: list[dict[str, Any]], here: _Here,
            code_of: Callable[[dict[str, Any]], Any], matches: Callable[[Any, dict[str, Any]], bool],
            ) -> tuple[list[Issue], list[tuple[dict[str, Any], dict[str, Any], _Here]], set[int]]:
    """Each reported group, population or stratifier matched by its code to one the Measure defines:
    the issues (no code, no match, matched twice), the pairs, and which definitions were matched."""
    issues: list[Issue] = []
    pairs: list[tuple[dict[str, Any], dict[str, Any], _Here]] = []
    used: set[int] = set()
    for n, part in enumerate(reported):
        at = here.child(kind, n)
        code = code_of(part)
        if code is None:
            issues.append(REPORT_GROUPS.issue(f"The {kind} should have a code that matches a {kind} of {where}",
                                              path=at.path, expression=at.expression))
            continue
        found = next((i for i, d in enumerate(defined) if matches(code, d)), None)
        if found is None:
            issues.append(REPORT_GROUPS.issue(f"The code '{_shows(code)}' of this {kind} has no match in {where}",
                                              path=at.path, expression=at.expression))
        elif found in used:
            issues.append(REPORT_GROUPS.issue(f"The code of this {kind} is the same as another {kind}'s",
                                              path=at.path, expression=at.expression))
        else:
            used.add(found)
            pairs.append((part, defined[found], at))
    return issues, pairs, used


def _stratifier_matches(report: Any, definition: Any) -> bool:
    if not isinstance(definition, dict):
        return False
    if _matches(report, definition):
        return True
    if not _codings(report) and not _codings(definition):  # text-only codes are compared by their text
        text = report.get("text") if isinstance(report, dict) else None
        return isinstance(text, str) and text == definition.get("text")
    return False


def _elm(library: dict[str, Any]) -> set[str] | str | None:
    """The names an ELM (XML) attachment of ``library`` defines, an error text when it cannot be
    read, or None when the Library carries no ELM."""
    for content in _list(library.get("content")):
        if content.get("contentType") != "application/elm+xml" or not isinstance(content.get("data"), str):
            continue
        try:
            data = base64.b64decode(content["data"], validate=False)
        except (binascii.Error, ValueError) as exc:
            return f"not base64: {exc}"
        try:
            root = etree.fromstring(data, safe_xml_parser())
        except etree.XMLSyntaxError as exc:
            return str(exc)
        if etree.QName(root).localname != "library" or etree.QName(root).namespace != _ELM:
            return "not an ELM library"
        return {d.get("name") for d in root.iterfind(f"{{{_ELM}}}statements/{{{_ELM}}}def") if d.get("name")}
    return None
