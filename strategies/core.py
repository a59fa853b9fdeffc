"""``resources(profile)`` and ``mutants(resource)``: the public strategies."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from hypothesis import reject
from hypothesis import strategies as st

from ..api import Validator
from ..validators.fhir.definitions import FHIR_SD, element_key, is_primitive, type_codes
from ..validators.issues import Severity
from . import identifiers
from .generate import Draw, ProfileGenerator, Unsatisfiable, _max, _name

_DEFAULT: list[Validator] = []
_LOCK = threading.Lock()


def _default_validator() -> Validator:
    with _LOCK:
        if not _DEFAULT:
            _DEFAULT.append(Validator())
        return _DEFAULT[0]


def _url(profile_url_or_type: str) -> str:
    return profile_url_or_type if "/" in profile_url_or_type or ":" in profile_url_or_type \
        else FHIR_SD + profile_url_or_type


def resources(profile_url_or_type: str, *, validator: Validator | None = None, synthetic_ids: bool = True,
              optional: float = 0.35, max_depth: int = 5, attempts: int = 25) -> st.SearchStrategy[dict[str, Any]]:
    """Resources (JSON dicts) that satisfy a profile's snapshot, or a base type's (``"Patient"``).

    Drawn by construction: cardinality (``min`` always, optional elements with chance ``optional``,
    three quarters of it at each level of nesting, down to ``max_depth``), types and choice types, fixed and
    pattern values, codes of required bindings from value sets the terminology service of
    ``validator`` can expand (others give a text or a code of the type's format), slices
    (each slice's minimum, items only from slices), references of the allowed target types,
    Norwegian identifiers with valid control digits (person numbers synthetic, Tenor month + 80,
    unless ``synthetic_ids=False``). Each draw is then checked against the profile's invariants
    (errors, by samsvar's FHIRPath engine); a draw that breaks one is drawn again, up to
    ``attempts`` times, then rejected (an invariant no draw meets ends in Hypothesis's own
    "Unable to satisfy assumptions" error).

    ``validator`` supplies the definitions (its ``igs``); default: a validator with the core
    specification only. Where generation cannot satisfy the profile (a required binding to a value
    set that cannot be expanded offline, a definition that is missing, a contained target) drawing
    raises :class:`Unsatisfiable` saying where and why. Definitions load on the first draw.
    """
    url = _url(profile_url_or_type)
    plan: list[ProfileGenerator] = []
    plan_lock = threading.Lock()

    def generator() -> tuple[Validator, ProfileGenerator]:
        chosen = validator or _default_validator()
        with plan_lock:
            if not plan:
                plan.append(ProfileGenerator(chosen.engine.definitions(), url, synthetic_ids=synthetic_ids,
                                             optional=optional, max_depth=max_depth))
        return chosen, plan[0]

    @st.composite
    def draw_resource(draw: Draw) -> dict[str, Any]:
        chosen, made = generator()
        for _ in range(attempts):
            resource = made.resource(draw)
            if not broken_invariants(chosen, resource, made.url):
                return resource
        reject()  # pragma: no cover - hypothesis stops the draw here
        raise AssertionError("unreachable")

    return draw_resource()


def broken_invariants(validator: Validator, resource: dict[str, Any], url: str) -> list[str]:
    """The invariants (constraints of severity error) ``resource`` breaks against profile ``url``."""
    from ..validators.fhir.validate import FhirOptions, validate_resource

    definitions = validator.engine.definitions()
    options = FhirOptions(profiles=(url,) if url != FHIR_SD + str(resource.get("resourceType")) else ())
    return [issue.message for issue in validate_resource(resource, definitions, options)
            if issue.rule == "FHIR-INV-001" and issue.severity >= Severity.ERROR]


@dataclass(frozen=True)
class Mutant:
    """A resource with one mistake, and the rule codes samsvar must raise for it (at least these)."""

    resource: dict[str, Any]
    codes: frozenset[str]
    mistake: str
    """What was changed, e.g. ``removed Patient.birthDate (min 1)``."""


Operator = Callable[[Draw], Mutant]


def mutants(resource: dict[str, Any] | st.SearchStrategy[dict[str, Any]], *, validator: Validator | None = None,
            profile: str | None = None) -> st.SearchStrategy[Mutant]:
    """One-mistake variants of a valid resource (or of each resource a strategy draws), each with the
    codes it must raise: an unknown property (FHIR-STRUCT-001), a required element removed
    (FHIR-STRUCT-002), one too many of an element the profile limits to one (FHIR-STRUCT-003), an array
    for a single value (FHIR-STRUCT-004), a primitive of the wrong JSON type (FHIR-STRUCT-005), an
    impossible date (FHIR-STRUCT-006), a code outside its required value set (FHIR-BIND-001), a
    Norwegian identifier with a wrong control digit (NO-ID-003).

    ``profile`` defaults to the resource's first ``meta.profile``, else its base type."""
    if isinstance(resource, st.SearchStrategy):
        return resource.flatmap(lambda drawn: mutants(drawn, validator=validator, profile=profile))
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise TypeError("mutants() takes a FHIR resource as a JSON dict (with resourceType), or a strategy of them")

    @st.composite
    def draw_mutant(draw: Draw) -> Mutant:
        chosen = validator or _default_validator()
        operators = list(_operators(chosen, resource, profile))
        return draw(st.sampled_from(operators))(draw)

    return draw_mutant()


def _operators(validator: Validator, resource: dict[str, Any], profile: str | None) -> Iterator[Operator]:
    definitions = validator.engine.definitions()
    declared = ((resource.get("meta") or {}).get("profile") or [None])[0]
    url = _url(profile or declared or str(resource["resourceType"]))
    ctx = definitions.context(url)
    if ctx is None:
        raise Unsatisfiable(f"{url} has no usable snapshot in the loaded definitions")
    rtype = str(resource["resourceType"])
    yield from _unknown_properties(resource)
    for element in definitions.child_elements(ctx):
        name = _name(element)
        key = _present_key(resource, name)
        if key is None or key in ("resourceType", "id", "meta", "text"):
            continue
        where = f"{rtype}.{key}"
        value = resource[key]
        codes = type_codes(element)
        base_max = str((element.get("base") or {}).get("max") or "1")
        if int(element.get("min") or 0) > 0:
            yield _change(resource, key, _DELETE, {"FHIR-STRUCT-002"}, f"removed {where} (min {element['min']})")
        if base_max == "1":
            yield _change(resource, key, [value], {"FHIR-STRUCT-004"}, f"{where} as an array")
        elif _max(element) == 1 and isinstance(value, list) and len(value) == 1 and not element.get("slicing"):
            yield _change(resource, key, value * 2, {"FHIR-STRUCT-003"}, f"{where} twice (max 1)")
        single = value[0] if isinstance(value, list) and value else value
        code = _code_of(codes, key, name)
        if code is None or not is_primitive(code) or isinstance(single, (dict, list)):
            continue
        wrong = "true" if isinstance(single, bool) else 12345 if isinstance(single, str) else "12345"
        yield _change(resource, key, _replace_first(value, wrong), {"FHIR-STRUCT-005"},
                      f"{where} as a JSON {type(wrong).__name__}")
        if code in ("date", "dateTime", "instant"):
            impossible = "2023-02-30" if code != "instant" else "2023-02-30T10:00:00Z"
            yield _change(resource, key, _replace_first(value, impossible), {"FHIR-STRUCT-006"},
                          f"{where} = {impossible}")
        binding = element.get("binding") or {}
        if code == "code" and binding.get("strength") == "required" and binding.get("valueSet"):
            terminology = definitions.memo["terminology"]
            expansion, _ = terminology.expand(str(binding["valueSet"]).split("|", 1)[0])
            if expansion:
                yield _change(resource, key, _replace_first(value, "samsvar-not-a-code"), {"FHIR-BIND-001"},
                              f"{where} = samsvar-not-a-code (required binding)")
    yield from _broken_identifiers(resource)


_DELETE = object()


def _present_key(resource: dict[str, Any], name: str) -> str | None:
    if name.endswith("[x]"):
        stem = name[:-3]
        return next((k for k in resource if k.startswith(stem) and k[len(stem):len(stem) + 1].isupper()), None)
    return name if name in resource else None


def _code_of(codes: list[str], key: str, name: str) -> str | None:
    if name.endswith("[x]"):
        suffix = key[len(name) - 3:]
        return next((c for c in codes if c[:1].upper() + c[1:] == suffix), None)
    return codes[0] if len(codes) == 1 else None


def _replace_first(value: Any, new: Any) -> Any:
    return [new, *value[1:]] if isinstance(value, list) else new


def _change(resource: dict[str, Any], key: str, new: Any, codes: set[str], mistake: str) -> Operator:
    def apply(_draw: Draw) -> Mutant:
        changed = copy.deepcopy(resource)
        if new is _DELETE:
            del changed[key]
        else:
            changed[key] = copy.deepcopy(new)
        return Mutant(changed, frozenset(codes), mistake)

    return apply


def _objects(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    if isinstance(value, dict):
        yield path, value
        for key, item in value.items():
            yield from _objects(item, (*path, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _objects(item, (*path, n))


def _at(resource: dict[str, Any], path: tuple[Any, ...]) -> Any:
    node: Any = resource
    for step in path:
        node = node[step]
    return node


def _unknown_properties(resource: dict[str, Any]) -> Iterator[Operator]:
    places = [path for path, _ in _objects(resource)]

    def apply(draw: Draw) -> Mutant:
        path = draw(st.sampled_from(places))
        changed = copy.deepcopy(resource)
        _at(changed, path)["samsvarUnknownProperty"] = "x"
        where = ".".join(str(p) for p in path) or "the resource"
        return Mutant(changed, frozenset({"FHIR-STRUCT-001"}), f"unknown property samsvarUnknownProperty in {where}")

    yield apply


def _broken_identifiers(resource: dict[str, Any]) -> Iterator[Operator]:
    for path, node in _objects(resource):
        value = node.get("value")
        if node.get("system") in identifiers.CHECKED_BY_DIGITS and isinstance(value, str) and value.isdigit():
            def apply(_draw: Draw, path: tuple[Any, ...] = path, value: str = value) -> Mutant:
                changed = copy.deepcopy(resource)
                _at(changed, path)["value"] = identifiers.broken_control_digit(value)
                return Mutant(changed, frozenset({"NO-ID-003"}),
                              f"control digit of {'.'.join(map(str, path))}.value broken")

            yield apply


__all__ = ["Mutant", "Unsatisfiable", "broken_invariants", "element_key", "mutants", "resources"]
