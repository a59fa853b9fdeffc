"""StructureDefinitions as artifacts: the StructureDefinition as a whole and its element definitions (type, kind, derivation, base, context, paths, types, fixed and pattern values), checked as HL7's validator checks them (work in
progress: nothing is checked yet; the rules will be FHIR-SD-006 to FHIR-SD-049)."""

from __future__ import annotations

from typing import Any, Iterator

from ..issues import Issue
from .definitions import Definitions
from .visit import Visit


class StructureDefinitionChecker:
    """An element check on StructureDefinition resources (their root element)."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions

    @staticmethod
    def relevant(element: dict[str, Any], _code: str | None) -> bool:
        return element.get("path") == "StructureDefinition"

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        return iter(())
