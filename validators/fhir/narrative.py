"""Narrative: the XHTML of ``Narrative.div``, as FHIR R4 restricts it (invariants txt-1 and txt-2).

The div is parsed as XML by lxml with entities, DTDs and network access off, so a hostile
narrative cannot reach out or expand. Then: the root is an XHTML ``div``; only the basic
formatting elements and attributes of HTML 4 that FHIR allows are used (no ``script``,
``form``, ``iframe``, ``style`` blocks, event handlers or ``javascript:`` links); and there is
some text or an image (txt-2). Entities other than XML's own five and numeric references are
an error: XHTML in FHIR has no DTD to define ``&nbsp;`` or ``&reg;``.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from lxml import etree

from ..issues import Issue
from ..load import safe_xml_parser
from ..rules import Rule, declared
from .urls import ids_in, string_members
from .visit import Visit

XHTML_NS = "http://www.w3.org/1999/xhtml"

MALFORMED = declared("FHIR-XHTML-001")
ENTITY = declared("FHIR-XHTML-002")
NOT_A_DIV = declared("FHIR-XHTML-003")
ELEMENT = declared("FHIR-XHTML-004")
ATTRIBUTE = declared("FHIR-XHTML-005")
EMPTY = declared("FHIR-XHTML-006")

CONTROL = declared("FHIR-XHTML-007")
LANGUAGE_CONTROL = "http://hl7.org/fhir/StructureDefinition/narrative-language-control"
SOURCE_CONTROL = "http://hl7.org/fhir/StructureDefinition/narrative-source-control"
SOURCE_CLASSES = frozenset({"boilerplate", "generated", "original"})

ALLOWED_ELEMENTS = frozenset("""
    a abbr acronym address b bdo big blockquote br caption cite code col colgroup dd dfn div dl dt
    em h1 h2 h3 h4 h5 h6 hr i img li ol p pre q samp small span strong sub sup table tbody td tfoot
    th thead tr tt ul var
""".split())
ALLOWED_ATTRIBUTES = frozenset("""
    abbr accesskey align alt axis bgcolor border cellhalign cellpadding cellspacing cellvalign char
    charoff charset class colspan compact coords dir frame headers height href hreflang hspace id
    lang longdesc name nowrap rel rev rowspan rules scope shape span src start style summary
    tabindex title type valign value vspace width
""".split())
_XML_ATTRIBUTES = frozenset({"{http://www.w3.org/XML/1998/namespace}lang", "{http://www.w3.org/XML/1998/namespace}space"})
_ENTITY = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);)([A-Za-z][A-Za-z0-9]*);")
_SCRIPT_URL = re.compile(r"^\s*(?:javascript|vbscript|data:text/html)", re.IGNORECASE)
_PARSER = safe_xml_parser()

UNRESOLVED_LINK = declared("FHIR-XHTML-008")
_ANCHOR_NAME = re.compile(r"""<a\s[^>]*\bname\s*=\s*["']([^"']+)["']""")
_LOCAL_LINK = re.compile(r"""\s(href|src)\s*=\s*["']#([^"']*)["']""")


_DOCTYPE = re.compile(r"<!DOCTYPE", re.IGNORECASE)
_ALLOWED_TAGS = frozenset(f"{{{XHTML_NS}}}{name}" for name in ALLOWED_ELEMENTS)
"""The allowed elements as lxml spells their tags: one set lookup per node instead of a QName."""


class NarrativeChecker:
    """An element check: every ``xhtml`` value (Narrative.div)."""

    def __init__(self) -> None:
        # what a local link can point at, once per resource and per document: a Bundle's narratives
        # would otherwise each walk the whole Bundle again (the last one asked for, by identity)
        self._targets: tuple[Any, Any, frozenset[str]] | None = None
        self._anchors: dict[int, tuple[Any, frozenset[str]]] = {}
        # the findings of each div met: a profile's walk visits the narrative the base walk parsed
        self._findings: dict[str, list[tuple[Rule, str]]] = {}

    @staticmethod
    def relevant(_element: dict[str, Any], code: str | None) -> bool:
        """Only Narrative and xhtml values are checked (see StructureChecker)."""
        return code in ("Narrative", "xhtml")

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        if visit.code == "Narrative" and isinstance(visit.value, dict):
            yield from _controls(visit)
            return
        if visit.code != "xhtml" or not isinstance(visit.value, str) or not visit.value.strip():
            return  # missing or non-string values are the structure check's
        where = {"path": visit.path, "expression": visit.expression}
        findings = self._findings.get(visit.value)
        if findings is None:
            findings = self._findings[visit.value] = list(xhtml_findings(visit.value))
        for rule_, message in findings:
            yield rule_.issue(message, **where)
        if "#" in visit.value and _LOCAL_LINK.search(visit.value):  # (no '#', no local link: a quick scan)
            yield from self._local_links(visit, where)

    def _local_links(self, visit: Visit, where: dict[str, Any]) -> Iterator[Issue]:
        """``<a href="#x">`` and ``<img src="#x">`` point at an id in the resource (an element,
        a contained resource, the narrative itself) or, in a Bundle, at an entry's resource."""
        ids: frozenset[str] | None = None
        anchors: frozenset[str] | None = None
        for kind, target in _LOCAL_LINK.findall(visit.value):
            if not target:
                continue
            if ids is None:
                ids = self._ids(visit.resource, visit.top)
            if kind == "href" and target not in ids and anchors is None:
                # as HL7's validator (countTargetMatches): a link may point at an <a name> anchor in any
                # narrative of the resource, or of the Bundle it is in when the resource has none
                anchors = self._anchors_in(visit.resource) | (self._anchors_in(visit.top)
                                                              if visit.top is not visit.resource else frozenset())
            if target not in ids and not (kind == "href" and anchors and target in anchors):
                what = "Image source" if kind == "src" else "Hyperlink"
                yield UNRESOLVED_LINK.issue(f"{what} '#{target}' in the narrative does not resolve: nothing in the "
                                            "resource has that id", **where)

    def _ids(self, resource: dict[str, Any], top: dict[str, Any]) -> frozenset[str]:
        """The ids a local link in ``resource`` may name (and, in a Bundle, its entries' resource ids)."""
        if self._targets is not None and self._targets[0] is resource and self._targets[1] is top:
            return self._targets[2]
        ids = ids_in(resource)
        if top is not resource and top.get("resourceType") == "Bundle":
            ids = ids | {str((e.get("resource") or {}).get("id")) for e in top.get("entry") or []
                         if isinstance(e, dict) and isinstance(e.get("resource"), dict)}
        self._targets = (resource, top, ids)
        return ids

    def _anchors_in(self, resource: dict[str, Any]) -> frozenset[str]:
        """``_anchors_in``, once per resource this checker meets (its object kept, so the id stays its own)."""
        found = self._anchors.get(id(resource))
        if found is None or found[0] is not resource:
            found = self._anchors[id(resource)] = (resource, _anchors_in(resource))
        return found[1]


def _anchors_in(resource: dict[str, Any]) -> frozenset[str]:
    """The ``<a name>`` anchors of every narrative in a resource (its contained resources and,
    for a Bundle, its entries included)."""
    return frozenset(name for _div, text in string_members(resource, _NARRATIVE)
                     for name in _ANCHOR_NAME.findall(text))


_NARRATIVE = frozenset({"div"})


def xhtml_findings(xhtml: str) -> Iterator[tuple[Rule, str]]:
    """What txt-1 and txt-2 find in a narrative div: (rule, message) pairs. FHIRPath's
    ``htmlChecks()`` is true exactly when there are none."""
    if "<!" in xhtml and _DOCTYPE.search(xhtml):
        yield MALFORMED, ("Malformed XHTML: the narrative carries a DOCTYPE declaration, which is not allowed "
                          "(DTD entities are how XXE attacks work); nothing in it was expanded or fetched")
        return
    entity = _ENTITY.search(xhtml)
    if entity:
        yield ENTITY, f"Invalid entity in the XHTML ('&{entity.group(1)};')"
        return
    try:
        root = etree.fromstring(xhtml.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError as exc:
        yield MALFORMED, f"The narrative is not well-formed XHTML: {exc.msg}"
        return
    if root.tag != f"{{{XHTML_NS}}}div":
        yield NOT_A_DIV, (f"The narrative root must be a div in the XHTML namespace ({XHTML_NS}), "
                          f"not {_name(root.tag)}")
    yield from _content(root)
    if not any(text and not text.isspace() for text in root.itertext()) and root.find(f".//{{{XHTML_NS}}}img") is None:
        yield EMPTY, "Constraint failed: txt-2: 'The narrative SHALL have some non-whitespace content'"


def _controls(visit: Visit) -> Iterator[Issue]:
    """The profile's narrative controls on this Narrative element (extensions on its definition)."""
    controls = {str(e.get("url")): e.get("valueCode") for e in visit.element.get("extension") or [] if isinstance(e, dict)}
    language, source = controls.get(LANGUAGE_CONTROL), controls.get(SOURCE_CONTROL)
    div = visit.value.get("div")
    if not (language or source) or not isinstance(div, str):
        return
    try:
        root = etree.fromstring(div.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError:
        return  # the div's own check reports it
    where = {"path": visit.path, "expression": visit.expression}
    profile = "this profile"
    if language:
        yield from _language_sections(root, str(language), visit.resource.get("language"), profile, where)
    if source:
        for text in _unsourced_texts(root):
            yield CONTROL.issue(f"The xhtml node at '{text}' does not have a class attribute to indicate its source "
                                f"(boilerplate, generated, or original) and this is required by {profile}", **where)


def _language_sections(root: etree._Element, control: str, resource_language: Any, profile: str,
                       where: dict[str, object]) -> Iterator[Issue]:
    sections = [child.get("lang") or child.get("{http://www.w3.org/XML/1998/namespace}lang")
                for child in root if isinstance(child.tag, str)]
    languages = sorted({lang for lang in sections if lang})
    if control == "_no" and languages:
        yield CONTROL.issue(f"The xhtml has some language sections ({', '.join(languages)}), but language sections are "
                            f"prohibited in this context by {profile}", **where)
    elif control == "_yes" and not languages:
        yield CONTROL.issue(f"The xhtml has no language sections, but language sections are required in this context "
                            f"by {profile}", **where)
    elif control == "_resource" and isinstance(resource_language, str) and resource_language not in languages:
        yield CONTROL.issue(f"{profile} requires a section in the narrative for the resource language "
                            f"({resource_language}), but it was not found", **where)
    elif not control.startswith("_") and control not in languages:
        yield CONTROL.issue(f"{profile} requires a section in the narrative for the language {control}, but it was "
                            "not found", **where)


def _unsourced_texts(root: etree._Element) -> Iterator[str]:
    """Texts with no element between them and the root that says its source by a class."""
    def sourced(element: etree._Element) -> bool:
        while element is not None and element is not root:
            if SOURCE_CLASSES & set((element.get("class") or "").split()):
                return True
            element = element.getparent()
        return False

    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element.text and element.text.strip() and not sourced(element):
            yield " ".join(element.text.split())
        for child in element:
            if child.tail and child.tail.strip() and not sourced(element):
                yield " ".join(child.tail.split())


def _content(root: etree._Element) -> Iterator[tuple[Rule, str]]:
    # tags and attribute names are compared as lxml spells them ('{ns}local', or a bare name for an
    # attribute in no namespace); a QName is made only for a message
    for node in root.iter():
        tag = node.tag
        if not isinstance(tag, str):
            continue  # comments and processing instructions
        if tag not in _ALLOWED_TAGS:
            yield ELEMENT, f"Invalid element name in the XHTML ('{etree.QName(node).localname}')"
            continue
        for attribute, value in node.items():
            if attribute in ALLOWED_ATTRIBUTES:
                if (attribute == "href" or attribute == "src") and _SCRIPT_URL.match(value):
                    yield ATTRIBUTE, (f"A script URL is not allowed in the XHTML ('{attribute}' on "
                                      f"'{etree.QName(node).localname}')")
            elif attribute not in _XML_ATTRIBUTES:
                yield ATTRIBUTE, (f"Invalid attribute name in the XHTML ('{etree.QName(attribute).localname}' on "
                                  f"'{etree.QName(node).localname}')")


def _name(tag: str) -> str:
    return etree.QName(tag).localname
