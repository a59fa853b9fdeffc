"""``jsontree.objects_in``: the objects of a document listed once for the checks that ask something
of every object (profiles declared inside a Bundle, national identifier systems)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from samsvar.validators.fhir.identifiers import check_identifiers
from samsvar.validators.jsontree import objects_in

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3))
_TREES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.sampled_from("abcd"), inner, max_size=4)),
                      max_leaves=25)


def _every_object(tree: Any) -> list[int]:
    """The reference: ids of every dict, by recursion."""
    found: list[int] = []
    if isinstance(tree, dict):
        found.append(id(tree))
        for value in tree.values():
            found += _every_object(value)
    elif isinstance(tree, list):
        for value in tree:
            found += _every_object(value)
    return found


@settings(max_examples=300, deadline=None)
@given(_TREES)
def test_every_object_is_listed_once(tree: Any) -> None:
    listed = [id(node) for node in objects_in(tree)]
    assert sorted(listed) == sorted(_every_object(tree))
    assert len(set(listed)) == len(listed)


def test_order_is_last_member_first() -> None:
    # the order profiles_walked has always reported profiles in (a depth-first walk, last member first)
    first, second = {"resourceType": "Patient"}, {"resourceType": "Observation"}
    bundle = {"resourceType": "Bundle", "entry": [{"resource": first}, {"resource": second}]}
    assert [node.get("resourceType") for node in objects_in(bundle) if "resourceType" in node] == \
        ["Bundle", "Observation", "Patient"]


def test_identifiers_found_through_the_listed_objects() -> None:
    # a national identifier deep in a Bundle, with the objects listed by the caller or not
    patient = {"resourceType": "Patient", "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "123"}]}
    bundle = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Basic"}}, {"resource": patient}]}
    given_objects = list(check_identifiers(bundle, objects=objects_in(bundle)))
    assert given_objects and [i.rule for i in given_objects] == [i.rule for i in check_identifiers(bundle)]
    # a Coding with that system is not an identifier
    coding = {"resourceType": "Basic", "code": {"coding": [{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "code": "x"}]}}
    assert list(check_identifiers(coding, objects=objects_in(coding))) == []
