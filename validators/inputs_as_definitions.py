"""Canonical resources among a run's inputs, made available as definitions for the whole run.

HL7's validator, given several inputs in one run, first reads every input and caches each one it
can parse into its worker context (``ValidationEngine.validate``: "round one"; ``IgLoader.load``
then ``cacheResource``), where the canonical resources among them (Measure, Library,
Questionnaire, StructureDefinition, ValueSet, ...) are found by their URLs like the packages'
own: a MeasureReport is checked against the Measure given beside it, an instance against the
profile beside it. An input that does not parse with its strict parser is skipped silently.

samsvar does the same, deterministically: candidates are taken in sorted path order, an input
counts as unparseable when samsvar finds a structural error in it that HL7's parser rejects
(an unknown property, an array/single mix-up, a wrong JSON type), and of two inputs with the same
``url|version`` the first by path is used and the other is named in :attr:`InputDefinitions.shadowed`.
(HL7's engine allows duplicates, ``setAllowLoadingDuplicates(true)``, and a later input with the
same ``url|version`` replaces the earlier one (``CanonicalResourceManager.see``), so which one it
uses depends on the order of its command line or of the folder listing; samsvar's choice does not
depend on order.) Like HL7's, an input with the URL of a package's definition is used instead of it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

CANONICAL_TYPES = frozenset({
    "ActivityDefinition", "CapabilityStatement", "ChargeItemDefinition", "CodeSystem", "CompartmentDefinition",
    "ConceptMap", "EffectEvidenceSynthesis", "EventDefinition", "Evidence", "EvidenceVariable",
    "ExampleScenario", "GraphDefinition", "ImplementationGuide", "Library", "Measure", "MessageDefinition",
    "NamingSystem", "OperationDefinition", "PlanDefinition", "Questionnaire", "ResearchDefinition",
    "ResearchElementDefinition", "RiskEvidenceSynthesis", "SearchParameter", "StructureDefinition",
    "StructureMap", "TerminologyCapabilities", "TestScript", "ValueSet",
})
"""R4's canonical (metadata) resources: those HL7's worker context finds by URL once cached."""

UNPARSEABLE = frozenset({"FHIR-STRUCT-001", "FHIR-STRUCT-004", "FHIR-STRUCT-005", "FHIR-STRUCT-008",
                         "FHIR-STRUCT-010"})
"""Structural findings that HL7's strict parser throws on, so the input is not loaded."""

_TYPE = re.compile(rb'"resourceType"\s*:\s*"([A-Za-z]+)"')


@dataclass
class InputDefinitions:
    resources: list[dict[str, Any]] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    """Paths of the inputs whose resources are used as definitions."""
    shadowed: list[tuple[str, str, str]] = field(default_factory=list)
    """(path, url|version, path used instead) for inputs with a canonical already given by another."""
    unparseable: list[str] = field(default_factory=list)


def collect(named: Iterable[tuple[str, Callable[[], bytes]]],
            parses: Callable[[str, dict[str, Any]], bool]) -> InputDefinitions:
    """The canonical resources among ``named`` (path, reader) inputs; ``parses`` says whether an
    input would load (called only for candidates). Cheap when there are none: a regular expression
    over the bytes before any JSON parsing."""
    found = InputDefinitions()
    seen: dict[str, str] = {}
    for name, read in sorted(named, key=lambda pair: pair[0]):
        if not name.lower().endswith(".json"):
            continue
        try:
            data = read()
        except (OSError, ValueError):
            continue
        match = _TYPE.search(data)
        if match is None or match.group(1).decode() not in CANONICAL_TYPES:
            continue
        try:
            resource = json.loads(data)
        except ValueError:
            continue
        if not isinstance(resource, dict) or resource.get("resourceType") not in CANONICAL_TYPES:
            continue
        url = resource.get("url")
        if not isinstance(url, str) or not url:
            continue
        if not parses(name, resource):
            found.unparseable.append(name)
            continue
        version = resource.get("version")
        key = f"{url}|{version}" if isinstance(version, str) else url
        if key in seen:
            found.shadowed.append((name, key, seen[key]))
            continue
        seen[key] = name
        found.resources.append(resource)
        found.used.append(name)
    return found
