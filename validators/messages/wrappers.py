"""Wrappers around a message: NAV's fellesformat (``EI_fellesformat``) and SOAP envelopes.

Messages to and from NAV travel inside NAV's *fellesformat*: a root ``EI_fellesformat`` that holds
the MsgHead message (or an AppRec) together with blocks written by NAV's reception
(``MottakenhetBlokk``: the log id, when it was received, the sender as identified by the digital
signature). Web-service channels wrap a MsgHead in a SOAP 1.1 or 1.2 ``Envelope/Body``.

:func:`unwrap` finds the message inside such a wrapper, so that the message is validated as
usual (schema layer, rules), and checks the wrapper's own fields that samsvar can judge offline:
a wrapper with no message in it is an error (nothing to check is not a pass), and the national
identifiers NAV's reception records (fødselsnummer and organisasjonsnummer from the signature)
must be valid. The fellesformat's attributes and their meaning follow NAV's published schemas
(``Fellesformat2_any.xsd``, ``NAV_Fellesformat-v1_eia2.xsd``); their types are the XML Schema
layer's when those schemas are in an installed pack.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from ..identifiers import PersonKind, check_orgnr, check_person_number
from ..issues import Issue
from ..national_ids import RULE_BY_PROBLEM
from ..rules import declared
from .standards import MSGHEAD_NS, STANDARDS, element_path

FELLESFORMAT_NAMESPACES = {
    "http://www.nav.no/xml/eiff/2/": "NAV fellesformat 2",
    "http://www.trygdeetaten.no/xml/eiff/1/": "NAV fellesformat 1",
}
SOAP_NAMESPACES = {
    "http://schemas.xmlsoap.org/soap/envelope/": "SOAP 1.1",
    "http://www.w3.org/2003/05/soap-envelope": "SOAP 1.2",
}
WRAPPER_NAMESPACES = {**FELLESFORMAT_NAMESPACES, **SOAP_NAMESPACES}

EMPTY_WRAPPER = declared("MSG-WRAP-001")
SEVERAL_MESSAGES = declared("MSG-WRAP-002")

_SIGNATURE_PERSONS = frozenset({PersonKind.FNR, PersonKind.DNR})
"""A person identified by an enterprise or personal certificate: a fødselsnummer or D-nummer."""
_RECEPTION_PERSON_ATTRIBUTES = ("avsenderFnrFraDigSignatur",)
_RECEPTION_ORGANISATION_ATTRIBUTES = ("orgNummer", "avsenderOrgNrFraDigSignatur")


@dataclass(slots=True)
class Unwrapped:
    """The message inside a wrapper (None: the document is no wrapper, or holds no message)."""

    wrapper: str | None
    message: etree._Element | None
    issues: list[Issue] = field(default_factory=list)


def is_wrapper(root: etree._Element) -> bool:
    return (etree.QName(root).namespace or "") in WRAPPER_NAMESPACES


def wrapper_title(root: etree._Element) -> str | None:
    return WRAPPER_NAMESPACES.get(etree.QName(root).namespace or "")


def _is_message(element: etree._Element) -> bool:
    namespace = etree.QName(element).namespace or ""
    standard = STANDARDS.get(namespace)
    return standard is not None and standard.kind in ("envelope", "receipt")


def unwrap(root: etree._Element) -> Unwrapped:
    """The message of a fellesformat or SOAP wrapper, with the wrapper's own issues."""
    title = wrapper_title(root)
    if title is None:
        return Unwrapped(None, root)
    if title in SOAP_NAMESPACES.values():
        body = root.find(f"{{{etree.QName(root).namespace}}}Body")
        holder = body if body is not None else root
    else:
        holder = root
    found = [child for child in holder if isinstance(child.tag, str) and _is_message(child)]
    where = {"expression": element_path(holder), "line": holder.sourceline, "column": 1}
    issues: list[Issue] = []
    if not found:
        issues.append(EMPTY_WRAPPER.issue(
            f"The {title} wrapper holds no MsgHead message or AppRec ({MSGHEAD_NS} or an AppRec namespace) "
            "as a child of its " + ("Body" if holder is not root else "root") + "; there is no message to validate.",
            **where))
    elif len(found) > 1:
        issues.append(SEVERAL_MESSAGES.issue(
            f"The {title} wrapper holds {len(found)} messages; a wrapper carries one. Only the first is validated.",
            **where))
    if title in FELLESFORMAT_NAMESPACES.values():
        issues.extend(_reception_issues(root))
    return Unwrapped(title, found[0] if found else None, issues)


def _reception_issues(root: etree._Element) -> list[Issue]:
    """The national identifiers NAV's reception writes into ``MottakenhetBlokk``."""
    issues: list[Issue] = []
    for block in root.iter(f"{{{etree.QName(root).namespace}}}MottakenhetBlokk"):
        where = {"expression": element_path(block), "line": block.sourceline, "column": 1}
        for name in _RECEPTION_PERSON_ATTRIBUTES:
            value = block.get(name)
            if value:  # optional, and empty where the reception had no signature to read it from
                for problem in check_person_number(value, _SIGNATURE_PERSONS):
                    issues.append(RULE_BY_PROBLEM[problem.kind].issue(
                        f"MottakenhetBlokk/@{name}: " + (problem.message if problem.kind == "synthetic" else
                                                        f"invalid fødselsnummer or D-nummer: {problem.message}"),
                        **{**where, "expression": f"{where['expression']}/@{name}"}))
        for name in _RECEPTION_ORGANISATION_ATTRIBUTES:
            value = block.get(name)
            if value:
                for problem in check_orgnr(value):
                    issues.append(RULE_BY_PROBLEM[problem.kind].issue(
                        f"MottakenhetBlokk/@{name}: invalid organisasjonsnummer: {problem.message}",
                        **{**where, "expression": f"{where['expression']}/@{name}"}))
    return issues
