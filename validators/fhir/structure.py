"""Structure: the instance walked against the snapshot of its type, as the core definitions say.

Unknown properties, cardinality, JSON arrays versus single values, the JSON type and format of
primitives (regexes from the StructureDefinitions), primitive extensions (``_name``),
contained and nested resources, empty objects. Expressions follow HL7's validator: choice
elements as ``value.ofType(Quantity)``, errors about missing or extra children on the parent.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence

from ..issues import Issue, Path, Severity
from ..rules import declared
from .definitions import Context, Definitions, ElementDefinition, element_key, is_primitive, type_codes
from .references import DocumentIndex
from .slicing import Item, SliceMatcher, assign
from .primitives import NUMBER_TYPES, format_problem, id_problem, json_type_problem
from .profiles import PROFILE_NOT_USABLE, FixedPatternChecker, usable_profile, value_required
from .visit import ElementCheck, Parent, Visit
from .vitals import VITAL_SIGNS_PROFILE, vital_signs_profile

UNKNOWN_PROPERTY = declared("FHIR-STRUCT-001")
MIN_CARDINALITY = declared("FHIR-STRUCT-002")
MAX_CARDINALITY = declared("FHIR-STRUCT-003")
ARRAY_SHAPE = declared("FHIR-STRUCT-004")
PRIMITIVE_TYPE = declared("FHIR-STRUCT-005")
PRIMITIVE_FORMAT = declared("FHIR-STRUCT-006")
RESOURCE_ID = declared("FHIR-STRUCT-007")
NOT_AN_OBJECT = declared("FHIR-STRUCT-008")
EMPTY = declared("FHIR-STRUCT-009")
NOT_A_RESOURCE = declared("FHIR-STRUCT-010")
WRONG_RESOURCE_TYPE = declared("FHIR-STRUCT-011")
NO_PROFILE_MATCH = declared("FHIR-STRUCT-012")
UNKNOWN_TYPE_PROFILE = declared("FHIR-STRUCT-013")
MUST_SUPPORT = declared("FHIR-STRUCT-014")
ID_EXTENSION = declared("FHIR-STRUCT-015")

EMPTY_VALUE = declared("FHIR-STRUCT-016")
WHITESPACE_VALUE = declared("FHIR-STRUCT-017")
CONTAINED_WITHOUT_ID = declared("FHIR-STRUCT-018")


_CHILD, _PRIMITIVE_EXTENSIONS, _UNKNOWN, _ID_EXTENSION, _EXTENSION_VALUE, _SKIP = range(6)
"""What a JSON property of an object is: an element, the ``_name`` of a primitive element, not an
element, ``_id`` on a resource, an extension value of a type it does not allow, ``resourceType``."""


class _Key(NamedTuple):
    """One JSON property at one context, as the walk treats it: worked out the first time the
    property is met there, then shared by every walk (``Definitions.memo``)."""

    kind: int
    name: str
    element: ElementDefinition = {}
    code: str | None = None
    count_key: str = ""
    """The key its values are counted under for cardinality (the element's id)."""
    repeats: bool = False
    """A JSON array, as the base definition says (a profile's max of 1 does not change the shape)."""
    segment: str = ""
    """How the expression names it: its name, or ``value.ofType(Quantity)`` for a choice element."""
    primitive: bool = False
    datatype: bool = False
    """Of one complex datatype or a backbone element (not a resource, not a choice of types)."""
    sliced: bool = False
    aliases: tuple[str, ...] = ()
    extras_key: str = ""
    """``_name``: where a primitive's id and extensions are."""


class _Datatype(NamedTuple):
    """What the walk needs to enter a value of a complex type at one element of one snapshot."""

    profiles: tuple[tuple[str, str | None], ...]
    """The profiles the element requires of its type (none for an extension: its url says)."""
    unknown_profiles: tuple[str, ...]
    """Those of them not loaded."""
    child: Context | None
    """The context of the value's content."""
    type_root: ElementDefinition | None
    """The type's own root element (its constraints: per-1, qty-3, ...), when the content is the type's."""
    type_name: str
    aliases: tuple[str, ...]


class _CardinalityPlan(NamedTuple):
    entries: tuple[tuple[str, ElementDefinition, int, int | None, bool, bool], ...]
    slots: dict[str, int]
    absent: tuple[int, ...]
    """Positions that can say something when absent: a minimum, or slices (which may be required)."""
    absent_support: tuple[int, ...]
    """The same, with the mustSupport elements that may be absent (``--must-support``)."""
    absent_keys: frozenset[str]
    absent_support_keys: frozenset[str]
    strict: frozenset[str]
    """Keys whose bounds a single value breaks (a minimum above one, a maximum of zero)."""


def _display_name(name: str, element: ElementDefinition, code: str | None) -> str:
    """``value.ofType(Quantity)`` for choice elements, as HL7's validator writes them."""
    if element["path"].endswith("[x]") and code:
        return f"{element['path'].rsplit('.', 1)[1][:-3]}.ofType({code})"
    return name


class StructureChecker:
    def __init__(self, definitions: Definitions, element_checks: Sequence[ElementCheck] = (),
                 root_profile: str | None = None, must_support: bool = False) -> None:
        self.definitions = definitions
        self.element_checks = tuple(element_checks)
        self.root_profile = root_profile
        """Walk the outermost resource against this profile's snapshot instead of its base type."""
        self._resources: list[tuple[dict[str, Any], dict[str, Any]]] = []
        """(resource, its root resource): contained resources have their container as root."""
        self.must_support = must_support
        """Report mustSupport elements that are absent (``--must-support``)."""
        self._slice_matcher: SliceMatcher | None = None
        self._parents: list[Parent] = []
        self._document = DocumentIndex()
        self._conforming: set[tuple[int, str]] = set()
        self._outer: dict[str, Any] | None = None
        """In a nested conformance walk: the document of the caller (its references resolve there)."""
        self._keys: dict[tuple[int, str, bool], tuple[Any, dict[str, _Key]]] = definitions.memo.setdefault("key-plans", {})
        self._datatypes: dict[tuple[int, str, int, str | None], tuple[Any, ElementDefinition, _Datatype]] = \
            definitions.memo.setdefault("datatype-plans", {})
        self._signature = tuple(type(check) for check in self.element_checks)
        self._relevant: dict[tuple[Any, ...], tuple[ElementDefinition, tuple[int, ...]]] = \
            definitions.memo.setdefault("relevant-checks", {})
        self.shape_only = False
        """Judge the JSON's shape only (unknown properties, arrays, JSON types, objects), as a strict
        parser would: no cardinality, no formats of primitives (see ``Validator.with_input_definitions``)."""
        self.recording = False
        """A base walk: a resource with profiles of its own (a Bundle entry's meta.profile) records
        what it checked where, so that their walks do not repeat it (see :meth:`_visit`)."""
        self._record: dict[tuple[str, str], ElementDefinition] | None = None
        """(expression, element path) -> the element definition the checks ran with, in this base walk."""
        self._twins: dict[tuple[str, str], ElementDefinition] | None = None
        """In a profile walk: the record of the base walk of the same resource."""
        self._twin_verdicts: dict[tuple[int, int], tuple[Any, Any, bool]] = definitions.memo.setdefault("twins", {})
        self._only: dict[tuple[ElementCheck, ...], tuple[ElementCheck, ...]] = {}
        self._wanting: dict[tuple[ElementCheck, ...], Callable[[Any], bool] | None] = {}
        self._chosen: dict[int, tuple[ElementDefinition, str | None, tuple[ElementCheck, ...]]] = {}
        """This walker's last answer per element definition (and the type it was for)."""
        self._regex: dict[str, str | None] = {}
        """The core regex of each primitive type met (``Definitions.primitive_regex``)."""
        self._subsets: dict[tuple[int, ...], tuple[ElementCheck, ...]] = {}
        """This walker's checks by the positions chosen (few distinct subsets)."""

    # -- what slicing needs from the walk ---------------------------------------------------------

    def _matcher(self) -> SliceMatcher:
        if self._slice_matcher is None:
            self._slice_matcher = SliceMatcher(self.definitions, self._conforms, self._resolve)
        return self._slice_matcher

    def _conforms(self, value: Any, profile: str, code: str | None, element_id: str | None = None) -> bool:
        """Does ``value`` conform to ``profile`` (or one element of it)? A nested walk; errors decide."""
        key = (id(value), profile)
        if key in self._conforming:
            return True  # a profile that refers back to itself: assume the inner case holds
        ctx = self.definitions.profile_context(profile, element_id)
        if ctx is None:
            return False
        self._conforming.add(key)
        try:
            issues = self._nested(value, profile, code, ctx, (), "")
            return not any(issue.severity >= Severity.ERROR for issue in issues)
        finally:
            self._conforming.discard(key)

    def _nested(self, value: Any, profile: str, code: str | None, ctx: Context, path: Path,
                expression: str) -> Iterator[Issue]:
        """The walk of ``value`` against ``profile`` (a resource) or one element of it (a datatype)."""
        if isinstance(value, dict) and isinstance(value.get("resourceType"), str):
            nested = StructureChecker(self.definitions, self.element_checks, root_profile=profile)
            nested._conforming = self._conforming
            nested._outer = self._outer or (self._resources[0][0] if self._resources else None)
            return nested.check_resource(value, path, expression or value["resourceType"])
        nested = StructureChecker(self.definitions, self.element_checks)
        nested._resources = list(self._resources) or [({}, {})]
        nested._conforming = self._conforming
        nested._outer = self._outer
        root = ctx.elements.get(ctx.path, {})
        return _chain(nested._run_checks(value, root, code, path, expression),
                      nested._object(value, ctx, path, expression) if isinstance(value, dict) else iter(()))

    def _no_match(self, value: Any, profiles: Sequence[tuple[str, str | None]], code: str | None, path: Path,
                  expression: str) -> Iterator[Issue]:
        """None of the choices of profiles fits: say so, then what each profile found, at its place
        and marked with the profile (HL7's validator reports the findings of every profile tried)."""
        yield NO_PROFILE_MATCH.issue(
            f"Unable to find a match for the specified profile among choices: "
            f"{', '.join(url for url, _ in profiles)}", path=path, expression=expression)
        found: dict[tuple[str, str | None, str], tuple[Issue, list[str]]] = {}
        for url, target in profiles:
            ctx = self.definitions.profile_context(url, target)
            key = (id(value), url)
            if ctx is None or key in self._conforming:
                continue
            self._conforming.add(key)
            try:
                for issue in self._nested(value, url, code, ctx, path, expression):
                    seen = found.setdefault((issue.rule, issue.expression, issue.message), (issue, []))
                    seen[1].append(url)
            finally:
                self._conforming.discard(key)
        for issue, urls in found.values():
            issue.message += "".join(f" (validating against {url})" for url in urls)
            yield issue

    def _extension_context(self, value: dict[str, Any]) -> Context | None:
        """An extension is walked against its own definition (found by url) when it is loaded."""
        url = value.get("url")
        if not isinstance(url, str) or ":" not in url:
            return None
        definition = self.definitions.get(url)
        if definition is None or definition.get("type") != "Extension":
            return None
        return self.definitions.context(url)

    def _resolve(self, reference: Any) -> dict[str, Any] | None:
        """The resource a Reference points to inside this document (contained or Bundle entry)."""
        if not self._resources:
            return None
        return self._document.resolve(reference, self._resources[-1][1], self._outer or self._resources[0][0])

    def check_resource(self, resource: Any, path: Path, expression: str, profile: str | None = None) -> Iterator[Issue]:
        """The issues of one resource, walked against ``profile`` (else the root profile, else its type);
        an issue of a profile's walk carries that profile (``Issue.profile``) unless a nested walk's profile
        already named itself."""
        if profile is None and not self._resources:
            profile = self.root_profile
        if profile is None:
            yield from self._check_resource(resource, path, expression, None)
            return
        for issue in self._check_resource(resource, path, expression, profile):
            if issue.profile is None:
                issue.profile = profile
            yield issue

    def _check_resource(self, resource: Any, path: Path, expression: str, profile: str | None) -> Iterator[Issue]:
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            yield NOT_A_RESOURCE.issue("A resource is expected here: a JSON object with a resourceType.",
                                       path=path, expression=expression)
            return
        resource_type = resource["resourceType"]
        ctx = self.definitions.context(profile or resource_type)
        if ctx is None or resource_type not in self.definitions.resource_types:
            yield NOT_A_RESOURCE.issue(f"Unknown resource type '{resource_type}'.",
                                       path=(*path, "resourceType"), expression=expression)
            return
        if "id" in resource:
            problem = id_problem(resource["id"])
            if problem:
                yield RESOURCE_ID.issue(problem, path=(*path, "id"), expression=f"{expression}.id")
        contained = len(path) >= 2 and path[-2] == "contained" and bool(self._resources)
        if contained and "id" not in resource and "_id" not in resource:
            yield CONTAINED_WITHOUT_ID.issue("Resource requires an id, but none is present: a contained resource is "
                                             "found by its id (#id)", path=path, expression=expression)
        nested = bool(self._resources)
        self._resources.append((resource, self._resources[-1][1] if contained else resource))
        seen: set[tuple[str, str | None, str]] = set()
        outer_record = self._record
        recording = nested and self.recording and _has_own_profiles(resource)
        if recording:
            self._record = {}
        try:
            root_element = ctx.elements.get(ctx.path)
            if root_element is not None:
                for issue in self._run_checks(resource, root_element, resource_type, path, expression):
                    seen.add((issue.rule, issue.expression, issue.message))
                    yield issue
            for issue in self._object(resource, ctx, path, expression, resource=True):
                seen.add((issue.rule, issue.expression, issue.message))
                yield issue
            if nested:  # a Bundle entry or contained resource: its own meta.profile applies too
                record = self._record if recording else None
                for issue in self._declared_profiles(resource, path, expression, profile, record):
                    if (issue.rule, issue.expression, issue.message) not in seen:
                        seen.add((issue.rule, issue.expression, issue.message))
                        yield issue
        finally:
            self._resources.pop()
            if recording:
                if outer_record is not None and self._record:
                    outer_record.update(self._record)
                self._record = outer_record

    def _declared_profiles(self, resource: dict[str, Any], path: Path, expression: str,
                           current: str | None, record: dict[tuple[str, str], ElementDefinition] | None = None,
                           ) -> Iterator[Issue]:
        declared = [p for p in (resource.get("meta") or {}).get("profile") or [] if isinstance(p, str)]
        vital = vital_signs_profile(resource)  # the vital-signs profile FHIR requires by the Observation's code
        if vital is not None:
            yield VITAL_SIGNS_PROFILE.issue(vital.note, path=path, expression=expression)
            declared.append(vital.profile)
        for url in dict.fromkeys(declared):
            usable, reason = usable_profile(self.definitions, url, resource["resourceType"])
            if usable is None:
                issue = PROFILE_NOT_USABLE.issue(reason, path=(*path, "meta"), expression=expression)
                issue.profile = url
                yield issue
                continue
            key = (id(resource), usable)
            if usable == current or key in self._conforming:
                continue
            checks = [*self.element_checks]
            if not any(isinstance(c, FixedPatternChecker) for c in checks):
                checks.append(FixedPatternChecker())
            walker = StructureChecker(self.definitions, checks, root_profile=usable, must_support=self.must_support)
            walker._resources = list(self._resources[:-1])
            walker._conforming = self._conforming
            walker._outer = self._outer
            walker._twins = record
            self._conforming.add(key)
            try:
                yield from walker.check_resource(resource, path, expression, profile=usable)
            finally:
                self._conforming.discard(key)

    def _checks_for(self, element: ElementDefinition, code: str | None) -> tuple[ElementCheck, ...]:
        """The element checks that can say something about values of ``element`` (of type ``code``):
        a check with a ``relevant(element, code)`` method is asked once per element definition and
        type (the answer is shared by walkers with the same kinds of checks); the others always run."""
        mine = self._chosen.get(id(element))
        if mine is not None and mine[0] is element and mine[1] == code:
            return mine[2]
        key = (id(element), code, self._signature)
        found = self._relevant.get(key)
        if found is None or found[0] is not element:
            chosen = tuple(i for i, check in enumerate(self.element_checks)
                           if (relevant := getattr(check, "relevant", None)) is None or relevant(element, code))
            found = self._relevant[key] = (element, chosen)
        result = self._subsets.get(found[1])
        if result is None:
            result = self._subsets[found[1]] = tuple(self.element_checks[i] for i in found[1])
        self._chosen[id(element)] = (element, code, result)
        return result

    def _run_checks(self, value: Any, element: ElementDefinition, code: str | None, path: Path,
                    expression: str) -> Iterable[Issue]:
        if not self.element_checks:
            return ()
        checks = self._checks_for(element, code)
        if not checks:
            return ()
        return self._visit(checks, value, element, code, path, expression)

    def _visit(self, checks: tuple[ElementCheck, ...], value: Any, element: ElementDefinition, code: str | None,
               path: Path, expression: str) -> Iterator[Issue]:
        if self._record is not None:  # a base walk that profile walks will follow: what it checked where
            self._record[(expression, element["path"])] = element
        elif self._twins is not None:  # a profile walk: where the base walk ran the same checks, they are not rerun
            base = self._twins.get((expression, element["path"]))
            if base is not None and (base is element or self._same_for_checks(base, element)):
                checks = self._profile_only(checks)
                if not checks:
                    return
        resource, root = self._resources[-1]
        visit = Visit(value, element, code, path, expression, resource, root, self._outer or self._resources[0][0],
                      self._parents[-1] if self._parents else None)
        for check in checks:
            yield from check(visit)

    def _wants(self, checks: tuple[ElementCheck, ...]) -> Callable[[Any], bool] | None:
        """Whether a primitive value is worth a visit, when every check of ``checks`` can say so from
        the value alone (an optional ``wants(value)``); None: always visit. Kept per set of checks."""
        found: Any = self._wanting.get(checks, _UNSET)
        if found is _UNSET:
            tests = [getattr(check, "wants", None) for check in checks]
            if any(test is None for test in tests):
                found = None
            elif len(tests) == 1:
                found = tests[0]
            else:
                found = lambda value, tests=tuple(tests): any(test(value) for test in tests)  # noqa: E731
            self._wanting[checks] = found
        return found

    def _same_for_checks(self, base: ElementDefinition, element: ElementDefinition) -> bool:
        """Whether the element checks judge a value the same under ``element`` as under ``base``:
        the two definitions differ at most in their documentation (kept once per pair)."""
        key = (id(base), id(element))
        found = self._twin_verdicts.get(key)
        if found is None or found[0] is not base or found[1] is not element:
            same = all(base.get(k) == element.get(k) for k in (base.keys() | element.keys()) - _DOCUMENTATION)
            found = self._twin_verdicts[key] = (base, element, same)
        return found[2]

    def _profile_only(self, checks: tuple[ElementCheck, ...]) -> tuple[ElementCheck, ...]:
        """Of ``checks``, those a base walk does not run (a profile's fixed values and patterns)."""
        found = self._only.get(checks)
        if found is None:
            found = self._only[checks] = tuple(c for c in checks if isinstance(c, FixedPatternChecker))
        return found

    def _object(self, obj: dict[str, Any], ctx: Context, path: Path, expression: str,
                resource: bool = False, owner: Parent | None = None) -> Iterator[Issue]:
        self._parents.append(owner or Parent(obj, ctx.path, ctx.path, expression))
        # (one generator frame per object entered: deep documents stay within Python's recursion limit)
        try:
            keys = self._key_plan(ctx, resource)
            counts: dict[str, int] = {}
            for key, value in obj.items():
                plan = keys.get(key)
                if plan is None:
                    plan = keys[key] = self._plan_key(ctx, key, resource)
                kind = plan.kind
                if kind != _CHILD:
                    if kind == _SKIP:
                        continue
                    if kind == _ID_EXTENSION:
                        yield ID_EXTENSION.issue("Extensions are not allowed on Resource.id", path=(*path, key),
                                                 expression=f"{expression}.id")
                    elif kind == _EXTENSION_VALUE:
                        counts["Extension.value[x]"] = counts.get("Extension.value[x]", 0) + 1
                        # a value type the extension does not allow: the extension check says so
                    elif kind == _UNKNOWN:
                        # located as HL7's JSON parser does, except inside a primitive's ``_name`` object,
                        # which its validator judges (at the typed path)
                        yield UNKNOWN_PROPERTY.issue(f"Unrecognized property '{key}'", path=(*path, key),
                                                     expression=parsed_path(expression) if ctx.path != "Element" else expression)
                    else:  # _PRIMITIVE_EXTENSIONS: ``_name`` beside (or instead of) a primitive ``name``
                        name, element = plan.name, plan.element
                        owner = Parent(obj.get(name), plan.code or "", element["path"], f"{expression}.{plan.segment}", obj,
                                       plan.aliases)
                        if name not in obj:
                            counts[plan.count_key] = counts.get(plan.count_key, 0) + _present(value)
                            yield from value_required(element, value, ctx.url, (*path, key), owner.expression)
                        yield from self._primitive_extensions(value, element, (*path, key), owner)
                    continue
                name, element, code, repeats = plan.name, plan.element, plan.code, plan.repeats
                shown = f"{expression}.{plan.segment}"
                is_list = type(value) is list
                extras = obj.get(plan.extras_key)
                if is_list and repeats and value and extras is None and not plan.sliced and None not in value:
                    # the common case, a JSON array of values without _name, slicing or shape errors:
                    # each item walked in place, without the bookkeeping below
                    present_count = 0
                    unreadable = 0
                    primitive = plan.primitive
                    checks = self._checks_for(element, code) if primitive and self.element_checks else ()
                    wants = self._wants(checks) if checks else None
                    for i, item in enumerate(value):
                        present_count += 1
                        if primitive:
                            if type(item) is dict:
                                unreadable += 1
                            if checks and (wants is None or wants(item)):
                                yield from self._visit(checks, item, element, code, (*path, key, i), f"{shown}[{i}]")
                            problems = self._primitive(item, code, (*path, key, i), f"{shown}[{i}]")  # type: ignore[arg-type]  # primitive: code is set
                            if problems:
                                yield from problems
                        elif plan.datatype:
                            yield from self._datatype(item, element, code, ctx, (*path, key, i), f"{shown}[{i}]")
                        else:
                            yield from self._value(item, element, code, ctx, (*path, key, i), f"{shown}[{i}]")
                    counts[plan.count_key] = counts.get(plan.count_key, 0) + present_count - unreadable
                    continue
                if not is_list and not repeats and value is not None and not plan.sliced:
                    # the other common case, a single value where a single value belongs
                    if plan.primitive:
                        checks = self._checks_for(element, code) if self.element_checks else ()
                        if checks:
                            wants = self._wants(checks)
                            if wants is None or wants(value):
                                yield from self._visit(checks, value, element, code, (*path, key), shown)
                        problems = self._primitive(value, code, (*path, key), shown)  # type: ignore[arg-type]  # primitive: code is set
                        if problems:
                            yield from problems
                        readable = type(value) is not dict
                    elif plan.datatype:
                        yield from self._datatype(value, element, code, ctx, (*path, key), shown)
                        readable = True
                    else:
                        yield from self._value(value, element, code, ctx, (*path, key), shown)
                        readable = True
                    counts[plan.count_key] = counts.get(plan.count_key, 0) + readable
                    continue
                # JSON shape errors are located and handled as HL7's JSON parser does: at the element as
                # parsed (choice elements as ``value[x]``); a single-valued element given as an array is
                # left out (it counts as absent), a repeating primitive given as one value too, and a
                # repeating complex element given as one object is read as that one item.
                wrapped = repeats and not is_list
                if wrapped:
                    yield ARRAY_SHAPE.issue(
                        f"The property {name} must be a JSON Array, not {_json_kind(value)} (at {expression})",
                        path=(*path, key), expression=parsed_path(shown))
                    items: list[Any] = [] if plan.primitive else [value]
                elif not repeats and is_list:
                    yield ARRAY_SHAPE.issue(f"The property {name} must be a single value, not a JSON Array",
                                            path=(*path, key), expression=parsed_path(shown))
                    items = []
                else:
                    items = value if is_list else [value]
                if is_list and not value:
                    yield EMPTY.issue(f"The array {name} is empty; leave the property out.", path=(*path, key),
                                      expression=shown)
                present: list[Item] = []
                only_extensions = 0
                for i, item in enumerate(items):
                    item_path: Path = (*path, key, i) if is_list else (*path, key)
                    item_expression = f"{shown}[{i}]" if repeats else shown
                    if item is None:
                        explained = isinstance(extras, list) and i < len(extras) and extras[i] is not None
                        if not explained:
                            yield EMPTY.issue(f"Null value in {name} with no matching _{name} extension.",
                                              path=item_path, expression=parsed_path(shown if wrapped else item_expression))
                        else:
                            only_extensions += 1
                        continue
                    present.append(Item(item, code, i, item_path, item_expression))
                if is_list and isinstance(extras, list):
                    for i in range(len(value), len(extras)):  # _name longer than name: extension-only items
                        if extras[i] is None:
                            yield EMPTY.issue(f"The JSON array for '{name}' is invalid at index {i} - must have at "
                                              "least one valid value", path=(*path, key), expression=shown)
                        else:
                            only_extensions += 1
                definitions: list[ElementDefinition | None] = [None] * len(present)
                slices = self.definitions.slices(ctx, element) if plan.sliced else []
                if slices:
                    assignment = assign(self._matcher(), ctx, element, slices, present, path, expression)
                    yield from assignment.issues
                    definitions = assignment.slices
                for item, chosen in zip(present, definitions):
                    issues = self._value(item.value, chosen or element, code, ctx, item.path, item.expression)
                    yield from (_as_parsed(issues, item.expression, shown) if wrapped else issues)
                # a primitive given as a JSON object is reported by the value check and, as HL7's JSON
                # parser drops it ("must be a simple value, not an Object"), does not count as present
                unreadable = sum(1 for item in present if isinstance(item.value, dict)) if plan.primitive else 0
                counts[plan.count_key] = counts.get(plan.count_key, 0) + len(present) - unreadable + only_extensions
            problems = self._cardinality(ctx, counts, expression, path) if not self.shape_only else _NONE
            if problems:
                yield from problems
        finally:
            self._parents.pop()

    def _key_plan(self, ctx: Context, resource: bool) -> dict[str, _Key]:
        """What each JSON property means at ``ctx``, filled in as properties are met (shared by walkers)."""
        cache: dict[tuple[int, str, bool], tuple[Any, dict[str, _Key]]] = self._keys
        found = cache.get((id(ctx.elements), ctx.path, resource))
        if found is None or found[0] is not ctx.elements:
            found = cache[(id(ctx.elements), ctx.path, resource)] = (ctx.elements, {})
        return found[1]

    def _plan_key(self, ctx: Context, key: str, resource: bool) -> _Key:
        """One JSON property at ``ctx``: which element it is and how the walk treats it."""
        if resource and key == "resourceType":
            return _Key(_SKIP, key)
        name = key[1:] if key.startswith("_") else key
        found = self.definitions.children(ctx).get(name)
        if resource and key == "_id":
            return _Key(_ID_EXTENSION, name)
        if found is None and key.startswith("value") and "Extension.value[x]" in ctx.elements:
            return _Key(_EXTENSION_VALUE, name)
        if found is None or (key.startswith("_") and not is_primitive(found[1] or "")):
            return _Key(_UNKNOWN, name)
        element, code = found
        # JSON arrays follow the base definition: a profile's max of 1 does not change the shape
        repeats = (element.get("base") or {}).get("max", element.get("max", "1")) != "1"
        choice = element["path"].endswith("[x]")
        return _Key(_PRIMITIVE_EXTENSIONS if key.startswith("_") else _CHILD, name, element, code, element_key(element),
                    repeats, _display_name(name, element, code) if choice else name,
                    code is not None and is_primitive(code),
                    code is not None and not is_primitive(code) and code not in self.definitions.resource_types
                    and code != "Resource", bool(element.get("slicing")), _aliases(element), "_" + name)

    def _cardinality_plan(self, ctx: Context) -> _CardinalityPlan:
        """The direct children of ``ctx`` as the cardinality check reads them, once per context:
        (key, element, min, max or None for *, sliced, mustSupport that may be absent), the position
        of each key, and the positions that can say something when their element is absent."""
        cache: dict[tuple[int, str], tuple[Any, _CardinalityPlan]] = self.definitions.memo.setdefault("cardinality", {})
        found = cache.get((id(ctx.elements), ctx.path))
        if found is not None and found[0] is ctx.elements:
            return found[1]
        entries = []
        for element in self.definitions.child_elements(ctx):
            minimum = int(element.get("min", 0))
            maximum = element.get("max", "*")
            bound = None if maximum in ("*", None) else int(maximum)
            optional_support = bool(element.get("mustSupport")) and minimum == 0 and element.get("max") != "0"
            entries.append((element_key(element), element, minimum, bound, bool(element.get("slicing")), optional_support))
        absent = tuple(i for i, entry in enumerate(entries) if entry[2] > 0 or entry[4])
        absent_support = tuple(i for i, entry in enumerate(entries) if entry[2] > 0 or entry[4] or entry[5])
        plan = _CardinalityPlan(
            tuple(entries), {entry[0]: i for i, entry in enumerate(entries)}, absent, absent_support,
            frozenset(entries[i][0] for i in absent), frozenset(entries[i][0] for i in absent_support),
            frozenset(entry[0] for entry in entries if entry[2] > 1 or entry[3] == 0))
        cache[(id(ctx.elements), ctx.path)] = (ctx.elements, plan)
        return plan

    def _cardinality(self, ctx: Context, counts: dict[str, int], expression: str, path: Path) -> list[Issue]:
        plan = self._cardinality_plan(ctx)
        found: list[Issue] = _NONE
        entries = plan.entries
        # most objects break no bound, found out in C: each child present once, none whose bounds
        # one value breaks (min > 1, max 0), and every child that must be there present
        values = counts.values()
        if (not counts or (max(values) == 1 and min(values) == 1 and counts.keys().isdisjoint(plan.strict))) \
                and counts.keys() >= (plan.absent_support_keys if self.must_support else plan.absent_keys):
            return found
        # only present elements and those that may be missing can say something: their positions,
        # in definition order (the order the issues come in)
        absent = plan.absent_support if self.must_support else plan.absent
        index = plan.slots
        positions: Any = absent
        if counts:
            positions = sorted({*absent, *(index[key] for key in counts if key in index)})
        for position in positions:
            key, element, minimum, maximum, sliced, optional_support = entries[position]
            count = counts.get(key, 0)
            if count == 0:
                if sliced:  # required slices of an absent element
                    slices = self.definitions.slices(ctx, element)
                    if slices:
                        found = [*found, *assign(self._matcher(), ctx, element, slices, [], path, expression).issues]
                if optional_support and self.must_support:
                    found = [*found, MUST_SUPPORT.issue(
                        f"{element['path']} is mustSupport in {ctx.url or 'the profile'} and is absent here; a "
                        "receiver that supports it may expect it when the data exists", path=path, expression=expression)]
            elif minimum <= count and (maximum is None or count <= maximum):
                continue
            source = f" (from {ctx.url})" if ctx.url else ""
            if count < minimum:
                found = [*found, MIN_CARDINALITY.issue(
                    f"{element['path']}: minimum required = {minimum}, but only found {count}{source}",
                    path=path, expression=expression)]
            if maximum is not None and count > maximum:
                found = [*found, MAX_CARDINALITY.issue(
                    f"{element['path']}: max allowed = {element.get('max', '*')}, but found {count}{source}",
                    path=path, expression=expression)]
        return found

    def _value(self, value: Any, element: ElementDefinition, code: str | None, ctx: Context, path: Path,
               expression: str) -> Iterator[Issue]:
        if code is None and isinstance(value, dict) and isinstance(value.get("resourceType"), str):
            allowed = type_codes(element)  # a choice of resource types: the resource says which
            if allowed and all(c in self.definitions.resource_types or c == "Resource" for c in allowed):
                if value["resourceType"] not in allowed and "Resource" not in allowed:
                    yield WRONG_RESOURCE_TYPE.issue(
                        f"{element['path']}: a resource of type {value['resourceType']} is not allowed "
                        f"(allowed: {', '.join(allowed)})", path=path, expression=expression)
                    return
                code = value["resourceType"]
        if code not in self.definitions.resource_types and code != "Resource":
            yield from self._run_checks(value, element, code, path, expression)
        if code in self.definitions.resource_types or code == "Resource":
            actual = value.get("resourceType") if isinstance(value, dict) else None
            profiles = self.definitions.type_profiles(element, code)
            wanted = [code] if code != "Resource" else []
            if len(profiles) == 1:
                profiled = self.definitions.structure_definition(profiles[0][0])
                wanted = [str(profiled.get("type"))] if profiled else wanted
            if wanted and isinstance(actual, str) and actual not in wanted:
                yield WRONG_RESOURCE_TYPE.issue(f"The type '{actual}' is not valid - must be {wanted[0]}",
                                                path=path, expression=expression)
                return
            if len(profiles) > 1 and not any(self._conforms(value, url, code, target) for url, target in profiles):
                yield from self._no_match(value, profiles, code, path, expression)
            single = profiles[0][0] if len(profiles) == 1 and self.definitions.context(profiles[0][0]) else None
            yield from self.check_resource(value, path, expression, profile=single)
            return
        if code is not None and is_primitive(code):
            yield from self._primitive(value, code, path, expression)
            return
        yield from self._datatype(value, element, code, ctx, path, expression, checked=True)

    def _datatype(self, value: Any, element: ElementDefinition, code: str | None, ctx: Context, path: Path,
                  expression: str, checked: bool = False) -> Iterator[Issue]:
        """A value of a complex datatype or backbone element: the element checks that apply (unless
        the caller ran them: ``checked``), then its content, without :meth:`_value`'s dispatch."""
        if not checked:
            yield from self._run_checks(value, element, code, path, expression)
        if not isinstance(value, dict):
            yield NOT_AN_OBJECT.issue(f"{element['path']} must be a JSON object, not {_json_kind(value)}",
                                      path=path, expression=parsed_path(expression))
            return
        plan = self._datatype_plan(ctx, element, code)
        if not value:
            yield EMPTY.issue("Object must have some content", path=path, expression=parsed_path(expression))
            # as HL7's validator, what must be inside it is still missing (a repeating element given
            # as one empty object is read as one item without its required children)
            if plan.child is not None and not self.shape_only:
                yield from self._cardinality(plan.child, {}, expression, path)
            return
        for url in plan.unknown_profiles:
            yield UNKNOWN_TYPE_PROFILE.issue(
                f"Unknown profile {url}: the element must conform to it, but it is not in the loaded "
                f"packages (load it with --ig)", path=path, expression=expression)
        profiles = plan.profiles
        if len(profiles) > 1 and not any(self._conforms(value, url, code, target) for url, target in profiles):
            yield from self._no_match(value, profiles, code, path, expression)
        child, type_root = plan.child, plan.type_root
        if code == "Extension" and child is not None and child.path == "Extension":
            extension = self._extension_context(value)
            if extension is not None:  # walked against its own definition, found by url
                child = extension
                type_root = extension.elements.get(extension.path) if extension.path == code else None
        if child is not None:
            if type_root is not None:  # the datatype's own constraints (per-1, qty-3, ...)
                yield from self._run_checks(value, type_root, code, path, expression)
            yield from self._object(value, child, path, expression,
                                    owner=Parent(value, plan.type_name, element["path"], expression,
                                                 aliases=plan.aliases))

    def _datatype_plan(self, ctx: Context, element: ElementDefinition, code: str | None) -> _Datatype:
        """What the walk needs of an element's type at ``ctx``, once per (snapshot, element, type)."""
        key = (id(ctx.elements), ctx.url, id(element), code)
        found = self._datatypes.get(key)
        if found is not None and found[0] is ctx.elements and found[1] is element:
            return found[2]
        profiles = self.definitions.type_profiles(element, code) if code != "Extension" else []
        child = self.definitions.descend(ctx, element, code)
        type_root = child.elements.get(child.path) if child is not None and child.path == code else None
        plan = _Datatype(
            tuple(profiles), tuple(url for url, _ in profiles if self.definitions.context(url) is None), child,
            type_root, code if code and code not in ("BackboneElement", "Element") else element["path"],
            _aliases(element))
        self._datatypes[key] = (ctx.elements, element, plan)
        return plan

    def _primitive(self, value: Any, code: str, path: Path, expression: str) -> list[Issue]:
        """The JSON type and format of a primitive value (a list, most often empty: no generator
        is made for each of the millions of values of a large corpus)."""
        if code == "xhtml":
            if not isinstance(value, str) or not value.strip():
                return [PRIMITIVE_TYPE.issue("The narrative div must be a non-empty string of XHTML",
                                             path=path, expression=expression)]
            return _NONE
        problem = json_type_problem(code, value)
        if problem:
            # HL7's JSON parser locates this at the element, without the index of a repeating primitive;
            # a number with a fraction where an integer belongs is its validator's finding, located as usual
            number = code in NUMBER_TYPES and isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
            parsed = expression if number else \
                parsed_path(_INDEX_AT_END.sub("", expression) if path and isinstance(path[-1], int) else expression)
            found = [PRIMITIVE_TYPE.issue(f"The value {_json_literal(value)} {problem} ({code})", path=path,
                                          expression=parsed)]
            regex: Any = self.definitions.primitive_regex(code) if isinstance(value, str) and code in NUMBER_TYPES else None
            if regex is not None and not re.fullmatch(regex, value):
                # a number written as a string is read as text: HL7's validator also judges that text
                found.append(PRIMITIVE_FORMAT.issue(f"The value '{value[:100]}' is not a valid {code}", path=path,
                                                    expression=expression))
            return found
        if isinstance(value, str) and not value.strip():
            # as HL7's validator: an empty value is an error, one of white space only a warning;
            # neither is checked further (no format to judge)
            if value == "":
                return [EMPTY_VALUE.issue("@value cannot be empty: leave the element out, or give it a value",
                                          path=path, expression=expression)]
            return [WHITESPACE_VALUE.issue("The value should not be all white space", path=path, expression=expression)]
        if self.shape_only:
            return _NONE
        found = _NONE
        if code == "string" and value != value.strip():
            found = [WHITESPACE_VALUE.issue(f"The value '{value[:100]}' should not start or finish with white space",
                                            path=path, expression=expression)]
        regex = self._regex.get(code, _UNSET)
        if regex is _UNSET:
            regex = self._regex[code] = self.definitions.primitive_regex(code)
        problem = format_problem(code, value, regex)
        if problem:
            found = [*found, PRIMITIVE_FORMAT.issue(problem, path=path, expression=expression)]
        return found

    def _primitive_extensions(self, value: Any, element: ElementDefinition, path: Path,
                              owner: Parent) -> Iterator[Issue]:
        """``_name``: an object (or array of objects/nulls) with ``id`` and ``extension``."""
        ctx = self.definitions.context("Element")
        expression = owner.expression
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if item is None:
                continue
            item_path: Path = (*path, i) if isinstance(value, list) else path
            if not isinstance(item, dict):
                yield NOT_AN_OBJECT.issue(f"_{element['path'].rsplit('.', 1)[1]} must be a JSON object",
                                          path=item_path, expression=expression)
            elif ctx is not None:
                values = owner.value if isinstance(owner.value, list) else [owner.value]
                here = Parent(values[i] if i < len(values) else None, owner.type_name, owner.element_path,
                              expression, owner.container, owner.aliases)
                yield from self._object(item, ctx, item_path, expression, owner=here)


_DOCUMENTATION = frozenset({"short", "definition", "comment", "requirements", "alias", "mapping", "example", "label",
                            "isSummary", "mustSupport", "meaningWhenMissing", "orderMeaning", "isModifierReason"})
"""Keys of an element definition that no element check reads (what the element means to people)."""


def _has_own_profiles(resource: dict[str, Any]) -> bool:
    """A resource inside another that declares profiles (or is a vital sign): its walk is followed by theirs."""
    meta = resource.get("meta")
    return bool(isinstance(meta, dict) and meta.get("profile")) or vital_signs_profile(resource) is not None


_NONE: list[Issue] = []
"""No issues (shared, never appended to)."""
_UNSET: Any = object()

_OF_TYPE = re.compile(r"\.ofType\([A-Za-z]+\)")
_INDEX_AT_END = re.compile(r"\[\d+\]$")


def parsed_path(expression: str) -> str:
    """An expression as HL7's JSON parser writes locations: choice elements as ``value[x]``
    instead of ``value.ofType(Quantity)`` (the parser has not chosen a type yet)."""
    return _OF_TYPE.sub("[x]", expression) if ".ofType(" in expression else expression


def _aliases(element: ElementDefinition) -> tuple[str, ...]:
    """The base path and the reused element's path (contentReference) of an element, where they differ."""
    found = [(element.get("base") or {}).get("path"), str(element.get("contentReference") or "").split("#")[-1]]
    return tuple(p for p in found if p and p != element.get("path"))


def _as_parsed(issues: Iterator[Issue], item_expression: str, shown: str) -> Iterator[Issue]:
    """Issues of an object given where an array belongs: what HL7's JSON parser reports about the
    object itself (not an object, empty) is located at the element, without the ``[0]``."""
    parser_rules = (NOT_AN_OBJECT.code, EMPTY.code)
    for issue in issues:
        if issue.rule in parser_rules and issue.expression == parsed_path(item_expression):
            yield replace(issue, expression=parsed_path(shown))
        else:
            yield issue


def _chain(*iterators: Iterable[Issue]) -> Iterator[Issue]:
    for iterator in iterators:
        yield from iterator


def _present(value: Any) -> int:
    if isinstance(value, list):
        return sum(1 for v in value if v is not None)
    return 0 if value is None else 1


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an Object"
    if isinstance(value, list):
        return "an Array"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "null"
    return "a string"


def _json_literal(value: Any) -> str:
    """A value as the JSON it was written as (objects, arrays and null included), cut at 100 characters."""
    if isinstance(value, str):
        return f"'{value[:100]}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)[:100]
    return str(value)[:100]


