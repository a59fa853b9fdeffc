"""NAV fellesformat and SOAP envelopes: the message inside is validated as if it stood alone,
located where it stands; the wrapper's own fields and its XSD are checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from samsvar.validators import Options, Validator
from samsvar.validators.load import safe_xml_parser
from samsvar.validators.messages.schema_packs import install_schemas
from samsvar.validators.messages.schemas import SchemaSet
from samsvar.validators.messages.validate import validate_message
from samsvar.validators.messages.wrappers import unwrap

from .conftest import FIXTURES
from .shared import shared_path

WRAPPERS = FIXTURES / "messages" / "wrappers"


def _root(path: Path) -> etree._Element:
    return etree.parse(str(path), safe_xml_parser()).getroot()


@pytest.fixture(scope="module")
def nav_schemas(tmp_path_factory: pytest.TempPathFactory) -> SchemaSet:
    """NAV's published schemas (fellesformat, MsgHead, Dialogmelding, AppRec) as one pack."""
    return SchemaSet([install_schemas(shared_path("no", "xsd", "nav-syfo-xml-codegen"),
                                      tmp_path_factory.mktemp("schema-home"))])


def test_the_wrapped_message_gives_the_findings_it_gives_alone_at_its_place_in_the_file() -> None:
    alone = Validator(Options()).validate_bytes("m.xml", (FIXTURES / "messages/rules/msgid-not-guid.xml").read_bytes())
    wrapped = Validator(Options()).validate_bytes(
        "w.xml", (WRAPPERS / "fellesformat-inner-msgid-not-guid.xml").read_bytes())
    alone_rules = [(i.rule, i.expression) for i in alone.issues if i.rule != "MSG-XSD-002"]
    wrapped_rules = [(i.rule, i.expression) for i in wrapped.issues if i.rule != "MSG-XSD-002"]
    assert wrapped_rules == [(rule, "/EI_fellesformat" + expression) for rule, expression in alone_rules]
    assert wrapped.kind.family == "message" and wrapped.kind.name == "NAV fellesformat 2"
    line_of_msgid = next(i.line for i in wrapped.issues if i.rule == "MSG-RULE-006")
    assert "MsgId" in (WRAPPERS / "fellesformat-inner-msgid-not-guid.xml").read_text().splitlines()[line_of_msgid - 1]


def test_soap_bodies_of_both_versions_are_unpacked() -> None:
    for name in ("soap11-valid.xml", "soap12-two-messages.xml"):
        found = unwrap(_root(WRAPPERS / name))
        assert found.message is not None and etree.QName(found.message).localname == "MsgHead"
    assert unwrap(_root(WRAPPERS / "soap11-empty-body.xml")).message is None


def test_a_message_that_is_no_wrapper_is_itself() -> None:
    root = _root(FIXTURES / "messages/rules/valid-dialogmelding.xml")
    found = unwrap(root)
    assert found.wrapper is None and found.message is root and not found.issues


def test_the_wrapper_is_checked_whole_against_its_schema_when_the_pack_has_it(nav_schemas: SchemaSet) -> None:
    root = _root(WRAPPERS / "fellesformat-valid.xml")
    block = root.find("{http://www.nav.no/xml/eiff/2/}MottakenhetBlokk")
    assert block is not None
    del block.attrib["ediLoggId"]  # required by Fellesformat2_any.xsd
    issues = validate_message(root, nav_schemas, Validator(Options())._message_terminology())
    xsd = [i for i in issues if i.rule == "MSG-XSD-001"]
    assert any("ediLoggId" in i.message and i.expression == "/EI_fellesformat/MottakenhetBlokk" for i in xsd), xsd


def test_every_published_nav_example_is_unpacked() -> None:
    folders = [shared_path("no", "messages", "nav-padm2-fellesformat"),
               shared_path("no", "messages", "nav-isdialogmelding-fellesformat")]
    files = sorted(p for folder in folders for p in folder.glob("*.xml"))
    assert len(files) >= 10
    validator = Validator(Options())
    for path in files:
        result = validator.validate_bytes(str(path), path.read_bytes())
        rules = {i.rule for i in result.issues}
        assert result.kind.family == "message", path.name
        assert not rules & {"INPUT-008", "MSG-WRAP-001", "SAMSVAR-001"}, (path.name, rules)
