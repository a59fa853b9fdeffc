"""References and Bundles: target types, resolution inside a Bundle, fullUrl rules.

A Bundle is indexed once (fullUrl and ``Type/id`` to entry), so checking every reference of a
Bundle stays linear in its size.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..issues import Issue, Severity
from ..rules import rule
from .definitions import Definitions
from .visit import Visit

WRONG_TARGET = rule(
    "FHIR-REF-001", "Reference to a resource type the element does not allow", Severity.ERROR,
    """
    A Reference element lists the resource types it may point to (``targetProfile``). The type
    in the reference URL, or of the Bundle entry it resolves to, is not one of them.
    """,
    bad='{"resourceType": "Observation", "subject": {"reference": "Organization/1"}, ...}',
    good='{"resourceType": "Observation", "subject": {"reference": "Patient/1"}, ...}',
)
FULLURL_NOT_ABSOLUTE = rule(
    "FHIR-BUNDLE-001", "Bundle entry fullUrl is not absolute", Severity.ERROR,
    "Bundle.entry.fullUrl is an absolute URL (or urn:uuid:/urn:oid:), never a relative reference.",
    bad='{"fullUrl": "Patient/1", "resource": {"resourceType": "Patient", "id": "1"}}',
    good='{"fullUrl": "https://fhir.example.no/Patient/1", "resource": {"resourceType": "Patient", "id": "1"}}',
)
FULLURL_MISMATCH = rule(
    "FHIR-BUNDLE-002", "Bundle entry fullUrl does not match its resource", Severity.ERROR,
    "A RESTful fullUrl ends with the resource's type and id; here they differ from the resource.",
    bad='{"fullUrl": "https://fhir.example.no/Patient/2", "resource": {"resourceType": "Patient", "id": "1"}}',
    good='{"fullUrl": "https://fhir.example.no/Patient/1", "resource": {"resourceType": "Patient", "id": "1"}}',
)
CONTAINED_UNREFERENCED = rule(
    "FHIR-REF-002", "Contained resource not referenced", Severity.ERROR,
    """
    dom-3: a contained resource is referenced from elsewhere in its container (``#id``), or it
    refers to the container (``#``). Otherwise it is not part of the record and should be a
    resource of its own.
    """,
    bad='{"resourceType": "Condition", "contained": [{"resourceType": "Practitioner", "id": "p1"}], "subject": {"reference": "Patient/1"}}',
    good='{"resourceType": "Condition", "contained": [{"resourceType": "Practitioner", "id": "p1"}], "asserter": {"reference": "#p1"}}',
)
DUPLICATE_LINK = rule(
    "FHIR-BUNDLE-003", "Bundle link relation repeated", Severity.ERROR,
    "The paging and identity relations (self, first, previous, next, last) occur at most once in Bundle.link.",
    bad='{"resourceType": "Bundle", "type": "searchset", "link": [{"relation": "self", "url": "http://a/1"}, {"relation": "self", "url": "http://a/2"}]}',
    good='{"resourceType": "Bundle", "type": "searchset", "link": [{"relation": "self", "url": "http://a/1"}]}',
)
FULLURL_MISSING = rule(
    "FHIR-BUNDLE-004", "Bundle entry without fullUrl", Severity.ERROR,
    """
    Except in transactions and batches (where new resources may have no identity yet), each
    entry with a resource has a fullUrl: the identity references in the Bundle resolve against.
    """,
    bad='{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient"}}]}',
    good='{"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "urn:uuid:...", "resource": {"resourceType": "Patient"}}]}',
)

_NARRATIVE_LINK = re.compile(r"""(?:href|src)\s*=\s*["']#([^"']+)["']""")
_LITERAL = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$")
_ABSOLUTE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://\S+|urn:(?:uuid|oid):\S+)$")


class BundleIndex:
    """fullUrl and ``Type/id`` of every entry of one Bundle."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.by_url: dict[str, list[dict[str, Any]]] = {}
        for entry in bundle.get("entry") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                continue
            resource = entry["resource"]
            keys = {entry.get("fullUrl")}
            if isinstance(resource.get("resourceType"), str) and isinstance(resource.get("id"), str):
                keys.add(f"{resource['resourceType']}/{resource['id']}")
            for key in keys:
                if isinstance(key, str):
                    self.by_url.setdefault(key, []).append(resource)

    def resolve(self, reference: str) -> list[dict[str, Any]]:
        found = self.by_url.get(reference)
        if found is None:
            match = _LITERAL.search(reference)
            found = self.by_url.get(f"{match.group(1)}/{match.group(2)}", []) if match else []
        return found


class ReferenceChecker:
    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions
        self._indexes: dict[int, tuple[dict[str, Any], BundleIndex]] = {}

    def _index(self, bundle: dict[str, Any]) -> BundleIndex:
        cached = self._indexes.get(id(bundle))
        if cached is None or cached[0] is not bundle:
            cached = (bundle, BundleIndex(bundle))
            self._indexes = {id(bundle): cached}  # one document at a time: keep memory flat
        return cached[1]

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        if visit.code == "Reference" and isinstance(visit.value, dict):
            yield from self._reference(visit)
        elif visit.element.get("path") == "Bundle.entry" and isinstance(visit.value, dict):
            yield from self._entry(visit)
        elif visit.value is visit.resource and isinstance(visit.value, dict):
            if visit.value.get("contained"):
                yield from _contained(visit)
            if visit.value.get("resourceType") == "Bundle":
                yield from _links(visit)

    def _reference(self, visit: Visit) -> Iterator[Issue]:
        reference = visit.value.get("reference")
        if not isinstance(reference, str) or reference.startswith("#"):
            return
        targets = self._targets(visit)
        implied = _LITERAL.search(reference)
        if implied and implied.group(1) in self.definitions.resource_types and targets \
                and implied.group(1) not in targets:
            yield WRONG_TARGET.issue(
                f"The type '{implied.group(1)}' implied by the reference URL {reference} is not a valid Target "
                f"for this element (must be one of [{', '.join(sorted(targets))}])",
                path=visit.path, expression=visit.expression)
            return
        if visit.top.get("resourceType") != "Bundle" or not targets:
            return
        for resolved in self._index(visit.top).resolve(reference)[:1]:
            actual = resolved.get("resourceType")
            if isinstance(actual, str) and actual not in targets:
                yield WRONG_TARGET.issue(
                    f"Matching reference for reference {reference} has resourceType {actual} "
                    f"(must be one of [{', '.join(sorted(targets))}])", path=visit.path, expression=visit.expression)

    def _targets(self, visit: Visit) -> set[str]:
        targets: set[str] = set()
        for type_ in visit.element.get("type") or []:
            if type_.get("code") != "Reference":
                continue
            for profile in type_.get("targetProfile") or []:
                definition = self.definitions.structure_definition(profile.split("|", 1)[0])
                name = str(definition.get("type")) if definition else profile.split("|", 1)[0].rsplit("/", 1)[-1]
                if name in ("Resource", "DomainResource"):
                    return set()
                targets.add(name)
        return targets

    def _entry(self, visit: Visit) -> Iterator[Issue]:
        full_url = visit.value.get("fullUrl")
        resource = visit.value.get("resource")
        if full_url is None and isinstance(resource, dict) and isinstance(resource.get("resourceType"), str) \
                and visit.resource.get("type") not in ("transaction", "batch"):
            yield FULLURL_MISSING.issue(
                "Except for transactions and batches, each entry in a Bundle must have a fullUrl which is the "
                "identity of the resource in the entry", path=visit.path, expression=visit.expression)
        if not isinstance(full_url, str):
            return
        if not _ABSOLUTE.match(full_url):
            yield FULLURL_NOT_ABSOLUTE.issue(f"The fullUrl must be an absolute URL (not '{full_url}')",
                                             path=(*visit.path, "fullUrl"), expression=visit.expression)
            return
        match = _LITERAL.search(full_url)
        if match and full_url.startswith(("http://", "https://")) and isinstance(resource, dict) \
                and match.group(1) in self.definitions.resource_types:
            expected = (resource.get("resourceType"), resource.get("id"))
            if expected != (match.group(1), match.group(2)):
                yield FULLURL_MISMATCH.issue(
                    f"The fullUrl '{full_url}' looks like a RESTful server URL, so it must end with the correct "
                    f"type and id (/{expected[0]}/{expected[1]})", path=(*visit.path, "fullUrl"),
                    expression=visit.expression)


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON tree (references, canonicals and uris among them)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _contained(visit: Visit) -> Iterator[Issue]:
    """dom-3, by one pass over the resource's strings rather than one FHIRPath search per resource."""
    local: set[str] = set()
    for text in _strings(visit.value):
        if text.startswith("#"):
            local.add(text)
        elif "<" in text:  # a narrative's links and images count as references (as in FHIR R5's dom-3)
            local.update("#" + target for target in _NARRATIVE_LINK.findall(text))
    for i, contained in enumerate(visit.value.get("contained") or []):
        if not isinstance(contained, dict) or not isinstance(contained.get("id"), str):
            continue
        if f"#{contained['id']}" in local or any(text == "#" for text in _strings(contained)):
            continue
        yield CONTAINED_UNREFERENCED.issue(
            f"The contained resource '{contained['id']}' is not referenced to from elsewhere in the containing "
            "resource nor does it refer to the containing resource (dom-3)",
            path=(*visit.path, "contained", i), expression=f"{visit.expression}.contained[{i}]")


_UNIQUE_RELATIONS = frozenset({"self", "first", "previous", "prev", "next", "last"})


def _links(visit: Visit) -> Iterator[Issue]:
    seen: set[str] = set()
    for i, link in enumerate(visit.value.get("link") or []):
        relation = link.get("relation") if isinstance(link, dict) else None
        if relation not in _UNIQUE_RELATIONS:
            continue  # other relations (a document's stylesheets) may repeat
        if relation in seen:
            yield DUPLICATE_LINK.issue(f"The link relationship type '{relation}' can only occur once",
                                       path=(*visit.path, "link", i), expression=f"{visit.expression}.link[{i}]")
        seen.add(relation)
