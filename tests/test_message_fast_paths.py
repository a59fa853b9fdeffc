"""The fast paths of the message layers give what the plain ones gave (issue 8).

The element helpers of the rules match local names with lxml's ``{*}name`` filters, identifier
holders are found from their type elements, coded elements by one compiled XPath, code verdicts
are remembered per terminology service, the schema layer remembers which namespaces are usable
together, and the loader asks libxml2 whether anything is too deep before walking the tree.
Each is checked here against the straightforward walk it replaces, on the fixtures and on the
real messages of ``../shared`` when they are there. No timings: figures are in
``bench/messages_corpus.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from samsvar.validators import Options, Validator
from samsvar.validators.fhir.definitions import Definitions
from samsvar.validators.fhir.igs import PROJECT_TERMINOLOGY, ProjectResources
from samsvar.validators.load import _xml_too_deep, safe_xml_parser
from samsvar.validators.messages import codes, identities, message, rules
from samsvar.validators.messages.schema_packs import install_schemas
from samsvar.validators.messages.schemas import SchemaSet, _namespaces_in
from samsvar.validators.terminology.service import CodeVerdict, TerminologyService

from .conftest import FIXTURES
from .shared import shared_root

MESSAGES = FIXTURES / "messages"

MIXED = b"""<?xml version="1.0" encoding="UTF-8"?>
<?pi before?>
<m:Root xmlns:m="urn:m" xmlns:p="urn:p">
  <!-- a comment named nothing -->
  <m:Ident><m:Id>1</m:Id><m:TypeId V="HER"/></m:Ident>
  <p:Ident><Id>2</Id><TypeId V="ENH"/><p:TypeId V="second"/></p:Ident>
  <Ident xmlns=""><Id>3</Id><TypeId V="HPR"/></Ident>
  <m:Inst><m:Id>4</m:Id><m:TypeId V="HER"/>
    <m:HCPerson><m:Id>5</m:Id><m:TypeId V="HPR"/></m:HCPerson>
    <m:AdditionalId><m:Id>6</m:Id><m:Type V="RSH"/></m:AdditionalId>
  </m:Inst>
  <m:Patient><m:HCPerson><m:OffId>7</m:OffId><m:TypeOffId V="FNR"/></m:HCPerson>
    <m:OffId>8</m:OffId><m:TypeOffId V="FNR"/></m:Patient>
  <m:Code V="1" S="2.16.578.1.12.4.1.1.8279"/><m:Code V="2"/><m:Code S="x"/>
  <?pi inside?>
</m:Root>"""


def _xml_files() -> list[Path]:
    found = sorted(p for p in MESSAGES.rglob("*.xml"))
    shared = shared_root()
    if shared is not None and (shared / "data" / "no" / "messages").is_dir():
        found += sorted(p for p in (shared / "data" / "no" / "messages").rglob("*") if p.suffix.lower() == ".xml")
    return found


def _roots() -> Iterator[etree._Element]:
    yield etree.fromstring(MIXED, safe_xml_parser())
    for path in _xml_files():
        try:
            yield etree.parse(str(path), safe_xml_parser()).getroot()
        except etree.XMLSyntaxError:
            continue


# -- the plain walks, as they were --------------------------------------------------------------

def _plain_child(element: etree._Element, name: str) -> etree._Element | None:
    return next((node for node in element if message.local(node) == name), None)


def _plain_descendants(element: etree._Element, name: str) -> list[etree._Element]:
    return [node for node in element.iter() if message.local(node) == name]


def _plain_pairs(scope: etree._Element) -> list[tuple[etree._Element | None, etree._Element, etree._Element]]:
    found = []
    for node in scope.iter():
        if not isinstance(node.tag, str):
            continue
        pairs = (("Id", "Type"),) if message.local(node) == "AdditionalId" else identities._PAIRS
        for value_name, type_name in pairs:
            type_element = _plain_child(node, type_name)
            if type_element is not None:
                found.append((_plain_child(node, value_name), type_element, node))
    return found


def _plain_namespaces(root: etree._Element) -> set[str]:
    return {etree.QName(el).namespace or "" for el in root.iter(etree.Element)}


def _plain_too_deep(root: etree._Element, limit: int) -> etree._Element | None:
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > limit:
            return element
        stack.extend((child, depth + 1) for child in element if isinstance(child.tag, str))
    return None


# -- the rules' element helpers -----------------------------------------------------------------

def test_helpers_match_local_names_in_any_namespace_or_none() -> None:
    root = etree.fromstring(MIXED, safe_xml_parser())
    names = ["Ident", "Id", "TypeId", "HCPerson", "Code", "Nothing", "Root"]
    for element in root.iter(etree.Element):
        for name in names:
            assert message.child(element, name) is _plain_child(element, name)
            assert message.children(element, name) == [n for n in element if message.local(n) == name]
            assert list(message.descendants(element, name)) == _plain_descendants(element, name)
    assert message.child(None, "Id") is None and message.children(None, "Id") == []
    assert list(message.descendants(None, "Id")) == []


def test_identifier_pairs_are_the_plain_walks_in_document_order() -> None:
    checked = 0
    for root in _roots():
        for scope in [root, *message.descendants(root, "Patient"), *message.descendants(root, "Inst")]:
            fast = [(p.value_element, p.type_element, p.holder) for p in identities.identifier_pairs(scope)]
            assert fast == _plain_pairs(scope)
            checked += bool(fast)
    assert checked


def test_nested_holders_keep_document_order() -> None:
    root = etree.fromstring(MIXED, safe_xml_parser())
    values = [message.text(p.value_element) for p in identities.identifier_pairs(root)]
    assert values == ["1", "2", "3", "4", "5", "6", "8", "7"]  # Patient starts before its HCPerson


def test_coded_elements_are_those_with_a_code_and_a_system() -> None:
    for root in _roots():
        plain = [el for el in root.iter(etree.Element) if el.get("S") is not None and el.get("V") is not None]
        assert codes._CODED(root) == plain


# -- remembered code verdicts -------------------------------------------------------------------

@pytest.fixture(scope="module")
def terminology() -> TerminologyService:
    return TerminologyService(Definitions([ProjectResources(PROJECT_TERMINOLOGY)]))


def test_a_remembered_verdict_gives_the_same_issues(terminology: TerminologyService) -> None:
    for path in sorted((MESSAGES / "rules").glob("*.xml")):
        root = etree.parse(str(path), safe_xml_parser()).getroot()
        first = [i.as_dict() for i in rules.check_message(root, terminology)]
        again = [i.as_dict() for i in rules.check_message(root, terminology)]
        fresh = TerminologyService(Definitions([ProjectResources(PROJECT_TERMINOLOGY)]))
        assert first == again == [i.as_dict() for i in rules.check_message(root, fresh)], path.name


class _Counting:
    """A terminology service that counts its calls and answers with one verdict."""

    def __init__(self, verdict: CodeVerdict) -> None:
        self.verdict, self.calls = verdict, 0

    def validate_code(self, system: str, code: str, display: str | None = None) -> CodeVerdict:
        self.calls += 1
        return self.verdict


def test_verdicts_are_remembered_but_not_a_server_that_could_not_answer() -> None:
    outcome = codes.code_outcome
    local = _Counting(CodeVerdict(True))
    for _ in range(3):
        assert outcome(local, "2.16.578.1.12.4.1.1.8279", "DIALOG_NOTAT", None) is None  # type: ignore[arg-type]
    assert local.calls == 1
    down = _Counting(CodeVerdict(None, "server down", "server-down"))
    for _ in range(3):
        assert outcome(down, "2.16.578.1.12.4.1.1.9999", "1", None) == ("unavailable", "server down")  # type: ignore[arg-type]
    assert down.calls == 3


# -- the loader's depth check -------------------------------------------------------------------

@pytest.mark.parametrize("depth", [1, 2, 19, 20, 21, 40])
@pytest.mark.parametrize("limit", [1, 20, 200, 300])
def test_depth_check_agrees_with_the_walk(depth: int, limit: int) -> None:
    branch = "<b>" * (depth - 1) + "</b>" * (depth - 1)
    root = etree.fromstring(f"<a><c/>{branch}<!-- x --><c><d/></c></a>".encode(), safe_xml_parser())
    assert _xml_too_deep(root, limit) is _plain_too_deep(root, limit)


# -- the schema layer ---------------------------------------------------------------------------

def test_namespaces_in_a_message() -> None:
    for root in _roots():
        assert set(_namespaces_in(root)) == _plain_namespaces(root)


def test_usable_namespaces_are_remembered_as_copies(tmp_path: Path) -> None:
    shared = shared_root()
    if shared is None or not (shared / "data" / "no" / "xsd" / "sarepta-skjema").is_dir():
        pytest.skip("../shared (the sarepta XSDs) is not beside the repository")
    schemas = SchemaSet([install_schemas(shared / "data" / "no" / "xsd" / "sarepta-skjema", tmp_path)])
    wanted = ["http://www.kith.no/xmlstds/msghead/2006-05-24", "http://www.kith.no/xmlstds/dialog/2013-01-23",
              "urn:not-in-the-pack"]
    first = schemas.usable(wanted)
    first[0].clear()
    assert schemas.usable(wanted) == (wanted[:2], {})
    assert schemas.schema_file("urn:not-in-the-pack") is None


# -- two jobs -----------------------------------------------------------------------------------

def test_two_jobs_give_the_results_of_one() -> None:
    folder = str(MESSAGES)  # no schema pack: the autouse isolated_user_state's schema home is empty

    def run(jobs: int) -> list[tuple[str, list[tuple[str, int | None, str]]]]:
        return [(r.path, [(i.rule, i.line, i.message) for i in r.issues if i.rule != "MSG-RULE-004"])
                for r in Validator(Options()).validate_paths([folder, folder], jobs=jobs)]

    one = run(1)
    assert len(one) > 20 and any(issues for _, issues in one)
    assert run(2) == one
