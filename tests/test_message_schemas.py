"""The schema layer for Norwegian messages: schema packs, the in-pack resolver, one-pass
validation of MsgHead with its payloads, and agreement with a published lxml run.

Real files only: the sarepta-skjema XSDs and example messages from ``../shared``, and small
messages authored under ``fixtures/messages/schemas/``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from lxml import etree

from samsvar.validators.issues import Severity
from samsvar.validators.load import load_bytes, safe_xml_parser
from samsvar.validators.messages.schema_packs import INDEX_NAME, install_schemas, scan_pack
from samsvar.validators.messages.schema_resolver import PackResolver
from samsvar.validators.messages.schemas import SchemaSet, default_schema_set, schema_issues
from samsvar.validators.messages.standards import STANDARDS, describe, unsupported_issues
from samsvar.validators.rules import get_rule

from .conftest import FIXTURES
from .shared import shared_path

HERE = FIXTURES / "messages" / "schemas"
MSGHEAD = "http://www.kith.no/xmlstds/msghead/2006-05-24"
DIALOG_11 = "http://www.kith.no/xmlstds/dialog/2013-01-23"
APPREC_11 = "http://www.kith.no/xmlstds/apprec/2012-02-15"
AGREEMENT_FLOOR = 0.90


def _root(path: Path) -> etree._Element:
    return etree.parse(str(path), safe_xml_parser()).getroot()


def _message(*parts: str) -> etree._Element:
    return _root(shared_path("no", "messages", *parts))


def _rules(issues: list) -> list[str]:
    return [i.rule for i in issues]


@pytest.fixture(scope="module")
def sarepta_source() -> Path:
    return shared_path("no", "xsd", "sarepta-skjema")


@pytest.fixture(scope="module")
def schemas(sarepta_source: Path, tmp_path_factory: pytest.TempPathFactory) -> SchemaSet:
    """The sarepta pack, installed once for this module into a temporary schema home."""
    info = install_schemas(sarepta_source, tmp_path_factory.mktemp("schema-home"))
    return SchemaSet([info])


# ---------------------------------------------------------------- installing and indexing


def test_install_copies_the_pack_and_indexes_namespaces(sarepta_source: Path, tmp_path: Path) -> None:
    info = install_schemas(sarepta_source, tmp_path)
    assert info.root == tmp_path / "sarepta-skjema" and (info.root / INDEX_NAME).is_file()
    assert info.namespaces[MSGHEAD] == "felleskomponenter/MsgHead-v1_2.xsd"
    assert info.namespaces[DIALOG_11] == "dialogmelding/2013-01-23/dialogmelding-v1.1.xsd"
    assert (info.root / info.namespaces[APPREC_11]).is_file()
    # Three files share the NPR namespace; the one that includes the other two is chosen.
    assert info.namespaces["http://www.npr.no/xmlstds"] == "NPRbehandlerkravmelding/bkm_078(bkm).xsd"
    # A strict schema wins over its "-loose" twin.
    assert info.namespaces["http://www.kith.no/xmlstds/eresept/m30/2014-12-01"] == "eresept/ER-M30-2014-12-01.xsd"
    # Its namespace URI is not a valid URI for libxml2: reported, not fatal.
    assert any("Egenerkl" in name for name in info.skipped)
    for namespace, standard in STANDARDS.items():
        assert namespace in info.namespaces, f"{standard.title} has no schema in the sarepta pack"


def test_bad_pack_inputs_are_clear_value_errors(tmp_path: Path) -> None:
    plain = tmp_path / "schema.xsd"
    plain.write_text('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>', encoding="utf-8")
    with pytest.raises(ValueError, match="not a folder or a zip"):
        install_schemas(plain, tmp_path / "home")
    with pytest.raises(ValueError, match="not a folder or a zip"):
        install_schemas(tmp_path / "missing", tmp_path / "home")
    empty = tmp_path / "empty"
    (empty / "docs").mkdir(parents=True)
    (empty / "docs" / "LESMEG.txt").write_text("no schemas here", encoding="utf-8")
    with pytest.raises(ValueError, match="no readable XML Schema"):
        install_schemas(empty, tmp_path / "home")
    assert not (tmp_path / "home" / "empty").exists()
    pack = tmp_path / "home" / "pack"
    pack.mkdir(parents=True)
    (pack / "a.xsd").write_text(plain.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ValueError, match="installed pack pack itself"):
        install_schemas(pack, tmp_path / "home")
    assert (pack / "a.xsd").is_file(), "installing a pack over itself must not delete it"


def _zip_folder(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*.xsd")):
            archive.write(path, Path("skjema") / path.relative_to(folder))
    return target


def test_install_from_a_zip_and_find_it_as_the_default(sarepta_source: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    archive = _zip_folder(sarepta_source, tmp_path / "sarepta-2024.zip")
    home = tmp_path / "home"
    monkeypatch.setenv("SAMSVAR_SCHEMA_HOME", str(home))
    assert default_schema_set() is None
    info = install_schemas(archive)
    assert info.root == home / "sarepta-2024"
    assert info.namespaces[MSGHEAD] == "skjema/felleskomponenter/MsgHead-v1_2.xsd"
    found = default_schema_set()
    assert found is not None and [p.name for p in found.packs] == ["sarepta-2024"]
    assert found.validate(_root(HERE / "dialogmelding-1.1-valid.xml")) == []
    assert _rules(found.validate(_root(HERE / "msghead-missing-msgid.xml"))) == ["MSG-XSD-001"]


@pytest.mark.parametrize("evil", ["../escaped.xsd", "/tmp/samsvar-absolute.xsd", "ok/../../escaped.xsd",
                                  "..\\escaped.xsd", "C:/escaped.xsd"])
def test_zip_slip_is_refused_before_anything_is_written(tmp_path: Path, evil: str) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("good.xsd", '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>')
        writer.writestr(evil, '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>')
    home = tmp_path / "home" / "deeper"
    with pytest.raises(ValueError, match="zip-slip"):
        install_schemas(archive, home)
    assert not (tmp_path / "home" / "escaped.xsd").exists() and not (home / "escaped.xsd").exists()
    assert not Path("/tmp/samsvar-absolute.xsd").exists()
    assert [p.name for p in home.iterdir()] == [], "no pack and no staging folder is left behind"


# ---------------------------------------------------------------- the resolver stays in the pack

XS = "http://www.w3.org/2001/XMLSchema"


def _schema(body: str, namespace: str = "urn:samsvar:test") -> str:
    return f'<xs:schema xmlns:xs="{XS}" targetNamespace="{namespace}" xmlns:t="{namespace}" ' \
           f'elementFormDefault="qualified">{body}</xs:schema>'


def test_resolver_never_reads_outside_the_pack(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = _schema('<xs:element name="Secret" type="xs:string"/>')
    (outside / "secret.xsd").write_text(secret, encoding="utf-8")
    (outside / "absolute.xsd").write_text(secret.replace("Secret", "Absolute"), encoding="utf-8")
    source = tmp_path / "pack"
    (source / "nested").mkdir(parents=True)
    (source / "nested" / "types.xsd").write_text(_schema('<xs:element name="Inside" type="xs:string"/>'),
                                                 encoding="utf-8")
    (source / "linked.xsd").symlink_to(outside / "secret.xsd")  # a link out of the pack is not copied
    (source / "main.xsd").write_text(_schema(
        '<xs:include schemaLocation="../outside/secret.xsd"/>'
        f'<xs:include schemaLocation="{(outside / "absolute.xsd").as_uri()}"/>'
        '<xs:include schemaLocation="http://example.invalid/schemas/net.xsd"/>'
        '<xs:include schemaLocation="../../somewhere/else/types.xsd"/>'  # found by basename
        '<xs:include schemaLocation="linked.xsd"/>'), encoding="utf-8")
    info = install_schemas(source, tmp_path / "home")
    assert sorted(info.files) == ["main.xsd", "nested/types.xsd"]

    resolver = PackResolver([info])
    assert resolver.locate(str(info.root / "../outside/secret.xsd")) is None
    assert resolver.locate((outside / "absolute.xsd").as_uri()) is None
    assert resolver.locate("http://example.invalid/schemas/net.xsd") is None
    assert resolver.locate("/etc/passwd") is None
    assert resolver.locate("../../somewhere/else/types.xsd") == info.root / "nested" / "types.xsd"

    schemas = SchemaSet([info])
    inside = etree.fromstring(b'<Inside xmlns="urn:samsvar:test">ok</Inside>')
    assert schemas.validate(inside) == []
    for name in ("Secret", "Absolute"):
        issues = schemas.validate(etree.fromstring(f'<{name} xmlns="urn:samsvar:test">x</{name}>'.encode()))
        assert _rules(issues) == ["MSG-XSD-001"] and "No matching global declaration" in issues[0].message


# ---------------------------------------------------------------- validating messages


def test_valid_dialogmelding_11_in_msghead(schemas: SchemaSet) -> None:
    root = _message("sarepta-eksempel", "Dialogmelding", "Dialogmelding-v1-1", "Helsefaglig dialog.xml")
    parts = describe(root)
    assert parts.envelope is not None and parts.envelope.title == "MsgHead 1.2"
    assert parts.message_type == "DIALOG_HELSEFAGLIG"
    assert [(p.location, p.standard and p.standard.title) for p in parts.payloads] == [
        ("/MsgHead/Document[1]/RefDoc/Content/Dialogmelding", "Dialogmelding 1.1"),
        ("/MsgHead/Document[2]/RefDoc/Content/Base64Container", "Base64Container 1.0"),
    ]
    assert parts.unsupported == () and unsupported_issues(parts) == []
    assert parts.message_type in STANDARDS[DIALOG_11].message_types
    assert schemas.validate(root) == []
    assert schemas.validate(_root(HERE / "dialogmelding-1.1-valid.xml")) == []


def test_invalid_dialogmelding_11_listed_in_the_report(schemas: SchemaSet) -> None:
    # The attachments declare xsi with a misspelt namespace (XMLSchemainstance), so xsi:schemaLocation
    # is an attribute that Base64Container does not allow: once per attachment.
    issues = schemas.validate(_message("helsenorge-messaging", "MetadataTestsDialogmelding11.xml"))
    assert [(i.rule, i.severity, i.line) for i in issues] == [
        ("MSG-XSD-001", Severity.ERROR, 98), ("MSG-XSD-001", Severity.ERROR, 121)]
    assert issues[0].expression == "/MsgHead/Document[2]/RefDoc/Content/Base64Container"
    assert "XMLSchemainstance}schemaLocation" in issues[0].message and "is not allowed" in issues[0].message


def test_envelope_error_missing_msgid(schemas: SchemaSet) -> None:
    issues = schemas.validate(_root(HERE / "msghead-missing-msgid.xml"))
    assert [(i.rule, i.line, i.expression) for i in issues] == [("MSG-XSD-001", 9, "/MsgHead/MsgInfo/Sender")]
    assert f"{{{MSGHEAD}}}MsgId" in issues[0].message


def test_payload_is_validated_in_the_same_pass_as_the_envelope(schemas: SchemaSet) -> None:
    root = _root(HERE / "dialogmelding-1.1-payload-missing-temakodet.xml")
    issues = schemas.validate(root)
    assert [(i.rule, i.line) for i in issues] == [("MSG-XSD-001", 44)]
    assert issues[0].expression == "/MsgHead/Document[1]/RefDoc/Content/Dialogmelding/Notat/Tema"
    assert f"{{{DIALOG_11}}}TemaKodet" in issues[0].message
    # One compiled schema holds both namespaces: the envelope's wildcard is strict, so the
    # MsgHead schema alone rejects any payload it has no declaration for.
    alone = schemas.compile([MSGHEAD])
    assert not alone.validate(root)
    assert "No matching global element declaration" in str(alone.error_log.last_error)


def test_apprec_11(schemas: SchemaSet) -> None:
    published = _message("helsenorge-messaging", "MetadataTests_Apprec11.xml")
    parts = describe(published)
    assert parts.envelope is None and [(p.location, p.standard and p.standard.title) for p in parts.payloads] == [
        ("/AppRec", "AppRec 1.1")]
    assert schemas.validate(published) == []
    authored = _root(HERE / "apprec-1.1-valid.xml")
    assert schemas.validate(authored) == []
    status = authored.find(f"{{{APPREC_11}}}Status")
    authored.remove(status)
    issues = schemas.validate(authored)
    assert _rules(issues) == ["MSG-XSD-001"] and f"{{{APPREC_11}}}Status" in issues[0].message


def test_unsupported_namespace_is_msg_001_and_has_no_schema(schemas: SchemaSet) -> None:
    root = _root(HERE / "unsupported-namespace.xml")
    parts = describe(root)
    assert parts.unsupported == ("http://example.org/samsvar/ukjent-dialog/2024-01-01",)
    issues = unsupported_issues(parts)
    assert [(i.rule, i.severity, i.expression, i.line) for i in issues] == [
        ("MSG-001", Severity.WARNING, "/MsgHead/Document[1]/RefDoc/Content/Dialogmelding", 42)]
    schema_layer = schemas.validate(root)
    assert _rules(schema_layer) == ["MSG-XSD-002"], "the strict wildcard's complaint is not repeated"
    assert "ukjent-dialog" in schema_layer[0].message


def test_no_pack_installed_is_one_warning_that_says_how_to_install() -> None:
    assert default_schema_set() is None  # the autouse isolated_user_state's schema home is empty
    issues = schema_issues(_root(HERE / "dialogmelding-1.1-valid.xml"), default_schema_set())
    assert [(i.rule, i.severity) for i in issues] == [("MSG-XSD-002", Severity.WARNING)]
    assert MSGHEAD in issues[0].message and DIALOG_11 in issues[0].message
    assert "samsvar messages install-schemas PATH" in issues[0].message


def test_a_pack_without_the_payload_schema_checks_the_envelope_and_warns(sarepta_source: Path) -> None:
    only_envelope = scan_pack(sarepta_source)
    trimmed = {ns: f for ns, f in only_envelope.namespaces.items() if ns != DIALOG_11}
    pack = type(only_envelope)(only_envelope.name, only_envelope.root, trimmed, only_envelope.files)
    issues = SchemaSet([pack]).validate(_root(HERE / "msghead-missing-msgid.xml"))
    assert _rules(issues) == ["MSG-XSD-002", "MSG-XSD-001"]
    assert DIALOG_11 in issues[0].message and "MsgId" in issues[1].message


def test_rules_are_catalogued() -> None:
    for code, severity in (("MSG-001", Severity.WARNING), ("MSG-XSD-001", Severity.ERROR),
                           ("MSG-XSD-002", Severity.WARNING)):
        declared = get_rule(code)
        assert declared is not None and declared.severity == severity and declared.bad and declared.good


# ---------------------------------------------------------------- agreement with the published run


def _verdict(schemas: SchemaSet, path: Path) -> str:
    loaded = load_bytes(path.name, path.read_bytes())
    if loaded.document is None:
        return "not-wellformed"
    rules = set(_rules(schemas.validate(loaded.document.tree)))
    if "MSG-XSD-001" in rules:
        return "invalid"
    return "no-schema-for-root" if "MSG-XSD-002" in rules else "valid"


def _report(folder: Path) -> dict[str, str]:
    rows = (folder / "XSD_VALIDATION_REPORT.tsv").read_text(encoding="utf-8").splitlines()
    return {line.split("\t")[0]: line.split("\t")[1] for line in rows if line and not line.startswith("#")}


def test_verdicts_agree_with_the_published_lxml_run(schemas: SchemaSet) -> None:
    folder = shared_path("no", "messages")
    report = _report(folder)
    assert len(report) > 500
    disagreements = []
    for name, expected in sorted(report.items()):
        mine = _verdict(schemas, folder / name)
        if mine != expected:
            disagreements.append(f"{name}: report {expected}, samsvar {mine}")
    agreement = 1 - len(disagreements) / len(report)
    assert agreement >= AGREEMENT_FLOOR, f"{agreement:.1%} agreement:\n" + "\n".join(disagreements)
