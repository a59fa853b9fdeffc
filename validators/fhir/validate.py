"""FHIR validation of one resource: the structure walk with its element checks, then profiles.

The base walk checks the resource against the core definitions (structure, bindings,
invariants, extensions, references, narrative); then every profile asked for (``--profile``) or
declared (``meta.profile``) gets a walk of its own, with fixed/pattern/range checks and slicing;
issues the base walk already gave are not repeated. Norwegian identifiers come last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from ..issues import Issue
from ..jsontree import copy_tree, objects_in
from ..rules import declared
from .definitions import Definitions
from .attachments import AttachmentChecker
from .bindings import WRONG_DISPLAY, BindingChecker, CodingChecker
from .extensions import ExtensionChecker
from .identifiers import check_identifiers
from .invariants import InvariantChecker
from .narrative import NarrativeChecker
from .operation_definitions import OperationDefinitionChecker
from .code_systems import CodeSystemChecker
from .value_sets import ValueSetChecker
from .structure_definitions import StructureDefinitionChecker
from .element_constraints import ElementConstraintChecker
from .profile_definitions import ProfileDefinitionChecker
from .measure import MeasureChecker
from .questionnaire import QuestionnaireChecker
from .profiles import PROFILE_NOT_USABLE, FixedPatternChecker, usable_profile
from .references import ReferenceChecker
from .searchparameter import SearchParameterChecker
from .structure import StructureChecker
from .observations import ObservationChecker
from .textcontent import TextContentChecker
from .urls import UrlChecker
from .vitals import VITAL_SIGNS_PROFILE, vital_signs_profile

FHIR_UNKNOWN_TYPE = declared("FHIR-001")


@dataclass(frozen=True, slots=True)
class FhirOptions:
    production: bool = False
    profiles: tuple[str, ...] = ()
    must_support: bool = False
    """Report mustSupport elements of the profiles that the instance leaves out."""
    allow_example_urls: bool = True
    """Accept undefined extensions in example domains (example.org, ...) with a note, as HL7's examples do."""
    resolve_urls: bool = True
    """Report URLs in HL7's namespaces that resolve to no loaded definition (FHIR-URL-003)."""
    assume_valid_rest_references: bool = False
    """A RESTful reference's type is its target's type even when the target is elsewhere (FHIR-REF-001 an error)."""
    hl7_paths: bool = False
    """Report locations as HL7's validator writes them where it differs from the true location."""
    reference_policy: str = "ignore"
    """HL7's reference validation policy for references outside the document (``ignore``, ``exists``, ``type``, ``valid``)."""
    reference_targets: dict[str, Any] | None = None
    """Resources outside the document that references may resolve to, by ``Type/id``."""
    security_checks: bool = False
    """Text that looks like HTML in a string is an error (HL7's ``-security-checks``), not a hint."""
    html_in_markdown: str = "warning"
    """What raw HTML in markdown is: ``none`` (not reported), ``warning`` or ``error``."""
    as_json_parsed: bool = True
    """The resource was read from JSON: constraints and cardinality are also judged on it as HL7's
    JSON parser reads it (see :func:`validate_resource`); False for XML, whose reader makes its
    own findings and keeps an element that has none of its children, as HL7's XML parser does."""


def profiles_walked(resource: Any, definitions: Definitions, options: FhirOptions,
                    objects: list[dict[str, Any]] | None = None) -> list[str]:
    """The profiles a resource is validated against: asked for (``--profile``), declared in ``meta.profile``
    (its own and those of the resources inside it) or implied by a loaded IG's ``global``. ``objects``:
    the resource's :func:`~samsvar.validators.jsontree.objects_in`, when the caller has them."""
    found: dict[str, None] = {}
    if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
        found.update(dict.fromkeys([*options.profiles, *definitions.global_profiles(resource["resourceType"])]))
    for node in objects_in(resource) if objects is None else objects:
        if "resourceType" in node and isinstance(node["resourceType"], str):
            found.update(dict.fromkeys(p for p in (node.get("meta") or {}).get("profile") or [] if isinstance(p, str)))
    return list(found)


def validate_resource(resource: dict[str, Any], definitions: Definitions, options: FhirOptions,
                      objects: list[dict[str, Any]] | None = None) -> Iterator[Issue]:
    """Every issue of one resource (a Bundle with its entries); ``objects``: the resource's
    :func:`~samsvar.validators.jsontree.objects_in`, when the caller has them.

    HL7's validator judges constraints and cardinality on the resource as its JSON parser read
    it: a property with a shape error (see :func:`_left_out_by_parser`) is left out, and to
    FHIRPath an object left empty by that is absent. So when the walk of JSON input finds such
    errors, constraints and minimum cardinality are judged again on that reading
    (:func:`as_parsed`), and what they find there besides is reported too: ``actor: {"display":
    [...]}`` leaves the participant without an actor, and app-1 fails, as in HL7. Only a
    resource with such findings pays for it: one more walk, two when an object is left empty."""
    found: set[tuple[str, str | None, str]] = set()
    dropped: list[tuple[Any, ...]] = []
    for issue in _validate_resource(resource, definitions, options, objects):
        found.add((issue.rule, issue.expression, issue.message))
        if issue.path and isinstance(issue.path[-1], str) and _left_out_by_parser(issue, resource):
            dropped.append(tuple(issue.path))
        yield issue
    if not dropped or not options.as_json_parsed:
        return
    kept = as_parsed(resource, dropped, prune=False)
    if kept is None:
        return
    # constraints see an object the parser left empty as absent (FHIRPath finds no node there);
    # cardinality still counts it, as HL7's does
    pruned = as_parsed(resource, dropped, prune=True)
    readings = [(_CONSTRAINTS | _CARDINALITY, kept)] if pruned == kept else [(_CONSTRAINTS, pruned), (_CARDINALITY, kept)]
    for rules, parsed in readings:
        for issue in _validate_resource(parsed, definitions, options, None):
            key = (issue.rule, issue.expression, issue.message)
            if issue.rule in rules and key not in found:
                found.add(key)
                yield issue


def _left_out_by_parser(issue: Issue, resource: dict[str, Any]) -> bool:
    """A finding whose property HL7's JSON parser leaves out of what it validates, told by the
    value written there: an array where one value belongs (an array-shape finding on an array),
    something else where an object belongs, an empty object, a primitive given as an object
    ("must be a simple value, not an Object"; a primitive of another JSON type, ``true`` for a
    code, is read as its text and kept)."""
    if issue.rule == "FHIR-STRUCT-008":
        return True
    if issue.rule not in ("FHIR-STRUCT-004", "FHIR-STRUCT-005", "FHIR-STRUCT-009"):
        return False
    values = _along(resource, issue.path or ())
    if len(values) != len(issue.path or ()) + 1:
        return False
    value = values[-1]
    if issue.rule == "FHIR-STRUCT-004":
        return isinstance(value, list)
    return isinstance(value, dict) and (issue.rule == "FHIR-STRUCT-005" or not value)


def _along(tree: Any, path: tuple[Any, ...] | list[Any]) -> list[Any]:
    """The values met going down ``path`` from ``tree`` (``tree`` first), as far as the path exists."""
    found = [tree]
    for step in path:
        node = found[-1]
        if isinstance(node, dict) and isinstance(step, str) and step in node:
            found.append(node[step])
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            found.append(node[step])
        else:
            break
    return found


_CONSTRAINTS = frozenset({"FHIR-INV-001"})
_CARDINALITY = frozenset({"FHIR-STRUCT-002"})
"""What is judged again on the resource as parsed: constraints and minimum cardinality."""


def as_parsed(resource: dict[str, Any], dropped: list[tuple[Any, ...]], prune: bool = True) -> dict[str, Any] | None:
    """A copy of ``resource`` without the properties at ``dropped`` (paths ending in a property
    name) and, with ``prune``, without the objects that leaves empty; None when nothing is left out."""
    copy = copy_tree(resource)
    changed = False
    for path in sorted(set(dropped), key=len, reverse=True):
        parents = _along(copy, path[:-1])
        if len(parents) != len(path) or not isinstance(parents[-1], dict) or path[-1] not in parents[-1]:
            continue
        del parents[-1][path[-1]]
        changed = True
        # an object left empty is absent too, up to the nearest one that is not
        for depth in range(len(parents) - 1, 0, -1) if prune else ():
            if parents[depth] or not isinstance(path[depth - 1], str) or not isinstance(parents[depth - 1], dict):
                break
            del parents[depth - 1][path[depth - 1]]
    return copy if changed else None


def _validate_resource(resource: dict[str, Any], definitions: Definitions, options: FhirOptions,
                       objects: list[dict[str, Any]] | None = None) -> Iterator[Issue]:
    resource_type = resource.get("resourceType")
    if resource_type not in definitions.resource_types:
        yield FHIR_UNKNOWN_TYPE.issue(
            f"Unknown resource type {resource_type!r}: not a resource of FHIR R4 "
            f"(hl7.fhir.r4.core).", path=("resourceType",))
        return
    invariants = InvariantChecker(definitions)
    bindings = BindingChecker(definitions)
    checks = [bindings, invariants,
              ExtensionChecker(definitions, options.allow_example_urls, options.hl7_paths),
              ReferenceChecker(definitions, conforms_to=invariants.conforms_to,
                               assume_valid_rest_references=options.assume_valid_rest_references,
                               policy=options.reference_policy, targets=options.reference_targets,
                               allow_example_urls=options.allow_example_urls, hl7_paths=options.hl7_paths),
              NarrativeChecker(),
              QuestionnaireChecker(definitions), MeasureChecker(definitions), SearchParameterChecker(definitions),
              CodingChecker(definitions),
              ProfileDefinitionChecker(definitions), OperationDefinitionChecker(definitions, options.hl7_paths),
              CodeSystemChecker(definitions), ValueSetChecker(definitions, options.allow_example_urls),
              StructureDefinitionChecker(definitions), ElementConstraintChecker(definitions),
              UrlChecker(definitions, options.allow_example_urls, options.resolve_urls),
              AttachmentChecker(), TextContentChecker(options.security_checks, options.html_in_markdown),
              ObservationChecker()]
    seen: set[tuple[str, str | None, str]] = set()
    displays: list[Issue] = []  # wrong displays wait for the profiles: a bound value set may give the display
    declared = [p for p in (resource.get("meta") or {}).get("profile") or [] if isinstance(p, str)]
    implied = list(definitions.global_profiles(resource_type))  # ImplementationGuide.global of loaded IGs
    vital = vital_signs_profile(resource)  # the vital-signs profile FHIR requires by the Observation's code
    base = StructureChecker(definitions, checks)
    base.recording = True  # resources inside with profiles of their own: their walks skip what it checked
    if options.profiles or declared or implied or vital is not None:
        base._record = {}  # and so do this resource's profile walks
    for issue in base.check_resource(resource, (), resource_type):
        seen.add((issue.rule, issue.expression, issue.message))
        if issue.rule == WRONG_DISPLAY.code:
            displays.append(issue)
        else:
            yield issue
    if vital is not None:
        yield VITAL_SIGNS_PROFILE.issue(vital.note, path=(), expression=resource_type)
        implied.append(vital.profile)
    for url in dict.fromkeys([*options.profiles, *declared, *implied]):
        profile, reason = usable_profile(definitions, url, resource_type)
        if profile is None:
            issue = PROFILE_NOT_USABLE.issue(reason, path=("meta",) if url in declared else (), expression=resource_type)
            issue.profile = url
            yield issue
            continue
        walker = StructureChecker(definitions, [*checks, FixedPatternChecker()], root_profile=profile,
                                  must_support=options.must_support)
        walker._twins = base._record
        for issue in walker.check_resource(resource, (), resource_type):
            key = (issue.rule, issue.expression, issue.message)
            if key not in seen:  # the base walk already said it
                seen.add(key)
                if issue.rule == WRONG_DISPLAY.code:
                    displays.append(issue)
                else:
                    yield issue
    for issue in displays:
        if (issue.expression or "").removesuffix(".display") not in bindings.displays_from_value_sets:
            yield issue
    yield from check_identifiers(resource, production=options.production, objects=objects)
