"""Identities in messages: identifier values and the patient.

Identifier values (``Ident/Id`` by ``Ident/TypeId/@V``, ``OffId`` by ``TypeOffId``, AppRec's
``Id``/``TypeId`` and ``AdditionalId``) raise the shared ``NO-ID-*`` rules of
:mod:`samsvar.validators.national_ids`, so that a wrong fødselsnummer is the same finding in a
FHIR resource and in a message. The envelope's patient must be identified (MSG-RULE-008), and a
payload's patient must be the envelope's (MSG-RULE-009).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from lxml import etree

from ..identifiers import IDENTIFIER_SYSTEMS, IdentifierScheme, PersonKind, Problem, check_person_number
from ..issues import Issue
from ..national_ids import (
    ID_CHECKSUM, ID_DATE, ID_FORMAT, ID_KIND, ID_NO_VALUE, ID_SYNTHETIC, RULE_BY_PROBLEM,
)
from ..rules import declared
from .message import Message, at, child, children, descendants, local, text

PATIENT_UNIDENTIFIED = declared("MSG-RULE-008")
PATIENT_MISMATCH = declared("MSG-RULE-009")
IDENTIFIER_RULES = (ID_FORMAT, ID_DATE, ID_CHECKSUM, ID_KIND, ID_SYNTHETIC, ID_NO_VALUE)
"""What :func:`identifiers` raises."""
PERSON_ID_TYPES = frozenset({"FNR", "DNR", "HNR", "FHN"})
"""Person number kinds (8116) that identify a patient nationally."""


# -- identifiers -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class IdentifierPair:
    """One identifier: its value element and its type element (``Ident/Id`` + ``Ident/TypeId``)."""

    value_element: etree._Element | None
    type_element: etree._Element
    holder: etree._Element

    @property
    def type_code(self) -> str:
        return (self.type_element.get("V") or "").strip()

    @property
    def value(self) -> str:
        return text(self.value_element)


_PAIRS = (("Id", "TypeId"), ("OffId", "TypeOffId"))
"""(value, type) children that form an identifier on any element; ``AdditionalId`` uses Id/Type."""


_TYPE_TAGS = ("{*}TypeId", "{*}TypeOffId", "{*}Type")


def identifier_pairs(scope: etree._Element) -> Iterator[IdentifierPair]:
    """Every identifier at or below ``scope``: ``Ident``, AppRec ``Inst``/``HCPerson``/``AdditionalId``,
    KITH 1.x ``OffId``/``TypeOffId``; in document order of the elements that hold them."""
    holders: dict[etree._Element, None] = {}
    for type_element in scope.iter(*_TYPE_TAGS):  # only parents of a type element can hold one
        if type_element is not scope:
            holders[type_element.getparent()] = None
    if any(ancestor in holders for holder in holders for ancestor in holder.iterancestors()):
        # a holder inside another (AppRec Inst > HCPerson): order them as the document does
        holders = {node: None for node in scope.iter() if node in holders}
    for node in holders:
        pairs = (("Id", "Type"),) if local(node) == "AdditionalId" else _PAIRS
        for value_name, type_name in pairs:
            type_element = child(node, type_name)
            if type_element is not None:
                yield IdentifierPair(child(node, value_name), type_element, node)


def _persons(*kinds: PersonKind) -> Callable[[str], list[Problem]]:
    allowed = frozenset(kinds)
    return lambda value: check_person_number(value, allowed)


_OID = "urn:oid:2.16.578.1.12.4.1"
SCHEMES: dict[str, IdentifierScheme] = {
    "FNR": IDENTIFIER_SYSTEMS[f"{_OID}.4.1"],
    "DNR": IDENTIFIER_SYSTEMS[f"{_OID}.4.2"],
    "FHN": IDENTIFIER_SYSTEMS[f"{_OID}.4.3"],
    "HNR": IdentifierScheme("H-nummer", _persons(PersonKind.HNR), person=True),
    "HPR": IDENTIFIER_SYSTEMS[f"{_OID}.4.4"],
    "DUF": IDENTIFIER_SYSTEMS[f"{_OID}.4.5"],
    "ENH": IDENTIFIER_SYSTEMS[f"{_OID}.4.101"],
    "RSH": IDENTIFIER_SYSTEMS[f"{_OID}.4.102"],
    "AKO": IDENTIFIER_SYSTEMS[f"{_OID}.4.107"],
    "HER": IDENTIFIER_SYSTEMS[f"{_OID}.2"],
}
"""Identifier checks by ``TypeId/@V`` (Volven 9051 for organisations, 8116 for persons)."""



def identifiers(message: Message) -> Iterator[Issue]:
    """NO-ID-001 to -006: every identifier value passes the checks of its TypeId."""
    for pair in identifier_pairs(message.root):
        scheme = SCHEMES.get(pair.type_code)
        if scheme is None:
            continue
        if not pair.value:
            where = pair.value_element if pair.value_element is not None else pair.holder
            yield ID_NO_VALUE.issue(f"{scheme.name} identifier (TypeId {pair.type_code}) has no value", **at(where))
            continue
        for problem in scheme.check(pair.value):
            chosen = RULE_BY_PROBLEM[problem.kind]
            synthetic = problem.kind == "synthetic"
            message_text = problem.message if synthetic else f"Invalid {scheme.name}: {problem.message}"
            yield chosen.issue(message_text, **at(pair.value_element))


def _patients(message: Message) -> list[etree._Element]:
    found = children(message.header, "Patient")
    for report in children(message.root, "PatientReport"):
        found += children(report, "Patient")
    return found


def _person_ids(patient: etree._Element) -> set[str]:
    return {pair.value for pair in identifier_pairs(patient)
            if pair.holder is patient or pair.holder.getparent() is patient
            if pair.type_code in PERSON_ID_TYPES and pair.value}


def patient_identified(message: Message) -> Iterator[Issue]:
    """MSG-RULE-008: the envelope's patient has an identifier with a value."""
    for patient in _patients(message):
        if not any(text(child(ident, "Id")) for ident in children(patient, "Ident")):
            yield PATIENT_UNIDENTIFIED.issue("The patient has no Ident with a value (fødselsnummer, D-nummer, ...)",
                                             **at(patient))


def _payload_patients(message: Message) -> Iterator[etree._Element]:
    for content in descendants(message.root, "Content"):
        for name in ("Patient", "Pasient"):
            yield from descendants(content, name)


def payload_patient(message: Message) -> Iterator[Issue]:
    """MSG-RULE-009: a payload's patient has the envelope patient's person number."""
    envelope: set[str] = set()
    for patient in _patients(message):
        envelope |= _person_ids(patient)
    if not envelope:
        return
    for patient in _payload_patients(message):
        ids = _person_ids(patient)
        if ids and not ids & envelope:
            yield PATIENT_MISMATCH.issue(f"The payload's patient ({', '.join(sorted(ids))}) is not the envelope's "
                                         f"patient ({', '.join(sorted(envelope))})", **at(patient))
