"""ElementDefinition primitives that the definitions, the snapshot generator and the checks share:
ids, keys, type codes and the profiles an element requires of its type."""

from __future__ import annotations

from typing import Any, NamedTuple

FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
PROFILE_ELEMENT_EXT = "http://hl7.org/fhir/StructureDefinition/elementdefinition-profile-element"

ElementDefinition = dict[str, Any]
ChildMap = dict[str, tuple[ElementDefinition, str | None]]


class Context(NamedTuple):
    """A place in the definitions: a StructureDefinition's snapshot and an element path in it (a
    named tuple: the walk makes one per object it enters, and a tuple is made several times faster
    than a frozen dataclass)."""

    elements: dict[str, ElementDefinition]
    path: str
    url: str = ""


def type_code(type_: dict[str, Any]) -> str:
    """A type's code, with FHIRPath system types mapped back to their FHIR primitive."""
    code = type_.get("code", "")
    if code.startswith("http://hl7.org/fhirpath/System."):
        for ext in type_.get("extension") or []:
            if ext.get("url") == FHIR_TYPE_EXT:
                return str(ext.get("valueUrl") or ext.get("valueUri") or "string")
        return code.rsplit(".", 1)[1].lower()
    return code


def type_codes(element: ElementDefinition) -> list[str]:
    return [type_code(t) for t in element.get("type") or []]


def element_key(element: ElementDefinition) -> str:
    """The element's id (its path where an old snapshot has no ids): the key of its context."""
    return str(element.get("id") or element["path"])


def is_primitive(code: str) -> bool:
    return bool(code) and code[0].islower()


def element_id(element: ElementDefinition) -> str:
    return str(element.get("id") or element.get("path") or "")


def type_profiles(element: ElementDefinition, code: str | None) -> list[tuple[str, str | None]]:
    """The profiles ``element`` requires of its type ``code``: (url, element id) pairs.

    The element id comes from the ``elementdefinition-profile-element`` extension, which points
    at one element inside the profile (a section template of a document library).
    """
    found: list[tuple[str, str | None]] = []
    for type_ in element.get("type") or []:
        if code is not None and type_code(type_) != code:
            continue
        extensions = type_.get("_profile") or []
        for i, url in enumerate(type_.get("profile") or []):
            target = None
            ext = extensions[i] if i < len(extensions) and isinstance(extensions[i], dict) else {}
            for item in ext.get("extension") or []:
                if item.get("url") == PROFILE_ELEMENT_EXT:
                    target = item.get("valueString")
            found.append((str(url), target))
    return found
