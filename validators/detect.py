"""Detection: which standard a parsed document follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lxml import etree

from .issues import Issue
from .load import INPUT_UNKNOWN, Document

FHIR_NS = "http://hl7.org/fhir"

Family = Literal["fhir", "message", "config", "live", "unknown"]

def _message_namespaces() -> dict[str, str]:
    """Namespace -> human title of every Norwegian message standard samsvar knows, and of the
    wrappers it unpacks (NAV fellesformat, SOAP envelopes)."""
    from .messages.standards import STANDARDS
    from .messages.wrappers import WRAPPER_NAMESPACES

    return {**{namespace: standard.title for namespace, standard in STANDARDS.items()}, **WRAPPER_NAMESPACES}


MESSAGE_NAMESPACES: dict[str, str] = _message_namespaces()
MESSAGE_NAMESPACE_PREFIXES = ("http://www.kith.no/xmlstds/", "http://ehelse.no/xmlstds/", "http://www.npr.no/xmlstds")


@dataclass(frozen=True, slots=True)
class Kind:
    family: Family
    name: str

    def __str__(self) -> str:
        return f"{self.family}:{self.name}"


UNKNOWN = Kind("unknown", "unknown")


def detect(document: Document) -> tuple[Kind, list[Issue]]:
    """The kind of ``document``, or UNKNOWN with a fatal issue saying why."""
    if document.format == "json":
        tree = document.tree
        if isinstance(tree, dict) and isinstance(tree.get("resourceType"), str):
            return Kind("fhir", tree["resourceType"]), []
        if isinstance(tree, dict):
            why = "a JSON object without a 'resourceType' property is not a FHIR resource"
        else:
            why = f"a JSON {type(tree).__name__.replace('list', 'array')} is not a FHIR resource (expected an object)"
        return UNKNOWN, [INPUT_UNKNOWN.issue(f"Unsupported artifact: {why}.", path=())]
    qname = etree.QName(document.tree)
    if qname.namespace == FHIR_NS:
        return Kind("fhir", qname.localname), []
    if qname.namespace in MESSAGE_NAMESPACES:
        return Kind("message", MESSAGE_NAMESPACES[qname.namespace]), []
    if qname.namespace and qname.namespace.startswith(MESSAGE_NAMESPACE_PREFIXES):
        # another version of a KITH / e-helse standard: the schema layer can still check it
        return Kind("message", f"{qname.localname} ({qname.namespace})"), []
    namespace = qname.namespace or "no namespace"
    return UNKNOWN, [INPUT_UNKNOWN.issue(
        f"Unsupported standard: root element <{qname.localname}> in {namespace} is neither FHIR "
        f"({FHIR_NS}) nor a supported Norwegian message standard.", path=())]
