"""SearchParameter: its code, its expression against its base types, and its derivation.

What HL7's validator checks of a SearchParameter: a code without the characters that mean
something in a search URL (``.``, ``$``, ``|``); an expression whose paths start at one of the
resource types the parameter is for (``base``); and, when it says it is derived from another
SearchParameter (``derivedFrom``, resolved among the loaded definitions), the same type, bases
that the original has too, and an expression that selects the same elements for those bases. A
composite parameter has at least two components.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..issues import Issue, Path
from ..rules import declared
from .definitions import Definitions
from .visit import Visit

BAD_CODE = declared("FHIR-SP-001")
EXPRESSION_BASE = declared("FHIR-SP-002")
DERIVED_NOT_FOUND = declared("FHIR-SP-003")
DERIVATION = declared("FHIR-SP-004")
DERIVED_EXPRESSION = declared("FHIR-SP-005")
COMPOSITE = declared("FHIR-SP-006")

_BASE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/searchparameter-base-type"
_ABSTRACT = {"Resource", "DomainResource"}
_OPERATORS = re.compile(r"\s(?:as|is|and|or|xor|implies|in|contains|div|mod)\s|[=<>!~+*/&-]")


def _strings(values: Any) -> list[str]:
    return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []


def split_union(expression: str) -> list[str]:
    """The top-level terms of a FHIRPath union (``a | b``), outside parentheses and strings."""
    terms, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(expression):
        if quote:
            if ch == quote and expression[i - 1] != "\\":
                quote = ""
        elif ch in "'`":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "|" and depth == 0:
            terms.append(expression[start:i])
            start = i + 1
    terms.append(expression[start:])
    return [_unwrap(t.strip()) for t in terms]


def _unwrap(term: str) -> str:
    while term.startswith("(") and term.endswith(")") and _balanced(term[1:-1]):
        term = term[1:-1].strip()
    return term


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _head(term: str) -> str:
    match = re.match(r"[A-Za-z_][A-Za-z0-9_]*", term)
    return match.group(0) if match else ""


class SearchParameterChecker:
    """An element check on SearchParameter resources."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions

    @staticmethod
    def relevant(element: dict[str, Any], _code: str | None) -> bool:
        """Only a resource's root element is visited with the resource itself (see StructureChecker)."""
        return "." not in element.get("path", "")

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        sp = visit.value
        if visit.value is not visit.resource or not isinstance(sp, dict) or sp.get("resourceType") != "SearchParameter":
            return
        here: tuple[Path, str] = (visit.path, visit.expression)
        code = sp.get("code")
        if isinstance(code, str):
            for ch in ".$|":
                if ch in code:
                    yield BAD_CODE.issue(f"The code '{code}' contains '{ch}', which has a meaning of its own in "
                                         "search URLs, so searches with it will be misread", path=here[0],
                                         expression=here[1])
        expression = sp.get("expression")
        bases = self._bases(sp)
        if isinstance(expression, str) and bases:
            yield from self._expression(expression, bases, (*visit.path, "expression"), f"{visit.expression}.expression")
        derived_from = sp.get("derivedFrom")
        if isinstance(derived_from, str) and derived_from:
            yield from self._derivation(sp, derived_from, here)
        if sp.get("type") == "composite" and len([c for c in sp.get("component") or [] if isinstance(c, dict)]) < 2:
            yield COMPOSITE.issue("A SearchParameter of type 'composite' must define two or more components",
                                  path=here[0], expression=here[1])

    @staticmethod
    def _bases(sp: dict[str, Any]) -> list[str]:
        """The base types; an element's searchparameter-base-type extension names a type R4 lacks."""
        bases = _strings(sp.get("base"))
        for i, extra in enumerate(sp.get("_base") or [] if isinstance(sp.get("_base"), list) else []):
            for ext in (extra or {}).get("extension") or [] if isinstance(extra, dict) else []:
                if isinstance(ext, dict) and ext.get("url") == _BASE_EXTENSION and isinstance(ext.get("valueCode"), str):
                    if i < len(bases):
                        bases[i] = ext["valueCode"]
        return bases

    def _expression(self, expression: str, bases: list[str], path: Path, where: str) -> Iterator[Issue]:
        types = self.definitions.resource_types
        allowed = set(bases) | (_ABSTRACT if _ABSTRACT & set(bases) else set())
        for term in split_union(expression):
            head = _head(term)
            if head in types | _ABSTRACT and head not in allowed and not (_ABSTRACT & set(bases)):
                yield EXPRESSION_BASE.issue(
                    f"Error in the search expression '{expression}': the name '{head}' is not valid for any of the "
                    f"types the parameter is for ({', '.join(bases)})", path=path, expression=where)
                return

    def _derivation(self, sp: dict[str, Any], url: str, here: tuple[Path, str]) -> Iterator[Issue]:
        original = self.definitions.get(url)
        if original is None or original.get("resourceType") != "SearchParameter":
            yield DERIVED_NOT_FOUND.issue(f"The SearchParameter {url} it derives from could not be found, so the "
                                          "derivation was not checked", path=here[0], expression=here[1])
            return
        their_bases = _strings(original.get("base"))
        for base in _strings(sp.get("base")):
            if base not in their_bases and "Resource" not in their_bases:
                yield DERIVATION.issue(f"The resource type {base} is not listed as a base in the SearchParameter "
                                       f"this is derived from ({url})", path=here[0], expression=here[1])
        if "type" in sp and sp.get("type") != original.get("type"):
            yield DERIVATION.issue(f"The type {sp.get('type')} is different from the type {original.get('type')} of "
                                   f"the SearchParameter this is derived from ({url})", path=here[0], expression=here[1])
        ours, theirs = sp.get("expression"), original.get("expression")
        if isinstance(ours, str) and isinstance(theirs, str) and ours != theirs:
            bases = _strings(sp.get("base"))
            if self._canonical(ours, bases) != self._canonical(theirs, bases):
                yield DERIVED_EXPRESSION.issue(
                    f"The expression '{ours}' is not compatible with the expression '{theirs}' of the SearchParameter "
                    f"{url} it derives from, which suggests the derivation is not valid", path=here[0],
                    expression=here[1])

    def _canonical(self, expression: str, bases: list[str]) -> str:
        """The union's terms for ``bases`` (terms on other resource types left out), sorted."""
        terms = split_union(expression)
        if any(_OPERATORS.search(re.sub(r"'[^']*'", "''", t)) for t in terms):
            return " ".join(expression.split())
        kept = [" ".join(t.split()) for t in terms
                if _head(t) not in self.definitions.resource_types or _head(t) in bases]
        return " | ".join(sorted(kept))
