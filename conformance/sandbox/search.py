"""Search: the parameters the sandbox supports, parsed from a query and matched against resources.

Token parameters (``identifier``, ``_tag``, ``_id``, ``gender``) follow the FHIR rules:
``system|code``, ``|code`` (no system), ``code`` (any system), ``system|`` (any code of the
system). String parameters (``family``, ``given``, ``name``) match from the start, ignoring
case and accents, or exactly with ``:exact``, or anywhere with ``:contains``. ``birthdate``
matches a date or its year/month prefix (``eq`` only). ``patient`` and ``subject`` (types of the
patient compartment) match a reference as ``ID``, ``Patient/ID`` or its absolute URL. Commas are OR, a repeated parameter is
AND. Unknown parameters and modifiers are ignored (lenient; the self link shows what was
used); ``_count`` and ``_offset`` page.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

SEARCH_PARAMS: dict[str, str] = {
    "identifier": "token",
    "_id": "token",
    "_tag": "token",
}
"""Search parameter → type, for every supported resource type."""
TYPE_PARAMS: dict[str, dict[str, str]] = {
    "Patient": {"family": "string", "given": "string", "name": "string", "gender": "token", "birthdate": "date"},
    "Practitioner": {"family": "string", "given": "string", "name": "string"},
    "Organization": {"name": "string"},
}
"""Search parameters of particular resource types."""
COMPARTMENT: dict[str, tuple[str, ...]] = {
    "Observation": ("subject",), "DiagnosticReport": ("subject",), "MedicationStatement": ("subject",),
    "AllergyIntolerance": ("patient",), "Condition": ("subject",), "Flag": ("subject",),
    "DocumentReference": ("subject",), "Device": ("patient",),
}
"""Types of the patient compartment the sandbox serves → the elements that name the patient."""
for _type, _fields in COMPARTMENT.items():
    TYPE_PARAMS[_type] = {"patient": "reference", **({"subject": "reference"} if "subject" in _fields else {})}
CONTROL_PARAMS: dict[str, str] = {"_count": "number", "_offset": "number"}
STRING_MODIFIERS = ("exact", "contains")
DEFAULT_COUNT = 20
MAX_COUNT = 500


def params_for(resource_type: str) -> dict[str, str]:
    """Every search parameter of a type, with its type."""
    return {**SEARCH_PARAMS, **TYPE_PARAMS.get(resource_type, {})}


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    kind: str
    modifier: str | None
    values: tuple[str, ...]
    """OR-ed."""

    @property
    def key(self) -> str:
        return f"{self.name}:{self.modifier}" if self.modifier else self.name


@dataclass(frozen=True, slots=True)
class Query:
    criteria: tuple[Criterion, ...]
    """AND-ed."""
    count: int = DEFAULT_COUNT
    offset: int = 0

    def params(self) -> list[tuple[str, str]]:
        """The criteria as query parameters, for the self and next links."""
        return [(criterion.key, ",".join(criterion.values)) for criterion in self.criteria]


def parse_query(pairs: Iterable[tuple[str, str]], resource_type: str) -> Query:
    """The supported criteria and paging of a query; everything else is left out."""
    known = params_for(resource_type)
    criteria: list[Criterion] = []
    count, offset = DEFAULT_COUNT, 0
    for raw_name, value in pairs:
        name, _, modifier = raw_name.partition(":")
        if name == "_count":
            count = _number(value, count, 0, MAX_COUNT)
        elif name == "_offset":
            offset = _number(value, offset, 0, None)
        elif name in known:
            kind = known[name]
            if modifier and not (kind == "string" and modifier in STRING_MODIFIERS):
                continue  # an unsupported modifier: the parameter is not used
            values = tuple(v for v in (part.strip() for part in value.split(",")) if v)
            if kind == "date":
                values = tuple(v.removeprefix("eq") for v in values if v[:2].isdigit() or v.startswith("eq"))
            if values:
                criteria.append(Criterion(name, kind, modifier or None, values))
    return Query(tuple(criteria), count, offset)


def _number(value: str, default: int, low: int, high: int | None) -> int:
    try:
        number = int(value)
    except ValueError:
        return default
    number = max(low, number)
    return min(number, high) if high is not None else number


def matches(resource: dict[str, Any], query: Query) -> bool:
    return all(any(_match(resource, criterion, value) for value in criterion.values)
               for criterion in query.criteria)


def _match(resource: dict[str, Any], criterion: Criterion, value: str) -> bool:
    name = criterion.name
    if name == "_id":
        return resource.get("id") == value
    if name == "identifier":
        return any(_token(item.get("system"), item.get("value"), value)
                   for item in _items(resource.get("identifier")))
    if name == "_tag":
        meta = resource.get("meta") or {}
        return any(_token(item.get("system"), item.get("code"), value) for item in _items(meta.get("tag")))
    if name == "gender":
        return _token("http://hl7.org/fhir/administrative-gender", resource.get("gender"), value)
    if name == "birthdate":
        return isinstance(resource.get("birthDate"), str) and resource["birthDate"].startswith(value)
    if criterion.kind == "reference":
        return any(_reference(item, value) for field in COMPARTMENT.get(str(resource.get("resourceType")), ())
                   for item in _items(resource.get(field)))
    if criterion.kind == "string":
        return any(_string(text, value, criterion.modifier) for text in _strings(resource, name))
    return True


def _strings(resource: dict[str, Any], name: str) -> Iterator[str]:
    if resource.get("resourceType") == "Organization":
        yield from (text for text in [resource.get("name"), *(resource.get("alias") or [])] if isinstance(text, str))
        return
    for human in _items(resource.get("name")):
        parts: list[Any] = []
        if name in ("family", "name"):
            parts.append(human.get("family"))
        if name in ("given", "name"):
            parts += human.get("given") or []
        if name == "name":
            parts += [human.get("text"), *(human.get("prefix") or []), *(human.get("suffix") or [])]
        yield from (part for part in parts if isinstance(part, str))


def in_compartment(resource: dict[str, Any], patient: str) -> bool:
    """Is ``resource`` the Patient ``patient`` or in its compartment (a subject/patient reference to it)?"""
    kind = str(resource.get("resourceType"))
    if kind == "Patient":
        return resource.get("id") == patient
    return any(_reference(item, f"Patient/{patient}") for field in COMPARTMENT.get(kind, ())
               for item in _items(resource.get(field)))


def _reference(item: dict[str, Any], wanted: str) -> bool:
    """``patient=ID``, ``patient=Patient/ID`` or an absolute URL against a Reference to the patient."""
    text = item.get("reference")
    if not isinstance(text, str):
        return False
    wanted = wanted if "/" in wanted else f"Patient/{wanted}"
    return text == wanted or text.endswith("/" + wanted) or wanted.endswith("/" + text)


def _fold(text: str) -> str:
    """Case and accents ignored, as FHIR's string search does by default."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _string(text: str, wanted: str, modifier: str | None) -> bool:
    if modifier == "exact":
        return text == wanted
    if modifier == "contains":
        return _fold(wanted) in _fold(text)
    return _fold(text).startswith(_fold(wanted))


def _items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [item for item in value or [] if isinstance(item, dict)]


def _token(system: str | None, code: str | None, wanted: str) -> bool:
    if "|" not in wanted:
        return code == wanted
    want_system, want_code = wanted.split("|", 1)
    if want_system == "":
        return system is None and code == want_code
    if want_code == "":
        return system == want_system
    return system == want_system and code == want_code
