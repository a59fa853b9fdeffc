"""What the structure walk hands to each element check (bindings, invariants, references, ...)."""

from __future__ import annotations

from typing import Any, Callable, Iterator, NamedTuple

from ..issues import Issue, Path
from .definitions import ElementDefinition


class Parent(NamedTuple):
    """The element that holds the value being visited (what an extension's context is judged on).
    Named tuples, as ``Visit``: one is made per object the walk enters, and a tuple is made several
    times faster than a frozen dataclass."""

    value: Any
    type_name: str
    """Its type (``Address``, ``boolean``) or, for a backbone element or resource, its path."""
    element_path: str
    """Its element path in the resource (``Patient.address``)."""
    expression: str
    container: Any = None
    """The object that holds it (for a primitive: the object with the ``_name``)."""
    aliases: tuple[str, ...] = ()
    """Other paths of its element: the base definition's path (``Address.line`` for a profile's
    ``Organization.address.line``) and, for an element defined by reference, the element it reuses."""


class Visit(NamedTuple):
    """One element value the walk visits, with what a check needs to judge it (a named tuple: one is
    made per value, millions per large corpus, and a tuple is made several times faster than a
    frozen dataclass)."""

    value: Any
    element: ElementDefinition
    code: str | None
    path: Path
    expression: str
    resource: dict[str, Any]
    """The nearest enclosing resource (``%resource``)."""
    root: dict[str, Any]
    """``%rootResource``: the container of a contained resource, else the resource itself."""
    top: dict[str, Any]
    """The outermost resource of the document (a Bundle, when the resource is one of its entries)."""
    parent: Parent | None = None


ElementCheck = Callable[[Visit], Iterator[Issue]]
"""A check run on every element value the walk visits (bindings, invariants, references, ...).
Two optional methods let the walk visit less: ``relevant(element, code)``, asked once per element
definition and type, and ``wants(value)``, asked of a primitive value before it is visited; a check
with them must find nothing where they answer False."""
