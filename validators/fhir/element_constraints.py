"""StructureDefinitions as artifacts: the constraints and bindings their element definitions declare.

Standards editors write invariants and bindings into profiles and extension definitions; a
mistake there is invisible until an instance is validated against the profile (an invariant that
never runs, a binding to nothing). HL7's validator (``StructureDefinitionValidator``) checks them
when it validates the StructureDefinition itself, and so does samsvar, walking the differential
and the snapshot as they are written, element by element:

* constraints (FHIR-SD-050..053): every constraint needs a ``key`` (warning) and, in R4, an
  ``expression`` (information). In the snapshot, a key used twice in the list must carry the same
  expression (``ele-1`` excepted), and the profile's own expressions (no ``source``, or this
  profile's url) must be FHIRPath: an expression the FHIRPath grammar rejects is an error; one
  samsvar's engine cannot evaluate (a function it lacks) is said as not checked, never as the
  author's error. In the differential, a constraint must not name another profile as its
  ``source``, and its key must not be one the base definition (or any core type or resource)
  already uses with another expression.
* bindings (FHIR-SD-054..056): a binding in the snapshot on an element with no type that can be
  bound is an error; a differential binding on an element with several bindable types is
  information. A snapshot binding without a value set is a warning, and so (in either list) is a
  binding to a value set samsvar cannot find, to an experimental value set (from a definition that
  is not experimental, unless the strength is ``example``), or to all of LOINC, SNOMED CT or CPT; a
  binding to something that is not a ValueSet is an error. One deliberate difference from HL7: a
  binding to a code system's URL (samsvar's Volven lists, ``urn:oid:2.16.578.1.12.4.1.1.NNNN``)
  stands for all that system's codes, as samsvar's terminology uses it
  (``TerminologyService._value_set``), so it is not reported as not a ValueSet (HL7's validator
  finds a CodeSystem there and reports it).
* extension contexts (FHIR-SD-057..059), on extension definitions: an ``element`` context must
  name an element FHIR R4 defines (an error); the context ``Element`` and a ``fhirpath`` context
  that is simply an element path are warnings; a ``contextInvariant`` must be FHIRPath (an error),
  and is not checked (information) when only FHIRPath contexts say what it applies to. (On other
  definitions, a context or context invariant is an error of its own, FHIR-SD-012: nothing to add.)
* FHIR-SD-060 (information, not checked): an expression the grammar accepts that samsvar's engine
  cannot take.

HL7's validator also reports its FHIRPath type-checker's warnings on constraint expressions; samsvar
has no type checker and does not. HL7's ``SD_ED_SHOULD_BIND`` is disabled in its code and is not
reported here either.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..issues import Issue, Path, Severity
from ..rules import declared
from .definitions import FHIR_SD, ElementDefinition
from .elements import type_code
from .fhirpath import compile_expression, failure_kind, grammar_errors
from .artifact_check import ArtifactCheck
from .visit import Visit

CONSTRAINT_INCOMPLETE = declared("FHIR-SD-050")
CONSTRAINT_NOT_FHIRPATH = declared("FHIR-SD-051")
CONSTRAINT_KEY_CONFLICT = declared("FHIR-SD-052")
CONSTRAINT_FOREIGN_SOURCE = declared("FHIR-SD-053")
BINDING_NOT_BINDABLE = declared("FHIR-SD-054")
BINDING_VALUE_SET = declared("FHIR-SD-055")
BINDING_NOT_VALUE_SET = declared("FHIR-SD-056")
CONTEXT_ELEMENT_UNKNOWN = declared("FHIR-SD-057")
CONTEXT_BETTER_STATED = declared("FHIR-SD-058")
CONTEXT_INVARIANT_NOT_FHIRPATH = declared("FHIR-SD-059")
EXPRESSION_NOT_CHECKED = declared("FHIR-SD-060")

_BOUND = ("code", "Coding", "CodeableConcept", "Quantity", "CodeableReference")
_BINDABLE = ("string", "uri", "CodeableConcept", "Quantity", "CodeableReference")
_LISTED_BINDABLE = ("code", "string", "url", "uri", "Coding", "CodeableConcept", "Quantity", "CodeableReference")
_BINDING_STYLE = "http://hl7.org/fhir/StructureDefinition/elementdefinition-bindingstyle"
_TYPE_CHARACTERISTICS = "http://hl7.org/fhir/StructureDefinition/structuredefinition-type-characteristics"
_VERSION_USE = "http://hl7.org/fhir/StructureDefinition/version-specific-use"
_STAND_INS = {"CanonicalResource": "CodeSystem", "MetadataResource": "PlanDefinition"}
"""R5's abstract names that R4 has no definition for, looked up on a resource that has their elements (as HL7 does)."""
_ALL_CODES = {"http://loinc.org/vs": "LOINC", "http://snomed.info/sct?fhir_vs": "SNOMED CT",
              "http://hl7.org/fhir/ValueSet/cpt-all": "CPT"}


class ElementConstraintChecker(ArtifactCheck):
    """An element check on StructureDefinition resources (their root element)."""
    resource_type = "StructureDefinition"

    def check(self, visit: Visit, definition: dict[str, Any]) -> Iterator[Issue]:
        for part, snapshot in (("differential", False), ("snapshot", True)):
            holder = definition.get(part)
            elements = holder.get("element") if isinstance(holder, dict) else None
            if isinstance(elements, list):
                yield from self._element_list(visit, definition, part, snapshot, elements)
        if definition.get("type") != "Extension":
            return  # contexts elsewhere are an error of their own (FHIR-SD-012), nothing to add
        yield from self._contexts(visit, definition)
        for index, invariant in enumerate(definition.get("contextInvariant") or []):
            if isinstance(invariant, str) and invariant:
                located: dict[str, Any] = {"path": (*visit.path, "contextInvariant", index),
                                           "expression": f"{visit.expression}.contextInvariant[{index}]"}
                yield from _context_invariant(definition, invariant, located)

    def _element_list(self, visit: Visit, definition: dict[str, Any], part: str, snapshot: bool,
                      elements: list[Any]) -> Iterator[Issue]:
        seen: dict[str, tuple[str, str]] = {}  # key -> (element path, expression), as HL7's invariant map
        for index, element in enumerate(elements):
            if not isinstance(element, dict):
                continue
            at: Path = (*visit.path, part, "element", index)
            where = f"{visit.expression}.{part}.element[{index}]"
            for number, constraint in enumerate(element.get("constraint") or []):
                if isinstance(constraint, dict):
                    located = {"path": (*at, "constraint", number), "expression": f"{where}.constraint[{number}]"}
                    yield from self._constraint(definition, element, constraint, snapshot, seen, located)
            binding = element.get("binding")
            if isinstance(binding, dict):
                located = {"path": (*at, "binding"), "expression": f"{where}.binding"}
                yield from self._binding(definition, element, binding, snapshot, located)

    # -- constraints ------------------------------------------------------------------------------

    def _constraint(self, definition: dict[str, Any], element: ElementDefinition, constraint: dict[str, Any],
                    snapshot: bool, seen: dict[str, tuple[str, str]], where: dict[str, Any]) -> Iterator[Issue]:
        key, expression, source = constraint.get("key"), constraint.get("expression"), constraint.get("source")
        if not isinstance(key, str) or not key:
            yield CONSTRAINT_INCOMPLETE.issue(
                "A constraint has no key: give it one (such as 'no-1'), so that findings can name it", **where)
            return
        if not isinstance(expression, str) or not expression:
            yield CONSTRAINT_INCOMPLETE.issue(
                f"The constraint {key} has no FHIRPath expression, so no validator can check it: add one",
                severity=Severity.INFORMATION, **where)
            return
        url, version = definition.get("url"), definition.get("version")
        path = str(element.get("path"))
        if snapshot:
            earlier = seen.get(key)
            if earlier is None:
                seen[key] = (path, expression)
            elif earlier[1] != expression and key != "ele-1":
                yield CONSTRAINT_KEY_CONFLICT.issue(
                    f"The constraint key {key} is used with two expressions in the snapshot ('{expression}' here, "
                    f"'{earlier[1]}' on {earlier[0]}): give one of them another key", **where)
            if source is None or source == url:
                yield from _fhirpath(key, expression, where)
            return
        if source is not None and not _same_canonical(source, url, version):
            yield CONSTRAINT_FOREIGN_SOURCE.issue(
                f"The constraint {key} in the differential names '{source}' as its source, but a differential "
                f"can only add this profile's own constraints ({url}): remove the source, or the constraint", **where)
            return
        inherited = self._inherited(definition, key, expression)
        if inherited is not None:
            yield CONSTRAINT_KEY_CONFLICT.issue(
                f"The constraint key {key} is already used by {inherited[0]} (on {inherited[1]}) with the expression "
                f"'{inherited[2]}': give this constraint its own key", **where)
            return
        earlier = seen.get(key)
        if earlier is None:
            seen[key] = (path, expression)
        elif earlier[1] != expression:
            yield CONSTRAINT_KEY_CONFLICT.issue(
                f"The constraint key {key} is already used in this differential on {earlier[0]} with the expression "
                f"'{earlier[1]}': give this constraint its own key", **where)

    def _inherited(self, definition: dict[str, Any], key: str, expression: str) -> tuple[str, str, str | None] | None:
        """A declaration of ``key`` with another expression, where HL7 looks: the base definition's
        snapshot first (its first declaration decides), then the core types and resources (url,
        element path, expression). HL7 takes the first core declaration in its own load order; samsvar
        reports only when no core declaration has this expression, so the order cannot matter."""
        base = definition.get("baseDefinition")
        if isinstance(base, str):
            found = self.definitions.structure_definition(base.split("|", 1)[0])
            if found is not None:
                for element in (found.get("snapshot") or {}).get("element") or []:
                    for constraint in element.get("constraint") or []:
                        if isinstance(constraint, dict) and constraint.get("key") == key:
                            if constraint.get("expression") == expression:
                                return None
                            return (_versioned(found), str(element.get("path")), constraint.get("expression"))
        declared_in_core = self._core_invariants().get(key) or []
        if any(other[2] == expression for other in declared_in_core):
            return None
        return declared_in_core[0] if declared_in_core else None

    def _core_invariants(self) -> dict[str, list[tuple[str, str, str | None]]]:
        """Every declaration of each constraint key in the core types and resources (specializations)."""
        memo = self.definitions.memo
        found: dict[str, list[tuple[str, str, str | None]]] | None = memo.get("core-invariants")
        if found is None:
            found = {}
            for url in sorted(self.definitions.canonicals()):
                if not url.startswith(FHIR_SD):
                    continue
                sd = self.definitions.get(url)
                if sd is None or sd.get("resourceType") != "StructureDefinition" \
                        or sd.get("derivation") != "specialization" or sd.get("kind") == "logical":
                    continue
                for element in (sd.get("snapshot") or {}).get("element") or []:
                    for constraint in element.get("constraint") or []:
                        if isinstance(constraint, dict) and isinstance(constraint.get("key"), str):
                            found.setdefault(constraint["key"], []).append(
                                (_versioned(sd), str(element.get("path")), constraint.get("expression")))
            memo["core-invariants"] = found
        return found

    # -- extension contexts -----------------------------------------------------------------------

    def _contexts(self, visit: Visit, definition: dict[str, Any]) -> Iterator[Issue]:
        """The contexts an extension definition states (``type`` and ``expression``, as
        :mod:`.extensions` reads them when judging a use). A context marked for other FHIR versions
        (``version-specific-use``) is not checked: samsvar has only R4's definitions."""
        name = definition.get("id") or definition.get("url")
        for index, context in enumerate(definition.get("context") or []):
            if not isinstance(context, dict) or not isinstance(context.get("expression"), str):
                continue
            if any(isinstance(e, dict) and e.get("url") == _VERSION_USE for e in context.get("extension") or []):
                continue
            kind, expression = context.get("type"), context["expression"]
            where: dict[str, Any] = {"path": (*visit.path, "context", index),
                                     "expression": f"{visit.expression}.context[{index}]"}
            if kind == "element" and not self._element_exists(expression):
                yield CONTEXT_ELEMENT_UNKNOWN.issue(
                    f"The context '{expression}' of the extension names an element that FHIR R4 does not define, so "
                    "the extension can be used nowhere there: correct the path", **where)
            if kind == "element" and expression == "Element":
                yield CONTEXT_BETTER_STATED.issue(
                    f"The extension {name} may be used on any element (context 'Element'): is that meant? Name the "
                    "elements or types it is for", **where)
            elif kind == "fhirpath" and self._names_element(expression):
                yield CONTEXT_BETTER_STATED.issue(
                    f"The context '{expression}' of the extension {name} is a FHIRPath expression that names an "
                    "element: state it as a context of type 'element', which tools can use", **where)

    def _element_exists(self, path: str) -> bool:
        """Whether an element context (``Patient.contact.name``, or ``url#path``) names an element of
        its type, walking children as HL7's ``DefinitionNavigator.childByName`` does. Where samsvar
        cannot follow (a choice, a type without a loaded definition) the element is taken as found."""
        local = path.split("#", 1)[1] if "#" in path else path
        names = local.split(".")
        url = path.split("#", 1)[0] if "#" in path else FHIR_SD + names[0]
        if url == FHIR_SD + names[0] and names[0] in _STAND_INS:
            url = FHIR_SD + _STAND_INS[names[0]]
        ctx = self.definitions.context(url)
        if ctx is None:
            return False
        for name in names[1:]:
            children = self.definitions.children(ctx)
            if not children:
                return True  # nothing known below: not held against the author
            found = children.get(name)
            if found is None:
                found = next((c for c in children.values()
                              if str(c[0].get("path", "")).rsplit(".", 1)[-1] in (name, f"{name}[x]")), None)
            if found is None:
                return False
            element, code = found
            descended = self.definitions.descend(ctx, element, code)
            if descended is None:
                return True
            ctx = descended
        return True

    def _names_element(self, expression: str) -> bool:
        """Whether a FHIRPath context is simply an element path of a type (HL7's ``isElement``)."""
        elements = self.definitions.elements(expression.split(".", 1)[0])
        return elements is not None and any(e.get("path") == expression for e in elements.values())

    # -- bindings ---------------------------------------------------------------------------------

    def _binding(self, definition: dict[str, Any], element: ElementDefinition, binding: dict[str, Any],
                 snapshot: bool, where: dict[str, Any]) -> Iterator[Issue]:
        path = str(element.get("path"))
        codes = _element_type_codes(element)
        if snapshot and self._bindable(codes) is None:
            yield BINDING_NOT_BINDABLE.issue(
                f"The element {path} has a binding, but none of its types ({_listed(codes)}) can be bound to a value "
                "set: remove the binding, or give the element a coded type", **where)
        if not snapshot and len([c for c in dict.fromkeys(codes) if c in _LISTED_BINDABLE]) > 1:
            yield BINDING_NOT_BINDABLE.issue(
                f"The element {path} has several types that can be bound ({_listed(codes)}); its binding applies to "
                "all of them", severity=Severity.INFORMATION, **where)
        if "valueSet" not in binding:
            return
        reference = binding.get("valueSet")
        if not isinstance(reference, str):
            if snapshot:
                yield BINDING_VALUE_SET.issue(
                    f"The binding of {path} names no value set: say which codes are meant, or remove the binding",
                    **where)
            return
        target = self.definitions.get(reference.split("|", 1)[0])
        if target is None:
            if "?fhir_vs" not in reference:  # an implicit value set a terminology server knows
                yield BINDING_VALUE_SET.issue(
                    f"The value set {reference} bound to {path} cannot be found, so codes cannot be checked against "
                    "it: load the package that defines it (--ig), or correct the URL", **where)
        elif target.get("resourceType") == "CodeSystem":
            pass  # a code system's URL stands for all its codes (a Volven list by OID): samsvar binds to it
        elif target.get("resourceType") != "ValueSet":
            yield BINDING_NOT_VALUE_SET.issue(
                f"The binding of {path} refers to {reference}, which is a {target.get('resourceType')}, not a "
                "ValueSet: bind to a value set", **where)
        elif target.get("experimental") is True and definition.get("experimental") is not True \
                and binding.get("strength") != "example":
            yield BINDING_VALUE_SET.issue(
                f"The element {path} is bound to the experimental value set {reference}, but this definition is not "
                "experimental: bind to a value set meant for use, or mark the definition experimental", **where)
        whole = _ALL_CODES.get(reference)
        if whole is not None:
            yield BINDING_VALUE_SET.issue(
                f"The element {path} is bound to all of {whole} ({reference}): that is rarely what is meant; bind to "
                "a value set of the codes that fit the element", **where)

    def _bindable(self, codes: list[str]) -> str | None:
        """A type of the element a value set can be bound to (HL7's ``bindableType``), else None."""
        for code in codes:
            if code in _BOUND:
                return code
        for code in codes:
            if code in _BINDABLE:
                return code
            sd = self.definitions.structure_definition(code)
            seen: set[str] = set()
            while sd is not None and str(sd.get("url")) not in seen:
                seen.add(str(sd.get("url")))
                for extension in sd.get("extension") or []:
                    if isinstance(extension, dict) and (extension.get("url") == _BINDING_STYLE or (
                            extension.get("url") == _TYPE_CHARACTERISTICS and extension.get("valueCode") == "can-bind")):
                        return code
                if sd.get("type") in _BINDABLE:
                    return code
                base = sd.get("baseDefinition")
                sd = self.definitions.structure_definition(base.split("|", 1)[0]) if isinstance(base, str) else None
        return None


def _fhirpath(key: str, expression: str, where: dict[str, Any]) -> Iterator[Issue]:
    """FHIR-SD-051 when the FHIRPath grammar rejects the expression; a not-checked finding when
    samsvar's engine lacks what it uses (the author's expression may well be right)."""
    problem = grammar_error(expression)
    if problem is not None:
        yield CONSTRAINT_NOT_FHIRPATH.issue(
            f"The expression of constraint {key} is not valid FHIRPath ({problem}): '{expression}'", **where)
        return
    yield from _not_checked(f"constraint {key}", expression, where)


def _not_checked(what: str, expression: str, where: dict[str, Any]) -> Iterator[Issue]:
    """FHIR-SD-060 when samsvar's FHIRPath engine cannot take an expression the grammar accepts."""
    try:
        compile_expression(expression)
    except Exception as failure:  # noqa: BLE001 - a feature samsvar lacks is not the author's error
        reason = "uses what samsvar's FHIRPath engine lacks" if failure_kind(failure) == "unsupported" \
            else "could not be read by samsvar's FHIRPath layer"
        yield EXPRESSION_NOT_CHECKED.issue(
            f"The expression of {what} was not checked beyond its grammar: it {reason} ({failure}): '{expression}'",
            **where)


def _context_invariant(definition: dict[str, Any], invariant: str, where: dict[str, Any]) -> Iterator[Issue]:
    """FHIR-SD-059: a context invariant must be FHIRPath; with only FHIRPath contexts, the types it
    is evaluated on are unknown and it is not checked (information, as HL7 says it)."""
    contexts = [c for c in definition.get("context") or [] if isinstance(c, dict)]
    if not any(c.get("type") in ("element", "extension") for c in contexts):
        listed = ", ".join(f"{c.get('type')}={c.get('expression')}" for c in contexts) or "(none)"
        yield CONTEXT_INVARIANT_NOT_FHIRPATH.issue(
            f"The context invariant '{invariant}' was not checked: the types it applies to cannot be told from the "
            f"contexts ({listed})", severity=Severity.INFORMATION, **where)
        return
    problem = grammar_error(invariant)
    if problem is not None:
        yield CONTEXT_INVARIANT_NOT_FHIRPATH.issue(
            f"The context invariant is not valid FHIRPath ({problem}): '{invariant}'", **where)
        return
    yield from _not_checked("the context invariant", invariant, where)


def grammar_error(expression: str) -> str | None:
    """The first thing the FHIRPath grammar finds wrong with ``expression``, or None."""
    found = grammar_errors(expression)
    return found[0] if found else None


def _element_type_codes(element: ElementDefinition) -> list[str]:
    """The element's type codes, as HL7 collects them: the root element's path is its type."""
    path = str(element.get("path"))
    codes = [] if "." in path else [path]
    codes.extend(code for code in (type_code(t) for t in element.get("type") or [] if isinstance(t, dict)) if code)
    return codes


def _same_canonical(source: str, url: Any, version: Any) -> bool:
    return source == url or (isinstance(version, str) and source == f"{url}|{version}")


def _versioned(definition: dict[str, Any]) -> str:
    url, version = definition.get("url"), definition.get("version")
    return f"{url}|{version}" if isinstance(version, str) and version else str(url)


def _listed(values: list[str]) -> str:
    ordered = sorted(dict.fromkeys(values))
    return ", ".join(ordered) if ordered else "(none)"
