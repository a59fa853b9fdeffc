"""ValueSet resources as artifacts: what their ``compose`` says, checked as HL7's validator checks it.

A value set is a query over code systems. Written wrongly it still loads, expands to less (or
nothing), and every binding to it judges codes against the wrong list; nothing in the structure
definitions says so. HL7's validator (``ValueSetValidator``) reads each ``compose.include`` and
``compose.exclude`` and so does samsvar (FHIR-VS-NNN):

- the ``system``: an absolute URI (not ``#id`` of a contained code system), without a ``|version``
  (that goes in ``version``); not the URL of a value set, not an identifier (``urn:oid:``) of a
  code system whose URL is another, not a supplement; a ``#id`` must name one contained CodeSystem;
- the code system it names: loaded? of limited content (example, fragment, not-present)?;
- each ``concept``: a code of that code system when it is loaded in full (samsvar's own Volven
  lists, copied from the public viewer without retired codes, only warn), its display the code
  system's; when the code system is not loaded, the concepts were *not* checked, and that is said;
- each imported ``valueSet``: loaded, and a ValueSet; several in one include are an intersection;
- each ``filter``: a property the code system (or every code system) knows, an operator allowed
  for it, and a value of the property's type (code, boolean, integer, decimal, date-time, regex,
  a code of the system when it is loaded in full).

What needs a terminology server is not judged: codes and filter values of code systems that are
not loaded (HL7's validator without a server has them all fail), and the filters of SNOMED CT,
LOINC, RxNorm, UCUM, CPT and BCP 47, whose properties and values HL7 asks a server about.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, NamedTuple

from ..issues import Issue, Path, Severity
from ..rules import declared
from ..terminology.formats import SYNTAX_CHECKS
from .bindings import partial_own_list, terminology
from .definitions import Definitions
from .urls import is_absolute_url, is_example_url
from .artifact_check import ArtifactCheck
from .visit import Visit

UNKNOWN_CODE = declared("FHIR-VS-001")
SYSTEM_NOT_LOADED = declared("FHIR-VS-002")
LIMITED_CONTENT = declared("FHIR-VS-003")
DISPLAY_DIFFERS = declared("FHIR-VS-004")
SYSTEM_NOT_ABSOLUTE = declared("FHIR-VS-005")
SYSTEM_IS_VALUE_SET = declared("FHIR-VS-006")
SYSTEM_IS_IDENTIFIER = declared("FHIR-VS-007")
SYSTEM_IS_SUPPLEMENT = declared("FHIR-VS-008")
VERSION_IN_SYSTEM = declared("FHIR-VS-009")
IMPORT_UNKNOWN = declared("FHIR-VS-010")
IMPORT_NOT_VALUE_SET = declared("FHIR-VS-011")
IMPORTS_INTERSECTED = declared("FHIR-VS-012")
CONTAINED_SYSTEM = declared("FHIR-VS-013")
FILTER_PROPERTY_UNKNOWN = declared("FHIR-VS-014")
FILTER_OP_NOT_ALLOWED = declared("FHIR-VS-015")
FILTER_VALUE_INVALID = declared("FHIR-VS-016")

STANDARD_PROPERTIES = ("concept", "code", "status", "inactive", "effectiveDate", "deprecationDate",
                       "retirementDate", "notSelectable", "synonym", "comment", "itemWeight")
"""The properties HL7's validator takes every code system to have (besides its declared ones)."""
HIERARCHY_PROPERTIES = ("parent", "child", "partOf")
"""Known too in a code system that states a ``hierarchyMeaning``."""
BUILT_IN_SYSTEMS = frozenset({"http://unitsofmeasure.org", "urn:ietf:bcp:47", "urn:ietf:bcp:13", "urn:ietf:rfc:3986"})
"""Code systems HL7's validator knows without a CodeSystem resource (grammars and built-in lists): it
never calls them unknown, so samsvar does not say their concepts were not checked; where samsvar
knows the grammar (MIME types, ISO 3166-2, M49) a code that breaks it is FHIR-VS-001."""
SERVER_SYSTEMS = frozenset({
    "http://snomed.info/sct", "http://loinc.org", "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://unitsofmeasure.org", "http://www.ama-assn.org/go/cpt", "urn:ietf:bcp:47"})
"""Code systems whose filters HL7's validator judges by its own knowledge of them and a terminology
server: samsvar leaves their filters alone."""

_CODE_OPS = ("=", "in", "is-a", "descendent-of", "is-not-a", "generalizes", "not-in")
"""The operators allowed on ``concept`` in R4 (``code`` allows ``regex`` too)."""
_CODE_VALUED = ("concept", "code", "parent", "child", "partOf")
"""Properties whose filter value must be a code of the system (HL7's CodeValidationRule.Error)."""
_COMPARATORS = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
_DATE_TIME = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))?)?)?)?")
_DECIMAL = re.compile(r"[+-]?(0|[1-9][0-9]*)?(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"-?[0-9]{1,10}")
_LEGACY_CODING = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:[^\s|]+\|\S+")


class Where(NamedTuple):
    """Where a finding is: the path from the resource root and the FHIRPath expression."""

    path: Path
    expression: str

    def at(self, *steps: str | int) -> "Where":
        expression = self.expression
        for step in steps:
            expression += f"[{step}]" if isinstance(step, int) else f".{step}"
        return Where((*self.path, *steps), expression)

    def issue(self, rule: Any, message: str, severity: Severity | None = None) -> Issue:
        return rule.issue(message, path=self.path, expression=self.expression, severity=severity)


class FilterRules(NamedTuple):
    """What a filter on one property may be (HL7's PropertyValidationRules): the value's type, the
    operators allowed (none: any), and whether the value must be a code of the system (error or
    warning)."""

    type: str | None
    ops: frozenset[str]
    code_rule: Severity | None = None


class ValueSetChecker(ArtifactCheck):
    """An element check on ValueSet resources (their root element)."""
    resource_type = "ValueSet"

    def __init__(self, definitions: Definitions, allow_example_urls: bool = True) -> None:
        super().__init__(definitions)
        self.allow_example_urls = allow_example_urls
        """False (``--no-example-urls``): an example code system in an include is an error, as in HL7."""
        self._by_identifier: dict[str, list[dict[str, Any]]] | None = None

    def check(self, visit: Visit, value_set: dict[str, Any]) -> Iterator[Issue]:
        compose = value_set.get("compose")
        if not isinstance(compose, dict):
            return
        for part in ("include", "exclude"):
            items = compose.get(part)
            for index, include in enumerate(items if isinstance(items, list) else []):
                if isinstance(include, dict):
                    where = Where((*visit.path, "compose", part, index), f"{visit.expression}.compose.{part}[{index}]")
                    yield from self._include(value_set, include, where)

    # -- one include (or exclude) -----------------------------------------------------------------

    def _include(self, value_set: dict[str, Any], include: dict[str, Any], where: Where) -> Iterator[Issue]:
        system = include.get("system") if isinstance(include.get("system"), str) else None
        version = include.get("version") if isinstance(include.get("version"), str) else None
        if system is not None and "|" in system:
            yield from _version_in_system(system, version, where)
            system = system.split("|", 1)[0]
        yield from self._imports(include, where)
        if system is None:
            return
        if not is_absolute_url(system):
            hint = (": to use a contained code system, give it a url and name that url here (and point at it with "
                    "the valueset-system extension)") if system.startswith("#") else ""
            yield where.issue(SYSTEM_NOT_ABSOLUTE, f"The include system '{system}' is not an absolute URI{hint}")
        if system.startswith("#"):
            yield from _contained_system(value_set, system, version, where)
        resource = self._code_system(system, version)
        check_concepts = True
        if resource is not None:
            issue, check_concepts = _content(resource, system, version, where)
            if issue is not None:
                yield issue
        else:
            if system.startswith("urn:oid:"):
                yield from self._identifier(system, where)
            found = self.definitions.get(system)
            if found is not None and found.get("resourceType") == "ValueSet" \
                    and (version is None or _version_matches(version, found.get("version"))):
                check_concepts = False
                yield where.issue(SYSTEM_IS_VALUE_SET, _value_set_as_system(system, found))
        concepts = [(i, c) for i, c in enumerate(_list(include, "concept")) if isinstance(c, dict)]
        if check_concepts and concepts:
            yield from self._concepts(system, version, resource, concepts, where)
        for index, filter_ in enumerate(_list(include, "filter")):
            if isinstance(filter_, dict):
                yield from self._filter(system, version, resource, filter_, where.at("filter", index))

    def _code_system(self, system: str, version: str | None) -> dict[str, Any] | None:
        """The loaded CodeSystem at ``system`` (of ``version``, when the include names one), or None."""
        found = self.definitions.get(system)
        if found is None or found.get("resourceType") != "CodeSystem":
            return None
        if version is not None and not _version_matches(version, found.get("version")):
            return None
        return found

    # -- the system is an identifier -------------------------------------------------------------

    def _identifier(self, system: str, where: Where) -> Iterator[Issue]:
        """FHIR-VS-007 when a loaded code system has ``system`` as an identifier but another URL (a
        Volven list whose URL *is* its OID is found by URL before this is asked)."""
        matches = self._code_systems_by_identifier().get(system, [])
        if len(matches) == 1:
            yield where.issue(SYSTEM_IS_IDENTIFIER, f"The include system '{system}' is an identifier of a code system, "
                                                    f"not its URL: use '{matches[0].get('url')}'")
        elif matches:
            urls = ", ".join(sorted(_versioned(m) for m in matches))
            yield where.issue(SYSTEM_IS_IDENTIFIER, f"The include system '{system}' is an identifier of code systems, not "
                                                    f"a URL, and it names several of them ({urls}): use the URL of one")

    def _code_systems_by_identifier(self) -> dict[str, list[dict[str, Any]]]:
        """Every loaded CodeSystem by the values of its identifiers, read once (only when an include
        names a ``urn:oid:`` that is no code system's URL)."""
        table = self.definitions.memo.get("code-systems-by-identifier")
        if table is None:
            table = {}
            for url in self.definitions.canonicals():
                if self.definitions.resource_type(url) != "CodeSystem":
                    continue
                resource = self.definitions.get(url)
                for identifier in (resource or {}).get("identifier") or []:
                    value = identifier.get("value") if isinstance(identifier, dict) else None
                    if isinstance(value, str) and value != url:
                        table.setdefault(value, []).append(resource)
            self.definitions.memo["code-systems-by-identifier"] = table
        return table

    # -- concepts --------------------------------------------------------------------------------

    def _concepts(self, system: str, version: str | None, resource: dict[str, Any] | None,
                  concepts: list[tuple[int, dict[str, Any]]], where: Where) -> Iterator[Issue]:
        """FHIR-VS-001 and FHIR-VS-004 for each concept of a code system loaded in full; FHIR-VS-002
        (once, on the include) when the code system is not loaded, so nothing was checked."""
        named = f"{system}|{version}" if version else system
        if resource is None:
            syntax = SYNTAX_CHECKS.get(system)
            if syntax is not None or system in BUILT_IN_SYSTEMS:
                for position, concept in concepts:
                    code = concept.get("code")
                    problem = syntax(code) if syntax is not None and isinstance(code, str) else None
                    if problem:
                        yield where.at("concept", position).issue(UNKNOWN_CODE, f"The code '{code}' is not a code of "
                                                                                f"{named}: {problem}")
            elif is_example_url(system) and not self.allow_example_urls:
                yield where.issue(SYSTEM_NOT_LOADED, f"The include system '{named}' is an example code system, which "
                                                     "this run does not allow (--no-example-urls): use the real code "
                                                     "system", severity=Severity.ERROR)
            elif is_example_url(system):
                yield where.issue(SYSTEM_NOT_LOADED, f"The include system '{named}' is an example code system, so its "
                                                     "concepts were not checked", severity=Severity.INFORMATION)
            else:
                yield where.issue(SYSTEM_NOT_LOADED, f"The code system '{named}' is not loaded, so the {len(concepts)} "
                                                     "concept(s) of this include were not checked: load the package "
                                                     "that defines it (--ig)")
            return
        index = terminology(self.definitions).code_system(system)
        if index is None:
            return
        ours = partial_own_list(self.definitions, system)
        for position, concept in concepts:
            code, display = concept.get("code"), concept.get("display")
            if not isinstance(code, str):
                continue
            at = where.at("concept", position)
            if index.get(code) is None:
                if index.complete:
                    note = (" (samsvar's copy of this list comes from the public viewer and has no retired codes: "
                            "check that the code is current)") if ours else ": correct the code or remove the concept"
                    yield at.issue(UNKNOWN_CODE, f"The code '{code}' is not in the code system {named}{note}",
                                   severity=Severity.WARNING if ours else None)
                continue
            if isinstance(display, str):
                verdict = terminology(self.definitions).validate_code(system, code, display)
                if verdict.display_ok is False:
                    choices = " or ".join(f"'{d}'" for d in verdict.displays[:6])
                    yield at.issue(DISPLAY_DIFFERS, f"The display '{display}' of {system}#{code} is not the code "
                                                    f"system's ({choices}); a value set may give its own display, so "
                                                    "check only that this is the code meant")

    # -- imported value sets ---------------------------------------------------------------------

    def _imports(self, include: dict[str, Any], where: Where) -> Iterator[Issue]:
        """FHIR-VS-010/011 for each ``valueSet`` that is not a loaded ValueSet; FHIR-VS-012 for several."""
        imports = _list(include, "valueSet")
        for index, url in enumerate(imports):
            if not isinstance(url, str):
                continue
            found = self.definitions.get(url)
            at = where.at("valueSet", index)
            if found is None:
                yield at.issue(IMPORT_UNKNOWN, f"The imported value set '{url}' is not loaded, so what it adds was not "
                                               "checked: load the package that defines it (--ig)")
            elif found.get("resourceType") != "ValueSet":
                yield at.issue(IMPORT_NOT_VALUE_SET, f"The imported value set '{url}' is a {found.get('resourceType')}, "
                                                     "not a ValueSet")
        if len(imports) > 1:
            yield where.issue(IMPORTS_INTERSECTED, f"This include imports {len(imports)} value sets: their codes are "
                                                   "intersected (only codes in all of them), which was long read as a "
                                                   "union; for a union, put each import in an include of its own")

    # -- filters ---------------------------------------------------------------------------------

    def _filter(self, system: str, version: str | None, resource: dict[str, Any] | None,
                filter_: dict[str, Any], where: Where) -> Iterator[Issue]:
        prop, op, value = filter_.get("property"), filter_.get("op"), filter_.get("value")
        if not isinstance(prop, str) or system in SERVER_SYSTEMS:
            return
        known = _known_properties(resource)
        if prop not in known:
            if resource is None:
                yield where.issue(FILTER_PROPERTY_UNKNOWN, f"The code system '{system}' is not loaded and '{prop}' is "
                                                           "not a property every code system has, so the filter may not "
                                                           f"be understood (properties every code system has: "
                                                           f"{', '.join(known)})", severity=Severity.INFORMATION)
            else:
                yield where.issue(FILTER_PROPERTY_UNKNOWN, f"The property '{prop}' is not known in the code system "
                                                           f"'{system}', so the filter may not be understood (its "
                                                           f"properties: {', '.join(known)})")
            return
        rules = _filter_rules(resource, prop)
        if rules is None:
            return
        if rules.ops and isinstance(op, str) and op not in rules.ops:
            yield where.issue(FILTER_OP_NOT_ALLOWED, f"The operator '{op}' is not allowed on the property '{prop}' of "
                                                     f"'{system}' (allowed: {', '.join(sorted(rules.ops))})")
        if not isinstance(value, str):
            return
        if op == "exists":
            yield from self._value(system, version, prop, op, value, FilterRules("boolean", frozenset()), where)
        elif op == "regex":
            try:
                re.compile(value)
            except re.error as exc:
                yield where.issue(FILTER_VALUE_INVALID, f"The value '{value}' of the filter on '{prop}' is not a valid "
                                                        f"regular expression ({exc})")
            if prop == "concept":
                yield where.issue(FILTER_OP_NOT_ALLOWED, "A regex filter cannot be applied to the property 'concept' "
                                                         "(filter the codes with the property 'code', or a named "
                                                         "property of the code system)")
        elif op in ("in", "not-in"):
            for item in value.split(","):
                yield from self._value(system, version, prop, op, item, rules, where)
        else:
            yield from self._value(system, version, prop, op, value, rules, where)

    def _value(self, system: str, version: str | None, prop: str, op: Any, value: str, rules: FilterRules,
               where: Where) -> Iterator[Issue]:
        """One filter value against its property's type (HL7's checkFilterValue)."""
        if rules.type is None:
            return
        if op not in ("in", "not-in") and "," in value:
            yield where.issue(FILTER_VALUE_INVALID, f"The filter value '{value}' has a comma, but the operator is not "
                                                    f"'in' or 'not-in', so the comma is part of the {rules.type} value",
                              severity=Severity.INFORMATION)
        bare = value[2:] if rules.type in ("dateTime", "decimal", "integer") and value.startswith(_COMPARATORS) \
            else value
        problem = {
            "boolean": None if value in ("true", "false") else "must be 'true' or 'false'",
            "dateTime": None if _DATE_TIME.fullmatch(bare) else "must be a date (or date and time)",
            "decimal": None if _DECIMAL.fullmatch(bare) and any(c.isdigit() for c in bare) else "must be a decimal",
            "integer": None if _INTEGER.fullmatch(bare) and -2**31 <= int(bare) < 2**31 else "must be an integer",
            "code": None if value.strip() == value else "must be a code (no leading or trailing white space)",
        }.get(rules.type)
        if problem:
            yield where.issue(FILTER_VALUE_INVALID, f"The value '{value}' of the filter on '{prop}' {problem}")
            return
        if rules.type == "Coding":
            if _LEGACY_CODING.fullmatch(value):
                yield where.issue(FILTER_VALUE_INVALID, f"The value '{value}' of the filter on '{prop}' is in the search "
                                                        "form system|code: write it as system#code",
                                  severity=Severity.WARNING)
            elif "#" not in value:
                yield where.issue(FILTER_VALUE_INVALID, f"The value '{value}' of the filter on '{prop}' must be a coding "
                                                        "written system(|version)#code")
            return
        if rules.type == "code" and rules.code_rule is not None and self._code_system(system, version) is not None:
            index = terminology(self.definitions).code_system(system)
            if index is not None and index.complete and index.get(value) is None:
                yield where.issue(FILTER_VALUE_INVALID, f"The value '{value}' of the filter on '{prop}' must be a code of "
                                                        f"'{system}', and it is not", severity=rules.code_rule)


# -- the pieces ----------------------------------------------------------------------------------


def _list(item: dict[str, Any], key: str) -> list[Any]:
    found = item.get(key)
    return found if isinstance(found, list) else []


def _versioned(resource: dict[str, Any]) -> str:
    version = resource.get("version")
    return f"{resource.get('url')}|{version}" if version else str(resource.get("url"))


def _version_matches(wanted: str, have: Any) -> bool:
    """Whether a loaded resource of version ``have`` is the ``wanted`` one (``1.2`` matches ``1.2.3``)."""
    return isinstance(have, str) and (have == wanted or have.startswith(wanted + "."))


def _version_in_system(system: str, version: str | None, where: Where) -> Iterator[Issue]:
    """FHIR-VS-009: ``system|version`` where the version belongs in ``version``."""
    base, given = system.split("|", 1)
    if not given:
        yield where.issue(VERSION_IN_SYSTEM, f"The include system '{system}' ends with '|': the system is '{base}', and "
                                             "a version goes in the version element", severity=Severity.WARNING)
    elif version is None:
        yield where.issue(VERSION_IN_SYSTEM, f"The include system '{system}' gives a version ('{given}'): put the system "
                                             f"'{base}' in system and the version in the version element")
    elif version != given:
        yield where.issue(VERSION_IN_SYSTEM, f"The include system '{system}' gives the version '{given}', and the version "
                                             f"element says '{version}': keep one version, in the version element")
    else:
        yield where.issue(VERSION_IN_SYSTEM, f"The include system '{system}' repeats the version '{given}' that is in the "
                                             f"version element: the system is '{base}'")


def _contained_system(value_set: dict[str, Any], system: str, version: str | None, where: Where) -> Iterator[Issue]:
    """FHIR-VS-013: a ``#id`` system must name exactly one contained CodeSystem (of ``version``)."""
    found: list[dict[str, Any]] = []
    for item in _list(value_set, "contained"):
        if not isinstance(item, dict) or f"#{item.get('id')}" != system:
            continue
        if item.get("resourceType") != "CodeSystem":
            yield where.issue(CONTAINED_SYSTEM, f"The include system '{system}' names a contained {item.get('resourceType')}, "
                                                "not a CodeSystem")
        elif version is None or version == item.get("version"):
            found.append(item)
    of_version = f" of version '{version}'" if version is not None else ""
    if not found:
        yield where.issue(CONTAINED_SYSTEM, f"No contained code system{of_version} has the id named by the include "
                                            f"system '{system}'")
    elif len(found) > 1:
        yield where.issue(CONTAINED_SYSTEM, f"Several contained code systems{of_version} have the id named by the "
                                            f"include system '{system}'")


def _content(resource: dict[str, Any], system: str, version: str | None, where: Where) -> tuple[Issue | None, bool]:
    """FHIR-VS-003 or FHIR-VS-008 for a code system of limited content, or a supplement, and whether
    its concepts can be checked."""
    content = resource.get("content")
    named = f"'{system}' (version '{version}')" if version else f"'{system}'"
    if content == "supplement":
        base = resource.get("supplements")
        return where.issue(SYSTEM_IS_SUPPLEMENT, f"The include system {named} is a supplement (to '{base}'): include the "
                                                 f"code system '{base}' and name the supplement with the "
                                                 "valueset-supplement extension"), False
    if content == "example":
        return where.issue(LIMITED_CONTENT, f"The code system {named} has content 'example': its codes are only a few "
                                            "examples, so the concepts here were checked against part of it"), True
    if content == "fragment":
        return where.issue(LIMITED_CONTENT, f"The code system {named} has content 'fragment': only some of its codes "
                                            "are loaded, so a code not found is not judged",
                           severity=Severity.INFORMATION), True
    if content == "not-present":
        return where.issue(LIMITED_CONTENT, f"The code system {named} has content 'not-present': none of its codes "
                                            "are loaded, so the concepts and filters here were not checked"), False
    if content is None:
        return where.issue(LIMITED_CONTENT, f"The code system {named} states no content, so how much of it is "
                                            "loaded is not known"), True
    return None, True


def _value_set_as_system(system: str, value_set: dict[str, Any]) -> str:
    """The message of FHIR-VS-006, naming the code systems the value set draws on."""
    systems: list[str] = []
    for part in ("include", "exclude"):
        for item in _list(value_set.get("compose") or {}, part):
            found = item.get("system") if isinstance(item, dict) else None
            if isinstance(found, str) and found not in systems:
                systems.append(found)
    message = f"The include system '{system}' is the URL of a value set, not of a code system"
    if len(systems) == 1:
        return f"{message}: its codes come from '{systems[0]}', which may be the system meant"
    if systems:
        return f"{message} (its codes come from {', '.join(systems)}): import it with valueSet instead"
    return f"{message}: import it with valueSet instead"


def _known_properties(resource: dict[str, Any] | None) -> list[str]:
    """The properties a filter may use: every code system's, and the code system's own."""
    known = list(STANDARD_PROPERTIES)
    if resource is None:
        return known
    if resource.get("hierarchyMeaning"):
        known.extend(HIERARCHY_PROPERTIES)
    for key in ("filter", "property"):
        for item in _list(resource, key):
            code = item.get("code") if isinstance(item, dict) else None
            if isinstance(code, str) and code not in known:
                known.append(code)
    return known


_PROPERTY_TYPES = {"boolean": "boolean", "code": "code", "Coding": "Coding", "dateTime": "dateTime",
                   "decimal": "decimal", "integer": "integer"}


def _filter_rules(resource: dict[str, Any] | None, prop: str) -> FilterRules | None:
    """How a filter on ``prop`` is judged: the operators the code system declares for it, and the
    type its property declaration gives (else the standard property's)."""
    ops: set[str] = set()
    for item in _list(resource or {}, "filter"):
        if isinstance(item, dict) and item.get("code") == prop:
            ops.update(o for o in _list(item, "operator") if isinstance(o, str))
    for item in _list(resource or {}, "property"):
        if isinstance(item, dict) and item.get("code") == prop and isinstance(item.get("type"), str):
            kind = item["type"]
            if kind == "string" or kind not in _PROPERTY_TYPES:
                return None
            return FilterRules(_PROPERTY_TYPES[kind], frozenset(ops), Severity.WARNING if kind == "code" else None)
    if prop in ("concept", "code"):
        ops.update(_CODE_OPS)
        if prop == "code":
            ops.add("regex")
        return FilterRules("code", frozenset(ops), Severity.ERROR)
    standard = {"status": "code", "inactive": "boolean", "effectiveDate": "dateTime", "deprecationDate": "dateTime",
                "retirementDate": "dateTime", "notSelectable": "boolean", "synonym": "code", "itemWeight": "decimal",
                "parent": "code", "child": "code", "partOf": "code"}
    if prop not in standard:
        return None
    return FilterRules(standard[prop], frozenset(ops), Severity.ERROR if prop in _CODE_VALUED else None)
