"""StructureDefinitions as artifacts: the constraints and bindings a StructureDefinition's element definitions declare, and extension contexts, checked as HL7's validator checks them (work in
progress: nothing is checked yet; the rules will be FHIR-SD-050 onwards)."""

from __future__ import annotations

from typing import Any, Iterator

from ..issues import Issue
from .definitions import Definitions
from .visit import Visit


class ElementConstraintChecker:
    """An element check on StructureDefinition resources (their root element)."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions

    @staticmethod
    def relevant(element: dict[str, Any], _code: str | None) -> bool:
        return element.get("path") == "StructureDefinition"

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        return iter(())
