"""Walks over a parsed JSON tree that several checks share, made once per document."""

from __future__ import annotations

from typing import Any

_CONTAINERS = (dict, list)


def objects_in(tree: Any) -> list[dict[str, Any]]:
    """Every JSON object of ``tree`` (the tree itself included when it is one), in the order of a
    depth-first walk that takes the last member of each container first. One pass, with only
    containers pushed: a check that asks something of every object (the resources that declare
    profiles, the objects with a national identifier system) reads this list instead of walking
    a large Bundle again."""
    found: list[dict[str, Any]] = []
    stack = [tree]
    pop, extend, add = stack.pop, stack.extend, found.append
    while stack:
        node = pop()
        if isinstance(node, dict):
            add(node)
            extend([value for value in node.values() if isinstance(value, _CONTAINERS)])
        elif isinstance(node, list):
            extend([value for value in node if isinstance(value, _CONTAINERS)])
    return found


def copy_tree(value: Any) -> Any:
    """A copy of a JSON tree (its dicts and lists new, its scalars shared: they are immutable),
    several times faster than :func:`copy.deepcopy`, which keeps a memo for cycles JSON cannot have."""
    kind = type(value)
    if kind is dict:
        return {key: copy_tree(item) if type(item) in _CONTAINERS else item for key, item in value.items()}
    if kind is list:
        return [copy_tree(item) if type(item) in _CONTAINERS else item for item in value]
    return value
