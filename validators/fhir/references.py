"""References and Bundles: target types, resolution inside a Bundle, fullUrl rules.

A Bundle is indexed once (fullUrl and ``Type/id`` to entry), so checking every reference of a
Bundle stays linear in its size.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator

from ..issues import Issue, Severity
from ..rules import declared
from .definitions import Definitions
from .visit import Visit

WRONG_TARGET = declared("FHIR-REF-001")
FULLURL_NOT_ABSOLUTE = declared("FHIR-BUNDLE-001")
FULLURL_MISMATCH = declared("FHIR-BUNDLE-002")
CONTAINED_UNREFERENCED = declared("FHIR-REF-002")
DUPLICATE_LINK = declared("FHIR-BUNDLE-003")
FULLURL_MISSING = declared("FHIR-BUNDLE-004")
NOT_IN_BUNDLE = declared("FHIR-BUNDLE-005")
UNREACHABLE = declared("FHIR-BUNDLE-006")
AGGREGATION = declared("FHIR-REF-003")
TARGET_PROFILE = declared("FHIR-REF-004")
AMBIGUOUS = declared("FHIR-BUNDLE-007")
UNRESOLVED = declared("FHIR-REF-006")

REFERENCE_POLICIES = ("ignore", "exists", "type", "valid")
"""What is asked of a reference to a resource outside the document (HL7's reference validation
policy): nothing (``IGNORE``, the default), that it resolves (``CHECK_EXISTS``), and that its
target has an allowed type (``CHECK_EXISTS_AND_TYPE``) and conforms to the target profiles
(``CHECK_VALID``). Outside resources resolve only to the reference targets given (samsvar does
not fetch)."""
_SELF_CONTAINED = ("document", "message")
_NO_FULLURL_NEEDED = ("transaction", "batch", "transaction-response", "batch-response")
"""New resources in a transaction have no identity yet; responses echo what the server returns."""

_RELATIVE = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})")
_RESTFUL_BASE = re.compile(r"^(https?://.+/)[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")
_HISTORY = re.compile(r"/_history/([A-Za-z0-9\-.]{1,64})$")
_NARRATIVE_LINK = re.compile(r"""(?:href|src)\s*=\s*["']#([^"']+)["']""")
_LITERAL = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$")
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
"""An absolute URI (RFC 3986: a scheme, a colon and more), as HL7's validator tells them apart."""


class BundleIndex:
    """The entries of one Bundle by fullUrl (and by ``Type/id``, to explain near misses).

    Resolution follows the fullUrl rules of FHIR R4 (bundle.html#references): an absolute
    reference matches a fullUrl; a relative ``Type/id`` resolves against the base of the
    referring entry's RESTful fullUrl. Where the referrer has a ``urn:uuid`` fullUrl, a relative
    reference matches ``urn:uuid:<id>``, as HL7's validator does; where it has no fullUrl, the
    entry whose fullUrl ends with ``/Type/id`` or whose resource has that type and id. A
    versioned reference (``.../_history/2``) is matched without its version, then by
    ``meta.versionId``.
    """

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.by_full_url: dict[str, list[dict[str, Any]]] = {}
        self.by_type_id: dict[str, list[dict[str, Any]]] = {}
        self.by_tail: dict[str, list[dict[str, Any]]] = {}
        self.entry_of: dict[int, int] = {}
        """id(resource) -> entry index."""
        for i, entry in enumerate(bundle.get("entry") or []):
            if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                continue
            resource = entry["resource"]
            self.entry_of[id(resource)] = i
            full_url = entry.get("fullUrl")
            if isinstance(full_url, str):
                self.by_full_url.setdefault(_unversioned(full_url), []).append(resource)
                tail = _LITERAL.search(full_url)
                if tail:
                    self.by_tail.setdefault(f"{tail.group(1)}/{tail.group(2)}", []).append(resource)
            if isinstance(resource.get("resourceType"), str) and isinstance(resource.get("id"), str):
                self.by_type_id.setdefault(f"{resource['resourceType']}/{resource['id']}", []).append(resource)

    def resolve(self, reference: str, referrer: str | None = None) -> list[dict[str, Any]]:
        version = _HISTORY.search(reference)
        found = self._resolve(_unversioned(reference), referrer)
        if version is None:
            return found
        return [r for r in found if isinstance(r.get("meta"), dict) and r["meta"].get("versionId") == version.group(1)]

    def _resolve(self, reference: str, referrer: str | None) -> list[dict[str, Any]]:
        if _ABSOLUTE.match(reference):
            return self.by_full_url.get(reference, [])
        match = _RELATIVE.fullmatch(reference)
        if match is None:
            return []
        if isinstance(referrer, str):
            base = _RESTFUL_BASE.match(referrer)
            if base:
                return self.by_full_url.get(base.group(1) + reference, [])
            return self.by_full_url.get(f"urn:uuid:{match.group(2)}", [])
        return self.by_tail.get(reference) or self.by_type_id.get(reference, [])

    def resolve_from(self, reference: str, referrer: str | None, source: dict[str, Any]) -> list[dict[str, Any]]:
        """Resolution as a document's links are followed (HL7's ``resolveInBundle``, bundle.html#references):
        an absolute reference by fullUrl; a relative one only against the base of the referring
        entry's RESTful fullUrl, and only where that fullUrl ends with the referrer's own type and
        id. From a ``urn:uuid`` fullUrl a relative reference points to the server the Bundle came
        from, not into the Bundle."""
        if _ABSOLUTE.match(_unversioned(reference)):
            return self.resolve(reference)
        own = f"{source.get('resourceType')}/{source.get('id')}"
        if not isinstance(referrer, str) or not _RESTFUL_BASE.match(referrer) or not referrer.endswith("/" + own):
            return []
        return self.resolve(reference, referrer)

    def near_misses(self, reference: str) -> int:
        """How many resources have the reference's type and id but another identity."""
        match = _RELATIVE.fullmatch(_unversioned(reference))
        return len(self.by_type_id.get(f"{match.group(1)}/{match.group(2)}", [])) if match else 0


class DocumentIndex:
    """The index of the outermost Bundle being checked (rebuilt only when the Bundle changes),
    and resolution of a reference inside the document: contained resources first, then Bundle
    entries by the fullUrl rules. Every check that follows references uses this one."""

    def __init__(self) -> None:
        self._cached: tuple[dict[str, Any], BundleIndex] | None = None

    def index(self, bundle: dict[str, Any]) -> BundleIndex:
        if self._cached is None or self._cached[0] is not bundle:
            self._cached = (bundle, BundleIndex(bundle))  # one document at a time: keep memory flat
        return self._cached[1]

    def referrer(self, top: dict[str, Any], root: dict[str, Any]) -> str | None:
        """The fullUrl of the entry that holds ``root`` (relative references resolve against it)."""
        entry = self.index(top).entry_of.get(id(root))
        full_url = top["entry"][entry].get("fullUrl") if entry is not None else None
        return full_url if isinstance(full_url, str) else None

    def resolve(self, reference: Any, root: dict[str, Any], top: dict[str, Any]) -> dict[str, Any] | None:
        """The one resource ``reference`` (a Reference or a URL) points to in the document, or None."""
        target = reference.get("reference") if isinstance(reference, dict) else reference
        if not isinstance(target, str):
            return None
        bundle = top.get("resourceType") == "Bundle"
        if target.startswith("#"):
            found = _contained_with_id(root, target[1:])
            if not found and bundle and root is top:
                # asked from the Bundle itself: the reference's own container is not known, so take
                # the one entry whose contained resources have that id
                found = [c for e in top.get("entry") or [] if isinstance(e, dict) and isinstance(e.get("resource"), dict)
                         for c in _contained_with_id(e["resource"], target[1:])]
            return found[0] if len(found) == 1 else None
        if not bundle:
            return None
        found = self.index(top).resolve(target, self.referrer(top, root))
        return found[0] if len(found) == 1 else None


_DOCUMENT_KEYS = frozenset({
    "Composition.subject", "Composition.author", "Composition.encounter", "Composition.custodian",
    "Composition.attester.party", "Composition.event.detail", "Composition.section.author",
    "Composition.section.focus", "Composition.section.entry", "MessageHeader.focus"})
"""The references of a document's Composition and a message's MessageHeader that must resolve
inside the Bundle (documents.html#content, messaging.html)."""


_FIRST_ENTRY = re.compile(r"\[\d+\]$")
_INDEX = re.compile(r"\[(\d+)\]")
_SECTION_KEY = re.compile(r"\.section\[\d+\](?=\.(?:author|focus)(?:\[\d+\])?$)")


def hl7_document_path(expression: str) -> str:
    """Where HL7's validator writes a finding of its document and message checks (the references
    of the Composition or MessageHeader that must resolve in the Bundle): it counts the first
    entry and the repetitions from 1 (``Bundle.entry[1].resource.section[1].entry[1]`` for the
    first section entry), a section's author or focus on the element that holds the section, and
    a MessageHeader's focus without an index."""
    shifted = _INDEX.sub(lambda m: f"[{int(m.group(1)) + 1}]", expression)
    shifted = _SECTION_KEY.sub("", shifted, count=1)
    return re.sub(r"(\.resource\.focus)\[\d+\]$", r"\1", shifted) if ".entry[1].resource.focus" in shifted else shifted


def _is_document_key(visit: Visit, top: dict[str, Any]) -> bool:
    """A reference of the Bundle's first resource (its Composition or MessageHeader) that must
    resolve in the Bundle."""
    entries = top.get("entry")
    first = entries[0].get("resource") if isinstance(entries, list) and entries and isinstance(entries[0], dict) else None
    if first is None or visit.resource is not first or visit.root is not first:
        return False
    path = re.sub(r"(\.section)+", ".section", visit.element.get("path", ""))
    return path in _DOCUMENT_KEYS


def _contained_with_id(resource: dict[str, Any], id_: str) -> list[dict[str, Any]]:
    return [c for c in resource.get("contained") or [] if isinstance(c, dict) and c.get("id") == id_]


def _unversioned(url: str) -> str:
    return _HISTORY.sub("", url)


_CORE = "http://hl7.org/fhir/StructureDefinition/"
_FIRST_ENTRY = re.compile(r"\[\d+\]$")

Conforms = Callable[[dict[str, Any], str], "bool | None"]
"""(resource, profile url) -> conforms, does not, or None when it cannot be told."""


def _in_parameters(top: dict[str, Any], reference: str) -> dict[str, Any] | None:
    """The resource of a parameter (or part) of a Parameters resource that ``Type/id`` names:
    references between the resources of one Parameters resolve there, as HL7's validator does."""
    if top.get("resourceType") != "Parameters":
        return None
    stack = list(top.get("parameter") or [])
    while stack:
        parameter = stack.pop()
        if not isinstance(parameter, dict):
            continue
        resource = parameter.get("resource")
        if isinstance(resource, dict) and f"{resource.get('resourceType')}/{resource.get('id')}" == reference:
            return resource
        stack.extend(parameter.get("part") or [])
    return None


class ReferenceChecker:
    def __init__(self, definitions: Definitions, conforms_to: Conforms,
                 assume_valid_rest_references: bool = False, policy: str = "ignore",
                 targets: dict[str, dict[str, Any]] | None = None, allow_example_urls: bool = True,
                 hl7_paths: bool = False) -> None:
        self.definitions = definitions
        self.hl7_paths = hl7_paths
        """Write Bundle locations as HL7's validator does where it differs (see :func:`hl7_document_path`)."""
        self.policy = policy
        self.outside = targets or {}
        """Resources outside the document that references may resolve to, by ``Type/id``."""
        self.allow_example_urls = allow_example_urls
        self.assume_valid_rest_references = assume_valid_rest_references
        """A RESTful reference's type counts as its target's type even when the target is elsewhere."""
        self.hl7_paths = hl7_paths
        """fullUrl findings located where HL7's validator writes them: on the Bundle's first entry."""
        self.document = DocumentIndex()
        self._conforms_to = conforms_to
        """How a target is validated against a profile: the nested walk FHIRPath's conformsTo() uses."""
        self._verdicts: dict[tuple[int, str], tuple[dict[str, Any], bool]] = {}
        """(target, profile) -> verdict, for the document in ``_verdicts_for``: each target is
        validated once per profile however many references point to it (linear in bundle size)."""
        self._verdicts_for: dict[str, Any] | None = None

    def _index(self, bundle: dict[str, Any]) -> BundleIndex:
        return self.document.index(bundle)

    @staticmethod
    def relevant(element: dict[str, Any], code: str | None) -> bool:
        """Only References, Bundle entries and a resource's root are judged (see StructureChecker)."""
        path = element.get("path", "")
        return code == "Reference" or path == "Bundle.entry" or "." not in path

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        if visit.code == "Reference" and isinstance(visit.value, dict):
            if visit.element.get("path") != "Reference":  # not again for the datatype's own constraints
                yield from self._reference(visit)
        elif visit.element.get("path") == "Bundle.entry" and isinstance(visit.value, dict):
            yield from self._entry(visit)
        elif visit.value is visit.resource and isinstance(visit.value, dict):
            if visit.value.get("contained"):
                yield from _contained(visit)
            if visit.value.get("resourceType") == "Bundle":
                yield from _links(visit)
                if visit.value.get("type") == "document":
                    yield from _reachability(visit, self._index(visit.value), self.hl7_paths)

    def _reference(self, visit: Visit) -> Iterator[Issue]:
        reference = visit.value.get("reference")
        if not isinstance(reference, str):
            return
        yield from self._aggregation(visit, reference)
        targets = self._targets(visit)
        if reference.startswith("#"):
            contained = self.document.resolve(reference, visit.root, visit.top)
            if contained is not None:
                yield from self._target(visit, reference, contained, targets, f"the contained resource {reference}")
            return
        implied = _LITERAL.search(reference)
        wrong_type = bool(implied and implied.group(1) in self.definitions.resource_types and targets
                          and implied.group(1) not in targets)
        top = visit.top
        in_bundle = top.get("resourceType") == "Bundle" and visit.resource is not top
        index = self._index(top) if in_bundle else None
        referrer = self.document.referrer(top, visit.root) if in_bundle else None
        resolved = index.resolve(reference, referrer) if index is not None else []
        outside = self._outside_target(visit.top, reference) if not resolved and self.policy != "ignore" else None
        known = bool(resolved) or outside is not None or self.assume_valid_rest_references
        if resolved and in_bundle and index is not None and _is_document_key(visit, top) \
                and not index.resolve_from(reference, referrer, visit.root):
            found = ", ".join(sorted(str(e.get("fullUrl")) for e in top.get("entry") or []
                                     if isinstance(e, dict) and any(e.get("resource") is r for r in resolved)))
            note = ("Note that there is a resource in the bundle with the same type and id, but it does not match "
                    "because of the fullUrl based rules around matching relative references. "
                    if index.near_misses(reference) else "")
            yield NOT_IN_BUNDLE.issue(
                f"Can't find '{reference}' in the bundle ({visit.element.get('path')}). {note}Found '{found}', but it "
                f"doesn't match because of the source fullUrl '{referrer}' (a relative reference resolves against a "
                "RESTful fullUrl ending with the referrer's own type and id)", path=visit.path,
                expression=hl7_document_path(visit.expression) if self.hl7_paths else visit.expression)
        if wrong_type and implied:
            # an error where the target travels with the reference (HL7's validator checks the type
            # of targets it can resolve); a warning for a target elsewhere, which it does not check
            yield WRONG_TARGET.issue(
                f"The type '{implied.group(1)}' implied by the reference URL {reference} is not a valid Target "
                f"for this element (must be one of [{', '.join(sorted(targets))}])"
                + ("" if known else "; the target is not in this document, so this is a warning"),
                path=visit.path, expression=visit.expression, severity=None if known else Severity.WARNING)
            return
        if not resolved and self.policy != "ignore":
            yield from self._outside(visit, reference, targets, outside)
        if index is None:
            return
        if len(resolved) > 1:
            entries = ", ".join(f"Bundle.entry[{index.entry_of.get(id(r))}]" for r in resolved)
            yield AMBIGUOUS.issue(f"Multiple matches in bundle for reference {reference}: {entries} all match it by "
                                  "the fullUrl rules (a version, .../_history/<versionId>, picks one by meta.versionId)",
                                  path=visit.path, expression=visit.expression)
            if self.hl7_paths and _is_document_key(visit, top):  # HL7 says it again from its document check
                yield AMBIGUOUS.issue(f"Found {len(resolved)} matches for '{reference}' in the bundle "
                                      f"({visit.element.get('path')})", path=visit.path,
                                      expression=hl7_document_path(visit.expression))
            return
        if not resolved:
            if top.get("type") in _SELF_CONTAINED and (not _ABSOLUTE.match(reference) or reference.startswith("urn:")):
                misses = index.near_misses(reference)
                note = (f". Note that there {'is a resource' if misses == 1 else f'are {misses} resources'} in the "
                        "bundle with the same type and id, but they do not match because of the fullUrl based rules "
                        "around matching relative references") if misses else ""
                versions = _HISTORY.search(reference)
                others = index.resolve(_unversioned(reference), referrer) if versions else []
                if others:
                    found = ", ".join(str((r.get("meta") or {}).get("versionId", "none")) for r in others)
                    note = (f". The bundle has it, but with meta.versionId {found}, not {versions.group(1)}")
                if _is_document_key(visit, top):
                    yield NOT_IN_BUNDLE.issue(f"Can't find '{reference}' in the bundle ({visit.element.get('path')}){note}",
                                              path=visit.path, expression=hl7_document_path(visit.expression)
                                              if self.hl7_paths else visit.expression)
                elif misses or others:
                    # a resource with that type and id is there, but the fullUrl rules do not reach
                    # it: a Bundle-level inconsistency, located on the Bundle as HL7's validator does
                    yield NOT_IN_BUNDLE.issue(f"Can't find '{reference}' in the bundle ({visit.expression}){note}",
                                              path=visit.path, expression=str(top.get("resourceType")))
                else:  # other references of a document or message may point outside it
                    yield NOT_IN_BUNDLE.issue(f"Can't find '{reference}' in the bundle ({visit.element.get('path')}); "
                                              "it is not one of the references that must resolve inside a document "
                                              "or message", path=visit.path, expression=visit.expression,
                                              severity=Severity.INFORMATION)
            return
        actual = resolved[0].get("resourceType")
        if implied and isinstance(actual, str) and actual != implied.group(1) and not _ABSOLUTE.match(reference):
            yield WRONG_TARGET.issue(f"Matching reference for reference {reference} has resourceType {actual}",
                                     path=visit.path, expression=visit.expression)
            return
        entry = index.entry_of.get(id(resolved[0]))
        yield from self._target(visit, reference, resolved[0], targets, f"Bundle.entry[{entry}].resource")

    def _outside_target(self, top: dict[str, Any], reference: str) -> dict[str, Any] | None:
        literal = _LITERAL.search(reference)
        return _in_parameters(top, reference) or (
            self.outside.get(f"{literal.group(1)}/{literal.group(2)}") if literal else None)

    def _outside(self, visit: Visit, reference: str, targets: frozenset[str],
                 target: dict[str, Any] | None) -> Iterator[Issue]:
        """A reference that does not resolve inside the document, where the policy asks that it
        resolves: to one of the reference targets given, else an error (HL7's "Unable to resolve
        resource with reference"). Example domains pass where example URLs are allowed, and a
        conditional reference (``Patient?identifier=...``) is a search, not a target."""
        if "?" in reference or (self.allow_example_urls and ("example.org" in reference or "acme.com" in reference)):
            return
        if target is None:
            yield UNRESOLVED.issue(f"Unable to resolve resource with reference '{reference}': it is not in this "
                                   "document nor among the reference targets given, and the reference policy "
                                   f"({self.policy}) asks that references resolve", path=visit.path,
                                   expression=visit.expression)
        elif self.policy == "type":
            actual = target.get("resourceType")
            if targets and actual not in targets:
                yield WRONG_TARGET.issue(
                    f"Matching reference for reference {reference} has resourceType {actual} "
                    f"(must be one of [{', '.join(sorted(targets))}])", path=visit.path, expression=visit.expression)
        elif self.policy == "valid":
            yield from self._target(visit, reference, target, targets, "a reference target")

    def _target(self, visit: Visit, reference: str, target: dict[str, Any], targets: frozenset[str],
                where: str) -> Iterator[Issue]:
        """The resource a reference resolves to in the document: its type, then its target profiles."""
        actual = target.get("resourceType")
        if not isinstance(actual, str):
            return
        if targets and actual not in targets:
            yield WRONG_TARGET.issue(
                f"Matching reference for reference {reference} has resourceType {actual} "
                f"(must be one of [{', '.join(sorted(targets))}])", path=visit.path, expression=visit.expression)
            return
        choices, profiles = self._target_profiles(visit, actual)
        if not profiles or all(p.startswith(_CORE) for p in profiles):
            return  # only core types asked for: the type said it (HL7's validator does the same)
        verdicts = [self._conforms(visit.top, target, p) for p in profiles]
        if any(v is True for v in verdicts) or any(v is None for v in verdicts):
            return  # conforms, or cannot be told (a profile not loaded or not usable)
        named = f"{profiles[0]} (validate it against that profile" if len(profiles) == 1 else \
            f"any of {', '.join(profiles)} (validate it against those profiles"
        yield TARGET_PROFILE.issue(
            f"Unable to find a profile match for {reference} among choices: {', '.join(choices)}. The {actual} it "
            f"resolves to ({where}) does not conform to {named} for the reasons)",
            path=visit.path, expression=visit.expression)

    def _target_profiles(self, visit: Visit, actual: str) -> tuple[list[str], list[str]]:
        """The element's target profiles (all, sorted, for the message) and those for ``actual``'s
        type, which the target must conform to one of; none when any target may do (``Resource``)."""
        choices: list[str] = []
        profiles: list[str] = []
        for type_ in visit.element.get("type") or []:
            if type_.get("code") != "Reference":
                continue
            for profile in type_.get("targetProfile") or []:
                if not isinstance(profile, str):
                    continue
                if profile.split("|", 1)[0] in (_CORE + "Resource", _CORE + "DomainResource"):
                    return [], []
                choices.append(profile)
                definition = self.definitions.structure_definition(profile)
                if definition is not None and definition.get("type") == actual:
                    profiles.append(profile)
        return sorted(choices), profiles

    def _conforms(self, top: dict[str, Any], target: dict[str, Any], profile: str) -> bool | None:
        """Does ``target`` conform to ``profile``? Worked out once per target and profile in a document."""
        if top is not self._verdicts_for:
            self._verdicts, self._verdicts_for = {}, top
        key = (id(target), profile)
        found = self._verdicts.get(key)
        if found is not None and found[0] is target:
            return found[1]
        verdict = self._conforms_to(target, profile)
        if verdict is not None:  # None: a profile that cannot be used, or one being checked already
            self._verdicts[key] = (target, verdict)
        return verdict

    def _aggregation(self, visit: Visit, reference: str) -> Iterator[Issue]:
        """A profile's aggregation modes: the reference must be contained, bundled or a reference."""
        modes = {m for t in visit.element.get("type") or [] if t.get("code") == "Reference"
                 for m in t.get("aggregation") or []}
        if not modes:
            return
        if reference.startswith("#"):
            kind = "contained"
        else:
            top = visit.top
            bundled = top.get("resourceType") == "Bundle" and visit.resource is not top and bool(
                self._index(top).resolve(reference, self.document.referrer(top, visit.root)))
            kind = "bundled" if bundled else "referenced"
        if kind == "referenced" and visit.top.get("resourceType") != "Bundle":
            return  # a resource on its own: whether its targets travel with it is not known here
        if kind not in modes:
            wording = {"contained": "contained", "bundled": "in the bundle", "referenced": "external"}[kind]
            yield AGGREGATION.issue(f"Reference is {wording} which isn't supported by the specified aggregation "
                                    f"mode(s) for the reference ({', '.join(sorted(modes))})",
                                    path=visit.path, expression=visit.expression)

    def _targets(self, visit: Visit) -> frozenset[str]:
        """The resource types an element's references may point at (none: any), once per element
        definition for these definitions (a reference with a dozen target profiles looked each up
        on every visit)."""
        cache: dict[int, tuple[Any, frozenset[str]]] = self.definitions.memo.setdefault("reference-targets", {})
        found = cache.get(id(visit.element))
        if found is None or found[0] is not visit.element:
            found = cache[id(visit.element)] = (visit.element, frozenset(self._target_types(visit.element)))
        return found[1]

    def _target_types(self, element: dict[str, Any]) -> set[str]:
        targets: set[str] = set()
        for type_ in element.get("type") or []:
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
                and visit.resource.get("type") not in _NO_FULLURL_NEEDED:
            yield FULLURL_MISSING.issue(
                "Except for transactions and batches, each entry in a Bundle must have a fullUrl which is the "
                "identity of the resource in the entry", path=visit.path, expression=visit.expression)
        if not isinstance(full_url, str):
            return
        # HL7's validator writes its fullUrl findings at the Bundle's first entry whatever the entry
        # (BundleValidator: literal path 'entry' + ':0'); --hl7-paths reports them there too
        where = _FIRST_ENTRY.sub("[0]", visit.expression) if self.hl7_paths else visit.expression
        if not _ABSOLUTE.match(full_url):
            yield FULLURL_NOT_ABSOLUTE.issue(f"The fullUrl must be an absolute URL (not '{full_url}')",
                                             path=(*visit.path, "fullUrl"), expression=where)
            return
        match = _LITERAL.search(full_url)
        if match and full_url.startswith(("http://", "https://")) and isinstance(resource, dict) \
                and match.group(1) in self.definitions.resource_types:
            expected = (resource.get("resourceType"), resource.get("id"))
            if expected[1] is None:
                yield FULLURL_MISMATCH.issue(
                    f"The fullUrl '{full_url}' looks like a RESTful server URL, but the resource has no id",
                    path=(*visit.path, "fullUrl"), expression=where)
            elif expected != (match.group(1), match.group(2)):
                yield FULLURL_MISMATCH.issue(
                    f"The fullUrl '{full_url}' looks like a RESTful server URL, so it must end with the correct "
                    f"type and id (/{expected[0]}/{expected[1]})", path=(*visit.path, "fullUrl"),
                    expression=where)


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


def _reachability(visit: Visit, index: BundleIndex, hl7_paths: bool = False) -> Iterator[Issue]:
    """Entries of a document not linked (either way) to the Composition: one pass over references."""
    entries = visit.value.get("entry") or []
    links: dict[int, set[int]] = {i: set() for i in range(len(entries))}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            continue
        referrer = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
        for reference in _references(entry["resource"]):
            for target in index.resolve_from(reference, referrer, entry["resource"])[:1]:
                j = index.entry_of.get(id(target))
                if j is not None and j != i:
                    links[i].add(j)
                    links[j].add(i)
    reached, frontier = {0}, [0]
    for k, link in enumerate(visit.value.get("link") or []):  # a document's stylesheets are part of it too
        if not isinstance(link, dict) or link.get("relation") != "stylesheet" or not isinstance(link.get("url"), str):
            continue
        found = index.resolve(link["url"])
        if not found and not _ABSOLUTE.match(link["url"]):
            yield NOT_IN_BUNDLE.issue("The stylesheet reference could not be resolved in this bundle",
                                      path=(*visit.path, "link", k, "url"), expression=f"{visit.expression}.link[{k}].url")
        for target in found[:1]:
            j = index.entry_of.get(id(target))
            if j is not None and j not in reached:
                reached.add(j)
                frontier.append(j)
    while frontier:
        for j in links.get(frontier.pop(), ()):
            if j not in reached:
                reached.add(j)
                frontier.append(j)
    for i, entry in enumerate(entries):
        if i not in reached and isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
            yield UNREACHABLE.issue(
                f"Entry '{entry.get('fullUrl')}' isn't reachable by traversing links (forward or backward) from the "
                "Composition", path=(*visit.path, "entry", i),
                expression=f"{visit.expression}.entry[{i + 1 if hl7_paths else i}]")  # HL7 counts these from 1


def _references(resource: dict[str, Any]) -> Iterator[str]:
    stack: list[Any] = [resource]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("reference"), str):
                yield item["reference"]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
