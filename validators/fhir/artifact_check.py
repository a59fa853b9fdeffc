"""The shape every check of a conformance resource as an artifact shares (OperationDefinition,
CodeSystem, ValueSet, StructureDefinition): it is an element check that is relevant only at the
resource type's root element and judges the resource there, once, when the visited value is that
resource itself (not a profile's walk of some other element with the same path)."""

from __future__ import annotations

from typing import Any, ClassVar, Iterator

from ..issues import Issue
from .definitions import Definitions
from .visit import Visit


class ArtifactCheck:
    """Subclasses name their ``resource_type`` and judge the resource in :meth:`check`."""

    resource_type: ClassVar[str]

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions

    def relevant(self, element: dict[str, Any], _code: str | None) -> bool:
        """Only the resource type's root element is visited with the resource (see StructureChecker)."""
        return element.get("path") == self.resource_type

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        resource = visit.value
        if resource is not visit.resource or not isinstance(resource, dict) \
                or resource.get("resourceType") != self.resource_type:
            return iter(())
        return self.check(visit, resource)

    def check(self, visit: Visit, resource: dict[str, Any]) -> Iterator[Issue]:
        raise NotImplementedError
