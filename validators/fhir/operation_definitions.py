"""OperationDefinitions as artifacts: the ``base`` chain and the Parameters profiles.

An OperationDefinition may name, in ``inputProfile`` and ``outputProfile``, a profile on
Parameters that says the same as its ``parameter`` list, in the form a server validates a call
with. The two must agree, or clients built from one are refused by the other: HL7's validator
(``OperationDefinitionValidator``) cross-checks them, and so does samsvar.

For each profile (``in`` for inputProfile, ``out`` for outputProfile) the profile must be
loaded and be a profile on Parameters. Each slice of its ``Parameters.parameter`` names one
parameter by a fixed (or pattern) ``name``; that parameter, with the same ``use``, must be in
the operation's list, with the same ``min`` and ``max``; the types its ``value[x]`` or
``resource`` allow (whichever the slice uses) must be the parameter's ``type`` (or its
``operationdefinition-allowed-type`` extensions), and the target profiles on both sides must
be the same (where the parameter's type is not ``Element``, whose targets the operation cannot
state: opd-3). A parameter of the operation with that ``use`` that the profile has no slice
for, and a slice for a parameter the operation does not list, are warnings. A ``base`` chain
that comes back to the definition itself is an error.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..issues import Issue, Path
from ..rules import Rule, declared
from .definitions import Definitions, ElementDefinition, loops_back
from .artifact_check import ArtifactCheck
from .visit import Visit

CIRCULAR_BASE = declared("FHIR-OPDEF-001")
PROFILE_UNUSABLE = declared("FHIR-OPDEF-002")
SLICE_WITHOUT_NAME = declared("FHIR-OPDEF-003")
NOT_IN_OPERATION = declared("FHIR-OPDEF-004")
NOT_IN_PROFILE = declared("FHIR-OPDEF-005")
CARDINALITY_DIFFERS = declared("FHIR-OPDEF-006")
TYPES_DIFFER = declared("FHIR-OPDEF-007")
TARGETS_DIFFER = declared("FHIR-OPDEF-008")

ALLOWED_TYPE = "http://hl7.org/fhir/StructureDefinition/operationdefinition-allowed-type"
"""R4's extension on a parameter of type Element (or another abstract type) naming a type it allows."""

_PROFILES = (("in", "inputProfile"), ("out", "outputProfile"))
_UNBOUNDED = 1 << 62


class OperationDefinitionChecker(ArtifactCheck):
    """An element check on OperationDefinition resources (their root element)."""
    resource_type = "OperationDefinition"

    def __init__(self, definitions: Definitions, hl7_paths: bool = False) -> None:
        super().__init__(definitions)
        self.hl7_paths = hl7_paths
        """Locate the findings where HL7's validator does: a parameter's under the profile's element
        (``OperationDefinition.inputProfile.parameter[1]``), a circular base on the definition."""

    def check(self, visit: Visit, definition: dict[str, Any]) -> Iterator[Issue]:
        yield from self._base_chain(visit, definition)
        for use, key in _PROFILES:
            if isinstance(definition.get(key), str):
                yield from self._profile(visit, definition, use, key)

    # -- base -------------------------------------------------------------------------------------

    def _base_chain(self, visit: Visit, definition: dict[str, Any]) -> Iterator[Issue]:
        """FHIR-OPDEF-001 when following ``base`` from definition to definition comes back to this one."""
        url, base = definition.get("url"), definition.get("base")
        if not isinstance(url, str) or not isinstance(base, str):
            return
        last = loops_back(url, base, self._operation, "base")
        if last is not None:
            yield CIRCULAR_BASE.issue(
                f"The definition of the operation is circular: it depends on itself (url = '{url}', from '{last}')",
                path=visit.path if self.hl7_paths else (*visit.path, "base"),
                expression=visit.expression if self.hl7_paths else f"{visit.expression}.base")

    def _operation(self, url: str) -> dict[str, Any] | None:
        found = self.definitions.get(url)
        return found if found is not None and found.get("resourceType") == "OperationDefinition" else None

    # -- inputProfile and outputProfile -----------------------------------------------------------

    def _profile(self, visit: Visit, definition: dict[str, Any], use: str, key: str) -> Iterator[Issue]:
        url = definition[key]
        at: Path = (*visit.path, key)
        where: dict[str, Any] = {"path": at, "expression": f"{visit.expression}.{key}"}
        profile = self.definitions.structure_definition(url.split("|", 1)[0])
        if profile is None or profile.get("resourceType") != "StructureDefinition":
            yield PROFILE_UNUSABLE.issue(f"The '{use}' profile '{url}' cannot be found: load the package or "
                                         "implementation guide that defines it (--ig)", **where)
            return
        if profile.get("type") != "Parameters":
            yield PROFILE_UNUSABLE.issue(f"The '{use}' profile '{url}' is not a profile on the Parameters resource "
                                         f"(it is on {profile.get('type')})", **where)
            return
        elements = self.definitions.snapshot_elements(url.split("|", 1)[0])
        if elements is None:
            yield PROFILE_UNUSABLE.issue(f"The '{use}' profile '{url}' has no snapshot and none can be generated "
                                         "from its differential, so the parameters were not compared", **where)
            return
        named = _versioned(profile)
        parameters = [(i, p) for i, p in enumerate(definition.get("parameter") or []) if isinstance(p, dict)]
        matched: set[int] = set()
        for slice_ in _parameter_slices(elements):
            slice_name = str(slice_.get("sliceName"))
            children = _children(elements, str(slice_.get("id")))
            name_element = children.get("name")
            name = _fixed_text(name_element) if name_element is not None else None
            if name is None:
                what = "has no name element" if name_element is None else "does not fix the parameter name"
                yield SLICE_WITHOUT_NAME.issue(
                    f"The slice '{slice_name}' in the '{use}' profile {what} (a fixed or pattern value), so it "
                    "cannot be matched to a parameter of the operation", **where)
                continue
            found = next(((i, p) for i, p in parameters if p.get("name") == name and p.get("use") == use), None)
            if found is None:
                yield NOT_IN_OPERATION.issue(
                    f"The '{use}' profile {named} defines a parameter '{name}' but this is not in the parameters "
                    f"list of the operation definition (with use '{use}')", **where)
                continue
            index, parameter = found
            matched.add(index)
            yield from self._compare(visit, key, use, index, parameter, name, slice_, children, named)
        for index, parameter in parameters:
            if index not in matched and parameter.get("use") == use:
                yield NOT_IN_PROFILE.issue(
                    f"The '{use}' profile does not have a parameter '{parameter.get('name')}' but it is in the "
                    "parameters list of the operation definition", **self._at_parameter(visit, key, index))

    def _at_parameter(self, visit: Visit, key: str, index: int) -> dict[str, Any]:
        expression = f"{visit.expression}.{key}.parameter[{index}]" if self.hl7_paths \
            else f"{visit.expression}.parameter[{index}]"
        return {"path": (*visit.path, "parameter", index), "expression": expression}

    def _compare(self, visit: Visit, key: str, use: str, index: int, parameter: dict[str, Any], name: str,
                 slice_: ElementDefinition, children: dict[str, ElementDefinition], named: str) -> Iterator[Issue]:
        """One parameter against the profile's slice for it: cardinality, types, target profiles."""
        where = self._at_parameter(visit, key, index)
        for bound, ours, theirs in (("min", parameter.get("min"), slice_.get("min", 0)),
                                    ("max", parameter.get("max"), slice_.get("max", "*"))):
            if bound == "min":
                given, profiled = _integer(ours), _integer(theirs)
            else:
                given, profiled = _maximum(ours), _maximum(theirs)
            if given is not None and profiled is not None and given != profiled:
                yield CARDINALITY_DIFFERS.issue(
                    f"The parameter '{name}' has a {bound} of '{theirs}' in the '{use}' profile {named}, but '{ours}' "
                    "in the operation definition", **where)
        allowed = _allowed_types(parameter)
        targets = [t for t in parameter.get("targetProfile") or [] if isinstance(t, str)]
        value, resource, part = children.get("value[x]"), children.get("resource"), children.get("part")
        profile_types: list[str] = []
        profile_targets: list[str] = []
        for focus in (value, resource):
            if focus is None or not _used(focus, *(e for e in (value, resource, part) if e is not None and e is not focus)):
                continue
            for type_ in focus.get("type") or []:
                if isinstance(type_, dict) and isinstance(type_.get("code"), str):
                    profile_types.append(type_["code"])
                    profile_targets.extend(t for t in type_.get("targetProfile") or [] if isinstance(t, str))
        subject = (name, use, named, where)
        yield from _one_sided(TYPES_DIFFER, "type", subject, profile_types, allowed, in_profile=True)
        yield from _one_sided(TYPES_DIFFER, "type", subject, allowed, profile_types, in_profile=False)
        yield from _one_sided(TARGETS_DIFFER, "target profile", subject, targets, profile_targets, in_profile=False)
        declared_type = parameter.get("type")
        if isinstance(declared_type, str) and declared_type != "Element":
            # (a parameter of type Element cannot state target profiles in the operation: opd-3)
            yield from _one_sided(TARGETS_DIFFER, "target profile", subject, profile_targets, targets, in_profile=True)


def _one_sided(rule: Rule, what: str, subject: tuple[str, str, str, dict[str, Any]], items: list[str],
               other: list[str], in_profile: bool) -> Iterator[Issue]:
    """A finding for each of ``items`` that ``other`` lacks: the profile's (``in_profile``) that the
    operation does not allow, or the operation's that the profile does not."""
    name, use, named, where = subject
    for item in items:
        if item in other:
            continue
        if in_profile:
            message = (f"The {what} '{item}' is allowed for the parameter '{name}' in the '{use}' profile {named} but "
                       f"is not in the list of {what}s for the parameter in the operation definition: {_listed(other)}")
        else:
            message = (f"The {what} '{item}' is not allowed for the parameter '{name}' in the '{use}' profile {named} "
                       f"but is in the list of {what}s for the parameter in the operation definition (the profile "
                       f"allows {_listed(other)})")
        yield rule.issue(message, **where)


def _versioned(profile: dict[str, Any]) -> str:
    url, version = profile.get("url"), profile.get("version")
    return f"{url}|{version}" if isinstance(version, str) and version else str(url)


def _parameter_slices(elements: list[ElementDefinition]) -> list[ElementDefinition]:
    """The slices of ``Parameters.parameter`` (not their re-slices), in snapshot order."""
    return [e for e in elements if e.get("path") == "Parameters.parameter" and isinstance(e.get("sliceName"), str)
            and e.get("id") == f"Parameters.parameter:{e['sliceName']}"]


def _children(elements: list[ElementDefinition], slice_id: str) -> dict[str, ElementDefinition]:
    """The direct children of a slice in the snapshot, by name (``name``, ``value[x]``, ``resource``, ``part``)."""
    prefix = slice_id + "."
    return {str(e["id"])[len(prefix):]: e for e in elements
            if isinstance(e.get("id"), str) and e["id"].startswith(prefix) and "." not in e["id"][len(prefix):]
            and ":" not in e["id"][len(prefix):]}


def _fixed_text(element: ElementDefinition) -> str | None:
    """The name a slice fixes: its ``fixed[x]`` or ``pattern[x]`` text."""
    for key, value in element.items():
        if key.startswith(("fixed", "pattern")) and isinstance(value, str):
            return value
    return None


def _used(focus: ElementDefinition, *others: ElementDefinition) -> bool:
    """Whether a slice carries its value in ``focus`` (``value[x]`` or ``resource``): allowed there,
    and neither of the other two is required (as HL7's validator decides it)."""
    if str(focus.get("max")) == "0":  # (a number where the string belongs is read as its text, as HL7 reads it)
        return False
    return not any((_integer(other.get("min", 0)) or 0) > 0 for other in others)


def _allowed_types(parameter: dict[str, Any]) -> list[str]:
    """The types a parameter allows: its allowed-type extensions, else its ``type``."""
    extensions = [e for e in parameter.get("extension") or [] if isinstance(e, dict) and e.get("url") == ALLOWED_TYPE]
    if extensions:
        return [str(value) for e in extensions for k, value in e.items() if k.startswith("value")]
    declared_type = parameter.get("type")
    return [declared_type] if isinstance(declared_type, str) else []


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _maximum(value: Any) -> int | None:
    return _UNBOUNDED if value == "*" else _integer(value if isinstance(value, str) else str(value))


def _listed(values: list[str]) -> str:
    """Sorted, 'a, b and c', or '(none)'."""
    ordered = sorted(dict.fromkeys(values))
    if not ordered:
        return "(none)"
    return ordered[0] if len(ordered) == 1 else f"{', '.join(ordered[:-1])} and {ordered[-1]}"
