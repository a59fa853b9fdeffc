"""URIs, URLs and canonicals: their form, and whether the ones that must resolve do.

What HL7's validator checks on every ``uri``/``url``/``canonical``/``oid``/``uuid`` value, with
the same severities, written from the FHIR specification (datatypes.html#uri, #canonical,
references.html) and the validator's documented behaviour:

- a ``canonical`` is an absolute URL or a local fragment (``#id``); a canonical resource's own
  ``url`` is absolute;
- a local fragment (``#id``) points at something in the same resource (a contained resource or
  an element id), else an error for a canonical and a warning for a uri;
- an absolute http(s) URL in HL7's own namespaces (``http://hl7.org/fhir...``,
  ``http://terminology.hl7.org/...``, ``http://fhir.org/guides...``) names a definition, so it
  must be one of the loaded packages' canonical URLs, a NamingSystem's uniqueId or one of the
  well-known system URIs; URLs elsewhere are not looked up (no network);
- URLs in the domains reserved for examples (example.org, acme.com, ...) are errors when example
  URLs are not allowed (``--no-example-urls``);
- ``Coding.system`` and ``Identifier.system`` are absolute; an identifier whose system is
  ``urn:ietf:rfc:3986`` has a URI as its value;
- a ``Reference.reference`` has no white space.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..issues import Issue, Severity
from ..rules import declared
from .definitions import Definitions
from .visit import Visit

CANONICAL_NOT_ABSOLUTE = declared("FHIR-URL-001")
EXAMPLE_URL = declared("FHIR-URL-002")
UNRESOLVED_URL = declared("FHIR-URL-003")
LOCAL_UNRESOLVED = declared("FHIR-URL-004")
BAD_SCHEME = declared("FHIR-URL-005")
SYSTEM_NOT_ABSOLUTE = declared("FHIR-URL-006")
REFERENCE_WHITESPACE = declared("FHIR-REF-005")

URL_TYPES = frozenset({"uri", "url", "canonical", "oid", "uuid"})
_KNOWN_SPACES = ("http://hl7.org/fhir", "http://terminology.hl7.org/", "http://fhir.org/guides")
_EXAMPLE_PARTS = ("example.org/", "acme.com/", "acme.org/", "example.com/", "example.net/")
_EXAMPLE_ENDS = ("example.org", "acme.com", "acme.org", "example.com", "example.net")
_EXAMPLE_OIDS = ("urn:oid:1.3.6.1.4.1.32473.", "urn:oid:2.999.")
_ABSOLUTE = re.compile(r"^[a-z][a-z0-9+.\-]*:[^ ]+$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_WHITESPACE = re.compile(r"\s")
_SYSTEM_SCHEMES = ("http:", "https:", "urn:")
_IETF_URI = "urn:ietf:rfc:3986"
_TEXT_LINK_EXTENSIONS = ("http://hl7.org/fhir/StructureDefinition/text-link",
                         "http://hl7.org/fhir/uv/cql/StructureDefinition/cql-namespaceUri")

# System URIs that the FHIR specification defines without a CodeSystem resource in the packages
# (terminologies.html#external and the identifier systems of identifier-registry.html), and
# namespaces it names: these resolve although nothing loaded has them as url.
WELL_KNOWN = frozenset({
    "http://loinc.org", "http://unitsofmeasure.org", "http://snomed.info/sct", "urn:ietf:bcp:13",
    "urn:ietf:bcp:47", "urn:iso:std:iso:3166", "urn:iso:std:iso:4217", "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://hl7.org/fhir/sid/ndc", "http://hl7.org/fhir/sid/icpc-2", "http://hl7.org/fhir/sid/icpc-1",
    "http://hl7.org/fhir/sid/icpc-1-nl", "http://hl7.org/fhir/sid/icd-9", "http://hl7.org/fhir/sid/icd-10",
    "http://hl7.org/fhir/sid/cvx", "http://hl7.org/fhir/sid/srt", "http://hl7.org/fhir/sid/icd-10-vn",
    "http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10-am", "http://hl7.org/fhir/sid/icd-9-cm",
    "http://hl7.org/fhir/sid/icf-nl", "http://hl7.org/fhir/sid/ca-hc-npn", "http://hl7.org/fhir/sid/ca-hc-din",
    "http://hl7.org/fhir/sid/dsm5", "http://hl7.org/fhir/sid/ex-icd-10-procedures", "http://hl7.org/fhir/sid/icpc2",
    "http://hl7.org/fhir/sid/us-ssn", "http://hl7.org/fhir/sid/us-npi", "http://hl7.org/fhir/sid/eui-48/bluetooth",
    "http://hl7.org/fhir/sid/eui-48/ethernet",
    "http://hl7.org/fhir/w5", "http://hl7.org/fhir/fivews", "http://hl7.org/fhir/workflow", "http://hl7.org/fhir/interface",
    "http://hl7.org/fhir/logical", "http://hl7.org/fhir/auditevent", "http://hl7.org/fhir/provenance",
    "http://hl7.org/fhir/object-implementation", "http://hl7.org/fhir/rr", "http://hl7.org/fhir/composition",
    "http://hl7.org/fhir/consent", "http://hl7.org/fhir/documentreference",
    "http://hl7.org/fhir/ConsentPolicy/opt-out", "http://hl7.org/fhir/ConsentPolicy/opt-in",
    "http://hl7.org/fhir/CompartmentDefinition/Patient", "http://hl7.org/fhir/CompartmentDefinition/Practitioner",
    "http://hl7.org/fhir/CompartmentDefinition/Group", "http://hl7.org/fhir/CompartmentDefinition/Device",
    "http://hl7.org/fhir/CompartmentDefinition/Encounter", "http://hl7.org/fhir/SearchParameter/Resource-filter",
    "http://hl7.org/fhirpath/System.Boolean", "http://hl7.org/fhirpath/System.String",
    "http://hl7.org/fhirpath/System.Integer", "http://hl7.org/fhirpath/System.Decimal",
    "http://hl7.org/fhirpath/System.Date", "http://hl7.org/fhirpath/System.Time",
    "http://hl7.org/fhirpath/System.DateTime", "http://hl7.org/fhirpath/System.Quantity",
    "urn:hl7-org:v3", "urn:hl7-org:sdtc",
})
_PASSPORT = re.compile(r"^http://hl7\.org/fhir/sid/passport-[a-zA-Z]{3}$")


def is_example_url(url: str) -> bool:
    """In a domain (or OID arc) reserved for examples."""
    return any(part in url for part in _EXAMPLE_PARTS) or url.endswith(_EXAMPLE_ENDS) or url.startswith(_EXAMPLE_OIDS)


def in_known_space(url: str) -> bool:
    """Under one of HL7's own namespaces, where URLs name published definitions."""
    return url.startswith(_KNOWN_SPACES)


def is_absolute_url(url: str) -> bool:
    """An absolute URI: a lower-case scheme, a colon and no spaces (RFC 3986, as HL7 tells them)."""
    return bool(_ABSOLUTE.match(url))


def string_members(resource: dict[str, Any], names: frozenset[str]) -> Iterator[tuple[str, str]]:
    """(name, value) of every string member called one of ``names``, at any depth of a resource
    (its contained resources and, for a Bundle, its entries included)."""
    stack: list[Any] = [resource]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, child in node.items():
                if key in names and isinstance(child, str):
                    yield key, child
                elif isinstance(child, (dict, list)):
                    stack.append(child)
        elif isinstance(node, list):
            stack.extend(node)


_ID_OR_NARRATIVE = frozenset({"id", "div"})


def ids_in(resource: dict[str, Any]) -> frozenset[str]:
    """Every ``id`` in a resource (its own, contained resources', elements') and in its narratives
    (``id`` attributes): what a local ``#fragment`` can point at."""
    found: set[str] = set()
    for key, value in string_members(resource, _ID_OR_NARRATIVE):
        if key == "id":
            found.add(value)
        else:
            found.update(_XHTML_ID.findall(value))
    return frozenset(found)


_XHTML_ID = re.compile(r"""\sid\s*=\s*["']([^"']+)["']""")


class UrlChecker:
    """Form and resolution of URI-typed values; system and reference strings on their datatypes."""

    def __init__(self, definitions: Definitions, allow_example_urls: bool = True, resolve_urls: bool = True) -> None:
        self.definitions = definitions
        self.allow_example_urls = allow_example_urls
        self.resolve_urls = resolve_urls
        """False: every URL outside the example domains resolves (HL7's test harness)."""
        self._ids: tuple[Any, frozenset[str]] | None = None
        self._base_paths: dict[int, tuple[Any, str]] = {}
        """The base path of each element definition met (by identity)."""
        self._defining: dict[str, bool] = {}
        self._resolved: dict[tuple[str, str], bool] = {}
        """What :meth:`_resolves` said of each (url, type) in this resource: the definitions do not change."""

    def relevant(self, element: dict[str, Any], code: str | None) -> bool:
        if code in ("Coding", "Identifier"):
            return element.get("path") != code  # (not again for the datatype's own constraints)
        return code in URL_TYPES or element.get("path") == "Reference.reference"

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        if visit.code in ("Coding", "Identifier"):
            if visit.element.get("path") != visit.code:
                yield from self._system(visit)
            return
        value = visit.value
        if not isinstance(value, str) or not value:
            return
        if visit.element.get("path") == "Reference.reference":
            if _WHITESPACE.search(value):
                where = visit.parent.expression if visit.parent is not None else visit.expression
                yield REFERENCE_WHITESPACE.issue(f"The reference '{value[:100]}' is not a valid reference: it "
                                                 "contains white space", path=visit.path[:-1], expression=where)
            return
        if visit.code not in URL_TYPES:
            return
        yield from self._url(visit, value, visit.code or "uri")

    def _url(self, visit: Visit, url: str, code: str) -> Iterator[Issue]:
        if url.startswith(("oid:", "uuid:")):
            yield BAD_SCHEME.issue(f"URI values cannot start with '{url.split(':', 1)[0]}:' (write "
                                   f"'urn:{url[:100]}')", path=visit.path, expression=visit.expression)
            return
        if _WHITESPACE.search(url):
            return  # the format check (FHIR-STRUCT-006) reports it; nothing to resolve
        base_path = self._base_path(visit.element)
        if base_path == "Bundle.entry.fullUrl":
            return  # an identity, not a reference: the Bundle checks judge it
        if code == "canonical" and not url.startswith("#") and not is_absolute_url(url):
            yield CANONICAL_NOT_ABSOLUTE.issue(
                f"Canonical URLs must be absolute URLs if they are not fragment references ({url[:200]})",
                path=visit.path, expression=visit.expression)
            return
        if self._defining_url(visit, base_path):
            if not is_absolute_url(url):
                yield CANONICAL_NOT_ABSOLUTE.issue(
                    f"The canonical URL of a resource must be an absolute URL ({url[:200]})",
                    path=visit.path, expression=visit.expression)
            return
        if url.startswith("#"):
            yield from self._local(visit, url, code, base_path)
            return
        if base_path == "Extension.url" and (not in_known_space(url) or self.definitions.resource_type(url)):
            return  # extension urls: the extension checks say what is wrong with them
        if base_path == "Extension.value[x]" and self._extension_url(visit) in _TEXT_LINK_EXTENSIONS:
            return
        if self._resolves_once(url, code) or (not self.resolve_urls and "example.org" not in url
                                            and not url.startswith("http://hl7.org/fhir/invalid")):
            return
        example = is_example_url(url)
        if example and self.allow_example_urls:
            return
        if code == "canonical":
            if example:
                yield EXAMPLE_URL.issue(f"Example URLs are not allowed in this context ({url[:200]})",
                                        path=visit.path, expression=visit.expression)
            return  # other canonicals that do not resolve: HL7 only hints
        if in_known_space(url):
            yield UNRESOLVED_URL.issue(f"No definition could be found for URL value '{url[:200]}' (not in the loaded "
                                       "packages; load the package that defines it with --ig)",
                                       path=visit.path, expression=visit.expression)
        elif example and base_path != "Extension.url":
            yield EXAMPLE_URL.issue(f"Example URLs are not allowed in this context ({url[:200]})",
                                    path=visit.path, expression=visit.expression)

    def _base_path(self, element: dict[str, Any]) -> str:
        found = self._base_paths.get(id(element))
        if found is None or found[0] is not element:
            base_path = (element.get("base") or {}).get("path") or element.get("path", "")
            found = self._base_paths[id(element)] = (element, base_path)
        return found[1]

    def _resolves_once(self, url: str, code: str) -> bool:
        found = self._resolved.get((url, code))
        if found is None:
            found = self._resolved[(url, code)] = self._resolves(url, code)
        return found

    def _resolves(self, url: str, code: str) -> bool:
        if url in WELL_KNOWN or _PASSPORT.match(url) or url.startswith(("tel:", "mailto:", "llp:")):
            return True
        if not url.startswith(("http://", "https://")):
            return True  # only http(s) URLs are looked up
        bare = url.split("|", 1)[0].split("#", 1)[0]  # a version or a fragment inside a definition
        if self.definitions.resource_type(bare) is not None or bare in WELL_KNOWN:
            return True
        if bare in self.definitions.naming_system_uris():
            return True
        if "example.org" in url or "acme.com" in url:
            return False  # the example domains HL7's validator never looks up
        # outside HL7's namespaces nothing is looked up (offline): a uri is taken as it is, a
        # canonical has to be loaded to resolve
        return not in_known_space(url) and code != "canonical"

    def _defining_url(self, visit: Visit, base_path: str) -> bool:
        """``X.url`` of a canonical resource X: the resource's own identity (once per base path)."""
        found = self._defining.get(base_path)
        if found is None:
            parts = base_path.split(".")
            found = self._defining[base_path] = len(parts) == 2 and parts[1] == "url" and (
                parts[0] in self.definitions.resource_types or parts[0] in ("CanonicalResource", "MetadataResource"))
        return found

    def _local(self, visit: Visit, url: str, code: str, base_path: str) -> Iterator[Issue]:
        target = url[1:]
        if not target or target in self._ids_in(visit.root):
            return
        if visit.top is not visit.root and visit.top.get("resourceType") == "Bundle" and target in self._ids_in(visit.top):
            return
        if base_path == "Meta.source":
            return
        hard = code == "canonical" or base_path in ("ValueSet.compose.include.system", "ValueSet.compose.exclude.system")
        yield LOCAL_UNRESOLVED.issue(
            f"The URL value '{url[:200]}' is invalid because there is no matching target in the resource",
            path=visit.path, expression=visit.expression, severity=None if hard else Severity.WARNING)

    def _ids_in(self, resource: dict[str, Any]) -> frozenset[str]:
        if self._ids is not None and self._ids[0] is resource:
            return self._ids[1]
        ids = ids_in(resource)
        self._ids = (resource, ids)
        return ids

    @staticmethod
    def _extension_url(visit: Visit) -> str | None:
        holder = visit.parent.value if visit.parent is not None else None
        url = holder.get("url") if isinstance(holder, dict) else None
        return url if isinstance(url, str) else None

    def _system(self, visit: Visit) -> Iterator[Issue]:
        value = visit.value
        if not isinstance(value, dict):
            return
        system = value.get("system")
        if isinstance(system, (int, float)) and not isinstance(system, bool):
            system = str(system)  # a number where a URI belongs (the JSON type check reports it too)
        if not isinstance(system, str):
            return
        if visit.code == "Coding":
            # as HL7's validator: judged where the Coding itself is bound (its terminology check)
            if system and not system.startswith(_SYSTEM_SCHEMES) and visit.element.get("binding"):
                yield SYSTEM_NOT_ABSOLUTE.issue(
                    f"Coding.system must be an absolute reference, not a local reference ('{system[:100]}')",
                    path=visit.path, expression=visit.expression)
            return
        if system and not system.startswith((*_SYSTEM_SCHEMES, "ldap:")) or system == "":
            yield SYSTEM_NOT_ABSOLUTE.issue(
                f"Identifier.system must be an absolute reference, not a local reference ('{system[:100]}')",
                path=visit.path, expression=visit.expression)
        identifier = value.get("value")
        if system == _IETF_URI and isinstance(identifier, str) and not _SCHEME.match(identifier):
            yield SYSTEM_NOT_ABSOLUTE.issue(
                f"If identifier.system is '{_IETF_URI}', then identifier.value must be a full URI (start with a "
                f"scheme), not '{identifier[:100]}'", path=visit.path, expression=visit.expression)
