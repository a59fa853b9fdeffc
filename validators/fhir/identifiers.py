"""Norwegian identifier checks applied to FHIR ``Identifier`` elements, found by their system."""

from __future__ import annotations

from typing import Any, Iterator

from ..issues import Issue, Path
from ..jsontree import objects_in
from ..national_ids import identifier_issues, scheme_for


def _identifiers(tree: Any) -> Iterator[tuple[dict[str, Any], Path]]:
    """Every object with a national identifier ``system`` (not a Coding), iteratively."""
    stack: list[tuple[Any, Path]] = [(tree, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            system = value.get("system")
            if isinstance(system, str) and "code" not in value and scheme_for(system) is not None:
                yield value, path
            stack.extend((child, (*path, key)) for key, child in reversed(list(value.items()))
                         if isinstance(child, (dict, list)))
        elif isinstance(value, list):
            stack.extend((child, (*path, i)) for i, child in reversed(list(enumerate(value)))
                         if isinstance(child, (dict, list)))


def _holds_identifier(objects: list[dict[str, Any]]) -> bool:
    """Whether some object has a national identifier ``system`` (not a Coding): asked of the
    document's objects, listed once, so the resources without one (nearly all of them outside
    Norway) skip :func:`_identifiers`, which makes a path for every object it enters."""
    return any(isinstance(node["system"], str) and "code" not in node and scheme_for(node["system"]) is not None
               for node in [node for node in objects if "system" in node])


def check_identifiers(resource: dict[str, Any], *, production: bool = False,
                      objects: list[dict[str, Any]] | None = None) -> Iterator[Issue]:
    """Issues for every Norwegian identifier in ``resource`` (a resource or a Bundle); ``objects``:
    its :func:`~samsvar.validators.jsontree.objects_in`, when the caller has them."""
    if not _holds_identifier(objects_in(resource) if objects is None else objects):
        return
    for identifier, path in _identifiers(resource):
        value_path = (*path, "value") if "value" in identifier else path
        yield from identifier_issues(identifier["system"], identifier.get("value"),
                                     path=value_path, production=production)
