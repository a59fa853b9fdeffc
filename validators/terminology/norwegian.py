"""Build our CodeSystem resources for Norwegian (Volven) code lists from public material.

:func:`build_all` reads ``../shared/data/no/kodeverk/`` (see its README.md) and writes one
``CodeSystem-<id>.json`` per code system into ``profiles/terminology/``:

* the Volven lists that Norwegian messages lean on (MsgHead, AppRec, Dialogmelding, PLO) and every
  Volven list HL7 Norway's no-basis binds to (a binding's value set, or a system its value sets
  include), from the mechanical extraction of NHN's display stylesheet (kith-visningsfiler
  ``kodeverk.xsl`` and ``storeKodeverk.xml``); display texts are the viewer's and may be
  abbreviated; ``date`` is when the file was last changed at the commit SOURCES.txt names;
* ICD-10 (Volven 7110) and ICPC-2 (Volven 7170) as NAV publishes them from Helsedirektoratet's
  FinnKode API (navikt/diagnosekoder).

Where HL7 Norway's kodeverk (FSH) declares a list complete and has codes the extraction lacks
(newer codes), those are added and named in the description. Titles come from that FSH or from
``OID_USAGE_IN_MESSAGES.tsv``, else "Volven NNNN". Run it again when the public material changes::

    python -c "from pathlib import Path; from samsvar.validators.terminology.norwegian import build_all; \\
        build_all(Path('../shared'), Path('profiles/terminology'))"
"""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .importer import codesystem_from_rows, read_rows, write_codesystem

VOLVEN_ARC = "2.16.578.1.12.4.1.1."
REQUIRED_VOLVEN = ("8279", "7304", "8258", "8221", "7309", "3101", "8116", "9051", "8327", "9034",
                   "7322", "9069", "9152", "8624", "9151", "3402")
"""Volven lists built always; :func:`build_all` fails when one is missing from the public files."""
OPTIONAL_VOLVEN = ("8222", "8223", "8268", "9060", "8202", "7010", "7650", "7651", "7497")
"""Volven lists built when the extraction holds them."""
ERESEPT_VOLVEN = ("7402", "7421", "7427", "7448", "7452", "7484", "7500", "7503")
"""Volven lists of the e-resept messages (M1, M5, M5.2, M10, ...) that :mod:`samsvar.validators.messages.eresept`
needs: the lists the example messages name in ``S`` (OID_USAGE_IN_MESSAGES.tsv) and the two fixed lists of
the prescription (Varegruppekode 7402, Reseptgruppe 7421). ATC (7180) is not among them: the whole ATC
index is not public material here, so ATC codes get a format check only."""
CITIZEN_VOLVEN = ("7601", "7602", "7603")
"""Volven lists of helsenorge's citizen dialogue (DIALOG_INNBYGGER_*): type of enquiry, topic of the
answer, communication test."""
USE_TITLES = {
    "7402": "Varegruppe (e-resept Varegruppekode: L legemiddel, A annet)",
    "7421": "Reseptgruppe (e-resept Reseptgruppe)",
    "7427": "Refusjonshjemmel (e-resept RefHjemmel)",
    "7448": "Legemiddelform (e-resept LegemiddelformKort, Legemiddelform)",
    "7452": "Enhet for pakningsstørrelse (e-resept EnhetPakning)",
    "7484": "Pakningsenhet (e-resept EnhetPakning)",
    "7500": "Årsak til tilbakekalling (e-resept M5 Tilbakekalling/Arsak)",
    "7503": "Status for tilbakekalling (e-resept M5.2 KvitteringTilbakekalling/Status)",
    "7601": "Type henvendelse fra innbygger (helsenorge Dialogmelding Foresporsel/TypeForesp)",
    "7602": "Tema for svar til innbygger (helsenorge Dialogmelding Notat/TemaKodet)",
    "7603": "Kommunikasjonstest (helsenorge DIALOG_INNBYGGER_TEST Foresporsel/TypeForesp)",
}
"""Titles for lists that neither HL7 Norway's kodeverk nor OID_USAGE_IN_MESSAGES.tsv names: what the
list is used for, from the elements the public example messages use it on (not Volven's own title)."""
BOUND_BY = (("data", "fhir-packages", "hl7.fhir.no.basis-2.2.2.tgz"),)
"""FHIR packages (under ``../shared``) whose Volven bindings are built too, when the extraction holds them."""
VOLVEN_OID = re.compile(re.escape("urn:oid:" + VOLVEN_ARC) + r"(\d+)$")
ICD10_OID = VOLVEN_ARC + "7110"
ICPC2_OID = VOLVEN_ARC + "7170"

KODEVERK = ("data", "no", "kodeverk")
DERIVED_VOLVEN = "derived-volven-codes-from-kith-visningsfiler.json"
OID_USAGE = "OID_USAGE_IN_MESSAGES.tsv"
FSH_CODESYSTEMS = ("hl7norway-kodeverk-fsh", "input", "fsh", "codesystems")
KODEVERK_XSL = "kith-visningsfiler/kodeverk.xsl"
STORE_KODEVERK = "kith-visningsfiler/storeKodeverk.xml"
CHANGED = {KODEVERK_XSL: "2024-12-06", STORE_KODEVERK: "2024-06-25"}
"""When each file of NorskHelsenett/kith-visningsfiler was last changed at the commit SOURCES.txt names
(7a97da8aca67, ``git log -1 --format=%cs 7a97da8aca67 -- felleskomponenter/FILE``): the lists' date."""


@dataclass(frozen=True)
class Diagnoses:
    """A diagnosis code list published by NAV (navikt/diagnosekoder)."""

    oid: str
    dest: str
    name: str
    title: str
    what: str


DIAGNOSES = (
    Diagnoses(ICD10_OID, "diagnosekoder-navikt/ICD10.json", "ICD10NO", "ICD-10",
              "ICD-10 in Norwegian"),
    Diagnoses(ICPC2_OID, "diagnosekoder-navikt/ICPC2.json", "ICPC2NO", "ICPC-2",
              "ICPC-2 in Norwegian"),
)


@dataclass(frozen=True)
class Origin:
    """Where a collected file came from (one row of the folder's SOURCES.txt)."""

    repo: str
    path: str
    commit: str

    def cite(self) -> str:
        return f"{self.repo} {self.path} (commit {self.commit[:12]})"


def kodeverk_folder(shared: Path) -> Path:
    """``<shared>/data/no/kodeverk``; ``shared`` is the ``../shared`` folder beside the repository."""
    return shared.joinpath(*KODEVERK)


def read_origins(kodeverk: Path) -> dict[str, Origin]:
    """SOURCES.txt: destination (relative to the folder) -> repository, path and commit."""
    origins: dict[str, Origin] = {}
    for line in (kodeverk / "SOURCES.txt").read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if line.startswith("#") or len(fields) < 4:
            continue
        origins[fields[0]] = Origin(fields[1], fields[2], fields[3])
    return origins


def read_volven(kodeverk: Path) -> dict[str, dict[str, str]]:
    """The extracted Volven lists: number (``8279``) -> code -> display."""
    data = json.loads((kodeverk / DERIVED_VOLVEN).read_text(encoding="utf-8"))
    return {number: dict(entry["codes"]) for number, entry in data["kodeverk"].items()}


@dataclass(frozen=True)
class FshCodeSystem:
    """What we use of one of HL7 Norway's kodeverk CodeSystems (FSH)."""

    dest: str
    """The file, relative to the kodeverk folder (a key of SOURCES.txt)."""
    title: str | None
    complete: bool
    codes: dict[str, str]
    """Top-level concepts: code -> display."""


_FSH_CONCEPT = re.compile(r'^\*\s+#(?:"([^"]+)"|(\S+))\s+"([^"]*)"', re.MULTILINE)


def read_fsh(kodeverk: Path) -> dict[str, FshCodeSystem]:
    """OID -> HL7 Norway's kodeverk CodeSystem with that identifier."""
    found: dict[str, FshCodeSystem] = {}
    for fsh in sorted(kodeverk.joinpath(*FSH_CODESYSTEMS).glob("*.fsh")):
        text = fsh.read_text(encoding="utf-8")
        oid = re.search(r'\^identifier(?:\[\d+\])?\.value\s*=\s*"urn:oid:([0-9.]+)"', text)
        if oid is None:
            continue
        title = re.search(r'^Title:\s*"([^"]+)"', text, re.MULTILINE)
        content = re.search(r"\^content\s*=\s*#([a-z-]+)", text)
        codes = {(m.group(1) or m.group(2)).strip(): m.group(3).strip() for m in _FSH_CONCEPT.finditer(text)}
        found[oid.group(1)] = FshCodeSystem(
            dest=fsh.relative_to(kodeverk).as_posix(), title=title.group(1).strip() if title else None,
            complete=content is not None and content.group(1) == "complete", codes=codes)
    return found


def completed(codes: dict[str, str], fsh: FshCodeSystem | None) -> tuple[dict[str, str], list[str]]:
    """The extracted codes plus those of a complete HL7 Norway list that the extraction lacks."""
    if fsh is None or not fsh.complete:
        return codes, []
    added = [code for code in fsh.codes if code not in codes]
    return {**codes, **{code: fsh.codes[code] for code in added}}, added


def usage_titles(kodeverk: Path) -> dict[str, str]:
    """OID -> title column of OID_USAGE_IN_MESSAGES.tsv, where it has one."""
    titles: dict[str, str] = {}
    for line in (kodeverk / OID_USAGE).read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if line.startswith("#") or len(fields) < 3 or fields[0] == "oid":
            continue
        if fields[2].strip():
            titles[fields[0]] = fields[2].strip()
    return titles


def store_lists(kodeverk: Path) -> set[str]:
    """Numbers of the Volven lists held in storeKodeverk.xml rather than in kodeverk.xsl."""
    text = (kodeverk / STORE_KODEVERK).read_text(encoding="utf-8-sig")
    return set(re.findall(r'<data\s+code="(\d+)"', text))


def volven_source(number: str, in_store: bool, origins: dict[str, Origin],
                  added: list[str], fsh: FshCodeSystem | None) -> str:
    """The ``source`` text for a Volven list taken from the display stylesheet's extraction."""
    origin = origins[STORE_KODEVERK if in_store else KODEVERK_XSL]
    where = f'the data entries with code="{number}"' if in_store else f"template k-{number}"
    text = (f"Volven code system {number} as shown by NHN's message display stylesheet: "
            f"{origin.cite()}, {where}, extracted mechanically. Display texts are the viewer's "
            f"and may be abbreviated; this is not an official Volven export")
    if added and fsh is not None:
        text += (f". Codes {', '.join(added)} are missing there and were added from HL7 Norway's "
                 f"kodeverk, {origins[fsh.dest].cite()}, which declares the list complete")
    return text


def volven_codesystem(number: str, codes: dict[str, str], title: str, source: str,
                      date: str | None = None) -> dict[str, Any]:
    return codesystem_from_rows(codes.items(), oid=VOLVEN_ARC + number, name=f"Volven{number}",
                                title=title, source=source, date=date)


def volven_bound_in_package(tgz: Path) -> set[str]:
    """Numbers of the Volven lists a FHIR package binds to: an element binding's value set that is a
    Volven OID, or a system a value set of the package includes or excludes."""
    found: set[str] = set()
    with tarfile.open(tgz) as archive:
        for member in archive:
            if not (member.isfile() and member.name.endswith(".json")):
                continue
            handle = archive.extractfile(member)
            try:
                resource = json.loads(handle.read()) if handle is not None else None
            except ValueError:
                continue
            if not isinstance(resource, dict):
                continue
            urls: list[str] = []
            if resource.get("resourceType") == "StructureDefinition":
                for part in ("snapshot", "differential"):
                    for element in (resource.get(part) or {}).get("element") or []:
                        urls.append(str((element.get("binding") or {}).get("valueSet") or ""))
            elif resource.get("resourceType") == "ValueSet":
                compose = resource.get("compose") or {}
                urls += [str(i.get("system") or "") for i in (compose.get("include") or []) + (compose.get("exclude") or [])]
            found.update(m.group(1) for m in map(VOLVEN_OID.match, urls) if m)
    return found


def diagnoses_codesystem(kodeverk: Path, diagnoses: Diagnoses, title: str,
                         origins: dict[str, Origin]) -> dict[str, Any]:
    rows = read_rows(kodeverk / diagnoses.dest)
    source = (f"{diagnoses.what}: {origins[diagnoses.dest].cite()}, NAV's publication of "
              f"Helsedirektoratet's code list from the FinnKode API")
    return codesystem_from_rows(rows, oid=diagnoses.oid, name=diagnoses.name, title=title,
                                source=source)


def _write(resource: dict[str, Any], out: Path) -> Path:
    path = out / f"CodeSystem-{resource['id']}.json"
    write_codesystem(resource, path)
    return path


def build_all(shared: Path, out: Path) -> list[Path]:
    """Write our CodeSystems for the Norwegian lists into ``out``; returns the files written.

    ``shared`` is the ``../shared`` folder (holding ``data/no/kodeverk``). Raises ValueError when
    a required Volven list is missing from the public material.
    """
    kodeverk = kodeverk_folder(shared)
    volven = read_volven(kodeverk)
    missing = [number for number in REQUIRED_VOLVEN if number not in volven]
    if missing:
        raise ValueError(f"{DERIVED_VOLVEN} has no code list for Volven {', '.join(missing)}")
    fsh = read_fsh(kodeverk)
    titles = {**usage_titles(kodeverk), **{oid: f.title for oid, f in fsh.items() if f.title}}
    origins = read_origins(kodeverk)
    in_store = store_lists(kodeverk)
    bound = set().union(*(volven_bound_in_package(shared.joinpath(*p)) for p in BOUND_BY if shared.joinpath(*p).is_file()))
    chosen = REQUIRED_VOLVEN + tuple(n for n in OPTIONAL_VOLVEN + ERESEPT_VOLVEN + CITIZEN_VOLVEN if n in volven)
    chosen += tuple(sorted(n for n in bound - set(chosen) if n in volven))
    written: list[Path] = []
    for number in chosen:
        oid = VOLVEN_ARC + number
        codes, added = completed(volven[number], fsh.get(oid))
        source = volven_source(number, number in in_store, origins, added, fsh.get(oid))
        title = titles.get(oid, USE_TITLES.get(number, f"Volven {number}"))  # the FSH title wins over the TSV's
        date = CHANGED[STORE_KODEVERK if number in in_store else KODEVERK_XSL]
        written.append(_write(volven_codesystem(number, codes, title, source, date), out))
    for diagnoses in DIAGNOSES:
        title = titles.get(diagnoses.oid, diagnoses.title)
        written.append(_write(diagnoses_codesystem(kodeverk, diagnoses, title, origins), out))
    return written
