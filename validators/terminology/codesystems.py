"""A CodeSystem resource as something to look codes up in: displays, designations, properties
and the hierarchy (nested concepts and the ``parent``/``child`` properties), indexed once."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterator


@dataclass
class Concept:
    code: str
    display: str | None = None
    designations: list[tuple[str | None, str]] = field(default_factory=list)
    """(language, value) of each designation."""
    properties: dict[str, list[Any]] = field(default_factory=dict)
    parents: set[str] = field(default_factory=set)
    children: set[str] = field(default_factory=set)


def normalise_display(text: str) -> str:
    """Displays compare case-insensitively, with white space collapsed (as HL7's validator does)."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip().casefold()


class CodeSystemIndex:
    """The concepts of one CodeSystem resource."""

    def __init__(self, resource: dict[str, Any]) -> None:
        self.resource = resource
        self.url = str(resource.get("url", ""))
        self.version = resource.get("version")
        self.language = resource.get("language")
        self.content = resource.get("content", "complete")
        self.case_sensitive = resource.get("caseSensitive", True) is not False
        self.concepts: dict[str, Concept] = {}
        self._folded: dict[str, str] = {}
        self._add(resource.get("concept") or [], None)
        for concept in list(self.concepts.values()):
            # "parent" (FHIR) and "subsumedBy" (the v3 code systems) both name a parent concept
            for parent in [*concept.properties.get("parent", []), *concept.properties.get("subsumedBy", [])]:
                self._link(str(parent), concept.code)
            for child in concept.properties.get("child", []):
                self._link(concept.code, str(child))

    @property
    def complete(self) -> bool:
        """Whether every code of the system is here (so an absent code is not a code)."""
        return self.content == "complete"

    def _add(self, concepts: list[Any], parent: str | None) -> None:
        for raw in concepts:
            if not isinstance(raw, dict) or not isinstance(raw.get("code"), str):
                continue
            concept = Concept(raw["code"], raw.get("display"))
            for designation in raw.get("designation") or []:
                if isinstance(designation, dict) and isinstance(designation.get("value"), str):
                    concept.designations.append((designation.get("language"), designation["value"]))
            for prop in raw.get("property") or []:
                if isinstance(prop, dict) and isinstance(prop.get("code"), str):
                    value = next((v for k, v in prop.items() if k.startswith("value")), None)
                    concept.properties.setdefault(prop["code"], []).append(value)
            self.concepts[concept.code] = concept
            self._folded.setdefault(concept.code.casefold(), concept.code)
            if parent is not None:
                self._link(parent, concept.code)
            self._add(raw.get("concept") or [], concept.code)

    def _link(self, parent: str, child: str) -> None:
        if parent in self.concepts and child in self.concepts:
            self.concepts[parent].children.add(child)
            self.concepts[child].parents.add(parent)

    def get(self, code: str) -> Concept | None:
        found = self.concepts.get(code)
        if found is None and not self.case_sensitive:
            real = self._folded.get(code.casefold())
            found = self.concepts.get(real) if real else None
        return found

    def descendants(self, code: str) -> Iterator[str]:
        seen: set[str] = set()
        stack = list(self.concepts[code].children) if code in self.concepts else []
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                yield current
                stack.extend(self.concepts[current].children)

    def ancestors(self, code: str) -> Iterator[str]:
        seen: set[str] = set()
        stack = list(self.concepts[code].parents) if code in self.concepts else []
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                yield current
                stack.extend(self.concepts[current].parents)

    def is_a(self, code: str, ancestor: str) -> bool:
        return code == ancestor or ancestor in set(self.ancestors(code))

    def displays(self, code: str) -> list[tuple[str | None, str]]:
        """Every acceptable display: the concept's (in the system's language) and its designations."""
        concept = self.get(code)
        if concept is None:
            return []
        found = [(self.language, concept.display)] if concept.display else []
        return found + concept.designations
