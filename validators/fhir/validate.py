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
from ..jsontree import objects_in
from ..rules import declared
from .definitions import Definitions
from .attachments import AttachmentChecker
from .bindings import WRONG_DISPLAY, BindingChecker, CodingChecker
from .extensions import ExtensionChecker
from .identifiers import check_identifiers
from .invariants import InvariantChecker
from .narrative import NarrativeChecker
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
    :func:`~samsvar.validators.jsontree.objects_in`, when the caller has them."""
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
              ProfileDefinitionChecker(definitions), UrlChecker(definitions, options.allow_example_urls, options.resolve_urls),
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
