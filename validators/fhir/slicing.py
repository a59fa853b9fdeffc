"""Slicing: which slice each repetition of a sliced element belongs to, and the slicing rules.

A profile slices a repeating element (``Patient.identifier``, ``Observation.component``,
``extension``) into named slices told apart by discriminators. Each item is matched against
the slices in definition order; the discriminators supported are those of FHIR R4:

- ``value`` / ``pattern``: the element at the discriminator path has the slice's fixed[x] /
  pattern[x] value, or (without one) a code in the slice's required value set; an extension's
  ``url`` is the url of the slice's extension definition;
- ``type``: the type of the element at the path (a choice suffix, a resource type);
- ``profile``: the element at the path conforms to the slice's profile (a full walk);
- ``exists``: the element at the path is present (min 1) or absent (max 0).

Paths are the FHIRPath subset the specification allows: names, ``extension('url')``,
``ofType(T)``, ``resolve()`` (contained resources and Bundle entries) and ``$this``.
Then the rules: cardinality per slice, ``closed`` (no item outside the slices), ``ordered``
(items in slice order) and ``openAtEnd``. The walker validates an item that matched a slice
against that slice's definition, so its constraints (fixed values, bindings, children) apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, NamedTuple

from ..issues import Issue, Path
from ..rules import declared
from .definitions import Context, Definitions, ElementDefinition, element_key, type_codes
from .profiles import matches_pattern

NO_SLICE_CLOSED = declared("FHIR-SLICE-001")
SLICE_MIN = declared("FHIR-SLICE-002")
SLICE_MAX = declared("FHIR-SLICE-003")
SLICE_ORDER = declared("FHIR-SLICE-004")
NO_SLICE_OPEN = declared("FHIR-SLICE-005")
DISCRIMINATOR_UNUSABLE = declared("FHIR-SLICE-006")
SLICE_MIN_NOT_CHECKED = declared("FHIR-SLICE-007")

_STEP = re.compile(r"\s*(\$this|resolve\(\)|extension\('([^']*)'\)|extension\(\"([^\"]*)\"\)|ofType\(([^)]*)\)|as\(([^)]*)\)|[A-Za-z_][A-Za-z0-9_]*(?:\[x\])?)\s*")

Conforms = Callable[[Any, str, "str | None"], bool]
"""Does a value (of a type code) conform to a profile URL? Provided by the walker."""
Resolve = Callable[[Any], "dict[str, Any] | None"]
"""The resource a Reference value points to, inside the document, or None."""


class Unusable(Exception):
    """A discriminator samsvar cannot evaluate for a slice."""


class Item(NamedTuple):
    """One value of a repeating element, as slicing matches it (a named tuple: one per value walked)."""

    value: Any
    code: str | None
    index: int
    path: Path
    expression: str


def _steps(path: str) -> list[tuple[str, str]]:
    """A discriminator path as (kind, argument) steps."""
    steps: list[tuple[str, str]] = []
    for part in _split_dots(path):
        match = _STEP.fullmatch(part)
        if match is None:
            raise Unusable(f"the discriminator path '{path}' uses FHIRPath beyond what slicing allows")
        text = match.group(0).strip()
        if text == "$this":
            continue
        if text == "resolve()":
            steps.append(("resolve", ""))
        elif match.group(2) is not None or match.group(3) is not None:
            steps.append(("extension", match.group(2) if match.group(2) is not None else match.group(3)))
        elif match.group(4) is not None or match.group(5) is not None:
            steps.append(("type", (match.group(4) or match.group(5)).strip().removeprefix("FHIR.")))
        else:
            steps.append(("name", text.removesuffix("[x]")))
    return steps


def _split_dots(path: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in path:
        if ch in "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "." and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p for p in parts if p.strip()]


def _cap(code: str) -> str:
    return code[:1].upper() + code[1:]


def _instance_values(value: Any, code: str | None, steps: list[tuple[str, str]], resolve: Resolve,
                     type_kinds: dict[str, str]) -> list[tuple[Any, str | None]]:
    """The (value, type) nodes a discriminator path selects in an instance item."""
    nodes: list[tuple[Any, str | None]] = [(value, code)]
    for kind, arg in steps:
        found: list[tuple[Any, str | None]] = []
        for node, node_code in nodes:
            if kind == "resolve":
                target = resolve(node)
                if target is not None:
                    found.append((target, target.get("resourceType")))
            elif kind == "type":
                if node_code == arg or (isinstance(node, dict) and node.get("resourceType") == arg):
                    found.append((node, node_code))
            elif not isinstance(node, dict):
                continue
            elif kind == "extension":
                found.extend((ext, "Extension") for ext in node.get("extension") or []
                             if isinstance(ext, dict) and ext.get("url") == arg)
            elif arg in node:
                items = node[arg] if isinstance(node[arg], list) else [node[arg]]
                found.extend((item, None) for item in items if item is not None)
            else:  # a choice element: value -> valueQuantity, valueString
                for key, item in node.items():
                    suffix = key[len(arg):]
                    if key.startswith(arg) and suffix[:1].isupper():
                        typed = suffix if suffix in type_kinds else suffix[:1].lower() + suffix[1:]
                        found.extend((i, typed) for i in (item if isinstance(item, list) else [item]))
        nodes = found
    return nodes


class SliceMatcher:
    """Matches the items of a sliced element to its slices; one per walk (caches expansions)."""

    def __init__(self, definitions: Definitions, conforms: Conforms, resolve: Resolve) -> None:
        self.definitions = definitions
        from .bindings import terminology

        self.terminology = terminology(definitions)
        self.conforms = conforms
        self.resolve = resolve

    # -- the definition side ------------------------------------------------------------------

    def _definition_at(self, ctx: Context, slice_: ElementDefinition,
                       steps: list[tuple[str, str]]) -> tuple[ElementDefinition, list[str]]:
        """The element definition a discriminator path reaches inside a slice, and its type codes."""
        elements, current = ctx.elements, slice_
        codes = type_codes(current)
        for kind, arg in steps:
            if kind == "type":
                codes = [arg]
                continue
            if kind == "resolve":
                profiles = [p for t in current.get("type") or [] for p in t.get("targetProfile") or []]
                if len(profiles) != 1:
                    raise Unusable("resolve() needs exactly one target profile in the slice")
                target = self.definitions.context(profiles[0])
                if target is None:
                    raise Unusable(f"the target profile {profiles[0]} is not loaded")
                elements, current = target.elements, target.elements[target.path]
                codes = [target.path.split(".", 1)[0]]
                continue
            own = element_key(current)
            if kind == "extension":
                candidates = [e for e in self.definitions.slices(Context(elements, own), {"id": f"{own}.extension"})
                              if any(arg in (t.get("profile") or []) for t in e.get("type") or [])]
                if not candidates:
                    raise Unusable(f"no slice of {own}.extension is for the extension {arg}")
                current, codes = candidates[0], ["Extension"]
                continue
            child = elements.get(f"{own}.{arg}") or elements.get(f"{own}.{arg}[x]")
            if child is None:  # the path runs through an element that is itself sliced (code.coding:SBPCode.code)
                required = [s for s in self.definitions.slices(Context(elements, own), current)
                            if int(s.get("min") or 0) >= 1 and f"{element_key(s)}.{arg}" in elements]
                if len(required) == 1:
                    own = element_key(required[0])
                    child = elements.get(f"{own}.{arg}")
            inherited = _from_fixed(current, arg)
            if child is None and inherited is not None:  # fixedContactPoint {use: home} -> use = home
                current, codes = inherited, []
                continue
            if child is None:  # not constrained in the slice: take it from the type or type profile
                profiles = [p for t in current.get("type") or [] for p in t.get("profile") or []]
                base = self.definitions.context(profiles[0] if len(profiles) == 1 else (codes[0] if len(codes) == 1 else ""))
                if base is None:
                    raise Unusable(f"the slice does not define {own}.{arg}")
                child = base.elements.get(f"{base.path}.{arg}") or base.elements.get(f"{base.path}.{arg}[x]")
                if child is None:
                    raise Unusable(f"the slice does not define {own}.{arg}")
                elements = base.elements
            current, codes = child, type_codes(child)
        return current, codes

    def undecidable(self, ctx: Context, base: ElementDefinition, slice_: ElementDefinition) -> str | None:
        """Why no instance can be matched to this slice offline (its discriminators cannot be evaluated
        from the loaded definitions), or None. What ``samsvar profiles lint`` warns about."""
        for discriminator in (base.get("slicing") or {}).get("discriminator") or []:
            kind, path = discriminator.get("type"), str(discriminator.get("path", "$this"))
            try:
                steps = _steps(path)
                definition, _ = self._definition_at(ctx, slice_, steps)
            except Unusable as exc:
                return str(exc)
            if kind in ("type", "exists"):
                continue
            if kind == "profile":
                if not any(t.get("profile") or t.get("targetProfile") for t in definition.get("type") or []):
                    return f"the slice names no profile at '{path}'"
                continue
            if kind not in ("value", "pattern"):
                return f"the discriminator type '{kind}' is not one of FHIR R4's"
            if any(k.startswith(("fixed", "pattern")) for k in definition) or (steps and steps[-1] == ("name", "url")):
                continue
            binding = definition.get("binding") or {}
            if binding.get("strength") != "required" or not binding.get("valueSet"):
                return f"the slice has no fixed value, pattern or required binding at '{path}'"
            codes, why = self.terminology.expand(str(binding["valueSet"]))
            if codes is None:
                return f"the value set {binding['valueSet']} of the discriminator cannot be expanded offline ({why})"
        return None

    # -- matching -------------------------------------------------------------------------------

    def mismatch(self, ctx: Context, base: ElementDefinition, slice_: ElementDefinition, item: Item) -> str | None:
        """None when the item matches the slice, else why not. Raises Unusable."""
        for discriminator in (base.get("slicing") or {}).get("discriminator") or []:
            kind, path = discriminator.get("type"), str(discriminator.get("path", "$this"))
            steps = _steps(path)
            definition, codes = self._definition_at(ctx, slice_, steps)
            values = _instance_values(item.value, item.code, steps, self.resolve, self.definitions.type_kinds)
            if kind in ("value", "pattern"):
                reason = self._value_mismatch(definition, values, path, slice_, steps)
            elif kind == "exists":
                reason = _exists_mismatch(definition, values, path)
            elif kind == "type":
                reason = _type_mismatch(codes, values, path)
            elif kind == "profile":
                reason = self._profile_mismatch(definition, values, path)
            else:
                raise Unusable(f"the discriminator type '{kind}' is not one of FHIR R4's")
            if reason:
                return reason
        return None

    def _value_mismatch(self, definition: ElementDefinition, values: list[tuple[Any, str | None]], path: str,
                        slice_: ElementDefinition, steps: list[tuple[str, str]]) -> str | None:
        expected = next(((k, v) for k, v in definition.items() if k.startswith(("fixed", "pattern"))), None)
        if expected is None and steps and steps[-1] == ("name", "url"):
            profiles = [p for t in slice_.get("type") or [] for p in t.get("profile") or []]
            if len(profiles) == 1:  # an extension slice: its url is the extension definition's
                expected = ("fixedUri", profiles[0])
        if expected is not None:
            key, wanted = expected
            test = (lambda v: v == wanted) if key.startswith("fixed") else (lambda v: matches_pattern(v, wanted))
            if any(test(v) for v, _ in values):
                return None
            found = ", ".join(repr(v)[:80] for v, _ in values) or "nothing"
            return f"{path} must be {wanted!r} but is {found}"
        binding = definition.get("binding") or {}
        if binding.get("strength") == "required" and binding.get("valueSet"):
            from .bindings import codings_of

            undecided = False
            for value, _ in values:
                for system, item, _ in codings_of(value):
                    verdict = self.terminology.engine.contains(str(binding["valueSet"]), system, item)
                    if verdict.contains is True:
                        return None
                    undecided = undecided or verdict.contains is None
            if undecided:
                raise Unusable(f"the value set {binding['valueSet']} of the discriminator could not be expanded")
            return f"{path} has no code in {binding['valueSet']}"
        raise Unusable(f"the slice has no fixed value, pattern or required binding at '{path}'")

    def _profile_mismatch(self, definition: ElementDefinition, values: list[tuple[Any, str | None]],
                          path: str) -> str | None:
        profiles = [p for t in definition.get("type") or [] for p in (t.get("profile") or []) + (
            t.get("targetProfile") or [])]
        if not profiles:
            raise Unusable(f"the slice names no profile at '{path}'")
        for value, code in values:
            if any(self.conforms(value, profile, code) for profile in profiles):
                return None
        return f"{path} does not conform to {' or '.join(profiles)}"


def _from_fixed(element: ElementDefinition, name: str) -> ElementDefinition | None:
    """A child's fixed/pattern value taken from its parent's complex fixed[x]/pattern[x]."""
    for key, value in element.items():
        if key.startswith(("fixed", "pattern")) and isinstance(value, dict) and name in value:
            return {"id": f"{element_key(element)}.{name}", "path": f"{element.get('path')}.{name}",
                    ("fixed" if key.startswith("fixed") else "pattern") + "Value": value[name]}
    return None


def _codings(value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        if "coding" in value:
            return [(str(c.get("system", "")), str(c.get("code", ""))) for c in value.get("coding") or []
                    if isinstance(c, dict)]
        return [(str(value.get("system", "")), str(value.get("code", "")))]
    return []


def _exists_mismatch(definition: ElementDefinition, values: list[Any], path: str) -> str | None:
    if int(definition.get("min", 0)) > 0 and not values:
        return f"{path} must be present"
    if definition.get("max") == "0" and values:
        return f"{path} must be absent"
    return None


def _type_mismatch(codes: list[str], values: list[tuple[Any, str | None]], path: str) -> str | None:
    for value, code in values:
        actual = value.get("resourceType") if isinstance(value, dict) and "resourceType" in value else code
        if actual in codes:
            return None
    return f"{path} is not of type {' or '.join(codes)}"


@dataclass
class Assignment:
    """The outcome of matching one sliced element's items."""

    slices: list[ElementDefinition | None]
    """Per item: the slice it matched, or None."""
    issues: list[Issue]


def assign(matcher: SliceMatcher, ctx: Context, base: ElementDefinition, slices: list[ElementDefinition],
           items: list[Item], parent_path: Path, parent_expression: str) -> Assignment:
    """Match items to slices, then judge slice cardinality, closed/open and order."""
    slicing = base.get("slicing") or {}
    rules = slicing.get("rules", "open")
    source = f" (from {ctx.url})" if ctx.url else ""
    issues: list[Issue] = []
    unusable: dict[str, str] = {}
    undecided: dict[str, int] = {}
    """Per slice: the items that could not be told in or out of it (candidates it may hold)."""
    matched: list[ElementDefinition | None] = []
    reasons: list[list[str]] = []
    for item in items:
        chosen: ElementDefinition | None = None
        why: list[str] = []
        for slice_ in slices:
            name = slice_.get("sliceName", "")
            try:
                reason = matcher.mismatch(ctx, base, slice_, item)
            except Unusable as exc:
                unusable.setdefault(name, str(exc))
                undecided[name] = undecided.get(name, 0) + 1
                continue
            if reason is None:
                chosen = slice_
                break
            why.append(f"{name}: {reason}")
        matched.append(chosen)
        reasons.append(why)
    for name, reason in unusable.items():
        issues.append(DISCRIMINATOR_UNUSABLE.issue(
            f"Slice '{element_key(base)}:{name}' could not be matched: {reason}{source}",
            path=parent_path, expression=parent_expression))
    for slice_ in slices:
        name = slice_.get("sliceName", "")
        count = sum(1 for m in matched if m is slice_)
        minimum, maximum = int(slice_.get("min", 0)), slice_.get("max", "*")
        label = f"{element_key(base)}:{name}"
        candidates = undecided.get(name, 0)
        if count < minimum <= count + candidates:  # the undecided items may or may not make up the minimum
            issues.append(SLICE_MIN_NOT_CHECKED.issue(
                f"Slice '{label}': the minimum ({minimum}) was not checked: {candidates} element(s) could not be "
                f"matched to the slice ({unusable[name]}){source}; found {count} that match",
                path=parent_path, expression=parent_expression))
        elif count < minimum:
            issues.append(SLICE_MIN.issue(
                f"Slice '{label}': a matching slice is required, but not found{source} "
                f"(minimum {minimum}, found {count})", path=parent_path, expression=parent_expression))
        if maximum not in ("*", None) and count > int(maximum):
            issues.append(SLICE_MAX.issue(f"{label}: max allowed = {maximum}, but found {count}{source}",
                                          path=parent_path, expression=parent_expression))
    for item, chosen, why in zip(items, matched, reasons):
        if chosen is not None:
            continue
        detail = "; ".join(why) if why else "no slice could be evaluated"
        if rules == "closed" and not unusable:
            issues.append(NO_SLICE_CLOSED.issue(
                f"This element does not match any known slice defined in the profile{source} and slicing is "
                f"CLOSED: {detail}", path=item.path, expression=item.expression))
        elif rules != "closed":
            issues.append(NO_SLICE_OPEN.issue(
                f"This element does not match any known slice{source}: {detail}", path=item.path,
                expression=item.expression))
    if slicing.get("ordered") or rules == "openAtEnd":
        issues.extend(_order(slices, items, matched, bool(slicing.get("ordered")), rules == "openAtEnd"))
    return Assignment(matched, issues)


def _order(slices: list[ElementDefinition], items: list[Item], matched: list[ElementDefinition | None],
           ordered: bool, open_at_end: bool) -> Iterator[Issue]:
    position = {id(s): i for i, s in enumerate(slices)}
    last, seen_open = -1, False
    for item, chosen in zip(items, matched):
        if chosen is None:
            seen_open = True
            continue
        if open_at_end and seen_open:
            yield SLICE_ORDER.issue(f"The element matches slice '{chosen.get('sliceName')}' after an element that "
                                    "matched no slice, but unmatched elements must come at the end (openAtEnd)",
                                    path=item.path, expression=item.expression)
        here = position[id(chosen)]
        if ordered and here < last:
            yield SLICE_ORDER.issue(f"The element matches slice '{chosen.get('sliceName')}', which is defined "
                                    f"before the slice of an earlier element; the slicing is ordered",
                                    path=item.path, expression=item.expression)
        last = max(last, here)
