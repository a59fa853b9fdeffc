"""StructureDefinitions as artifacts: the StructureDefinition as a whole, checked as HL7's validator
(``StructureDefinitionValidator``) checks it before a profile is published.

The ``baseDefinition`` chain must not come back to the definition itself (FHIR-SD-006). A base
that cannot be found is a warning, since nothing that depends on it can be checked
(FHIR-SD-007). With the base found: a definition with a base must say how it derives from it
(FHIR-SD-008); its ``kind`` must be the base's (unless the base is abstract), and a constraint
must have the base's kind (FHIR-SD-009); a constraint has the base's ``type``, a specialization a
new one (FHIR-SD-010); a definition not marked experimental should not build on one that is
(FHIR-SD-011, warning). Only an extension definition may state a ``context`` (unless its root
element has a JSON name) or a ``contextInvariant`` (FHIR-SD-012). An extension definition on
``Extension`` must fix ``Extension.url`` in its differential to its own canonical URL
(FHIR-SD-013).

The ``type`` itself (FHIR-SD-014): a type named by an absolute URL is a new type, which only a
logical model may define (and whose namespace should be the definition's, a warning); a type
named by a plain name must be one FHIR defines, and a definition other than FHIR's own of that
type can only constrain it. With the base found, every element of the differential and the
snapshot must have a path in that type (FHIR-SD-015), and the differential may not slice the
root element (FHIR-SD-016). In the snapshot the definition carries, each element below the root
has a type or a contentReference (FHIR-SD-017), and its defaultValue, fixed and pattern values are
of one of its types (FHIR-SD-018); a fixed value of a complex type is a warning, since a pattern
says the same and lets instances add to it (FHIR-SD-019), and a fixed or pattern value on a
repeating element applies to every repetition, which is information (FHIR-SD-020).

These are HL7's conditions; where HL7 would fail with an exception (a definition without
``kind``) samsvar says nothing here and leaves it to the structure checks.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..issues import Issue, Severity
from ..rules import declared
from .definitions import FHIR_SD, loops_back
from .urls import is_absolute_url
from .artifact_check import ArtifactCheck
from .visit import Visit

CIRCULAR_BASE = declared("FHIR-SD-006")
BASE_NOT_FOUND = declared("FHIR-SD-007")
NO_DERIVATION = declared("FHIR-SD-008")
KIND_DIFFERS = declared("FHIR-SD-009")
TYPE_AGAINST_BASE = declared("FHIR-SD-010")
EXPERIMENTAL_BASE = declared("FHIR-SD-011")
CONTEXT_NOT_EXTENSION = declared("FHIR-SD-012")
EXTENSION_URL_NOT_FIXED = declared("FHIR-SD-013")
TYPE_NOT_ALLOWED = declared("FHIR-SD-014")
PATH_NOT_IN_TYPE = declared("FHIR-SD-015")
SLICING_ON_ROOT = declared("FHIR-SD-016")
NO_TYPES = declared("FHIR-SD-017")
VALUE_OF_OTHER_TYPE = declared("FHIR-SD-018")
COMPLEX_FIXED = declared("FHIR-SD-019")
REPEATING_VALUE = declared("FHIR-SD-020")

FHIR_TYPE = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
"""The extension on a type whose code is a FHIRPath system type, naming the FHIR type it stands for."""

EXTENSION_BASE = "http://hl7.org/fhir/StructureDefinition/Extension"
JSON_NAMES = ("http://hl7.org/fhir/tools/StructureDefinition/json-name",
              "http://hl7.org/fhir/StructureDefinition/elementdefinition-jsonname")
"""The root element extension that lets a definition that is not of Extension be used as one."""


class StructureDefinitionChecker(ArtifactCheck):
    """An element check on StructureDefinition resources (their root element)."""
    resource_type = "StructureDefinition"

    def check(self, visit: Visit, sd: dict[str, Any]) -> Iterator[Issue]:
        yield from self._circular(visit, sd)
        yield from self._type(visit, sd)
        yield from _contexts(visit, sd)
        base_url = sd.get("baseDefinition")
        if not isinstance(base_url, str):
            return
        base = self.definitions.structure_definition(base_url.split("|", 1)[0])
        if base is None or base.get("resourceType") != "StructureDefinition":
            yield BASE_NOT_FOUND.issue(
                f"The base definition '{base_url}' cannot be found, so the differential cannot be checked against "
                "it: load the package or implementation guide that defines it (--ig)",
                path=visit.path, expression=visit.expression)
            return
        yield from _against_base(visit, sd, base, base_url)
        yield from _element_lists(visit, sd)
        yield from self._snapshot_values(visit, sd)
        yield from _extension_url(visit, sd)

    # -- snapshot types and values ----------------------------------------------------------------

    def _snapshot_values(self, visit: Visit, sd: dict[str, Any]) -> Iterator[Issue]:
        """FHIR-SD-017 to FHIR-SD-020 on the elements below the root of the definition's own snapshot."""
        snapshot = sd.get("snapshot")
        for index, element in enumerate(_list(snapshot.get("element")) if isinstance(snapshot, dict) else []):
            if not isinstance(element, dict) or not isinstance(element.get("id"), str) or "." not in element["id"]:
                continue
            at: tuple[Any, ...] = (*visit.path, "snapshot", "element", index)
            expression = f"{visit.expression}.snapshot.element[{index}]"
            codes = _type_codes(element)
            if not codes and "contentReference" not in element:
                yield NO_TYPES.issue(
                    f"The element '{element['id']}' has no types and no contentReference, so nothing can match it",
                    path=at, expression=expression)
                continue
            repeating = element.get("max") not in ("0", "1")
            for key, value in element.items():
                prefix = next((p for p in ("defaultValue", "fixed", "pattern") if key.startswith(p) and len(key) > len(p)),
                              None)
                if prefix is None:
                    continue
                value_type = self._value_type(key[len(prefix):])
                where: dict[str, Any] = {"path": (*at, key), "expression": f"{expression}.{key}"}
                if value_type not in codes:
                    yield VALUE_OF_OTHER_TYPE.issue(
                        f"The {prefix} value of the element '{element['id']}' is a {value_type}, which is not one of "
                        f"the element's types ({', '.join(sorted(codes))})", **where)
                if prefix == "defaultValue":
                    continue
                if repeating:
                    yield REPEATING_VALUE.issue(
                        f"The element '{element['id']}' repeats, so its {prefix} value applies to every repetition, "
                        "not to one of them (use a slice to constrain one)", **where)
                if prefix == "fixed" and not self._primitive(value_type):
                    yield COMPLEX_FIXED.issue(
                        f"The fixed value of type {value_type} also forbids any other content in instances; a "
                        "pattern is usually what is meant (it requires these values and allows more)", **where)

    def _value_type(self, suffix: str) -> str:
        """The FHIR type a ``fixed``/``pattern``/``defaultValue`` suffix names (``Uri`` is uri)."""
        lowered = suffix[:1].lower() + suffix[1:]
        return lowered if self._primitive(lowered) else suffix

    def _primitive(self, type_: str) -> bool:
        found = self.definitions.structure_definition(FHIR_SD + type_) if type_ else None
        return found is not None and found.get("kind") == "primitive-type"

    # -- the type ---------------------------------------------------------------------------------

    def _type(self, visit: Visit, sd: dict[str, Any]) -> Iterator[Issue]:
        """FHIR-SD-014: what the ``type`` names, as HL7 checks StructureDefinition.type."""
        type_, url, derivation, kind = sd.get("type"), sd.get("url"), sd.get("derivation"), sd.get("kind")
        if not isinstance(type_, str) or not type_:
            return
        where: dict[str, Any] = {"path": (*visit.path, "type"), "expression": f"{visit.expression}.type"}
        if is_absolute_url(type_):
            if not isinstance(derivation, str) or not isinstance(url, str):
                return  # HL7 fails here before it says anything
            if derivation != "constraint" and _namespace(type_) not in (_namespace(url),
                                                                         _namespace(url).replace("StructureDefinition/", "")):
                yield TYPE_NOT_ALLOWED.issue(
                    f"The namespace of the type '{type_}' should match the namespace of the definition's url '{url}' "
                    "for the definition of a new type", severity=Severity.WARNING, **where)
            if kind != "logical":
                yield TYPE_NOT_ALLOWED.issue(
                    f"The type '{type_}' is a new type (an absolute URL), which only a logical model can define: the "
                    f"kind is '{kind}', not 'logical'", **where)
        elif self._fhir_type(type_):
            if url != FHIR_SD + type_ and derivation != "constraint":
                yield TYPE_NOT_ALLOWED.issue(
                    f"The type '{type_}' is defined by FHIR, so this definition can only constrain it (derivation "
                    "'constraint'); a new type needs a name of its own", **where)
        else:
            yield TYPE_NOT_ALLOWED.issue(
                f"The type '{type_}' is not defined in the FHIR specification: a type of your own must be named by "
                "an absolute URL (with kind 'logical')", **where)

    def _fhir_type(self, type_: str) -> bool:
        """Whether a FHIR core package defines ``type_``."""
        found = self.definitions.structure_definition(FHIR_SD + type_)
        source = self.definitions.source(FHIR_SD + type_) or ""
        return found is not None and found.get("type") == type_ and source.startswith("hl7.fhir.r")

    # -- base chain -------------------------------------------------------------------------------

    def _circular(self, visit: Visit, sd: dict[str, Any]) -> Iterator[Issue]:
        """FHIR-SD-006 when following ``baseDefinition`` through the loaded definitions comes back to this one."""
        url, base = sd.get("url"), sd.get("baseDefinition")
        if not isinstance(url, str) or not isinstance(base, str):
            return
        last = loops_back(url, base, self.definitions.structure_definition, "baseDefinition")
        if last is not None:
            yield CIRCULAR_BASE.issue(
                f"The definition of the structure is circular: it depends on itself (url = '{url}', through "
                f"'{last}'); change the baseDefinition so that the chain ends at a FHIR type",
                path=visit.path, expression=visit.expression)


def _against_base(visit: Visit, sd: dict[str, Any], base: dict[str, Any], base_url: str) -> Iterator[Issue]:
    """Derivation, kind, type and experimental status against the base that was found."""
    where: dict[str, Any] = {"path": visit.path, "expression": visit.expression}
    derivation, kind, type_ = sd.get("derivation"), sd.get("kind"), sd.get("type")
    base_kind, base_type = base.get("kind"), base.get("type")
    if derivation is None:
        yield NO_DERIVATION.issue(
            f"The StructureDefinition '{sd.get('url')}' has a baseDefinition, so it must say how it derives from it: "
            "set derivation to 'constraint' (a profile) or 'specialization' (a new type)", **where)
    elif isinstance(kind, str):
        if base.get("abstract") is not True and kind != base_kind:
            yield KIND_DIFFERS.issue(
                f"The kind '{kind}' must be the same as the kind '{base_kind}' of the base structure '{base_url}' "
                f"(base type {base_type})", **where)
        if derivation == "constraint" and type_ != base_type:
            yield TYPE_AGAINST_BASE.issue(
                f"The type '{type_}' must be the same as the type '{base_type}' of the base structure it constrains; "
                f"a profile cannot change the type", **where)
        elif derivation != "constraint" and (type_ is None or type_ == base_type):
            yield TYPE_AGAINST_BASE.issue(
                f"The type '{type_}' must not be the same as the type '{base_type}' of the base structure it "
                "specialises: a specialization defines a new type (or use derivation 'constraint' for a profile)",
                **where)
    if derivation == "constraint" and isinstance(kind, str) and kind != base_kind:
        yield KIND_DIFFERS.issue(
            f"The structure definition constrains a definition of kind '{base_kind}', but has a different kind "
            f"('{kind}')", **where)
    if base.get("experimental") is True and sd.get("experimental") is not True:
        yield EXPERIMENTAL_BASE.issue(
            f"The definition builds on '{base_url}', which is experimental, but is not itself marked experimental "
            "(set experimental to true, or build on a definition that is not experimental)", **where)


def _element_lists(visit: Visit, sd: dict[str, Any]) -> Iterator[Issue]:
    """FHIR-SD-015 and FHIR-SD-016 on each element of the differential and the snapshot."""
    type_, kind = sd.get("type"), sd.get("kind")
    if not isinstance(type_, str):
        return
    type_name = type_.rsplit("/", 1)[-1] if kind == "logical" else type_
    for part in ("differential", "snapshot"):
        holder = sd.get(part)
        elements = _list(holder.get("element")) if isinstance(holder, dict) else []
        for index, element in enumerate(elements):
            path = element.get("path") if isinstance(element, dict) else None
            if not isinstance(path, str):
                continue
            where: dict[str, Any] = {"path": (*visit.path, part, "element", index),
                                     "expression": f"{visit.expression}.{part}.element[{index}]"}
            if path != type_name and not path.startswith(type_name + "."):
                yield PATH_NOT_IN_TYPE.issue(
                    f"The path '{path}' must start with the type of the structure, '{type_name}'", **where)
            if part == "differential" and "." not in path and "slicing" in element:
                yield SLICING_ON_ROOT.issue(
                    f"The root element '{path}' has a slicing: slicing is not allowed at the root of a profile",
                    **where)


def _type_codes(element: dict[str, Any]) -> set[str]:
    """An element's type codes as HL7 reads them: the fhir-type extension's value over the code."""
    codes: set[str] = set()
    for type_ in _list(element.get("type")):
        if not isinstance(type_, dict):
            continue
        code = type_.get("code")
        for extension in _list(type_.get("extension")):
            if isinstance(extension, dict) and extension.get("url") == FHIR_TYPE:
                value = extension.get("valueUrl", extension.get("valueUri"))
                code = value if isinstance(value, str) else code
        if isinstance(code, str) and code:
            codes.add(code)
    return codes


def _namespace(url: str) -> str:
    return url.rsplit("/", 1)[0] if "/" in url else url


def _contexts(visit: Visit, sd: dict[str, Any]) -> Iterator[Issue]:
    """FHIR-SD-012: ``context`` and ``contextInvariant`` belong to extension definitions only."""
    type_ = sd.get("type")
    if type_ == "Extension":
        return
    if not _has_json_name(sd):
        for index, _context in enumerate(_list(sd.get("context"))):
            yield CONTEXT_NOT_EXTENSION.issue(
                f"The type is '{type_}', so no extension context should be specified: only extension definitions "
                "(type Extension) have a context", path=(*visit.path, "context", index),
                expression=f"{visit.expression}.context[{index}]")
    for index, _invariant in enumerate(_list(sd.get("contextInvariant"))):
        yield CONTEXT_NOT_EXTENSION.issue(
            f"The type is '{type_}', so no extension context invariant should be specified: only extension "
            "definitions (type Extension) have context invariants", path=(*visit.path, "contextInvariant", index),
            expression=f"{visit.expression}.contextInvariant[{index}]")


def _has_json_name(sd: dict[str, Any]) -> bool:
    """Whether the root element (snapshot first, else differential) carries a JSON name extension."""
    root: Any = None
    for key in ("snapshot", "differential"):
        part = sd.get(key)
        elements = _list(part.get("element")) if isinstance(part, dict) else []
        if elements:
            root = elements[0]
            break
    if not isinstance(root, dict):
        return False
    return any(isinstance(e, dict) and e.get("url") in JSON_NAMES for e in _list(root.get("extension")))


def _extension_url(visit: Visit, sd: dict[str, Any]) -> Iterator[Issue]:
    """FHIR-SD-013: an extension on Extension fixes ``Extension.url`` to its own canonical URL."""
    url = sd.get("url")
    if sd.get("type") != "Extension" or sd.get("baseDefinition") != EXTENSION_BASE or not isinstance(url, str):
        return
    where: dict[str, Any] = {"path": visit.path, "expression": visit.expression}
    fixed = _fixed_url(sd)
    if fixed is None:
        yield EXTENSION_URL_NOT_FIXED.issue(
            f"The value of Extension.url is not fixed to the extension's URL '{url}': add a differential element "
            f"for Extension.url with fixedUri '{url}'", **where)
    elif fixed != url:
        yield EXTENSION_URL_NOT_FIXED.issue(
            f"Extension.url is fixed to '{fixed}', which does not match the canonical URL '{url}' of the extension",
            **where)


def _fixed_url(sd: dict[str, Any]) -> str | None:
    """The fixed value of the first differential element with path Extension.url, as HL7 reads it."""
    differential = sd.get("differential")
    for element in _list(differential.get("element")) if isinstance(differential, dict) else []:
        if isinstance(element, dict) and element.get("path") == "Extension.url":
            return next((str(v) for k, v in element.items()
                         if k.startswith("fixed") and isinstance(v, (str, int, float, bool))), None)
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
