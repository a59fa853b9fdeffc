"""Snapshot generation: a profile's differential applied to the snapshot of its base.

Profiles in the wild often ship only a differential (HL7's test cases, many national drafts).
The snapshot is generated the way the specification describes it: start from the base
definition's snapshot (itself generated first when it is a differential-only profile), then
for each differential element, in order,

- find the element it constrains by ``id`` (``Patient.identifier:fnr.system``), or by
  ``path`` and the slice it follows when an old differential has no ids;
- create it when it is missing: a new slice is a copy of the sliced element and its children,
  placed after the element's existing slices; an element inside a datatype (``Patient.name.family``)
  is reached by expanding the parent with the datatype's (or the type profile's) snapshot;
  a renamed choice (``Observation.valueQuantity``) constrains ``value[x]`` to that one type;
- merge the differential's properties over it (constraints are added to the inherited ones).

What cannot be applied (an element that exists in neither the base nor any type) is kept in
:attr:`Snapshot.problems`, and the profile is then reported as not usable rather than checked
against a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from ..jsontree import copy_tree
from .elements import ElementDefinition, element_id, type_profiles

SnapshotSource = Callable[[str], "list[ElementDefinition] | None"]
"""Snapshot elements of a type or profile by URL or type name (generated on demand)."""

_ADDITIVE = ("constraint", "mapping", "condition", "extension")
_IGNORED = ("id", "path", "sliceName")
_CHOICE_RENAME = re.compile(r"^(.*?)([A-Z][A-Za-z]*)$")


@dataclass
class Snapshot:
    elements: list[ElementDefinition]
    problems: list[str] = field(default_factory=list)


class _Builder:
    def __init__(self, base: list[ElementDefinition], source: SnapshotSource) -> None:
        self.elements = [copy_tree(e) for e in base]
        for element in self.elements:
            element["id"] = element_id(element)
        self.base = base
        """The base as it was (never changed: what is taken from it is copied): a contentReference
        takes its children from here, not from the profile."""
        self.source = source
        self.problems: list[str] = []

    # -- lookup -----------------------------------------------------------------------------------

    def index(self, id_: str) -> int | None:
        for i, element in enumerate(self.elements):
            if element["id"] == id_:
                return i
        return None

    def _last_descendant(self, i: int) -> int:
        """Index of the last element belonging to element ``i`` (its children and slices)."""
        own = self.elements[i]["id"]
        j = i
        while j + 1 < len(self.elements):
            nxt = self.elements[j + 1]["id"]
            if nxt.startswith(own + ".") or nxt.startswith(own + ":"):
                j += 1
            else:
                break
        return j

    # -- growing the tree -------------------------------------------------------------------------

    def _expand(self, i: int) -> bool:
        """Insert the children of element ``i`` from its type (or contentReference). True if any."""
        parent = self.elements[i]
        if self._last_descendant(i) != i and any(
                e["id"].startswith(parent["id"] + ".") for e in self.elements[i + 1:self._last_descendant(i) + 1]):
            return False  # already expanded
        source: list[ElementDefinition] | None = None
        root = ""
        reference = parent.get("contentReference")
        if reference:
            target = reference.split("#", 1)[1]
            ids = [element_id(e) for e in self.base]
            if target not in ids:
                return False
            start = ids.index(target)
            source = [e for e in self.base[start:] if element_id(e) == target or element_id(e).startswith(target + ".")]
            root = target
            parent.pop("contentReference")
            parent["type"] = [{"code": "BackboneElement"}]
        else:
            types = parent.get("type") or []
            if len(types) != 1:
                return False
            profiles = type_profiles(parent, None)
            code = str(types[0].get("code", ""))
            source = self.source(profiles[0][0]) if len(profiles) == 1 else None
            if source and profiles[0][1]:  # one element of the profile (elementdefinition-profile-element)
                root = profiles[0][1]
                source = [e for e in source if element_id(e) == root or element_id(e).startswith(root + ".")]
            elif source:
                root = element_id(source[0])
            if not source:
                source = self.source(code)
                if not source:
                    return False
                root = element_id(source[0])
        children = []
        for element in source[1:]:
            old = element_id(element)
            if not old.startswith(root + "."):
                continue
            child = copy_tree(element)
            child["id"] = parent["id"] + old[len(root):]
            child["path"] = parent["path"] + str(element.get("path", old))[len(str(source[0].get("path", root))):]
            children.append(child)
        if not children:
            return False
        self.elements[i + 1:i + 1] = children
        return True

    def _new_slice(self, base_id: str, slice_name: str) -> int | None:
        base = self.index(base_id)
        if base is None:
            return None
        end = self._last_descendant(base)
        block = [e for e in self.elements[base:end + 1]
                 if e["id"] == base_id or e["id"].startswith(base_id + ".")]
        new_id = f"{base_id}:{slice_name}"
        copies = []
        for element in block:
            item = copy_tree(element)
            item["id"] = new_id + item["id"][len(base_id):]
            copies.append(item)
        copies[0]["sliceName"] = slice_name.rsplit("/", 1)[-1]
        copies[0].pop("slicing", None)
        self.elements[end + 1:end + 1] = copies
        return end + 1

    def locate(self, id_: str) -> int | None:
        """Index of the element ``id_``, creating slices and expanding types on the way."""
        found = self.index(id_)
        if found is not None:
            return found
        parent_id, sep, last = _split_last(id_)
        if not sep:
            return None
        parent = self.locate(parent_id)
        if parent is None:
            return None
        real_parent = self.elements[parent]["id"]  # a renamed choice resolves to its [x] element
        wanted = f"{real_parent}{sep}{last}"
        found = self.index(wanted)
        if found is not None:
            return found
        if sep == ":":
            return self._new_slice(real_parent, last)
        if self._expand(parent):
            found = self.index(wanted)
            if found is not None:
                return found
        return self._choice_rename(real_parent, last)

    def _choice_rename(self, parent_id: str, name: str) -> int | None:
        """``valueQuantity`` where the base has ``value[x]``: that element, limited to the one type."""
        match = _CHOICE_RENAME.match(name)
        while match:
            stem, suffix = match.group(1), name[len(match.group(1)):]
            i = self.index(f"{parent_id}.{stem}[x]")
            if i is not None:
                element = self.elements[i]
                for type_ in element.get("type") or []:
                    code = str(type_.get("code", ""))
                    if code[:1].upper() + code[1:] == suffix:
                        element["type"] = [type_]
                        return i
                return None
            match = _CHOICE_RENAME.match(stem) if stem else None
        return None

    # -- merging ------------------------------------------------------------------------------------

    def apply(self, diff: ElementDefinition, id_: str) -> None:
        i = self.locate(_normalise_choice(id_, lambda kept: self.index(kept) is not None))
        if i is None:
            self.problems.append(f"the differential element {id_} matches nothing in the base or its types")
            return
        target = self.elements[i]
        if any(key.startswith(("fixed", "pattern")) for key in diff):
            for key in [k for k in target if k.startswith(("fixed", "pattern"))]:
                del target[key]
        for key, value in diff.items():
            if key in _IGNORED:
                continue
            if key in _ADDITIVE:
                merged = {_merge_key(c): c for c in target.get(key) or []}
                for item in value:
                    merged[_merge_key(item)] = copy_tree(item)
                target[key] = list(merged.values())
            else:
                target[key] = copy_tree(value)
        if diff.get("sliceName"):
            target["sliceName"] = diff["sliceName"]


def _merge_key(item: Any) -> str:
    """Constraints merge by key, extensions by url (the profile's value wins), the rest (conditions:
    plain ids) by content."""
    if not isinstance(item, dict):
        return repr(item)
    return str(item.get("key") or item.get("url") or repr(item))


def _split_last(id_: str) -> tuple[str, str, str]:
    """``Patient.identifier:fnr.system`` -> (``Patient.identifier:fnr``, ``.``, ``system``)."""
    depth = 0
    for i in range(len(id_) - 1, -1, -1):
        ch = id_[i]
        if ch == "]":
            depth += 1
        elif ch == "[":
            depth -= 1
        elif depth == 0 and ch in ".:":
            return id_[:i], ch, id_[i + 1:]
    return "", "", id_


_TYPE_SLICE = re.compile(r"\[x\]:[A-Za-z]+(?=\.|$)")


def _normalise_choice(id_: str, exists: Callable[[str], bool] = lambda _: False) -> str:
    """``Observation.value[x]:valueQuantity.code`` -> ``Observation.value[x].code``: a type slice is its
    choice element limited to the one type, unless the base already has it as an element of its own
    (``exists``): a shipped snapshot that slices ``medication[x]`` by type keeps the other types on
    ``medication[x]``, so a profile on it constrains the slice, not the choice."""
    result, start = "", 0
    for match in _TYPE_SLICE.finditer(id_):
        kept = result + id_[start:match.end()]
        result = kept if exists(kept) else result + id_[start:match.start()] + "[x]"
        start = match.end()
    return result + id_[start:]


def _diff_ids(differential: list[ElementDefinition]) -> list[str]:
    """The id of each differential element; old differentials without ids get one from path and slice."""
    ids: list[str] = []
    open_slices: dict[str, str] = {}
    for element in differential:
        if element.get("id"):
            ids.append(str(element["id"]))
            continue
        path = str(element.get("path", ""))
        prefix = path
        for sliced_path, sliced_id in sorted(open_slices.items(), key=lambda kv: -len(kv[0])):
            if path == sliced_path or path.startswith(sliced_path + "."):
                prefix = sliced_id + path[len(sliced_path):]
                break
        if element.get("sliceName"):
            base = prefix if path not in open_slices else prefix.rsplit(":", 1)[0]
            new_id = f"{base}:{element['sliceName']}"
            open_slices[path] = new_id
            ids.append(new_id)
        else:
            if path in open_slices:
                del open_slices[path]
                prefix = path
            ids.append(prefix)
    return ids


def generate(structure_definition: dict[str, Any], base: list[ElementDefinition],
             source: SnapshotSource) -> Snapshot:
    """The snapshot of a constraint profile from its differential and its base's snapshot."""
    builder = _Builder(base, source)
    differential = (structure_definition.get("differential") or {}).get("element") or []
    root_type = str(structure_definition.get("type", ""))
    base_root = element_id(base[0]) if base else root_type
    for diff, id_ in zip(differential, _diff_ids(differential)):
        if base_root != root_type and id_.split(".", 1)[0].split(":", 1)[0] == root_type:
            id_ = base_root + id_[len(root_type):]
        builder.apply(diff, id_)
    return Snapshot(builder.elements, builder.problems)
