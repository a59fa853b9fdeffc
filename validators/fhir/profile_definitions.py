"""StructureDefinitions as artifacts: a profile being validated must produce a snapshot.

A profile author validates the StructureDefinition itself (in CI, before publishing). Its
differential is applied to its base, as when it is used, and what cannot be applied is an
error with the element that caused it: paths with an empty name (``Observation..unit``), a
renamed choice that names no type of the element (``valueBla``), an element that exists
neither in the base nor in its types, a discriminator type FHIR R4 does not have.

Slicing is checked as HL7's validator checks it: every discriminator path must select
something in the type of the sliced element (``type`` on an Extension selects nothing, so no
item could ever be told apart), and a slice may not state a slicing that differs from the one
the element it belongs to declares.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..issues import Issue
from ..rules import declared
from .definitions import Context, Definitions, ElementDefinition, type_codes
from .slicing import Unusable, _steps
from .snapshot import _diff_ids, element_id, generate
from .visit import Visit

SNAPSHOT_FAILED = declared("FHIR-SD-001")

SEARCH_TYPE_MISMATCH = declared("FHIR-SD-002")

BAD_DISCRIMINATOR_PATH = declared("FHIR-SD-003")
SLICING_REDEFINED = declared("FHIR-SD-004")

PROFILE_OF_OTHER_TYPE = declared("FHIR-SD-005")

DISCRIMINATOR_TYPES = ("value", "exists", "pattern", "type", "profile")
_ANY_RESOURCE = ("Resource", "DomainResource")
_Node = tuple[Context | None, str | None]
"""Where a discriminator path has got to: a context in the definitions (None: any resource) and its type."""
_EMPTY_NAME = re.compile(r"\.\.|^\.|\.$")
_SLICE = re.compile(r":[^.]+")
_TYPE_SLICE = re.compile(r"\[x\]:[A-Za-z]+(?=\.|$)")


class ProfileDefinitionChecker:
    """An element check on StructureDefinition resources (constraints with a differential)."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions

    @staticmethod
    def relevant(element: dict[str, Any], _code: str | None) -> bool:
        """Only a resource's root element is visited with the resource itself (see StructureChecker)."""
        return "." not in element.get("path", "")

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
        snapshot = generate(sd, base, self.definitions.snapshot_elements)
        for problem in snapshot.problems:
            yield SNAPSHOT_FAILED.issue(f"Error generating Snapshot: {problem} in {sd.get('url')}", **where)
        base_by_id = self.definitions.elements(base_url.split("|", 1)[0]) or {}
        ids = _diff_ids(differential)
        yield from _redefined_slicings(differential, ids, base_by_id, where)
        generated = {element_id(e): e for e in snapshot.elements}
        lists = [("differential", differential,
                  [generated.get(i) or generated.get(_TYPE_SLICE.sub("[x]", i)) for i in ids])]
        own_snapshot = (sd.get("snapshot") or {}).get("element")
        if isinstance(own_snapshot, list):
            lists.append(("snapshot", own_snapshot, own_snapshot))
        for name, elements, definitions in lists:
            for i, (element, definition) in enumerate(zip(elements, definitions)):
                if isinstance(element, dict):
                    yield from self._type_profiles(visit, name, i, element)
                    yield from self._discriminator_paths(visit, name, i, element, definition or element, base_by_id)

    # -- types ------------------------------------------------------------------------------------

    def _type_profiles(self, visit: Visit, list_name: str, index: int, element: ElementDefinition) -> Iterator[Issue]:
        """FHIR-SD-005 for each ``type.profile`` that is a profile of another type than ``type.code``."""
        for t, type_ in enumerate(element.get("type") or []):
            code = type_.get("code") if isinstance(type_, dict) else None
            if not isinstance(code, str) or code == "Reference":
                continue
            for j, url in enumerate(type_.get("profile") or []):
                profile = self.definitions.structure_definition(str(url)) if isinstance(url, str) else None
                if profile is None:
                    continue  # an unknown profile is reported where it is used (FHIR-STRUCT-013)
                own = self._own_type(profile)
                if own is not None and not self._is_instance_of(own, code):
                    yield PROFILE_OF_OTHER_TYPE.issue(
                        f"Profile {url} is for type {own.get('type')}, but the {element.get('path')} element has "
                        f"type {code}",
                        path=(*visit.path, list_name, "element", index, "type", t, "profile", j),
                        expression=f"{visit.expression}.{list_name}.element[{index}].type[{t}].profile[{j}]")

    def _own_type(self, profile: dict[str, Any]) -> dict[str, Any] | None:
        """The type definition a profile constrains: its base, followed down the constraints."""
        seen: set[str] = set()
        while profile.get("derivation") == "constraint" and isinstance(profile.get("baseDefinition"), str):
            base_url = profile["baseDefinition"].split("|", 1)[0]
            if base_url in seen:
                return None
            seen.add(base_url)
            base = self.definitions.structure_definition(base_url)
            if base is None:
                return None
            profile = base
        return profile

    def _is_instance_of(self, definition: dict[str, Any], code: str) -> bool:
        """Whether a type is ``code``, or specializes it through abstract types only (Patient is a
        Resource; in R4 a Count is not a Quantity)."""
        seen: set[str] = set()
        current: dict[str, Any] | None = definition
        while current is not None:
            if code in (current.get("type"), current.get("url")):
                return True
            base_url = str(current.get("baseDefinition") or "").split("|", 1)[0]
            if not base_url or base_url in seen:
                return False
            seen.add(base_url)
            current = self.definitions.structure_definition(base_url)
            if current is not None and not current.get("abstract") and current.get("kind") != "logical":
                return False
        return False

    # -- slicing ------------------------------------------------------------------------------------

    def _discriminator_paths(self, visit: Visit, list_name: str, index: int, element: ElementDefinition,
                             definition: ElementDefinition, base: dict[str, ElementDefinition]) -> Iterator[Issue]:
        """FHIR-SD-003 for each discriminator of ``element`` whose path selects nothing in its type."""
        slicing = element.get("slicing")
        if not isinstance(slicing, dict):
            return
        sliced = str(element.get("path", ""))
        for k, discriminator in enumerate(slicing.get("discriminator") or []):
            path = discriminator.get("path") if isinstance(discriminator, dict) else None
            if not isinstance(path, str) or "." not in sliced:
                continue  # no path is a cardinality error; slicing the root is not allowed at all
            selects, why = self.discriminator_selects(definition, path, base)
            if selects is False:
                where = f"{list_name}.element[{index}].slicing.discriminator[{k}]"
                yield BAD_DISCRIMINATOR_PATH.issue(
                    f"The discriminator path '{path}' does not appear to be valid for the element that is being "
                    f"sliced '{sliced}': {why}",
                    path=(*visit.path, list_name, "element", index, "slicing", "discriminator", k),
                    expression=f"{visit.expression}.{where}")

    def discriminator_selects(self, element: ElementDefinition, path: str,
                              base: dict[str, ElementDefinition]) -> tuple[bool | None, str]:
        """Whether a discriminator path selects anything in the type of ``element``: True, False
        (with the step that selects nothing), or None when that cannot be known (FHIRPath beyond
        slicing's subset, a type not loaded, the content of any resource after ``resolve()``)."""
        try:
            steps = _steps(path)
        except Unusable:
            return None, ""
        nodes = self._start(element, base)
        if nodes is None:
            return None, ""
        for kind, arg in steps:
            found: list[_Node] = []
            for ctx, code in nodes:
                if kind == "resolve":
                    found.append((None, None))
                elif kind == "type":
                    if ctx is None or code == arg:
                        target = self.definitions.context(arg) if arg not in _ANY_RESOURCE else None
                        found.append((target, arg))
                elif ctx is None:
                    return None, ""  # a child of any resource: cannot be known here
                else:
                    found.extend(self._child(ctx, "extension" if kind == "extension" else arg, kind == "extension"))
            if any(ctx is None and code not in (None, *_ANY_RESOURCE) and self.definitions.context(code) is None
                   for ctx, code in found):
                return None, ""  # ofType() of a type that is not loaded
            if not found:
                names = " / ".join(dict.fromkeys(
                    ctx.path if ctx is not None and code in (None, "BackboneElement", "Element") else str(code)
                    for ctx, code in nodes))
                if kind == "type":
                    return False, f"{names} is never of type {arg}"
                return False, f"{names} has no element '{'extension' if kind == 'extension' else arg}'"
            nodes = found
        return True, ""

    def _start(self, element: ElementDefinition, base: dict[str, ElementDefinition]) -> list[_Node] | None:
        """The types of the sliced element as (context, type code) pairs."""
        reference = element.get("contentReference")
        if isinstance(reference, str):
            target = reference.split("#", 1)[-1]
            return [(Context(base, target), None)] if target in base else None
        nodes: list[_Node] = []
        for code in dict.fromkeys(type_codes(element)):
            if code in _ANY_RESOURCE:
                nodes.append((None, code))
            elif code in ("BackboneElement", "Element"):
                path = str(element.get("path", ""))
                if path not in base:
                    return None  # inside a datatype: its children are not at hand
                nodes.append((Context(base, path), code))
            else:
                ctx = self.definitions.context(code)
                if ctx is None:
                    return None
                nodes.append((ctx, code))
        return nodes or None

    def _child(self, ctx: Context, name: str, extension: bool) -> list[_Node]:
        """The contexts ``name`` reaches from ``ctx`` (a choice ``value`` reaches each of its types)."""
        children = self.definitions.children(ctx)
        if extension:
            return [(self.definitions.context("Extension"), "Extension")] if "extension" in children else []
        matches: list[tuple[ElementDefinition, str | None]] = []
        if name in children:
            element, code = children[name]
            matches = [(element, code)] if code or element.get("contentReference") else [
                (element, c) for c in type_codes(element)]
        else:
            matches = [(element, code) for element, code in children.values()
                       if str(element.get("path", "")).rsplit(".", 1)[-1] == f"{name}[x]"]
        found: list[_Node] = []
        for element, code in matches:
            if code in _ANY_RESOURCE:
                found.append((None, code))
            else:
                found.append((self.definitions.descend(ctx, element, code), code))
        return found


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


def _slicing_summary(slicing: dict[str, Any]) -> str:
    """``unordered/open [value=url]`` (``??`` for what the slicing leaves out), as HL7 words it."""
    ordered = slicing.get("ordered")
    order = "??" if ordered is None else ("ordered" if ordered else "unordered")
    discriminators = ", ".join(f"{d.get('type')}={d.get('path')}" for d in slicing.get("discriminator") or []
                               if isinstance(d, dict))
    return f"{order}/{slicing.get('rules', '??')} [{discriminators}]"


def _slicing_matches(declared: dict[str, Any], restated: dict[str, Any]) -> bool:
    """A slice may leave parts of the slicing out, but what it states must be what was declared."""
    for key in ("ordered", "rules"):
        if key in restated and restated[key] != declared.get(key):
            return False
    if "discriminator" in restated and restated["discriminator"] != declared.get("discriminator"):
        return False
    return True


def _redefined_slicings(differential: list[Any], ids: list[str], base: dict[str, ElementDefinition],
                        where: dict[str, Any]) -> Iterator[Issue]:
    """FHIR-SD-004: a slice whose slicing differs from the one its sliced element declares here.

    Only slicing this differential introduces is compared (the base does not slice the element
    yet); reslicing an element the base already slices follows the base's slicing."""
    declared: dict[str, tuple[int, dict[str, Any]]] = {}
    for i, (element, id_) in enumerate(zip(differential, ids)):
        slicing = element.get("slicing") if isinstance(element, dict) else None
        if not isinstance(slicing, dict):
            continue
        if not element.get("sliceName"):
            if not (base.get(_SLICE.sub("", id_)) or {}).get("slicing"):
                declared[id_] = (i, slicing)
            continue
        owner = id_.rsplit(":", 1)[0]
        if owner in declared and not _slicing_matches(declared[owner][1], slicing):
            first, original = declared[owner]
            yield SLICING_REDEFINED.issue(
                f"The element at {owner} (differential.element[{first}]) defines the slicing "
                f"{_slicing_summary(original)} but then an element in the slicing {id_} (differential.element[{i}]) "
                f"tries to redefine the slicing to {_slicing_summary(slicing)}", **where)
