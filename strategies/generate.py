"""Resources drawn from a profile's snapshot: cardinality, types, fixed and pattern values, required
bindings (from value sets the terminology service can expand), slices, Norwegian identifiers with
valid control digits. Invariants are checked on each draw by samsvar's FHIRPath engine and a draw
that breaks one is drawn again (or rejected); what generation cannot satisfy is an
:class:`Unsatisfiable` error that says why.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from hypothesis import strategies as st

from ..validators.fhir.definitions import FHIR_SD, Context, ElementDefinition, element_key, is_primitive, type_codes
from . import identifiers

Draw = Callable[[st.SearchStrategy[Any]], Any]

UCUM = "http://unitsofmeasure.org"
XHTML_NS = "http://www.w3.org/1999/xhtml"
SKIPPED_UNLESS_REQUIRED = frozenset({"id", "extension", "modifierExtension", "contained", "implicitRules",
                                     "language"})
SKIPPED_AT_ROOT = frozenset({"meta", "text"})
"""Elements left out unless the profile requires them: they add noise, not coverage (the
resource's own meta and text are set apart)."""
QUANTITY_UNITS = {"Quantity": ("mg", "kg", "mmol/L", "%"), "SimpleQuantity": ("mg", "mL"), "Age": ("a", "mo"),
                  "Duration": ("min", "h", "d"), "Distance": ("m", "km"), "Count": ("1",),
                  "MoneyQuantity": ("mg",)}
WORDS = ("Kari", "Ola", "Nordmann", "Bergen", "Tromsø", "blodprøve", "Ålesund", "hjerte", "test", "Øst")


class Unsatisfiable(Exception):
    """The profile cannot be satisfied by generation; the message says where and why."""


@dataclass
class ProfileGenerator:
    """Draws instances of one profile (or base type) from the snapshot of the loaded definitions."""

    definitions: Any
    url: str
    synthetic_ids: bool = True
    optional: float = 0.35
    """Chance that an optional element is drawn (three quarters of it at every level of nesting)."""
    max_depth: int = 5
    type: str = ""
    _expansions: dict[str, list[dict[str, Any]] | None] = field(default_factory=dict)
    _why: dict[str, str] = field(default_factory=dict)
    systems: tuple[str, ...] = ()
    """The URIs the profile's invariants name (``system = 'http://www.whocc.no/atc'``): code and
    identifier systems drawn with priority, so that a draw meets such invariants more often."""

    def __post_init__(self) -> None:
        sd = self.definitions.structure_definition(self.url)
        if sd is None:
            raise Unsatisfiable(f"{self.url} is not a StructureDefinition of the loaded packages (load it with igs=)")
        if sd.get("kind") != "resource" or sd.get("abstract"):
            raise Unsatisfiable(f"{self.url} is a {'abstract ' if sd.get('abstract') else ''}{sd.get('kind')} "
                                "definition; resources() draws concrete resources")
        if self.definitions.context(self.url) is None:
            why = "; ".join(self.definitions.snapshot_problems(self.url)) or "it has no snapshot"
            raise Unsatisfiable(f"{self.url} has no usable snapshot: {why}")
        self.type = str(sd["type"])
        self.url = str(sd["url"])
        named = {uri for element in self.definitions.snapshot_elements(self.url) or []
                 for constraint in element.get("constraint") or []
                 for uri in _URI_LITERAL.findall(str(constraint.get("expression") or ""))}
        self.systems = tuple(sorted(uri for uri in named if _ABSOLUTE_URI.match(uri)))
        """Systems the invariants name that can be a system: absolute URIs (FHIR-URL-006), not codes."""

    # -- the resource ----------------------------------------------------------------------
    def resource(self, draw: Draw) -> dict[str, Any]:
        ctx = self.definitions.context(self.url)
        body = self._complex(draw, ctx, depth=0)
        resource: dict[str, Any] = {"resourceType": self.type,
                                    "id": draw(st.from_regex(r"[a-z][a-z0-9\-]{0,15}", fullmatch=True))}
        if self.url != FHIR_SD + self.type:
            resource["meta"] = {"profile": [self.url]}
        if "text" in self.definitions.children(ctx):
            resource["text"] = {"status": "generated", "div": _div(draw)}
        resource.update((k, v) for k, v in body.items() if k not in resource)
        return resource

    # -- elements ---------------------------------------------------------------------------
    def _complex(self, draw: Draw, ctx: Context, depth: int, pattern: Any = None) -> dict[str, Any]:
        out = self._complex_content(draw, ctx, depth, pattern)
        if _type_of(ctx) == "Attachment":
            _consistent_attachment(out)
        return out

    def _complex_content(self, draw: Draw, ctx: Context, depth: int, pattern: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        optional_chance = self.optional * 0.75 ** depth if depth < self.max_depth else 0.0
        candidates: list[ElementDefinition] = []
        for element in self.definitions.child_elements(ctx):
            name = _name(element)
            if element.get("max") == "0":
                continue
            required = int(element.get("min") or 0) > 0 or bool(element.get("slicing")) and any(
                int(s.get("min") or 0) > 0 for s in self.definitions.slices(ctx, element))
            if not required:
                if name in SKIPPED_UNLESS_REQUIRED or (depth == 0 and name in SKIPPED_AT_ROOT):
                    continue
                candidates.append(element)
                if not _chance(draw, optional_chance):
                    continue
            self._put(draw, ctx, element, out, depth, required)
        if isinstance(pattern, dict):
            out = _overlay(out, pattern)
        if not out and candidates:  # an element needs a value or children (ele-1)
            for element in draw(st.permutations(candidates)):
                self._put(draw, ctx, element, out, depth, False)
                if out:
                    break
        return out

    def _put(self, draw: Draw, ctx: Context, element: ElementDefinition, out: dict[str, Any], depth: int,
             required: bool) -> None:
        """Draw the values of ``element`` into ``out`` (nothing when an optional one cannot be drawn)."""
        try:
            values = self._values(draw, ctx, element, depth)
        except Unsatisfiable:
            if required:
                raise
            return
        if not values:
            return
        key, items = values
        base_max = str((element.get("base") or {}).get("max") or element.get("max") or "1")
        out[key] = items if base_max != "1" else items[0]

    def _values(self, draw: Draw, ctx: Context, element: ElementDefinition, depth: int
                ) -> tuple[str, list[Any]] | None:
        slices = self.definitions.slices(ctx, element) if element.get("slicing") else []
        if slices:
            return self._sliced(draw, ctx, element, slices, depth)
        low = int(element.get("min") or 0)
        high = _max(element)
        count = max(low, 1)
        if high > count and draw(st.integers(0, 3)) == 3:  # the simplest draw (0) adds nothing
            count += 1
        code = self._choose_type(draw, element)
        items = [self._value(draw, ctx, element, code, depth) for _ in range(count)]
        return _key(element, code), items

    def _sliced(self, draw: Draw, ctx: Context, element: ElementDefinition, slices: list[ElementDefinition],
                depth: int) -> tuple[str, list[Any]] | None:
        """Items from the slices only (valid for open and closed slicing): each slice's minimum, then
        more from slices with room until the element's minimum, maybe one more; in slice order
        (ordered slicing). A slice that cannot be drawn is only an error when it is required."""
        usable = [s for s in slices if s.get("max") != "0"
                  and (int(s.get("min") or 0) > 0 or not self._fixes_a_relative_system(ctx, s))]
        drawn: dict[str, list[Any]] = {element_key(s): [] for s in usable}
        codes: dict[str, str | None] = {}

        def add(slice_: ElementDefinition) -> None:
            code = self._choose_type(draw, slice_)
            drawn[element_key(slice_)].append(self._value(draw, ctx, slice_, code, depth))
            codes[element_key(slice_)] = code

        for slice_ in usable:
            for _ in range(int(slice_.get("min") or 0)):
                add(slice_)
        minimum = int(element.get("min") or 0)
        wanted = max(minimum, sum(map(len, drawn.values())))
        if _max(element) > wanted and draw(st.integers(0, 3)) == 3:  # the simplest draw (0) adds nothing
            wanted += 1
        failed: list[str] = []
        while sum(map(len, drawn.values())) < wanted:
            open_slices = [s for s in usable if len(drawn[element_key(s)]) < _max(s) and element_key(s) not in failed]
            if not open_slices:
                missing = minimum - sum(map(len, drawn.values()))
                if missing > 0 and (element.get("slicing") or {}).get("rules") == "closed":
                    raise Unsatisfiable(f"{element_key(element)}: no slice of its closed slicing can give the "
                                        f"{minimum} item(s) it needs" + (f" (cannot draw {', '.join(failed)})" if failed else ""))
                if missing > 0:  # open slicing: items that match no slice are allowed
                    code = self._choose_type(draw, element)
                    extra = [self._value(draw, ctx, element, code, depth) for _ in range(missing)]
                    return _key(element, code), [item for s in usable for item in drawn[element_key(s)]] + extra
                break
            chosen = draw(st.sampled_from(open_slices))
            try:
                add(chosen)
            except Unsatisfiable:
                failed.append(element_key(chosen))
        items = [item for s in usable for item in drawn[element_key(s)]]
        if not items:
            return None
        if element.get("path", "").endswith("[x]") and len(items) > 1:
            items = items[:1]
        code = next((codes[k] for k in drawn if drawn[k]), None)
        return _key(element, code), items

    def _choose_type(self, draw: Draw, element: ElementDefinition) -> str | None:
        codes = [c for c in type_codes(element) if c not in ("Extension", "Resource")] or type_codes(element)
        if not codes:
            return None
        return codes[0] if len(codes) == 1 else draw(st.sampled_from(codes))

    def _value(self, draw: Draw, ctx: Context, element: ElementDefinition, code: str | None, depth: int) -> Any:
        where = element_key(element)
        fixed = _prefixed(element, "fixed")
        if fixed is not None:
            return copy.deepcopy(fixed)
        pattern = _prefixed(element, "pattern")
        if pattern is not None and not isinstance(pattern, dict):
            return copy.deepcopy(pattern)
        if code is None:  # a content reference or a backbone element
            inner = self.definitions.descend(ctx, element, None)
            if inner is None:
                raise Unsatisfiable(f"{where}: no definition of its content")
            return self._complex(draw, inner, depth + 1, pattern)
        binding = element.get("binding") or {}
        if code in ("code", "Coding", "CodeableConcept") and binding.get("valueSet") and pattern is None:
            inner = None if code == "code" else self.definitions.descend(ctx, element, code)
            constrained = inner is not None and inner.elements is not self.definitions.elements(code)
            bound = self._bound(draw, element, code, binding, constrained)
            if bound is not None:
                return bound
        if is_primitive(code):
            return self._primitive(draw, element, code)
        if code == "Reference":
            return self._reference(draw, element)
        if code == "Extension":
            return self._extension(draw, element, depth)
        if code == "Resource":
            raise Unsatisfiable(f"{where}: a nested resource is not generated")
        if code == "Narrative":
            return {"status": "generated", "div": _div(draw)}
        if code in QUANTITY_UNITS:
            unit = draw(st.sampled_from(QUANTITY_UNITS[code]))
            value = {"value": draw(st.integers(1, 9999)) / 10, "unit": unit, "system": UCUM, "code": unit}
            return _overlay(value, pattern) if isinstance(pattern, dict) else value
        if code == "Period":
            return self._period(draw)
        if code == "Money":
            return {"value": draw(st.integers(1, 99999)) / 100, "currency": "NOK"}
        inner = self.definitions.descend(ctx, element, code)
        if inner is None:
            raise Unsatisfiable(f"{where}: the type {code} is not defined in the loaded packages")
        value = self._complex(draw, inner, depth + 1, pattern)
        if code == "Identifier":
            value = self._identifier(draw, value)
        elif code == "Coding":
            value = self._coding(draw, value, pattern or {}, self._allowed(element))
        elif code == "CodeableConcept" and pattern is None:
            allowed = self._allowed(element)
            value["coding"] = [self._coding(draw, dict(c), {}, allowed) for c in value.get("coding") or []]
            if not value["coding"]:
                del value["coding"]
        return value

    def _allowed(self, element: ElementDefinition) -> list[dict[str, Any]] | None:
        """The codes of the element's required or extensible binding, when they can be listed."""
        binding = element.get("binding") or {}
        if binding.get("strength") not in ("required", "extensible") or not binding.get("valueSet"):
            return None
        return self._expand(str(binding["valueSet"]).split("|", 1)[0])

    # -- types -------------------------------------------------------------------------------
    def _bound(self, draw: Draw, element: ElementDefinition, code: str, binding: dict[str, Any],
               constrained: bool) -> Any:
        """A code from the bound value set; None to fall back to the type (extensible, preferred or
        example bindings that cannot be expanded, and elements whose children the profile constrains);
        Unsatisfiable for a required binding that cannot be expanded."""
        url = str(binding["valueSet"]).split("|", 1)[0]
        codes = self._expand(url)
        if not codes:
            if binding.get("strength") == "required":
                raise Unsatisfiable(f"{element_key(element)}: required binding to {url}, which cannot be expanded "
                                    f"offline ({self._why.get(url) or 'no codes'})")
            if constrained:
                return None
            if code == "CodeableConcept":
                if _chance(draw, 0.25):
                    return {"text": draw(st.sampled_from(WORDS))}
                coding = {"system": self._system(draw), "code": self._primitive(draw, element, "code")}
                return {"coding": [self._coding(draw, coding, {}, None)]}
            return None
        chosen = draw(st.sampled_from(codes))
        coding = {k: chosen[k] for k in ("system", "version", "code", "display") if chosen.get(k)}
        coding.pop("version", None)
        if code == "code":
            return chosen["code"]
        if code == "Coding":
            return coding
        return {"coding": [coding]}

    def _expand(self, url: str) -> list[dict[str, Any]] | None:
        if url not in self._expansions:
            service = self.definitions.memo["terminology"]
            try:
                codes, why = service.engine.certain_codes(url)  # a part it can enumerate is enough to draw from
            except Exception as exc:  # noqa: BLE001 - a value set the service cannot handle is not expandable
                codes, why = None, f"{type(exc).__name__}: {exc}"
            if codes is None:
                codes = _grammar_codes(service.engine.value_sets(url))
            usable = [c for c in codes or [] if c.get("code") and c.get("system") and not c.get("abstract")
                      and not c.get("inactive")]
            self._expansions[url] = usable or None
            self._why[url] = why if codes is None else ("no usable codes" if not usable else "")
        return self._expansions[url]

    def _primitive(self, draw: Draw, element: ElementDefinition, code: str) -> Any:
        max_length = element.get("maxLength")
        low = _prefixed(element, "minValue")
        high = _prefixed(element, "maxValue")
        if code == "boolean":
            return draw(st.booleans())
        if code in ("integer", "positiveInt", "unsignedInt", "integer64"):
            lowest = {"positiveInt": 1, "unsignedInt": 0}.get(code, -1000)
            lo = max(lowest, low) if isinstance(low, int) else lowest
            hi = min(1000, high) if isinstance(high, int) else 1000
            return draw(st.integers(lo, max(lo, hi)))
        if code == "decimal":
            return draw(st.integers(0, 100000)) / 100
        if code in ("string", "markdown"):
            text = " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3)))
            return text[:max_length] if isinstance(max_length, int) and max_length > 0 else text
        if code == "code":
            return draw(st.from_regex(r"[a-z][a-z0-9\-]{0,9}", fullmatch=True))
        if code == "id":
            return draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9\-]{0,15}", fullmatch=True))
        if code == "uri" and _name(element) == "system":
            return self._system(draw)
        if code in ("uri", "url", "canonical"):
            return "http://example.org/" + draw(st.from_regex(r"[a-z]{1,10}", fullmatch=True))
        if code == "oid":
            return f"urn:oid:2.16.578.1.{draw(st.integers(1, 999))}"
        if code == "uuid":
            return f"urn:uuid:{draw(st.uuids())}"
        if code == "date":
            return draw(_dates).isoformat()
        if code == "dateTime":
            return draw(st.one_of(_dates.map(dt.date.isoformat), _moments.map(_iso)))
        if code == "instant":
            return _iso(draw(_moments))
        if code == "time":
            return draw(st.times().map(lambda t: t.replace(microsecond=0).isoformat()))
        if code == "base64Binary":
            return base64.b64encode(draw(st.binary(min_size=1, max_size=24))).decode()
        if code == "xhtml":
            return _div(draw)
        raise Unsatisfiable(f"{element_key(element)}: no generator for the primitive type {code}")

    def _fixes_a_relative_system(self, ctx: Context, slice_: ElementDefinition) -> bool:
        """A slice whose ``system`` is fixed to something that is not an absolute URI (no-basis-Patient's
        ``HNR``): no instance of it can be valid (FHIR-URL-006), so an optional one is not drawn."""
        system = ctx.elements.get(f"{element_key(slice_)}.system") or {}
        fixed = system.get("fixedUri", system.get("patternUri"))
        return isinstance(fixed, str) and not _ABSOLUTE_URI.match(fixed)

    def _system(self, draw: Draw) -> str:
        """A code or identifier system: one the invariants name, or an example one."""
        if self.systems and not _chance(draw, 0.25):
            return draw(st.sampled_from(self.systems))
        return "http://example.org/" + draw(st.from_regex(r"[a-z]{1,10}", fullmatch=True))

    def _reference(self, draw: Draw, element: ElementDefinition) -> dict[str, Any]:
        targets: list[str] = []
        for type_ in element.get("type") or []:
            if type_.get("code") != "Reference":
                continue
            modes = set(type_.get("aggregation") or [])
            if modes and "referenced" not in modes and "bundled" not in modes:
                raise Unsatisfiable(f"{element_key(element)}: the profile wants a contained target, which is not "
                                    "generated")
            for url in type_.get("targetProfile") or [FHIR_SD + "Resource"]:
                sd = self.definitions.structure_definition(str(url))
                target = (sd or {}).get("type") or str(url).rsplit("/", 1)[-1]
                targets.append("Patient" if target in ("Resource", "DomainResource") else target)
        target = draw(st.sampled_from(targets or ["Patient"]))
        reference = f"{target}/{draw(st.from_regex(r'[a-z][a-z0-9]{0,9}', fullmatch=True))}"
        return {"reference": reference}

    def _extension(self, draw: Draw, element: ElementDefinition, depth: int) -> dict[str, Any]:
        profiles = [url for t in element.get("type") or [] for url in t.get("profile") or []]
        if not profiles:
            raise Unsatisfiable(f"{element_key(element)}: an extension without a definition is not generated")
        ctx = self.definitions.context(str(profiles[0]))
        if ctx is None:
            raise Unsatisfiable(f"{element_key(element)}: extension {profiles[0]} is not in the loaded packages")
        value = self._complex(draw, ctx, depth + 1)
        value["url"] = str(profiles[0])
        return value

    def _identifier(self, draw: Draw, value: dict[str, Any]) -> dict[str, Any]:
        system = value.get("system")
        if isinstance(system, str):
            number = identifiers.identifier_value(draw, system, self.synthetic_ids)
            if number is not None:
                value["value"] = number
        return value

    def _coding(self, draw: Draw, value: dict[str, Any], fixed: dict[str, Any],
                allowed: list[dict[str, Any]] | None) -> dict[str, Any]:
        """A coding of a code system held in full gets one of its codes (of the bound value set, when
        it lists codes of that system) and that code's display."""
        if value.pop("version", None) is not None and not value:  # a version of no code system says nothing
            value["display"] = draw(st.sampled_from(WORDS))
        system = value.get("system")
        index = self.definitions.memo["terminology"].code_system(system) if isinstance(system, str) else None
        if index is None or not index.complete or not index.concepts:
            return value
        if "code" in fixed:
            concept = index.concepts.get(fixed["code"])
        else:
            bound = sorted(c["code"] for c in allowed or [] if c.get("system") == system and c["code"] in index.concepts)
            concept = index.concepts[draw(st.sampled_from(bound or sorted(index.concepts)))]
            value["code"] = concept.code
        if concept is not None and concept.display and "display" not in fixed:
            value["display"] = concept.display
        elif "display" not in fixed:
            value.pop("display", None)
        return value

    def _period(self, draw: Draw) -> dict[str, Any]:
        start = draw(_dates)
        period = {"start": start.isoformat()}
        if draw(st.booleans()):
            period["end"] = (start + dt.timedelta(days=draw(st.integers(0, 400)))).isoformat()
        return period


_dates = st.dates(dt.date(1950, 1, 1), dt.date(2025, 12, 31))
_moments = st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2025, 12, 31)).map(
    lambda d: d.replace(microsecond=0, tzinfo=dt.timezone(dt.timedelta(hours=1))))


GRAMMAR_CODES = {
    "urn:ietf:bcp:13": ("application/pdf", "text/plain", "image/png", "image/jpeg", "application/fhir+json",
                        "application/xml", "text/html"),
    "urn:ietf:bcp:47": ("nb", "nn", "en", "se", "nb-NO", "en-GB"),
}
"""Code systems defined by a grammar, not a list (MIME types, BCP 47 languages): value sets of all
their codes cannot be expanded, so well-known codes are drawn."""


def _grammar_codes(value_set: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """Codes for a value set that includes whole grammar-defined code systems, and nothing else."""
    includes = ((value_set or {}).get("compose") or {}).get("include") or []
    if not includes or any(i.get("filter") or i.get("concept") or i.get("valueSet") or
                           i.get("system") not in GRAMMAR_CODES for i in includes):
        return None
    return [{"system": i["system"], "code": code} for i in includes for code in GRAMMAR_CODES[i["system"]]]


def _chance(draw: Draw, p: float) -> bool:
    """True with probability ``p``; the simplest draw (0, where Hypothesis shrinks to) is False, so
    minimal examples are small resources."""
    return p > 0 and draw(st.integers(0, 999)) >= (1 - p) * 1000


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def _div(draw: Draw) -> str:
    words = " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4)))
    return f'<div xmlns="{XHTML_NS}"><p>{words}</p></div>'


def _name(element: ElementDefinition) -> str:
    return str(element["path"]).rsplit(".", 1)[-1]


def _key(element: ElementDefinition, code: str | None) -> str:
    name = _name(element)
    if name.endswith("[x]"):
        return name[:-3] + (code or "")[:1].upper() + (code or "")[1:]
    return name


def _max(element: ElementDefinition) -> int:
    value = str(element.get("max") or "*")
    return 1_000_000 if value == "*" else int(value)


def _prefixed(element: ElementDefinition, prefix: str) -> Any:
    for key, value in element.items():
        if key.startswith(prefix) and key[len(prefix):len(prefix) + 1].isupper():
            return value
    return None


def _overlay(value: Any, pattern: Any) -> Any:
    """``value`` with everything of ``pattern`` in it (a pattern's lists replace the drawn ones)."""
    if isinstance(value, dict) and isinstance(pattern, dict):
        merged = dict(value)
        for key, item in pattern.items():
            merged[key] = _overlay(value.get(key), item) if key in value else copy.deepcopy(item)
        return merged
    return copy.deepcopy(pattern)


_URI_LITERAL = re.compile(r"'((?:https?|urn):[^'\s]+)'")


_ABSOLUTE_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


def _type_of(ctx: Context) -> str:
    """The datatype a context draws: its own name for a datatype's definition, else its element's one type."""
    if "." not in ctx.path:
        return ctx.path
    codes = type_codes(ctx.elements.get(ctx.path) or {})
    return codes[0] if len(codes) == 1 else ""


def _consistent_attachment(attachment: dict[str, Any]) -> None:
    """An Attachment's size and hash say what its data is (FHIR-ATT-002/003): drawn on their own
    they would not, so they are computed from the data, or left out when there is none."""
    data = attachment.get("data")
    if not isinstance(data, str):
        attachment.pop("size", None)
        attachment.pop("hash", None)
        if not attachment:  # an element needs a value or children (ele-1)
            attachment["title"] = WORDS[0]
        return
    raw = base64.b64decode(data)
    if "size" in attachment:
        attachment["size"] = len(raw)
    if "hash" in attachment:
        attachment["hash"] = base64.b64encode(hashlib.sha1(raw).digest()).decode()
