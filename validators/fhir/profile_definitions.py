"""StructureDefinitions as artifacts: a profile being validated must produce a snapshot.

A profile author validates the StructureDefinition itself (in CI, before publishing). Its
differential is applied to its base, as when it is used, and what cannot be applied is an
error with the element that caused it: paths with an empty name (``Observation..unit``), a
renamed choice that names no type of the element (``valueBla``), an element that exists
neither in the base nor in its types, a discriminator type FHIR R4 does not have.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..issues import Issue, Severity
from ..rules import rule
from .definitions import Definitions
from .snapshot import generate
from .visit import Visit

SNAPSHOT_FAILED = rule(
    "FHIR-SD-001", "The profile's differential cannot be applied to its base", Severity.ERROR,
    """
    Validating a StructureDefinition generates its snapshot from the differential and the base,
    as every validator and server using the profile will. Here that fails, so the profile
    cannot be used as published: the message says which element and why.
    """,
    bad='{"differential": {"element": [{"id": "Observation.valueBla", "path": "Observation.valueBla"}]}}',
    good='{"differential": {"element": [{"id": "Observation.valueQuantity", "path": "Observation.valueQuantity"}]}}',
)

SEARCH_TYPE_MISMATCH = rule(
    "FHIR-SD-002", "Search parameter type differs from its definition", Severity.ERROR,
    """
    A CapabilityStatement declares a search parameter with a ``definition`` (a SearchParameter
    canonical) and a ``type``; the type must be the definition's, or clients build queries the
    server does not understand.
    """,
    bad='{"name": "clinical-status", "definition": "http://hl7.org/fhir/SearchParameter/AllergyIntolerance-clinical-status", "type": "date"}',
    good='{"name": "clinical-status", "definition": "http://hl7.org/fhir/SearchParameter/AllergyIntolerance-clinical-status", "type": "token"}',
)

DISCRIMINATOR_TYPES = ("value", "exists", "pattern", "type", "profile")
_EMPTY_NAME = re.compile(r"\.\.|^\.|\.$")
_SLICE = re.compile(r":[^.]+")


class ProfileDefinitionChecker:
    """An element check on StructureDefinition resources (constraints with a differential)."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        sd = visit.value
        if visit.value is visit.resource and isinstance(sd, dict) and sd.get("resourceType") == "CapabilityStatement":
            yield from self._search_parameters(visit)
            return
        if visit.value is not visit.resource or not isinstance(sd, dict) or sd.get("resourceType") != "StructureDefinition":
            return
        differential = (sd.get("differential") or {}).get("element")
        base_url = sd.get("baseDefinition")
        if not isinstance(differential, list) or not isinstance(base_url, str) or sd.get("derivation") == "specialization":
            return
        where = {"path": visit.path, "expression": visit.expression}
        found = list(_differential_problems(differential))
        for message in found:
            yield SNAPSHOT_FAILED.issue(f"Error generating Snapshot: {message} (this usually arises from a problem in "
                                        "the differential)", **where)
        if found:
            return
        base = self.definitions.snapshot_elements(base_url.split("|", 1)[0])
        if base is None:
            return  # an unknown base is reported where the profile is used (FHIR-PROF-003)
        for problem in generate(sd, base, self.definitions.snapshot_elements).problems:
            yield SNAPSHOT_FAILED.issue(f"Error generating Snapshot: {problem} in {sd.get('url')}", **where)


    def _search_parameters(self, visit: Visit) -> Iterator[Issue]:
        for r, rest in enumerate(visit.value.get("rest") or []):
            for i, resource in enumerate((rest or {}).get("resource") or [] if isinstance(rest, dict) else []):
                for k, param in enumerate((resource or {}).get("searchParam") or [] if isinstance(resource, dict) else []):
                    if not isinstance(param, dict) or not isinstance(param.get("definition"), str):
                        continue
                    definition = self.definitions.get(param["definition"])
                    declared = definition.get("type") if definition and definition.get("resourceType") == "SearchParameter" else None
                    if declared and param.get("type") and param["type"] != declared:
                        path = ("rest", r, "resource", i, "searchParam", k)
                        yield SEARCH_TYPE_MISMATCH.issue(
                            f"Type mismatch - SearchParameter '{param['definition']}' type is {declared}, but type here "
                            f"is {param['type']}", path=(*visit.path, *path),
                            expression=f"{visit.expression}.rest[{r}].resource[{i}].searchParam[{k}]")


def _differential_problems(elements: list[Any]) -> Iterator[str]:
    for element in elements:
        if not isinstance(element, dict):
            continue
        path = str(element.get("path", ""))
        if _EMPTY_NAME.search(path):
            yield f"Invalid path '{path}' in differential: name portion missing ('..')"
            continue
        element_id = element.get("id")
        if isinstance(element_id, str) and _SLICE.sub("", element_id) != path:
            yield (f"The element id '{element_id}' does not match its path '{path}' (the id is the path with the "
                   "slice names added)")
        for discriminator in (element.get("slicing") or {}).get("discriminator") or []:
            kind = discriminator.get("type") if isinstance(discriminator, dict) else None
            if kind is not None and kind not in DISCRIMINATOR_TYPES:
                yield f"Unknown DiscriminatorType code '{kind}'"
