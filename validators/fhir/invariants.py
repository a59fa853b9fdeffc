"""Invariants: every ``constraint`` of the element definitions, evaluated with fhirpathpy.

Expressions are compiled once per process. A constraint whose expression fhirpathpy cannot
evaluate (a function it lacks, a comparison it does not support) is reported as *could not be
evaluated* (information), never as passed or failed. Constraints that other layers check
better are skipped and named in ``SKIPPED``.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any, Callable, Iterator, NamedTuple, cast

from ..issues import Issue, Severity
from ..rules import declared
from .definitions import Definitions
from .fhirpath import HOOKS, FhirPathMalformedTemporal, Hooks, compile_expression, failure_kind
from .fhirpath_fast import UNDECIDED, Node, environment, focus_items
from .visit import Visit

INVARIANT_FAILED = declared("FHIR-INV-001")
INVARIANT_NOT_EVALUATED = declared("FHIR-INV-002")
INVARIANT_ENGINE_FAILED = declared("FHIR-INV-004")

BEST_PRACTICE = declared("FHIR-INV-003")
BEST_PRACTICE_EXT = "http://hl7.org/fhir/StructureDefinition/elementdefinition-bestpractice"


_OBJECT_REPR = re.compile(r"<(?:[\w.]+\.)?(\w+) object at 0x[0-9a-fA-F]+>")


def describe_failure(failure: BaseException) -> str:
    """An engine failure's text as a person reads it, the same on every run: Python object
    addresses (``<fhirpathpy.engine.nodes.ResourceNode object at 0x7f…>``) become the class name."""
    return _OBJECT_REPR.sub(lambda match: match.group(1), str(failure))


def not_evaluated(key: str, text: str, failure: Exception, **where: Any) -> Issue:
    """The issue for a constraint that was not decided, by the kind of failure (not its message)."""
    kind = failure_kind(failure)
    reason = describe_failure(failure)
    if kind == "internal":
        issue = INVARIANT_ENGINE_FAILED.issue(
            f"Constraint {key} was not checked: samsvar's FHIRPath layer failed ({type(failure).__name__}: "
            f"{reason}); please report this. Expression: {text}", **where)
    elif kind == "unsupported":
        issue = INVARIANT_NOT_EVALUATED.issue(f"Constraint {key} could not be evaluated: {reason}. Expression: {text}",
                                              **where)
    else:
        issue = INVARIANT_NOT_EVALUATED.issue(
            f"Constraint {key} could not be evaluated: the expression is in error on this data ({reason}). "
            f"Expression: {text}", **where)
    issue.constraint = key
    return issue


SKIPPED = {
    "ele-1": "checked by the structure layer (FHIR-STRUCT-009)",
    "txt-1": "checked natively by the narrative layer (FHIR-XHTML-004/005)",
    "txt-2": "checked natively by the narrative layer (FHIR-XHTML-006)",
    "dom-3": "checked natively by the references layer in one pass (FHIR-REF-002)",
}

ERRATA = {
    "que-12": ("enableWhen.count() > 2 implies enableBehavior.exists()",
               "enableWhen.count() > 1 implies enableBehavior.exists()"),
    "que-7": ("operator = 'exists' implies (answer is Boolean)",
              "operator = 'exists' implies (answer is boolean)"),
    # a parameter of a resource type may name target profiles too (corrected in R5)
    "opd-3": ("targetProfile.exists() implies (type = 'Reference' or type = 'canonical')",
              "targetProfile.exists() implies (type = 'Reference' or type = 'canonical' or "
              "type.memberOf('http://hl7.org/fhir/ValueSet/resource-types'))"),
    # '#' alone points at the container resource; a reference without a value is not checked
    "ref-1": ("reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
              "%rootResource.contained.id.trace('ids'))",
              "reference.exists() implies (reference = '#' or (reference.startsWith('#').not() or "
              "(reference.substring(1).trace('url') in %rootResource.contained.id.trace('ids'))))"),
    # 'in' needs one item on its left: several when values would make it an error
    "tim-9": ("offset.empty() or (when.exists() and ((when in ('C' | 'CM' | 'CD' | 'CV')).not()))",
              "offset.empty() or (when.exists() and when.select($this in ('C' | 'CM' | 'CD' | 'CV')).allFalse())"),
    # 'as' on a Range probability
    "ras-2": ("probability is decimal implies (probability as decimal) <= 100",
              "(probability.exists() and (probability is decimal)) implies ((probability as decimal) <= 100)"),
}
# Besides these, ``matches()`` in a constraint is evaluated as ``matchesFull()``: the regular
# expressions of R4's constraints (eld-19, sdf-0, ...) and of profiles are written for whole-string
# matching, which is how HL7's validator evaluates them (Java's String.matches).
"""R4 invariants whose published expression is known to be wrong, with the corrected expression
HL7's validator evaluates instead (its ``FHIRPathExpressionFixer``), matched by key and the exact
published text (a profile's own constraint with another text is left as written): que-12 says
``count() > 2`` where the rule means more than one; que-7 tests for the FHIRPath system type
``Boolean``, which a FHIR ``boolean`` is not, so as published it fails every valid ``exists``
condition; opd-3, ref-1, tim-9 and ras-2 as commented above (dom-6: see ROOT_ONLY). (HL7's other fixes of R4
texts, ``name.matches(...)`` and bdl-8, give the same answers here: ``matches()`` is evaluated
as ``matchesFull()`` and a missing value passes.)"""

ROOT_ONLY = frozenset({"dom-6"})
"""Constraints HL7's validator evaluates on a root resource only, not on a contained one: dom-6
(narrative) as ``(%rootResource != $this) or text.`div`.exists()``, since a contained resource
is described by its container's narrative. Told by identity here, so the published expression
stays on the fast path."""

Compiled = Callable[..., list[Any]]


class _Constraint(NamedTuple):
    key: str
    expression: str
    compiled: Any  # a Compiled expression, or the exception compiling it raised
    guard: str | None
    constraint: dict[str, Any]
    fast: Any  # the compiled expression's fast path, or None
    twin: str | None  # "_" + guard: the guard's primitive extensions
    root_only: bool  # in ROOT_ONLY: not evaluated on a contained resource

VERIFY_FAST_PATH = os.environ.get("SAMSVAR_VERIFY_FAST_PATH", "") not in ("", "0")
"""Evaluate simple expressions both ways and fail on a difference (benches and tests set it)."""
ResourceNode: Any = None  # fhirpathpy's typed node, imported on first use (keeps start-up fast)


def _type_path(visit: Visit) -> str:
    """The model path fhirpathpy types the focus by: the type, or the backbone element's path."""
    code = visit.code
    if code and code not in ("BackboneElement", "Element"):
        return code
    reference = visit.element.get("contentReference")
    return reference.split("#", 1)[1] if reference else visit.element["path"]


class InvariantChecker:
    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions
        self._compiled: dict[str, Compiled | Exception] = definitions.memo.setdefault("fhirpath", {})
        from .references import DocumentIndex

        self.document = DocumentIndex()
        self._conforming: set[tuple[int, str]] = set()
        self._plans: dict[int, tuple[dict[str, Any], tuple[_Constraint, ...]]] = definitions.memo.setdefault(
            "invariant-plans", {})
        self._resources: tuple[Any, Any, list[Any], list[Any]] | None = None  # see _environment

    def _environment(self, visit: Visit, focus: list[Any]) -> dict[str, Any]:
        """The fast path's variables for a visit (:func:`.fhirpath_fast.environment`), with the
        items of ``%resource`` and ``%rootResource`` made once per resource, not once per visit."""
        resources = self._resources
        if resources is None or resources[0] is not visit.resource or resources[1] is not visit.root:
            made = environment(visit.resource, visit.root, focus)
            self._resources = (visit.resource, visit.root, made["resource"], made["rootResource"])
            return made
        return {"resource": resources[2], "rootResource": resources[3], "context": focus}

    def _compile(self, expression: str) -> Compiled | Exception:
        found = self._compiled.get(expression)
        if found is None:
            try:
                found = compile_expression(expression)
            except Exception as exc:  # noqa: BLE001 - an unparsable expression is a finding of its own
                found = exc
            self._compiled[expression] = found
        return found

    def _engine_context(self, visit: Visit) -> tuple[Hooks, Any, dict[str, Any]]:
        _load_engine_nodes()
        focus = ResourceNode.create_node(visit.value, _type_path(visit))
        env = {"resource": _typed(visit.resource), "rootResource": _typed(visit.root), "context": focus}
        return self._hooks(visit), focus, env

    def _evaluate(self, compiled: Any, visit: Visit, engine: tuple[Hooks, Any, dict[str, Any]] | None) -> list[Any] | Exception:
        """The expression through fhirpathpy, with the validator's hooks; an exception is returned."""
        hooks, focus, env = engine or self._engine_context(visit)
        token = HOOKS.set(hooks)
        try:
            return compiled(focus, env)
        except Exception as exc:  # noqa: BLE001 - unsupported by the engine, not by the data
            return exc
        finally:
            HOOKS.reset(token)

    def _plan(self, element: dict[str, Any]) -> tuple[_Constraint, ...]:
        """The constraints of an element to evaluate, worked out once per element definition:
        effective expression, compiled form, guard; SKIPPED ones and empty expressions left out."""
        plan = self._plans.get(id(element))
        if plan is None or plan[0] is not element:
            steps = []
            for constraint in element.get("constraint") or []:
                key = constraint.get("key", "")
                expression = _effective_expression(key, constraint.get("expression"))
                if expression and key not in SKIPPED:
                    compiled = self._compile(expression)
                    guard = _guard(expression)
                    steps.append(_Constraint(key, expression, compiled, guard, constraint,
                                             None if isinstance(compiled, Exception) else cast(Any, compiled).fast,
                                             None if guard is None else "_" + guard, key in ROOT_ONLY))
            plan = self._plans[id(element)] = (element, tuple(steps))
        return plan[1]

    def relevant(self, element: dict[str, Any], _code: str | None) -> bool:
        """Whether values of this element have constraints to evaluate (see StructureChecker)."""
        return bool(self._plan(element))

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        plan = self._plan(visit.element)
        if not plan:
            return
        engine: tuple[Hooks, Any, dict[str, Any]] | None = None
        fast_focus: list[Any] | None = None
        fast_env: dict[str, Any] = {}
        value = visit.value
        is_object = isinstance(value, dict)
        for step in plan:
            if step.root_only and value is not visit.root:
                continue
            guard = step.guard
            if guard is not None and is_object and guard not in value and step.twin not in value \
                    and _no_choice_of(guard, value):
                continue  # "X.empty() or ..." / "X.exists() implies ..." without X: true
            compiled, expression = step.compiled, step.expression
            outcome: Any = UNDECIDED
            if step.fast is not None:  # simple expressions: on the JSON, without the engine
                if fast_focus is None:
                    fast_focus = focus_items(value, _type_path(visit))
                    fast_env = self._environment(visit, fast_focus)
                outcome = step.fast(fast_focus, fast_env)
                if outcome is not UNDECIDED:
                    if VERIFY_FAST_PATH:
                        _verify(expression, [item[0] if type(item) is Node else item for item in outcome],
                                self._evaluate(compiled, visit, None))
                    if _false(outcome):
                        yield self._failed(step, visit, "")
                    continue
            if isinstance(compiled, Exception):
                outcome = compiled
            else:
                if engine is None:  # one set of hooks, focus and variables per visit
                    engine = self._engine_context(visit)
                outcome = self._evaluate(compiled, visit, engine)
            reason = ""
            if isinstance(outcome, Exception):
                if not isinstance(outcome, FhirPathMalformedTemporal):
                    yield not_evaluated(step.key, expression, outcome, path=visit.path, expression=visit.expression)
                    continue
                # a malformed date, dateTime or time ordered against another value: HL7's validator
                # cannot read it either and reports the constraint as failed, at its severity
                reason = f" ({describe_failure(outcome)})"
                outcome = [False]
            if outcome == [False]:
                yield self._failed(step, visit, reason)

    @staticmethod
    def _failed(step: _Constraint, visit: Visit, reason: str) -> Issue:
        """The issue of a constraint that does not hold."""
        constraint = step.constraint
        if _best_practice(constraint):
            issue = BEST_PRACTICE.issue(
                f"Constraint failed: {step.key}: '{constraint.get('human', '')}' (best practice){reason}",
                path=visit.path, expression=visit.expression)
        else:
            severity = Severity.WARNING if constraint.get("severity") == "warning" else Severity.ERROR
            issue = INVARIANT_FAILED.issue(
                f"Constraint failed: {step.key}: '{constraint.get('human', '')}' (expression: {step.expression}){reason}",
                path=visit.path, expression=visit.expression, severity=severity)
        issue.constraint = step.key
        return issue


    # -- what FHIRPath asks of the validator: resolve(), conformsTo(), memberOf() --------------------

    def _hooks(self, visit: Visit) -> Hooks:
        return Hooks(resolve=lambda reference: self.document.resolve(reference, visit.root, visit.top),
                     conforms_to=self.conforms_to, member_of=self._member_of)

    def conforms_to(self, resource: Any, url: str) -> bool | None:
        """conformsTo(): a nested walk of the resource against the profile; None if it cannot be used."""
        from .bindings import BindingChecker
        from .profiles import FixedPatternChecker, usable_profile
        from .structure import StructureChecker

        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            return None
        profile, _ = usable_profile(self.definitions, url, resource["resourceType"])
        key = (id(resource), url)
        if profile is None:
            definition = self.definitions.structure_definition(url)
            return False if definition is not None else None  # another type does not conform; unknown is unknown
        if key in self._conforming:
            return None
        self._conforming.add(key)
        try:
            checks: list[Any] = [BindingChecker(self.definitions), self, FixedPatternChecker()]
            walker = StructureChecker(self.definitions, checks, root_profile=profile)
            return not any(i.severity >= Severity.ERROR for i in walker.check_resource(resource, (), ""))
        finally:
            self._conforming.discard(key)

    def _member_of(self, value: Any, url: str) -> bool | None:
        """memberOf(): the terminology service's verdict; unknown stays unknown (empty)."""
        from .bindings import codings_of, terminology

        service = terminology(self.definitions)
        verdicts = [service.validate_code(system, code, None, url) for system, code, _ in codings_of(value)]
        if any(v.valid is True for v in verdicts):
            return True
        return False if verdicts and all(v.valid is False for v in verdicts) else None


_GUARDS = (
    re.compile(r"^(\w+)\.empty\(\) or "),
    re.compile(r"^(\w+)\.exists\(\) implies "),
    re.compile(r"^\((\w+)\.exists\(\) and [^()]*\) implies "),
)
_guard_cache: dict[str, str | None] = {}


@functools.lru_cache(maxsize=None)
def _effective_expression(key: str, expression: str | None) -> str | None:
    """The expression evaluated for a constraint: R4's errata corrected, and ``matches()`` as
    ``matchesFull()`` (see ERRATA). Computed once per distinct constraint."""
    if key in ERRATA and expression == ERRATA[key][0]:
        return ERRATA[key][1]
    if expression and ".matches(" in expression:
        return expression.replace(".matches(", ".matchesFull(")
    return expression


def _guard(expression: str) -> str | None:
    """The child whose absence makes the constraint true at once: ``binding.empty() or ...``."""
    if expression not in _guard_cache:
        match = next((m for m in (g.match(expression) for g in _GUARDS) if m), None)
        _guard_cache[expression] = match.group(1) if match else None
    return _guard_cache[expression]


def _no_choice_of(name: str, value: dict[str, Any]) -> bool:
    """No key of the object is ``name`` followed by a capital (a choice ``nameType``).

    With ``name`` and ``_name`` not in it either (tested inline by the invariant checker), the
    object lacks ``name``: a constraint ``name.empty() or ...`` / ``name.exists() implies ...``
    holds without evaluating it. Saves most of the FHIRPath evaluations on definitional
    resources, whose elements carry many such rules."""
    end = len(name) + 1
    for key in value:  # a loop, not any() over a generator
        if key.startswith(name) and key[end - 1:end].isupper():
            return False
    return True


def _false(outcome: list[Any]) -> bool:
    """A fast answer (navigated values as (value, path) pairs) is ``[False]``, as the engine's
    answer is compared (``== [False]``)."""
    if len(outcome) != 1:
        return False
    item = outcome[0]
    return (item[0] if type(item) is Node else item) == False  # noqa: E712 - as the list comparison does


def _verify(expression: str, fast: list[Any], engine: list[Any] | Exception) -> None:
    """``SAMSVAR_VERIFY_FAST_PATH=1``: the fast path must answer what the engine answers."""
    if isinstance(engine, Exception) or (fast == [False]) != (engine == [False]) or fast != engine:
        raise AssertionError(f"FHIRPath fast path differs from the engine on {expression!r}: {fast!r} != {engine!r}")


def _load_engine_nodes() -> None:
    global ResourceNode
    if ResourceNode is None:
        from fhirpathpy.engine.nodes import ResourceNode


def _typed(resource: dict[str, Any]) -> Any:
    """A resource as a typed node, so ``%resource.type().name`` is its resource type."""
    return ResourceNode.create_node(resource, resource.get("resourceType"))


def _best_practice(constraint: dict[str, Any]) -> bool:
    return any(ext.get("url") == BEST_PRACTICE_EXT and ext.get("valueBoolean") for ext in constraint.get("extension") or [])
