"""Extensions: resolved by URL in the loaded definitions; value type, sub-extensions, context.

Wording and locations follow HL7's validator: an unknown extension is an error ("could not be
found so is not allowed here"; load its package with ``--ig``), a context error is reported on
the element that carries the extension. An undefined extension in an example domain
(``http://example.org/...``) is accepted by default, as HL7's validator does for examples;
with ``--no-example-urls`` (HL7: ``-allow-example-urls false``) it is unknown like any other,
and its url is reported as an example URL besides.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..issues import Issue, Severity
from ..rules import declared
from .definitions import Definitions, type_codes
from .fhirpath import compile_expression
from .visit import Parent, Visit

NOT_ABSOLUTE = declared("FHIR-EXT-001")
UNKNOWN = declared("FHIR-EXT-002")
WRONG_VALUE = declared("FHIR-EXT-003")
UNKNOWN_SUB = declared("FHIR-EXT-004")
WRONG_CONTEXT = declared("FHIR-EXT-005")
EXAMPLE_URL = declared("FHIR-EXT-006")
VERSIONED_URL = declared("FHIR-EXT-007")

_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
CANONICAL_RESOURCES = frozenset({
    "ActivityDefinition", "CapabilityStatement", "ChargeItemDefinition", "CodeSystem", "CompartmentDefinition",
    "ConceptMap", "EffectEvidenceSynthesis", "EventDefinition", "Evidence", "EvidenceVariable", "ExampleScenario",
    "GraphDefinition", "ImplementationGuide", "Library", "Measure", "MessageDefinition", "NamingSystem",
    "OperationDefinition", "PlanDefinition", "Questionnaire", "ResearchDefinition", "ResearchElementDefinition",
    "RiskEvidenceSynthesis", "SearchParameter", "StructureDefinition", "StructureMap", "TerminologyCapabilities",
    "TestScript", "ValueSet"})
"""R4's resources with a canonical url (what R5 calls CanonicalResource, the context some extensions name)."""
CONTEXT_CORRECTIONS: dict[str, tuple[dict[str, str], ...]] = {
    # Where the specification and its tooling have always used these extensions, whatever their
    # definitions say (HL7's validator accepts them there too; FHIR-13328 for regex)
    "http://hl7.org/fhir/StructureDefinition/regex": ({"type": "element", "expression": "ElementDefinition.type"},),
    "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type":
        ({"type": "element", "expression": "ElementDefinition.type"},),
    "http://hl7.org/fhir/StructureDefinition/structuredefinition-normative-version":
        ({"type": "element", "expression": "Element"},),
    "http://hl7.org/fhir/StructureDefinition/capabilitystatement-expectation": ({"type": "element", "expression": "Element"},),
    "http://hl7.org/fhir/StructureDefinition/capabilitystatement-prohibited": ({"type": "element", "expression": "Element"},),
}
_ANY_EXTENSION_PATHS = ("ElementDefinition.example.value", "ElementDefinition.fixed", "ElementDefinition.pattern")
_UNCHECKED_NAMESPACES = ("http://hl7.org/fhir/tools/StructureDefinition/",
                         "http://hl7.org/fhir/StructureDefinition/structuredefinition-expression")
_EXAMPLE_DOMAIN = re.compile(r"^https?://(?:[^/]*\.)?(?:example\.(?:org|com|net)|acme\.(?:org|com))(?:[:/]|$)")


class ExtensionChecker:
    def __init__(self, definitions: Definitions, allow_example_urls: bool = True, hl7_paths: bool = False) -> None:
        self.definitions = definitions
        self.allow_example_urls = allow_example_urls
        self.hl7_paths = hl7_paths
        """Write locations as HL7's validator does: some extension findings on ``extension[i][url='...']``."""
        self._compiled: dict[str, Any] = {}
        self._plans: dict[tuple[int, str], tuple[Any, tuple[set[str], dict[str, str]] | None]] = {}
        self._context_plans: dict[str, tuple[Any, tuple[list[dict[str, Any]], Severity | None]]] = {}

    @staticmethod
    def relevant(_element: dict[str, Any], code: str | None) -> bool:
        """Only Extension values are checked (see StructureChecker)."""
        return code == "Extension"

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        if visit.code != "Extension" or not isinstance(visit.value, dict):
            return
        url = visit.value.get("url")
        parent_path = visit.element["path"].rsplit(".", 1)[0]
        nested = parent_path.endswith("Extension") or parent_path.endswith(".extension")
        if not isinstance(url, str) or nested:
            return  # a missing url is a cardinality error; sub-extensions are checked by their parent
        if not _ABSOLUTE.match(url):
            yield NOT_ABSOLUTE.issue(f"Extension.url must be an absolute URL (found '{url}')",
                                     path=visit.path, expression=visit.expression)
            return
        definition = self.definitions.get(url)
        if definition is None or definition.get("type") != "Extension":
            example = bool(_EXAMPLE_DOMAIN.match(url))
            if url.startswith(_UNCHECKED_NAMESPACES) or "nema.org" in url:
                # DICOM's extension namespace and HL7's tooling namespace: HL7's validator accepts
                # extensions there without a definition
                yield UNKNOWN.issue(f"The extension {url} is not defined; extensions in this namespace are "
                                    "accepted without checks", path=(*visit.path, "url"),
                                    expression=visit.expression, severity=Severity.INFORMATION)
            elif example and self.allow_example_urls:  # as HL7's validator: example URLs are for examples
                yield UNKNOWN.issue(f"The extension {url} is not defined; it uses an example domain, so it "
                                    "is accepted without checks", path=(*visit.path, "url"),
                                    expression=visit.expression, severity=Severity.INFORMATION)
            else:
                yield UNKNOWN.issue(f"The extension {url} could not be found so is not allowed here "
                                    "(load the package that defines it with --ig)",
                                    path=(*visit.path, "url"), expression=visit.expression)
                if example:
                    yield EXAMPLE_URL.issue(f"Example URLs are not allowed in this context ({url})",
                                            path=(*visit.path, "url"), expression=f"{visit.expression}.url")
            return
        if "|" in url:
            canonical, version = url.split("|", 1)
            message = (f"The extension URL must not contain a version (found '|{version}'; Extension.url is fixed to "
                       f"'{canonical}' in its definition). The extension was validated against version "
                       f"{definition.get('version') or '(none given)'} of the extension")
            if self.hl7_paths:  # HL7's validator: the version on the extension, the fixed url on its url
                yield VERSIONED_URL.issue(message, path=(*visit.path, "url"), expression=f"{visit.expression}[url='{url}']")
                message = f"Value is '{url}' but is fixed to '{canonical}' in the extension's definition"
            yield VERSIONED_URL.issue(message, path=(*visit.path, "url"), expression=f"{visit.expression}.url")
        yield from self._context(visit, url, definition)
        yield from self._content(visit, url, definition, visit.value, visit.expression)

    def _content(self, visit: Visit, url: str, definition: dict[str, Any], value: dict[str, Any],
                 expression: str, prefix: str = "Extension") -> Iterator[Issue]:
        plan = self._content_plan(definition, prefix)
        if plan is None:
            return  # a differential-only definition: its content is checked once snapshots are generated
        allowed, known = plan
        for key in value:
            if key.startswith("value") and len(key) > 5:
                suffix = key[5:]
                if not any(code[:1].upper() + code[1:] == suffix for code in allowed):
                    shown = ", ".join(sorted(allowed)) or "no value (a complex extension)"
                    yield WRONG_VALUE.issue(
                        f"The extension {url} does not allow a value of type {suffix[:1].lower() + suffix[1:]}; "
                        f"allowed: {shown}", path=(*visit.path, key), expression=expression)
        if not known:
            return
        for i, child in enumerate(value.get("extension") or []):
            child_url = child.get("url") if isinstance(child, dict) else None
            if isinstance(child_url, str) and not _ABSOLUTE.match(child_url) and child_url not in known:
                yield UNKNOWN_SUB.issue(f"Sub-extension url '{child_url}' is not defined by the Extension {url}",
                                        path=(*visit.path, "extension", i),
                                        expression=f"{expression}.extension[{i}]"
                                        + (f"[url='{child_url}']" if self.hl7_paths else ""))
            elif isinstance(child_url, str) and child_url in known:
                yield from self._content(visit, url, definition, child, f"{expression}.extension[{i}]",
                                         f"{prefix}.extension:{known[child_url]}")

    def _content_plan(self, definition: dict[str, Any], prefix: str) -> tuple[set[str], dict[str, str]] | None:
        """(the value types allowed, sub-extension url -> slice name) of an extension's definition at
        ``prefix``, read from its snapshot once per definition met; None without a snapshot."""
        key = (id(definition), prefix)
        found = self._plans.get(key)
        if found is not None and found[0] is definition:
            return found[1]
        elements = (definition.get("snapshot") or {}).get("element")
        plan: tuple[set[str], dict[str, str]] | None = None
        if elements:
            value_element = next((e for e in elements if e.get("id") == f"{prefix}.value[x]"), None)
            allowed = set(type_codes(value_element)) if value_element and value_element.get("max") != "0" else set()
            slices = {e.get("sliceName"): e for e in elements
                      if e.get("path") == "Extension.extension" and e.get("sliceName") and e.get("id", "").count(":") == 1
                      and e["id"].startswith(f"{prefix}.extension:")}
            known: dict[str, str] = {}
            for name in slices:
                url_element = next((e for e in elements if e.get("id") == f"{prefix}.extension:{name}.url"), {})
                known[str(url_element.get("fixedUri") or name)] = name
            plan = (allowed, known)
        self._plans[key] = (definition, plan)
        return plan

    def _contexts(self, url: str, definition: dict[str, Any]) -> tuple[list[dict[str, Any]], Severity | None]:
        """The R4 contexts of an extension and the severity of a use outside them, once per definition met."""
        found = self._context_plans.get(url)
        if found is not None and found[0] is definition:
            return found[1]
        contexts = [*(definition.get("context") or []), *CONTEXT_CORRECTIONS.get(url, ())]
        # R4's own extensions state some contexts inconsistently with how the specification uses
        # them (fixed in later versions): for those a mismatch is a warning, not an error.
        # Only the definitions of the core package itself: the FHIR extensions pack restates them correctly
        # (and HL7's validator, which loads that pack, calls a wrong context an error).
        core = (self.definitions.source(url) or "").startswith("hl7.fhir.r4.core#")
        plan = ([c for c in contexts if isinstance(c, dict) and _for_r4(c)], Severity.WARNING if core else None)
        self._context_plans[url] = (definition, plan)
        return plan

    def _context(self, visit: Visit, url: str, definition: dict[str, Any]) -> Iterator[Issue]:
        parent = visit.parent
        if parent is None:
            return
        if any(path.startswith(_ANY_EXTENSION_PATHS) for path in (parent.element_path, *parent.aliases)):
            return  # example, fixed and pattern values in definitions may carry any extension
        contexts, severity = self._contexts(url, definition)
        if contexts and not any(self._allows(context, parent, visit) for context in contexts):
            allowed = ", ".join(f"{c.get('type')}={c.get('expression')}" for c in contexts)
            yield WRONG_CONTEXT.issue(
                f"The extension {url} is not allowed to be used at this point (this element is "
                f"[{parent.type_name}, {parent.element_path}]; allowed: {allowed})",
                path=visit.path, expression=parent.expression, severity=severity)
            return
        for invariant in definition.get("contextInvariant") or []:
            if self._evaluate(invariant, parent) == [False]:
                yield WRONG_CONTEXT.issue(
                    f"The extension {url} is not allowed to be used at this point (based on context invariant "
                    f"'{invariant}')", path=visit.path, expression=parent.expression, severity=severity)

    def _allows(self, context: dict[str, Any], parent: Parent, visit: Visit) -> bool:
        kind, expression = context.get("type"), str(context.get("expression", ""))
        if kind == "element":
            candidates = {parent.type_name, parent.element_path, "Element", "Any", *parent.aliases}
            root = parent.element_path.split(".", 1)[0]
            if parent.element_path == root and root in self.definitions.resource_types:
                candidates |= {"Resource"} if root in ("Bundle", "Parameters", "Binary") else {"Resource", "DomainResource"}
            elif parent.type_name == parent.element_path:
                candidates.add("BackboneElement")
            if parent.type_name in self.definitions.type_kinds and not parent.type_name[:1].islower():
                candidates.add("DataType")
            if parent.element_path == root and root in CANONICAL_RESOURCES:
                candidates |= {"CanonicalResource", "MetadataResource"}  # R5 names the pack uses for them
            return expression in candidates or expression.split("#", 1)[-1] in candidates
        if kind == "extension":  # on that extension, or on its value
            holder = parent.value if parent.type_name == "Extension" else (
                parent.container if parent.element_path == "Extension.value[x]" else None)
            return isinstance(holder, dict) and holder.get("url") == expression
        if kind == "fhirpath":
            found = self._evaluate(expression, None, visit.resource)
            return found is None or any(_data(node) == parent.value for node in found)  # results are copies
        return True

    def _evaluate(self, expression: str, parent: Parent | None, resource: Any = None) -> list[Any] | None:
        """A context expression's result, or None when it cannot be evaluated (then it is not held against)."""
        from fhirpathpy.engine.nodes import ResourceNode

        compiled = self._compiled.get(expression)
        if compiled is None:
            try:
                compiled = compile_expression(expression)
            except Exception:  # noqa: BLE001 - an unparsable context is not the instance's fault
                compiled = False
            self._compiled[expression] = compiled
        if compiled is False:
            return None
        try:
            if parent is not None:
                focus = ResourceNode.create_node(parent.value, parent.type_name)
            else:
                focus = ResourceNode.create_node(resource, resource.get("resourceType"))
            return list(compiled(focus, {}))
        except Exception:  # noqa: BLE001
            return None


_VERSION_USE = "http://hl7.org/fhir/StructureDefinition/version-specific-use"


def _for_r4(context: dict[str, Any]) -> bool:
    """Whether an extension context applies to FHIR R4 (the extensions pack marks some as R5 only)."""
    for ext in context.get("extension") or []:
        if not isinstance(ext, dict) or ext.get("url") != _VERSION_USE:
            continue
        for part in ext.get("extension") or []:
            bound = part.get("valueCode") if isinstance(part, dict) else None
            if not isinstance(bound, str):
                continue
            if part.get("url") == "startFhirVersion" and _major_minor(bound) > (4, 0):
                return False
            if part.get("url") == "endFhirVersion" and _major_minor(bound) < (4, 0):
                return False
    return True


def _major_minor(version: str) -> tuple[int, int]:
    parts = (version.split(".") + ["0"])[:2]
    try:
        return int(parts[0]), int(parts[1])
    except ValueError:
        return (0, 0)


def _data(node: Any) -> Any:
    return getattr(node, "data", node)
