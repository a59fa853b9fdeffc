"""CodeSystem resources as artifacts: their concepts, counts, properties, supplements and all-codes
value set, checked as HL7's validator (``CodeSystemValidator``) checks them.

A code system is read by every terminology tool that loads it: a code defined twice has two
meanings, a ``count`` that disagrees with the concepts (or with ``content``) makes a client think
it holds the whole list when it does not, and a concept property that its ``property`` list does
not declare (or gives a value of another type) cannot be interpreted. A *supplement* adds
designations and properties to another code system's codes: it must say which system it
supplements, have ``content = supplement`` and no ``caseSensitive`` of its own, and may only use
codes that system defines (checked when the supplemented system is loaded; when it is not, a
warning says the codes were not checked). ``valueSet``, the value set of all the system's codes,
must be exactly one include of the whole system.

The supplemented code system and the all-codes value set are looked up as HL7's validator looks them
up: the FHIR core package's own copy first (its master definitions), HL7 terminology's replacing the
core's for terminology.hl7.org URLs. Findings are located where HL7's validator locates them (a duplicate code on its concept, a
property finding on the property, a count finding on ``count``), so the two can be compared
issue by issue. Not checked here (they need a terminology server or are about HL7's own
publication process): codes of a ``code`` property bound to a value set, the publishing-rule
checks on HL7-owned code systems, and the designation and display comparisons.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..issues import Issue, Path, Severity
from ..rules import declared
from .bindings import partial_own_list, terminology
from .definitions import Definitions
from .artifact_check import ArtifactCheck
from .visit import Visit

DUPLICATE_CODE = declared("FHIR-CS-001")
COMPLETE_AND_EMPTY = declared("FHIR-CS-002")
CONTENT_NOT_ALLOWED = declared("FHIR-CS-003")
COUNT_WRONG = declared("FHIR-CS-004")
PROPERTY_DEFINITION = declared("FHIR-CS-005")
PROPERTY_UNDEFINED = declared("FHIR-CS-006")
PROPERTY_VALUE = declared("FHIR-CS-007")
BAD_INTERNAL_REFERENCE = declared("FHIR-CS-008")
SUPPLEMENT_DECLARATION = declared("FHIR-CS-009")
SUPPLEMENT_NOT_CHECKED = declared("FHIR-CS-010")
SUPPLEMENT_UNKNOWN_CODE = declared("FHIR-CS-011")
ALL_CODES_VALUE_SET = declared("FHIR-CS-012")
ALL_CODES_NOT_EXPECTED = declared("FHIR-CS-013")

THO = "http://terminology.hl7.org/"
"""HL7 terminology's namespace: its code systems and value sets replace the core package's copies."""
CORE_ANCHOR = "http://hl7.org/fhir/StructureDefinition/Resource"
"""A definition only the FHIR core package has (to find that package among the loaded ones)."""
CONCEPT_PROPERTIES = "http://hl7.org/fhir/concept-properties#"
"""The base of the standard concept property URIs (``...#parent``)."""
_INTERNAL_CODE_PROPERTIES = frozenset({"parent", "child", "partOf", "synonym"})
"""Standard properties whose ``code`` values are codes of the code system itself (an unknown one is an error)."""
_KNOWN_PROPERTIES = frozenset({"status", "inactive", "effectiveDate", "deprecationDate", "retirementDate",
                               "notSelectable", *_INTERNAL_CODE_PROPERTIES, "comment", "itemWeight"})
"""The standard properties HL7's validator knows by URI (``alternateCode``, ``order`` are not among them)."""
PROPERTY_VALUE_SET = ("http://hl7.org/fhir/StructureDefinition/codesystem-property-valueset",
                      "http://hl7.org/fhir/6.0/StructureDefinition/extension-CodeSystem.property.valueSet")
"""Extensions that bind a ``code`` property to a value set (its codes are then judged by the value set)."""
_PRIMITIVE_VALUES = frozenset({"code", "string", "integer", "boolean", "dateTime", "decimal"})

ERROR_CODES, WARNING_CODES = "error", "warning"
"""How an unknown code in a ``code`` property is judged: a standard internal-code property
(parent, child, partOf, synonym) makes it an error, any other unbound ``code`` property a warning."""


class CodeSystemChecker(ArtifactCheck):
    """An element check on CodeSystem resources (their root element)."""
    resource_type = "CodeSystem"

    def check(self, visit: Visit, system: dict[str, Any]) -> Iterator[Issue]:
        concepts = list(_concepts(system, visit.path, visit.expression))
        yield from _supplement_declaration(visit, system)
        yield from self._counts(visit, system, len(concepts))
        yield from self._all_codes_value_set(visit, system, len(concepts))
        yield from self._supplemented_codes(visit, system)
        yield from _duplicate_codes(system, concepts)
        yield from self._properties(visit, system, concepts)

    # -- content, count and concepts --------------------------------------------------------------

    def _counts(self, visit: Visit, system: dict[str, Any], total: int) -> Iterator[Issue]:
        """FHIR-CS-002, -003, -004: what ``content`` and ``count`` say against the concepts there are."""
        content = system.get("content")
        top = _top_concepts(system)
        if content == "complete" and total == 0:
            yield COMPLETE_AND_EMPTY.issue(
                "The code system says its content is 'complete' but it defines no concepts: add the concepts, or "
                "set content to 'not-present' (or 'fragment') if they are published elsewhere",
                path=visit.path, expression=visit.expression)
        stated = _integer(system.get("count"))
        if stated is not None and stated > -1 and isinstance(content, str):
            yield from self._stated_count(visit, system, content, stated, total, bool(top))
        if content == "not-present" and top:
            yield CONTENT_NOT_ALLOWED.issue(
                f"The code system says its content is 'not-present' but it defines {total} concept(s): remove the "
                "concepts, or set content to what they are ('complete', 'fragment' or 'example')",
                path=(*visit.path, "concept", 0), expression=f"{visit.expression}.concept[0]")

    def _stated_count(self, visit: Visit, system: dict[str, Any], content: str, stated: int, total: int,
                      has_concepts: bool) -> Iterator[Issue]:
        where: dict[str, Any] = {"path": (*visit.path, "count"), "expression": f"{visit.expression}.count"}
        if content == "complete" and total != stated:
            yield COUNT_WRONG.issue(
                f"The code system is complete, yet it defines {total} concept(s) and its count says {stated}: "
                "correct the count (it counts every concept, nested ones too)", **where)
        elif content in ("example", "fragment") and total >= stated:
            yield COUNT_WRONG.issue(
                f"The code system is a {content}, so it holds fewer concepts than the whole system, yet it defines "
                f"{total} concept(s) and its count (of the whole system) is {stated}: correct the count, or the "
                "content if the list is in fact complete", severity=Severity.WARNING, **where)
        elif content == "not-present" and has_concepts and stated <= 0:
            yield COUNT_WRONG.issue(
                "The code system has no content present and states a count of 0 concepts: if it really has no "
                "concepts it is a complete code system; otherwise correct or remove the count",
                severity=Severity.INFORMATION, path=(*visit.path, "concept", 0),
                expression=f"{visit.expression}.concept[0]")
        elif content == "supplement":
            base = self._code_system(system.get("supplements"))
            if base is not None:
                theirs = _integer(base.get("count")) or 0
                if total != theirs:
                    yield COUNT_WRONG.issue(
                        f"The supplement states a count of {stated}, but the code system it supplements states "
                        f"{theirs} (the supplement defines {total} concept(s)): correct or remove the count", **where)

    # -- the all-codes value set ------------------------------------------------------------------

    def _all_codes_value_set(self, visit: Visit, system: dict[str, Any], total: int) -> Iterator[Issue]:
        """FHIR-CS-012, -013: ``valueSet`` names the value set of all the system's codes."""
        url, content, value_set_url = system.get("url"), system.get("content"), system.get("valueSet")
        if not isinstance(value_set_url, str) or not value_set_url:
            return
        where: dict[str, Any] = {"path": visit.path, "expression": visit.expression}
        if content == "supplement":
            base = self._code_system(system.get("supplements"))
            if base is not None and isinstance(base.get("valueSet"), str) and base["valueSet"]:
                if value_set_url != base["valueSet"]:
                    yield ALL_CODES_NOT_EXPECTED.issue(
                        f"A supplement should not name an all-codes value set; if it does, it must be the one of the "
                        f"code system it supplements ('{base['valueSet']}'), and '{value_set_url}' is not",
                        **where)
            elif base is not None:
                yield ALL_CODES_NOT_EXPECTED.issue(
                    f"A supplement should not name an all-codes value set ('{value_set_url}'): remove valueSet",
                    **where)
            else:
                yield ALL_CODES_NOT_EXPECTED.issue(_not_complete(value_set_url, content), **where)
        elif content != "complete":
            yield ALL_CODES_NOT_EXPECTED.issue(_not_complete(value_set_url, content), severity=Severity.INFORMATION,
                                               **where)
        value_set = self._resolve(value_set_url, "ValueSet")
        if value_set is None:
            return
        yield from _value_set_shape(value_set, url, value_set_url, total, where)

    # -- supplements ------------------------------------------------------------------------------

    def _supplemented_codes(self, visit: Visit, system: dict[str, Any]) -> Iterator[Issue]:
        """FHIR-CS-009 (no ``supplements``), -010, -011: a supplement's codes are codes of the system it supplements."""
        supplements, content = system.get("supplements"), system.get("content")
        if content != "supplement" and supplements is None:
            return
        if not isinstance(supplements, str) or not supplements:
            yield SUPPLEMENT_DECLARATION.issue(
                "The code system is a supplement but does not say which code system it supplements: add "
                "supplements (the canonical URL of that code system)", path=visit.path, expression=visit.expression)
            return
        concepts = _top_concepts(system)
        base = self._code_system(supplements)
        if base is None or base.get("content") == "not-present":
            if concepts:
                yield SUPPLEMENT_NOT_CHECKED.issue(
                    f"The code system '{supplements}' that this supplement supplements is not loaded, so whether its "
                    "concepts are codes of that system was not checked: load the package that defines it (--ig)",
                    path=visit.path, expression=visit.expression)
            return
        meaning, theirs = system.get("hierarchyMeaning"), base.get("hierarchyMeaning")
        if isinstance(meaning, str) and isinstance(theirs, str) and meaning != theirs:
            yield SUPPLEMENT_DECLARATION.issue(
                f"The supplement's hierarchyMeaning '{meaning}' differs from '{theirs}' of the code system it "
                "supplements: a supplement cannot change what the hierarchy means, so remove it or make it the same",
                path=visit.path, expression=visit.expression)
        for index, concept in enumerate(system.get("concept") or []):
            code = concept.get("code") if isinstance(concept, dict) else None
            if not isinstance(code, str) or not code or self._in_code_system(supplements, code):
                continue
            yield SUPPLEMENT_UNKNOWN_CODE.issue(
                f"The code '{code}' is not defined in the code system '{supplements}', so this supplement cannot "
                f"add anything to it: correct the code, or remove the concept{self._partial_note(supplements)}",
                path=(*visit.path, "concept", index), expression=f"{visit.expression}.concept[{index}]",
                severity=Severity.WARNING if partial_own_list(self.definitions, supplements) else None)

    def _in_code_system(self, system: str, code: str) -> bool:
        """False only when the code system is loaded in full and lacks the code."""
        verdict = terminology(self.definitions).validate_code(system, code)
        return not (verdict.valid is False and verdict.kind == "unknown-code")

    def _partial_note(self, system: str) -> str:
        return (" (samsvar's copy of this list comes from the public viewer and has no retired codes: check that "
                "the code is current)") if partial_own_list(self.definitions, system) else ""

    def _code_system(self, url: Any) -> dict[str, Any] | None:
        return self._resolve(url, "CodeSystem")

    def _resolve(self, url: Any, resource_type: str) -> dict[str, Any] | None:
        """The code system or value set at ``url`` that HL7's validator would use: the FHIR core package's
        own (its *master definitions*) where it has one outside terminology.hl7.org, else the loaded one."""
        if not isinstance(url, str) or not url:
            return None
        key = url.split("|", 1)[0]
        core = _core_terminology(self.definitions)
        if key in core and not key.startswith(THO):
            loaded = self.definitions.memo.setdefault("code-systems:core-loaded", {})
            if key not in loaded:
                package, filename = core[key]
                loaded[key] = package.load(filename)
            found: dict[str, Any] | None = loaded[key]
        else:
            found = self.definitions.get(key)
        return found if found is not None and found.get("resourceType") == resource_type else None

    # -- properties -------------------------------------------------------------------------------

    def _properties(self, visit: Visit, system: dict[str, Any],
                    concepts: list[tuple[dict[str, Any], Path, str]]) -> Iterator[Issue]:
        """FHIR-CS-005 .. -008: the property definitions, and the concepts' property values against them."""
        defined: dict[str, dict[str, Any]] = {}
        rules: dict[int, str | None] = {}
        for index, prop in enumerate(system.get("property") or []):
            if not isinstance(prop, dict):
                continue
            yield from _property_definition(visit, system, index, prop, defined)
            rules[id(prop)] = self._code_rule(prop)
        codes = {c.get("code") for c, _, _ in concepts}
        supplements = system.get("supplements") if isinstance(system.get("supplements"), str) else None
        seen: set[str] = set()
        for concept, path, expression in concepts:
            for index, value in enumerate(concept.get("property") or []):
                if isinstance(value, dict):
                    yield from self._property_value(value, (*path, "property", index), f"{expression}.property[{index}]",
                                                    defined, rules, codes, supplements, seen)

    def _code_rule(self, prop: dict[str, Any]) -> str | None:
        """How the codes of this property are judged (as HL7's validator decides from its uri, type and binding):
        ERROR_CODES, WARNING_CODES (codes of this system), or None (bound to a value set, or not a code)."""
        uri = prop.get("uri")
        if isinstance(uri, str) and _absolute(uri) and "://hl7.org/fhir" in uri:
            standard = uri.removeprefix(CONCEPT_PROPERTIES) if uri.startswith(CONCEPT_PROPERTIES) else None
            if standard in _KNOWN_PROPERTIES:
                return ERROR_CODES if standard in _INTERNAL_CODE_PROPERTIES else None
        if prop.get("type") != "code" or _bound(prop) or self._bound_by_uri(uri):
            return None
        return WARNING_CODES

    def _bound_by_uri(self, uri: Any) -> bool:
        """Whether the property the uri names (``<code system>#<code>``) binds its codes to a value set."""
        if not isinstance(uri, str) or "#" not in uri or not _absolute(uri):
            return False
        base, code = uri.split("#", 1)
        system = self._code_system(base)
        if system is None:
            return False
        for prop in system.get("property") or []:
            if isinstance(prop, dict) and prop.get("uri") == uri:
                return _bound(prop)
        for concept, _, _ in _concepts(system, (), ""):
            if concept.get("code") == code:
                return any(isinstance(p, dict) and p.get("code") == "binding" and _value_of(p)[1] is not None
                           for p in concept.get("property") or [])
        return False

    def _property_value(self, value: dict[str, Any], path: Path, expression: str, defined: dict[str, dict[str, Any]],
                        rules: dict[int, str | None], codes: set[Any], supplements: str | None,
                        seen: set[str]) -> Iterator[Issue]:
        code = value.get("code")
        if not isinstance(code, str):
            return
        where: dict[str, Any] = {"path": path, "expression": expression}
        definition = defined.get(code)
        if definition is None:
            yield PROPERTY_UNDEFINED.issue(
                f"The concept property '{code}' is not defined in CodeSystem.property, so terminology tools cannot "
                "tell what it means: declare it there (code, uri, type)", **where)
        value_type, content = _value_of(value)
        if value_type is None:
            yield PROPERTY_VALUE.issue(f"The concept property '{code}' has no value, so it says nothing: give it a "
                                       "value[x], or remove it", **where)
            return
        if definition is None:
            return
        declared_type = definition.get("type")
        if value_type != declared_type:
            said = f"the type '{declared_type}'" if isinstance(declared_type, str) else "no type"
            yield PROPERTY_VALUE.issue(
                f"The concept property '{code}' has a value of type '{value_type}', but CodeSystem.property defines it "
                f"with {said}: use value{_capital(declared_type)} or correct the definition", **where)
            return
        rule = rules.get(id(definition))
        if value_type != "code" or rule is None or not isinstance(content, str):
            return
        if f"null#{content}" in seen:
            return  # each code is judged once (as HL7's validator does)
        seen.add(f"null#{content}")
        if supplements is not None:
            yield from self._supplemented_reference(supplements, code, content, where)
        elif content not in codes:
            yield BAD_INTERNAL_REFERENCE.issue(
                f"The concept property '{code}' has the code '{content}', which is not a code of this code system: "
                "correct it, or add the concept", severity=Severity.WARNING if rule == WARNING_CODES else None,
                **where)

    def _supplemented_reference(self, supplements: str, code: str, content: str,
                                where: dict[str, Any]) -> Iterator[Issue]:
        """In a supplement, a code property's codes are codes of the supplemented system (judged where it is loaded)."""
        if not self._in_code_system(supplements, content):
            yield BAD_INTERNAL_REFERENCE.issue(
                f"The concept property '{code}' has the code '{content}', which is not a code of the supplemented "
                f"code system '{supplements}': correct it{self._partial_note(supplements)}",
                severity=Severity.WARNING if partial_own_list(self.definitions, supplements) else None, **where)


# -- helpers ---------------------------------------------------------------------------------------


def _core_terminology(definitions: Definitions) -> dict[str, tuple[Any, str]]:
    """The FHIR core package's code systems and value sets by URL (package, file name); empty when it is
    not loaded. HL7's validator prefers these to another package's resource with the same URL."""
    found: dict[str, tuple[Any, str]] | None = definitions.memo.get("code-systems:core-terminology")
    if found is None:
        found = {}
        package = definitions.package_of(CORE_ANCHOR)
        for meta in getattr(package, "index", None) or []:
            if meta.get("resourceType") in ("CodeSystem", "ValueSet") and isinstance(meta.get("url"), str) \
                    and isinstance(meta.get("filename"), str):
                found[meta["url"]] = (package, meta["filename"])
        definitions.memo["code-systems:core-terminology"] = found
    return found


def _concepts(system: dict[str, Any], path: Path, expression: str) -> Iterator[tuple[dict[str, Any], Path, str]]:
    """Every concept, nested ones too, in document order (depth first), with its location."""
    def walk(holder: dict[str, Any], at: Path, where: str) -> Iterator[tuple[dict[str, Any], Path, str]]:
        children = holder.get("concept")
        if not isinstance(children, list):
            return
        for index, concept in enumerate(children):
            if isinstance(concept, dict):
                here, there = (*at, "concept", index), f"{where}.concept[{index}]"
                yield concept, here, there
                yield from walk(concept, here, there)
    return walk(system, path, expression)


def _top_concepts(system: dict[str, Any]) -> list[dict[str, Any]]:
    concepts = system.get("concept")
    return [c for c in concepts if isinstance(c, dict)] if isinstance(concepts, list) else []


def _duplicate_codes(system: dict[str, Any], concepts: list[tuple[dict[str, Any], Path, str]]) -> Iterator[Issue]:
    """FHIR-CS-001: a code defined a second time, anywhere in the hierarchy (reported on the later concept)."""
    first: dict[str, str] = {}
    for concept, path, expression in concepts:
        code = concept.get("code")
        if not isinstance(code, str):
            continue
        if code in first:
            yield DUPLICATE_CODE.issue(
                f"The code '{code}' is defined twice in this code system (first at {first[code]}): a code has one "
                "meaning, so remove or renumber one of them", path=path, expression=expression)
        else:
            first[code] = expression


def _supplement_declaration(visit: Visit, system: dict[str, Any]) -> Iterator[Issue]:
    """FHIR-CS-009: a supplement has ``content = supplement`` and ``supplements``, and no ``caseSensitive``."""
    content, supplements = system.get("content"), system.get("supplements")
    at_content: dict[str, Any] = {"path": (*visit.path, "content"), "expression": f"{visit.expression}.content"} \
        if "content" in system else {"path": visit.path, "expression": visit.expression}
    if isinstance(supplements, str) and supplements:
        if content != "supplement":
            yield SUPPLEMENT_DECLARATION.issue(
                f"The code system supplements '{supplements}', so its content must be 'supplement' (it is "
                f"{_said(content)})", **at_content)
        if "caseSensitive" in system and system.get("caseSensitive") is not None:
            yield SUPPLEMENT_DECLARATION.issue(
                "A supplement takes caseSensitive from the code system it supplements and should not state it: "
                "remove caseSensitive", path=(*visit.path, "caseSensitive"), expression=f"{visit.expression}.caseSensitive")
    elif content == "supplement":
        yield SUPPLEMENT_DECLARATION.issue(
            "The code system has content 'supplement' but no supplements element: add supplements (the canonical "
            "URL of the code system it supplements), or correct content", **at_content)


def _property_definition(visit: Visit, system: dict[str, Any], index: int, prop: dict[str, Any],
                         defined: dict[str, dict[str, Any]]) -> Iterator[Issue]:
    """FHIR-CS-005: a property's uri is absolute, and no two properties share a uri or a code. ``defined``
    collects each property by uri and by code (one table, as HL7's validator keeps it)."""
    where: dict[str, Any] = {"path": (*visit.path, "property", index),
                             "expression": f"{visit.expression}.property[{index}]"}
    uri, code = prop.get("uri"), prop.get("code")
    if isinstance(uri, str):
        if not _absolute(uri):
            yield PROPERTY_DEFINITION.issue(
                f"The property uri '{uri}' is not an absolute URI, so it identifies nothing outside this code system: "
                "use an absolute URI (or leave uri out)", **where)
        elif uri in defined:
            yield PROPERTY_DEFINITION.issue(
                f"Another property is already defined with the uri '{uri}': each property has its own uri", **where)
        else:
            defined[uri] = prop
    if isinstance(code, str):
        if code in defined:
            yield PROPERTY_DEFINITION.issue(
                f"Another property is already defined with the code '{code}': concepts could not say which one "
                "they give a value for, so give each property its own code", **where)
        else:
            defined[code] = prop


def _include_has_details(include: dict[str, Any]) -> bool:
    return any(include.get(key) for key in ("valueSet", "concept", "filter"))


def _value_set_shape(value_set: dict[str, Any], url: Any, value_set_url: str, total: int,
                     where: dict[str, Any]) -> Iterator[Issue]:
    """FHIR-CS-012: the all-codes value set is one include of the whole system (and its expansion, if any,
    has as many codes as the system)."""
    compose = value_set.get("compose")
    includes = compose.get("include") if isinstance(compose, dict) else None
    if not isinstance(includes, list) or len(includes) != 1 or not isinstance(includes[0], dict):
        yield ALL_CODES_VALUE_SET.issue(
            f"The all-codes value set '{value_set_url}' of the code system '{url}' does not have a single include: it "
            "must include this code system, whole, and nothing else", **where)
        return
    include = includes[0]
    if include.get("system") != url:
        yield ALL_CODES_VALUE_SET.issue(
            f"The all-codes value set '{value_set_url}' of the code system '{url}' includes another system "
            f"({_said(include.get('system'))}): it must include this code system", **where)
        return
    if _include_has_details(include):
        yield ALL_CODES_VALUE_SET.issue(
            f"The all-codes value set '{value_set_url}' of the code system '{url}' includes it with a filter, a list "
            "of concepts or another value set: it must include the whole system", **where)
    expansion = value_set.get("expansion")
    if isinstance(expansion, dict):
        contains = expansion.get("contains")
        size = len(contains) if isinstance(contains, list) else 0
        if size != total:
            yield ALL_CODES_VALUE_SET.issue(
                f"The all-codes value set '{value_set_url}' of the code system '{url}' has an expansion of "
                f"{size} code(s), but the code system defines {total}", **where)


def _not_complete(value_set_url: str, content: Any) -> str:
    return (f"The code system names an all-codes value set ('{value_set_url}') but its content is {_said(content)}, "
            "not 'complete': such a value set can only list the codes present; check that it is meant")


def _value_of(value: dict[str, Any]) -> tuple[str | None, Any]:
    """A concept property's value type (``code``, ``Coding``, ...) and value; (None, None) when it has none."""
    for key, item in value.items():
        name = key[1:] if key.startswith("_") else key
        if name.startswith("value") and len(name) > 5:
            suffix = name[5:]
            lowered = suffix[0].lower() + suffix[1:]
            return (lowered if lowered in _PRIMITIVE_VALUES else suffix), (item if key == name else None)
    return None, None


def _bound(prop: dict[str, Any]) -> bool:
    return any(isinstance(e, dict) and e.get("url") in PROPERTY_VALUE_SET for e in prop.get("extension") or [])


def _absolute(uri: str) -> bool:
    """An absolute URI as HL7's validator judges one: a known or lower-case token scheme, something after it, no space."""
    if ":" not in uri:
        return False
    scheme, details = uri.split(":", 1)
    token = bool(scheme) and scheme[0].isalpha() and all(c.isalnum() or c in "_[]" for c in scheme)
    known = scheme in ("http", "https", "urn") or (token and scheme == scheme.lower()) or uri.startswith(
        ("urn:iso:", "urn:iso-iec:", "urn:iso-cie:", "urn:iso-astm:", "urn:iso-ieee:", "urn:iec:"))
    return known and bool(details) and " " not in details


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _capital(name: Any) -> str:
    return f"{name[0].upper()}{name[1:]}" if isinstance(name, str) and name else "[x]"


def _said(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else "absent"
