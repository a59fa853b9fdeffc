"""Our Norwegian CodeSystems and ValueSets (``profiles/terminology/``), the code-list importer,
and the codes that real Norwegian messages (``../shared/data/no/messages/``) use."""

from __future__ import annotations

import json
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from samsvar.validators.terminology.importer import (
    codesystem_from_rows,
    import_code_list,
    read_rows,
    write_codesystem,
)
from samsvar.validators.terminology.norwegian import build_all
from samsvar.validators.fhir.bindings import STANDARD_LISTS

from .shared import shared_path, shared_root

REPO = Path(__file__).resolve().parent.parent
TERMINOLOGY = REPO / "profiles" / "terminology"
VOLVEN = "2.16.578.1.12.4.1.1."
REQUIRED_VOLVEN = ["8279", "7304", "8258", "8221", "7309", "3101", "8116", "9051", "8327", "9034",
                   "7322", "9069", "9152", "8624", "9151", "3402"]
ICD10 = VOLVEN + "7110"
ICPC2 = VOLVEN + "7170"

# Codes the example messages use that the public lists do not have, with why. None of them is
# in kodeverk.xsl either (it has no ICD-10 or ICPC-2 template), so they are not added: a
# validator should report them. Each entry must stay absent from our CodeSystem.
KNOWN_GAPS: dict[tuple[str, str], str] = {
    (ICD10, "I50"): "ICD-10 category Hjertesvikt; it has subdivisions (I500, I501, I509) and only "
                    "those are codes in Helsedirektoratet's list (Sarepta PLO Innleggelsesrapport)",
    (ICD10, "I50.9"): "ICD-10 written with a dot; Norwegian lists and messages use I509 "
                      "(Sarepta PLO Utskrivningsrapport test cases)",
    (ICD10, "A01.0"): "ICD-10 written with a dot; the code is A010 (same test cases)",
    (ICD10, "A02.1"): "ICD-10 written with a dot; the code is A021 (same test cases)",
    (ICD10, "K77"): "ICPC-2 code (DN 'Hjertesvikt') sent with the ICD-10 OID "
                    "(Sarepta PLO Medisinske opplysninger / Helseopplysninger ved søknad)",
    (ICD10, "L89"): "ICPC-2 code (Hofteleddsartrose) sent with the ICD-10 OID (same messages)",
    (ICD10, "D03"): "ICPC-2 code sent with the ICD-10 OID (same messages)",
    (VOLVEN + "9034", "1"): "'Pasientansvarlig lege' in the Sarepta PLO 1.5 Utskrivningsrapport "
                            "test cases; kodeverk.xsl's k-9034 lists only 3-24 (1 and 2 are "
                            "probably retired, which the public material does not show)",
    (VOLVEN + "8116", ""): "empty TypeId in a KITH acceptance test with a blank patient "
                           "(sarepta-test dialogmelding Case1-14a)",
}

# MsgHead and AppRec elements whose code system is fixed by the standard, so they carry no S.
MSGHEAD = "{http://www.kith.no/xmlstds/msghead/2006-05-24}"
APPRECS = ("{http://www.kith.no/xmlstds/apprec/2004-11-21}", "{http://www.kith.no/xmlstds/apprec/2012-02-15}")
FIXED_SYSTEMS: dict[tuple[str, str], str] = {
    (f"{MSGHEAD}MsgInfo", f"{MSGHEAD}Type"): VOLVEN + "8279",
    (f"{MSGHEAD}MsgInfo", f"{MSGHEAD}Ack"): VOLVEN + "7304",
    (f"{MSGHEAD}Patient", f"{MSGHEAD}Sex"): VOLVEN + "3101",
    **{(f"{ns}AppRec", f"{ns}Status"): VOLVEN + "8258" for ns in APPRECS},
    **{(f"{ns}AppRec", f"{ns}Error"): VOLVEN + "8221" for ns in APPRECS},  # without S only
}
KNOWN_FIXED_GAPS: dict[tuple[str, str], str] = {
    (VOLVEN + "8279", "ERM041"): "2006 e-resept example; the list has ERM41 with the same text",
    (VOLVEN + "8279", "ERM042"): "2006 e-resept example; the list has ERM42 with the same text",
    (VOLVEN + "8279", "KJERNEJOURNAL_ADM"): "KITH acceptance tests 1-11c/1-13b/1-15a of "
        "AdmKommKjernejournal (the collection keeps deliberately broken cases); the list and "
        "test case 1 have ADM_KOMM_KJERNEJOURNAL",
}


def _resources() -> list[Path]:
    return sorted(TERMINOLOGY.glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def _codesystems() -> dict[str, dict[str, Any]]:
    """url -> our CodeSystem."""
    found = {}
    for path in _resources():
        resource = _load(path)
        if resource.get("resourceType") == "CodeSystem":
            found[resource["url"]] = resource
    return found


def _codes(url: str) -> set[str]:
    return {concept["code"] for concept in _codesystems()[url]["concept"]}


# --- the committed resources -------------------------------------------------------------

def test_terminology_folder_has_our_resources() -> None:
    names = {path.name for path in _resources()}
    assert len([n for n in names if n.startswith("CodeSystem-")]) >= len(REQUIRED_VOLVEN) + 2
    assert {"ValueSet-diagnosis-no.json", "ValueSet-lab-nlk.json", "ValueSet-medication-atc.json"} <= names


def _codesystem_problems(resource: dict[str, Any]) -> list[str]:
    problems = []
    concepts = resource.get("concept")
    if not isinstance(concepts, list) or not concepts:
        return ["no concepts"]
    codes = [c.get("code") for c in concepts]
    if resource.get("count") != len(concepts):
        problems.append(f"count {resource.get('count')} but {len(concepts)} concepts")
    if resource.get("content") != "complete":
        problems.append(f"content {resource.get('content')!r}")
    duplicates = sorted({c for c in codes if codes.count(c) > 1}) if len(set(codes)) != len(codes) else []
    if duplicates:
        problems.append(f"duplicate codes {duplicates[:10]}")
    bad_codes = [c for c in codes if not isinstance(c, str) or not c or c != c.strip()]
    if bad_codes:
        problems.append(f"empty or padded codes {bad_codes[:10]}")
    bad_displays = [c.get("code") for c in concepts
                    if not isinstance(c.get("display"), str) or not c["display"].strip()]
    if bad_displays:
        problems.append(f"concepts without a display: {bad_displays[:10]}")
    identifiers = [i.get("value") for i in resource.get("identifier", [])
                   if i.get("system") == "urn:ietf:rfc:3986"]
    if resource.get("url") in STANDARD_LISTS:  # an international standard's list (ISO 3166), not a Norwegian one
        return problems + ([] if identifiers == [resource.get("url")] and resource.get("caseSensitive") is True
                           else ["identifier or caseSensitive"])
    if identifiers != [resource.get("url")] or not str(resource.get("url")).startswith("urn:oid:"):
        problems.append(f"url {resource.get('url')} and OID identifier {identifiers} disagree")
    if resource.get("caseSensitive") is not True or resource.get("language") != "nb":
        problems.append("not caseSensitive / language nb")
    return problems


def _valueset_problems(resource: dict[str, Any]) -> list[str]:
    problems = []
    if resource.get("url") != f"http://samsvar.no/fhir/ValueSet/{resource.get('id')}":
        problems.append(f"url {resource.get('url')} does not end in the id {resource.get('id')}")
    includes = resource.get("compose", {}).get("include", [])
    if not includes or not all(isinstance(i.get("system"), str) and i["system"] for i in includes):
        problems.append("compose.include is empty or names no system")
    if "Midt-Norge" not in str(resource.get("description", "")):
        problems.append("description does not name the Midt-Norge programme's choice")
    return problems


@pytest.mark.parametrize("path", _resources(), ids=lambda p: p.name)
def test_resource_is_well_formed(path: Path) -> None:
    resource = _load(path)
    kind = resource.get("resourceType")
    assert kind in ("CodeSystem", "ValueSet"), f"{path.name}: resourceType {kind!r}"
    assert path.name == f"{kind}-{resource.get('id')}.json", f"{path.name}: id {resource.get('id')!r}"
    assert isinstance(resource.get("url"), str) and resource["url"], f"{path.name}: no url"
    assert resource.get("status") in ("draft", "active", "retired", "unknown"), f"{path.name}: status"
    assert resource.get("name") and resource.get("title") and resource.get("description")
    problems = _codesystem_problems(resource) if kind == "CodeSystem" else _valueset_problems(resource)
    assert not problems, f"{path.name}: " + "; ".join(problems)


def test_urls_are_unique() -> None:
    urls = [_load(path)["url"] for path in _resources()]
    assert len(urls) == len(set(urls)), sorted(u for u in urls if urls.count(u) > 1)


@pytest.mark.parametrize("number", REQUIRED_VOLVEN)
def test_required_volven_list_has_a_codesystem(number: str) -> None:
    path = TERMINOLOGY / f"CodeSystem-volven-{number}.json"
    assert path.is_file(), f"no CodeSystem for Volven {number}"
    assert _load(path)["url"] == f"urn:oid:{VOLVEN}{number}"


@pytest.mark.parametrize(("file", "oid", "at_least", "sample"), [
    ("CodeSystem-icd10-no.json", ICD10, 19_000, {"A010": "Tyfoidfeber", "I509": "Uspesifisert hjertesvikt"}),
    ("CodeSystem-icpc2-no.json", ICPC2, 700, {"K77": "Hjertesvikt", "T90": "Diabetes type 2"}),
])
def test_diagnosis_codesystems(file: str, oid: str, at_least: int, sample: dict[str, str]) -> None:
    resource = _load(TERMINOLOGY / file)
    assert resource["url"] == f"urn:oid:{oid}"
    assert resource["count"] >= at_least
    displays = {c["code"]: c["display"] for c in resource["concept"]}
    assert {code: displays.get(code) for code in sample} == sample


def test_well_known_codes_and_displays() -> None:
    """A few codes every Norwegian messaging system meets, checked against the standard texts."""
    def display(number: str, code: str) -> str | None:
        concepts = _codesystems()[f"urn:oid:{VOLVEN}{number}"]["concept"]
        return next((c["display"] for c in concepts if c["code"] == code), None)

    assert display("8279", "DIALOG_NOTAT") is not None
    assert display("8279", "APPREC") == "Applikasjonskvittering"
    assert {c: display("7304", c) for c in "JNF"} == {"J": "Ja", "N": "Nei", "F": "Kun ved feil"}
    assert display("8258", "2") == "Avvist"
    assert display("3101", "2") == "Kvinne"
    assert display("8116", "FNR") == "Fødselsnummer"
    assert display("9051", "ENH") is not None and display("9051", "HER") is not None
    assert display("3402", "0301") == "Oslo"


@pytest.mark.parametrize(("file", "systems"), [
    ("ValueSet-diagnosis-no.json", [f"urn:oid:{ICD10}", f"urn:oid:{ICPC2}", "http://snomed.info/sct"]),
    ("ValueSet-lab-nlk.json", [f"urn:oid:{VOLVEN}7280"]),
    ("ValueSet-medication-atc.json", ["http://www.whocc.no/atc"]),
])
def test_value_sets_include_whole_systems(file: str, systems: list[str]) -> None:
    resource = _load(TERMINOLOGY / file)
    assert resource["status"] == "draft"
    includes = resource["compose"]["include"]
    assert [i["system"] for i in includes] == systems
    assert all(set(i) == {"system"} for i in includes), "an include restricts its system"


def test_committed_codesystems_are_what_the_generator_writes(tmp_path: Path) -> None:
    """profiles/terminology/CodeSystem-*.json is build_all's output for this ../shared, unedited."""
    shared_path("no", "kodeverk")
    root = shared_root()
    assert root is not None
    written = build_all(root, tmp_path)
    # (the international standard lists, ISO 3166, are authored data, not the Volven generator's)
    committed = [p for p in TERMINOLOGY.glob("CodeSystem-*.json") if _load(p).get("url") not in STANDARD_LISTS]
    assert sorted(p.name for p in written) == sorted(p.name for p in committed)
    stale = [p.name for p in written if p.read_bytes() != (TERMINOLOGY / p.name).read_bytes()]
    assert not stale, f"regenerate with build_all: {stale}"


# --- codes used by real messages ------------------------------------------------------------

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_RECOVERING = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=True)


def _parse(path: Path) -> etree._ElementTree | None:
    """The message, also when it is not well-formed (the acceptance tests have such on purpose)."""
    try:
        return etree.parse(str(path), _PARSER)
    except etree.XMLSyntaxError:
        tree = etree.parse(str(path), _RECOVERING)
        return tree if tree.getroot() is not None else None


@cache
def _message_codes() -> tuple[dict[tuple[str, str], set[str]], dict[tuple[str, str], set[str]]]:
    """(S, V) of elements with both attributes, and (system, V) of the fixed-system elements
    without S, each mapped to the message files (relative) that use it."""
    root = shared_path("no", "messages")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() == ".xml")
    assert files, f"no XML messages under {root}"
    coded: dict[tuple[str, str], set[str]] = defaultdict(set)
    fixed: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path in files:
        tree = _parse(path)
        if tree is None:
            continue
        name = path.relative_to(root).as_posix()
        for element in tree.iter(etree.Element):
            value = element.get("V")
            if value is None:
                continue
            if element.get("S") is not None:
                coded[(element.get("S"), value)].add(name)
                continue
            parent = element.getparent()
            system = FIXED_SYSTEMS.get((parent.tag, element.tag)) if parent is not None else None
            if system is not None:
                fixed[(system, value)].add(name)
    return dict(coded), dict(fixed)


def _missing(used: dict[tuple[str, str], set[str]], known: dict[tuple[str, str], str]) -> list[str]:
    ours = _codesystems()
    missing = []
    for (system, code), files in sorted(used.items()):
        url = f"urn:oid:{system}"
        if url in ours and code not in _codes(url) and (system, code) not in known:
            missing.append(f"{system} {code!r} in {len(files)} file(s), e.g. {sorted(files)[0]}")
    return missing


def test_messages_use_the_systems_we_cover() -> None:
    """The corpus does exercise our CodeSystems (so the next tests are not vacuous)."""
    coded, fixed = _message_codes()
    systems = {system for system, _ in coded} | {system for system, _ in fixed}
    covered = {url.removeprefix("urn:oid:") for url in _codesystems()} & systems
    expected = {VOLVEN + n for n in ("8279", "8116", "9051", "9034", "7322", "9069", "9152", "9151")}
    assert expected | {ICD10, ICPC2} <= covered


def test_every_coded_value_in_messages_is_in_our_codesystem() -> None:
    coded, _ = _message_codes()
    missing = _missing(coded, KNOWN_GAPS)
    assert not missing, "message codes missing from our CodeSystems:\n" + "\n".join(missing)


def test_every_fixed_system_value_in_messages_is_in_our_codesystem() -> None:
    """MsgInfo/Type, MsgInfo/Ack, Patient/Sex, AppRec/Status and AppRec/Error carry no S."""
    _, fixed = _message_codes()
    assert {system for system, _ in fixed} >= {VOLVEN + "8279", VOLVEN + "7304"}
    missing = _missing(fixed, KNOWN_FIXED_GAPS)
    assert not missing, "message codes missing from our CodeSystems:\n" + "\n".join(missing)


@pytest.mark.parametrize(("system", "code"), sorted(KNOWN_GAPS | KNOWN_FIXED_GAPS))
def test_known_gap_is_still_a_gap(system: str, code: str) -> None:
    """A known gap that the public lists now have must leave the list (it would hide nothing)."""
    assert code not in _codes(f"urn:oid:{system}")


# --- the importer ---------------------------------------------------------------------------

def test_codesystem_from_rows_builds_the_resource() -> None:
    resource = codesystem_from_rows([("J", "Ja"), ("N", " Nei "), ("F", "")], oid=VOLVEN + "7304",
                                    name="Volven7304", title="Kvittering", version="1",
                                    source="a test list")
    assert resource["resourceType"] == "CodeSystem"
    assert resource["id"] == "volven-7304"
    assert resource["url"] == "urn:oid:2.16.578.1.12.4.1.1.7304"
    assert resource["identifier"] == [{"system": "urn:ietf:rfc:3986", "value": resource["url"]}]
    assert (resource["status"], resource["content"], resource["caseSensitive"], resource["language"]) == \
        ("active", "complete", True, "nb")
    assert resource["version"] == "1" and resource["name"] == "Volven7304" and resource["title"] == "Kvittering"
    assert "a test list" in resource["description"]
    assert resource["concept"] == [{"code": "J", "display": "Ja"}, {"code": "N", "display": "Nei"}, {"code": "F"}]
    assert resource["count"] == 3


def test_codesystem_ids() -> None:
    def build(oid: str) -> str:
        return codesystem_from_rows([("a", "A")], oid=oid, name="N", title="T")["id"]

    assert build(ICD10) == "icd10-no"
    assert build(ICPC2) == "icpc2-no"
    assert build("1.2.3.4") == "oid-1-2-3-4"
    with pytest.raises(ValueError, match="not an OID"):
        build("urn:oid:1.2.3")


@pytest.mark.parametrize(("rows", "message"), [
    ([("A", "x"), ("B", "y"), ("A", "z")], r"duplicate code 'A' in rows 1 and 3"),
    ([("A", "x"), ("  ", "y")], r"row 2 has an empty code"),
])
def test_codesystem_from_rows_rejects_bad_codes(rows: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        codesystem_from_rows(rows, oid=VOLVEN + "9999", name="N", title="T")


def test_read_csv_semicolon_latin1(tmp_path: Path) -> None:
    path = tmp_path / "kjonn.csv"
    path.write_bytes("Kode;Tekst\n1;Mann\n2;Kvinne\n9;Ikke spesifisert, ukjent\n\nX;Særskilt\n".encode("latin-1"))
    assert read_rows(path) == [("1", "Mann"), ("2", "Kvinne"), ("9", "Ikke spesifisert, ukjent"),
                               ("X", "Særskilt")]


def test_read_csv_utf8_bom_tab_named_columns(tmp_path: Path) -> None:
    path = tmp_path / "list.tsv"
    path.write_text("\ufeffid\tnote\tname\nA\tx\tÆrlig\nB\ty\tØst\n", encoding="utf-8")
    assert read_rows(path, code_column="id", display_column="name") == [("A", "Ærlig"), ("B", "Øst")]
    with pytest.raises(ValueError, match=r"list\.tsv, line 1: no code column 'kode'"):
        read_rows(path, code_column="kode")


def test_read_csv_without_header(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("J,Ja\nN,Nei\nF,\"Kun ved feil, eller ikke\"\n", encoding="utf-8")
    assert read_rows(path) == [("J", "Ja"), ("N", "Nei"), ("F", "Kun ved feil, eller ikke")]


def test_read_csv_row_without_code_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("code;display\nA;Første\n\n;Uten kode\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"gaps\.csv, line 4: row has no code"):
        read_rows(path)


def test_read_json_list_with_common_keys(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps([{"V": "FNR", "DN": "Fødselsnummer"}, {"kode": "DNR", "tekst": "D-nummer"},
                                {"code": 3, "text": " Tre "}, {"value": "HNR"}], ensure_ascii=False),
                    encoding="utf-8")
    assert read_rows(path) == [("FNR", "Fødselsnummer"), ("DNR", "D-nummer"), ("3", "Tre"), ("HNR", "")]


def test_read_json_dict(tmp_path: Path) -> None:
    path = tmp_path / "dict.json"
    path.write_text('{"1": "Mann", "2": "Kvinne"}', encoding="utf-8")
    assert read_rows(path) == [("1", "Mann"), ("2", "Kvinne")]


def test_read_json_entry_without_code_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"code": "A", "display": "a"},\n  {"display": "b"}\n]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.json, line 3: entry has no code"):
        read_rows(path)


def test_duplicate_code_in_a_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("code,display\nA,a\nA,b\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"dup\.csv: duplicate code 'A' in rows 1 and 2"):
        import_code_list(path, oid=VOLVEN + "9999", name="N", title="T", out=tmp_path)


def test_import_code_list_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "ack.csv"
    source.write_bytes("kode;tekst\nJ;Ja\nN;Nei\nF;Kun ved feil\n".encode("latin-1"))
    written = import_code_list(source, oid=VOLVEN + "7304", name="Volven7304",
                               title="Kvitteringsbehov", out=tmp_path / "out")
    assert written == tmp_path / "out" / "CodeSystem-volven-7304.json"
    text = written.read_text(encoding="utf-8")
    assert text.endswith("}\n") and '\n  "resourceType": "CodeSystem",\n' in text
    resource = json.loads(text)
    assert resource["concept"] == [{"code": "J", "display": "Ja"}, {"code": "N", "display": "Nei"},
                                   {"code": "F", "display": "Kun ved feil"}]
    assert "ack.csv" in resource["description"]
    again = tmp_path / "again.json"
    write_codesystem(resource, again)
    assert again.read_bytes() == written.read_bytes()
    assert import_code_list(source, oid=VOLVEN + "7304", name="N", title="T", out=again) == again


# --- the Volven lists no-basis binds to --------------------------------------------------------

def test_every_volven_list_no_basis_binds_to_is_shipped_with_its_source_and_date() -> None:
    from samsvar.validators.terminology.norwegian import read_volven, volven_bound_in_package

    bound = volven_bound_in_package(shared_path("fhir-packages", "hl7.fhir.no.basis-2.2.2.tgz"))
    public = read_volven(shared_path("no", "kodeverk"))
    assert {"8406", "8432", "7617"} <= bound  # the Appointment's appointmentType slices
    missing = sorted(n for n in bound & set(public) if not (TERMINOLOGY / f"CodeSystem-volven-{n}.json").is_file())
    assert not missing, f"no-basis binds to Volven {', '.join(missing)}, which profiles/terminology lacks (run build_all)"
    assert sorted(bound - set(public)) == ["0000"]  # no-basis' placeholder for Endpoint.payloadType:formatCode
    for number in sorted(bound & set(public)):
        resource = _load(TERMINOLOGY / f"CodeSystem-volven-{number}.json")
        assert resource["date"] and "kith-visningsfiler" in resource["description"], number


def test_no_basis_examples_decide_their_volven_bindings(fhir_cache: Path) -> None:
    """A binding to a Volven list by OID is decided offline: no 'could not be' about a Volven value set."""
    import tarfile

    from samsvar.validators import Options, Validator

    validator = Validator(Options(igs=("hl7.fhir.no.basis#2.2.2",), cache_root=fhir_cache))
    undecided = []
    with tarfile.open(shared_path("fhir-packages", "hl7.fhir.no.basis-2.2.2.tgz")) as archive:
        examples = [m for m in archive if m.isfile() and "/examples/" in m.name and m.name.endswith(".json")]
        assert examples
        for member in examples:
            data = archive.extractfile(member).read()  # type: ignore[union-attr]
            result = validator.validate_bytes(member.name, data)
            undecided += [f"{member.name}: {i.rule} {i.message}" for i in result.issues
                          if "could not be" in i.message and "urn:oid:" + VOLVEN in i.message]
    assert not undecided, "\n".join(undecided)


def _property_information(code: str) -> bytes:
    """A Patient on no-basis whose address names a municipality (Volven 3402, a required binding)."""
    import json

    return json.dumps({
        "resourceType": "Patient", "meta": {"profile": ["http://hl7.no/fhir/StructureDefinition/no-basis-Patient"]},
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Kari</div>'},
        "address": [{"extension": [{
            "url": "http://hl7.no/fhir/StructureDefinition/no-basis-propertyinformation",
            "extension": [{"url": "municipality",
                           "valueCoding": {"system": "urn:oid:2.16.578.1.12.4.1.1.3402", "code": code}}]}],
            "city": "BERGEN"}]}).encode()


def test_a_code_missing_from_an_own_viewer_list_under_a_required_binding_is_a_warning(env_cache) -> None:
    """samsvar's Volven lists come from the public viewer with current codes only: a retired
    kommunenummer (Bergen's 1201 before 2020) may be right, so it is a warning that says why, and a
    current one (4601) raises nothing."""
    from samsvar.validators import Options, Severity, Validator

    validator = Validator(Options(igs=("hl7.fhir.no.basis#2.2.2",)))
    retired = [i for i in validator.validate_bytes("p.json", _property_information("1201")).issues
               if i.rule == "FHIR-BIND-001"]
    assert [(i.severity, "no retired codes" in i.message) for i in retired] == [(Severity.WARNING, True)]
    current = validator.validate_bytes("p.json", _property_information("4601")).issues
    assert not [i for i in current if i.rule in ("FHIR-BIND-001", "FHIR-TX-001")]
