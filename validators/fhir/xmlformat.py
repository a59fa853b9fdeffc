"""FHIR XML to the JSON model, typed by the StructureDefinitions of the base specification.

The engine works on one model (FHIR JSON as Python values, as FHIRPath engines expect), so an
XML resource is read into it once: element definitions say which elements repeat (JSON arrays)
and which are primitives (``value`` attributes become JSON strings, numbers or booleans, and
``id``/``extension`` of a primitive go to ``_name``). Every path is mapped back to the XML
element it came from, so issues keep their line and column.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from ..issues import Issue, Path
from ..load import safe_xml_parser
from ..positions import XmlLocator, fhirpath_expression
from ..rules import declared
from .definitions import Context, Definitions, is_primitive
from .structure import EMPTY as EMPTY_PRIMITIVE
from .structure import MAX_CARDINALITY

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"

FHIR_XML_NAMESPACE = declared("FHIR-XML-001")
FHIR_XML_TEXT = declared("FHIR-XML-002")

FHIR_XML_ATTRIBUTE = declared("FHIR-XML-003")
FHIR_XML_ELEMENT = declared("FHIR-XML-004")

_INTEGER_TYPES = {"integer", "positiveInt", "unsignedInt", "integer64"}
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _primitive_value(code: str, text: str) -> Any:
    if code == "boolean":
        return {"true": True, "false": False}.get(text, text)
    if code in _INTEGER_TYPES:
        try:
            return int(text)
        except ValueError:
            return text
    if code == "decimal":
        try:
            return Decimal(text)
        except InvalidOperation:
            return text
    return text


class FhirXmlReader:
    def __init__(self, definitions: Definitions, locator: XmlLocator) -> None:
        self.definitions = definitions
        self.locator = locator
        self.issues: list[Issue] = []
        self._resources: dict[Path, str] = {}
        """Where each (nested) resource starts, for XPath-style locations."""

    # -- resolution ---------------------------------------------------------------------
    def _child_definition(self, ctx: Context, name: str) -> tuple[dict[str, Any] | None, str | None]:
        """The element definition of child ``name`` and, for a choice, the chosen type."""
        return self.definitions.children(ctx).get(name, (None, None))

    # -- reading ------------------------------------------------------------------------
    def read_resource(self, element: etree._Element, path: Path) -> dict[str, Any]:
        resource_type = etree.QName(element).localname
        self._resources[path] = resource_type
        self.locator.elements[path] = element
        resource: dict[str, Any] = {"resourceType": resource_type}
        ctx = self.definitions.context(resource_type)
        if ctx is not None:
            self._attributes(element, (), path, resource_type)
        self._read_children(element, ctx, resource, path)
        return resource

    def _read_children(self, parent: etree._Element, ctx: Context | None, into: dict[str, Any], path: Path) -> None:
        if parent.text and parent.text.strip():
            self._text_issue(parent, path)
        groups: dict[str, list[etree._Element]] = {}
        for child in parent:
            if not isinstance(child.tag, str):
                continue  # comments and processing instructions
            if child.tail and child.tail.strip():
                self._text_issue(parent, path)
            qname = etree.QName(child)
            if qname.namespace != FHIR_NS and not (qname.localname == "div" and qname.namespace == XHTML_NS):
                self.locator.elements[(*path, f"{{{qname.namespace}}}{qname.localname}")] = child
                self.issues.append(FHIR_XML_NAMESPACE.issue(
                    f"Element <{qname.localname}> is in namespace {qname.namespace or '(none)'}, "
                    f"not {FHIR_NS}; it was ignored.",
                    path=(*path, f"{{{qname.namespace}}}{qname.localname}")))
                continue
            if ctx is not None and qname.localname != "div" and \
                    self._child_definition(ctx, qname.localname)[0] is None:
                self.locator.elements[(*path, qname.localname)] = child
                self.issues.append(FHIR_XML_ELEMENT.issue(
                    f"Undefined element '{qname.localname}' at {self._xpath(path)}", path=(*path, qname.localname),
                    expression=self._xpath(path)))
                continue
            groups.setdefault(qname.localname, []).append(child)
        for name, children in groups.items():
            self._read_group(name, children, ctx, into, path)

    def _read_group(self, name: str, children: list[etree._Element], ctx: Context | None,
                    into: dict[str, Any], path: Path) -> None:
        element, code = self._child_definition(ctx, name) if ctx is not None else (None, None)
        repeats = element is None and len(children) > 1 or (
            element is not None and element.get("max", "1") != "1")
        if name == "div" and etree.QName(children[0]).namespace == XHTML_NS:
            self.locator.elements[(*path, name)] = children[0]
            into[name] = etree.tostring(children[0], encoding="unicode", with_tail=False)
            return
        values: list[Any] = []
        extras: list[Any] = []
        for i, child in enumerate(children):
            child_path: Path = (*path, name, i) if repeats else (*path, name)
            value, extra = self._read_element(child, element, code, ctx, child_path, name, i if repeats else None)
            values.append(value)
            extras.append(extra)
        if repeats:
            if any(v is not None for v in values):
                into[name] = values
            if any(e is not None for e in extras):
                into["_" + name] = extras
        else:  # a non-repeating element given twice: keep the last, as JSON would, and say so here
            if len(children) > 1 and element is not None:
                # located on the element that holds them, as the cardinality check locates it
                self.issues.append(MAX_CARDINALITY.issue(
                    f"{element.get('path', name)}: max allowed = 1, but found {len(children)}; only the last "
                    f"<{name}> was read", path=path, expression=fhirpath_expression(self._resources.get((), ""), path)))
            if values[-1] is not None:
                into[name] = values[-1]
            if extras[-1] is not None:
                into["_" + name] = extras[-1]

    def _attributes(self, node: etree._Element, allowed: tuple[str, ...], path: Path, type_name: str) -> None:
        for attribute in node.attrib:
            qname = etree.QName(attribute)
            if qname.namespace is None and qname.localname in allowed:
                continue
            shown = f"xsi:{qname.localname}" if qname.namespace == _XSI else qname.localname
            self.issues.append(FHIR_XML_ATTRIBUTE.issue(
                f"Undefined attribute '@{shown}' on {etree.QName(node).localname} for type {type_name}",
                path=path, expression=self._xpath(path)))

    def _fhirpath(self, path: Path, element: dict[str, Any], code: str | None) -> str:
        """The FHIRPath of an element, choices written as ``value.ofType(integer)``."""

        start = max((p for p in self._resources if path[:len(p)] == p), key=len, default=())
        expression = fhirpath_expression(self._resources.get((), ""), path)
        if str(element.get("path", "")).endswith("[x]") and code:
            name = str(path[-1] if isinstance(path[-1], str) else path[-2])
            stem = str(element["path"]).rsplit(".", 1)[1][:-3]
            expression = expression.replace(f".{name}", f".{stem}.ofType({code})", 1) if start == () else expression
        return expression

    def _xpath(self, path: Path) -> str:
        """HL7's XPath-style location of an XML node: ``/f:Observation/f:valueInteger``, and
        ``Endpoint/f:connectionType`` inside a Bundle entry or contained resource."""
        start = max((p for p in self._resources if path[:len(p)] == p), key=len, default=())
        names = [step.lstrip("_") for step in path[len(start):] if isinstance(step, str)]
        prefix = f"/f:{self._resources[start]}" if start == () else self._resources[start]
        return "/".join([prefix, *(f"f:{name}" for name in names)])

    def _read_element(self, node: etree._Element, element: dict[str, Any] | None, code: str | None,
                      ctx: Context | None, path: Path, name: str, index: int | None) -> tuple[Any, Any]:
        self.locator.elements[path] = node
        if element is not None:
            primitive_type = code is not None and is_primitive(code)
            allowed = ("value", "id") if primitive_type else (("id", "url") if code == "Extension" else ("id",))
            self._attributes(node, allowed, path, code or element.get("path", name))
        underscore: Path = (*path[:-2], "_" + name, index) if index is not None else (*path[:-1], "_" + name)
        self.locator.elements[underscore] = node
        if element is not None and code == "Resource" or (element is not None and code in self.definitions.resource_types):
            inner = [c for c in node if isinstance(c.tag, str)]
            if inner:
                return self.read_resource(inner[0], path), None
            return {}, None
        primitive = code is not None and is_primitive(code) or (element is None and "value" in node.attrib)
        if primitive:
            if node.text and node.text.strip():
                self._text_issue(node, path)
            value = node.get("value")
            converted = _primitive_value(code or "string", value) if value is not None else None
            extra: dict[str, Any] = {}
            if node.get("id") is not None:
                extra["id"] = node.get("id")
            if len(node):
                self._read_children(node, self.definitions.context("Element"), extra, underscore)
            if converted is None and not extra.get("extension") and element is not None:
                self.issues.append(EMPTY_PRIMITIVE.issue(
                    "Primitive types must have a value or must have child extensions", path=path,
                    expression=self._fhirpath(path, element, code)))
            return converted, (extra or None)
        out: dict[str, Any] = {}
        for attribute in ("id", "url"):
            if node.get(attribute) is not None:
                out[attribute] = node.get(attribute)
        child_ctx = self.definitions.descend(ctx, element, code) if (ctx is not None and element is not None) else None
        self._read_children(node, child_ctx, out, path)
        return out, None

    def _text_issue(self, element: etree._Element, path: Path) -> None:
        self.issues.append(FHIR_XML_TEXT.issue(
            f"Element <{etree.QName(element).localname}> has text content; FHIR XML puts values in "
            "the value attribute.", path=path, expression=self._xpath(path)))


def read_fhir_xml(root: etree._Element, definitions: Definitions, locator: XmlLocator) -> tuple[dict[str, Any], list[Issue]]:
    """The JSON model of a FHIR XML resource, and the XML-specific issues found on the way."""
    reader = FhirXmlReader(definitions, locator)
    resource = reader.read_resource(root, ())
    return resource, reader.issues


# -- writing --------------------------------------------------------------------------------
def write_fhir_xml(resource: dict[str, Any], definitions: Definitions) -> bytes:
    """FHIR XML for a resource in the JSON model, children in definition order."""
    element = _write_resource(resource, definitions)
    return etree.tostring(element, encoding="UTF-8", xml_declaration=True)


def _write_resource(resource: dict[str, Any], definitions: Definitions) -> etree._Element:
    resource_type = resource["resourceType"]
    node = etree.Element(f"{{{FHIR_NS}}}{resource_type}", nsmap={None: FHIR_NS})
    _write_children(node, resource, definitions.context(resource_type), definitions, True)
    return node


def _order_key(ctx: Context | None, name: str) -> int:
    if ctx is None:
        return 0
    order = list(ctx.elements)
    for i, path in enumerate(order):
        tail = path[len(ctx.path) + 1:]
        if path.startswith(ctx.path + ".") and "." not in tail and (
                tail == name or (tail.endswith("[x]") and name.startswith(tail[:-3]))):
            return i
    return len(order)


_ATTRIBUTES = {"id", "url"}


def _is_attribute(element: dict[str, Any] | None) -> bool:
    """Element.id and Extension.url are XML attributes; a RelatedArtifact's url is an element."""
    if element is None:
        return True
    base = (element.get("base") or {}).get("path") or element.get("path")
    return base in ("Element.id", "Extension.url")


def _write_children(node: etree._Element, obj: dict[str, Any], ctx: Context | None, definitions: Definitions,
                    is_resource: bool = False) -> None:
    names = [k for k in obj if not (is_resource and k == "resourceType") and not k.startswith("_")]
    names += [k[1:] for k in obj if k.startswith("_") and k[1:] not in obj]
    for name in names:
        if name in _ATTRIBUTES and isinstance(obj.get(name), str) and not is_resource \
                and _is_attribute(definitions.children(ctx).get(name, (None, None))[0] if ctx is not None else None):
            node.set(name, obj[name])
    for name in sorted(names, key=lambda n: _order_key(ctx, n)):
        value, extra = obj.get(name), obj.get("_" + name)
        if name in _ATTRIBUTES and node.get(name) is not None:
            continue
        if name == "div" and isinstance(value, str):
            node.append(etree.fromstring(value.encode("utf-8"), safe_xml_parser()))
            continue
        element, code = definitions.children(ctx).get(name, (None, None)) if ctx is not None else (None, None)
        values = value if isinstance(value, list) else [value]
        extras = extra if isinstance(extra, list) else [extra] * len(values)
        if value is None:
            values = [None] * len(extras)
        for item, item_extra in zip(values, extras):
            child = etree.SubElement(node, f"{{{FHIR_NS}}}{name}")
            if isinstance(item, dict) and (code == "Resource" or code in definitions.resource_types
                                           or (element is None and "resourceType" in item)):
                child.append(_write_resource(item, definitions))
            elif isinstance(item, dict):
                child_ctx = definitions.descend(ctx, element, code) if ctx is not None and element is not None else None
                _write_children(child, item, child_ctx, definitions)
            elif item is not None:
                child.set("value", _primitive_text(item))
            if isinstance(item_extra, dict):
                if "id" in item_extra:
                    child.set("id", item_extra["id"])
                _write_children(child, {k: v for k, v in item_extra.items() if k != "id"},
                                definitions.context("Element"), definitions)


def _primitive_text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)
