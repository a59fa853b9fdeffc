"""The terminology service: expansion semantics on official and authored value sets, the
display check, $translate, the disk cache, and the policy for code systems not available
offline (warn, trust-format, and remote against a real loopback FHIR terminology server)."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlparse

import pytest

from samsvar.validators.fhir.definitions import Definitions
from samsvar.validators.terminology.service import TerminologyPolicy, TerminologyService

from .shared import fhir_package

T = "http://samsvar.no/fhir/test/"
ICPC = "urn:oid:2.16.578.1.12.4.1.1.7170"

# A small hierarchical code system, authored for these tests (codes shaped like ICPC-2 chapters).
CODE_SYSTEM = {
    "resourceType": "CodeSystem", "url": T + "CodeSystem/kapitler", "status": "draft", "content": "complete",
    "language": "nb", "property": [{"code": "kapittel", "type": "string"}],
    "concept": [
        {"code": "K", "display": "Hjerte og kar", "designation": [{"language": "en", "value": "Circulatory"}],
         "concept": [
             {"code": "K74", "display": "Angina pectoris", "property": [{"code": "kapittel", "valueString": "K"}]},
             {"code": "K75", "display": "Akutt hjerteinfarkt", "property": [{"code": "kapittel", "valueString": "K"}],
              "concept": [{"code": "K75.1", "display": "Hjerteinfarkt, fremre vegg"}]},
         ]},
        {"code": "R", "display": "Luftveier",
         "concept": [{"code": "R74", "display": "Akutt øvre luftveisinfeksjon",
                      "property": [{"code": "kapittel", "valueString": "R"}]}]},
    ],
}


def _value_set(name: str, include: list[dict[str, Any]], exclude: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    compose: dict[str, Any] = {"include": include}
    if exclude:
        compose["exclude"] = exclude
    return {"resourceType": "ValueSet", "url": T + "ValueSet/" + name, "name": name, "status": "draft",
            "compose": compose}


SYSTEM = CODE_SYSTEM["url"]
VALUE_SETS = [
    _value_set("hjerte", [{"system": SYSTEM, "filter": [{"property": "concept", "op": "is-a", "value": "K"}]}]),
    _value_set("under-hjerte", [{"system": SYSTEM, "filter": [{"property": "concept", "op": "descendent-of", "value": "K"}]}]),
    _value_set("uten-infarkt", [{"system": SYSTEM, "filter": [{"property": "concept", "op": "is-a", "value": "K"}]}],
               [{"system": SYSTEM, "filter": [{"property": "concept", "op": "is-a", "value": "K75"}]}]),
    _value_set("regex", [{"system": SYSTEM, "filter": [{"property": "code", "op": "regex", "value": "[A-Z]74"}]}]),
    _value_set("liste", [{"system": SYSTEM, "filter": [{"property": "concept", "op": "in", "value": "K74,R74"}]}]),
    _value_set("egenskap", [{"system": SYSTEM, "filter": [{"property": "kapittel", "op": "=", "value": "R"}]}]),
    _value_set("nestet", [{"valueSet": [T + "ValueSet/hjerte", T + "ValueSet/regex"]}]),
    _value_set("snomed", [{"system": "http://snomed.info/sct",
                           "filter": [{"property": "concept", "op": "is-a", "value": "404684003"}]}]),
    _value_set("loinc", [{"system": "http://loinc.org", "filter": [{"property": "CLASS", "op": "=", "value": "HRTRATE.ATOM"}]}]),
]
CONCEPT_MAP = {
    "resourceType": "ConceptMap", "url": T + "ConceptMap/kapittel-til-icpc", "status": "draft",
    "group": [{"source": SYSTEM, "target": ICPC,
               "element": [{"code": "K74", "target": [{"code": "K74", "display": "Angina pectoris",
                                                       "equivalence": "equivalent"}]}]}],
}


@pytest.fixture(scope="module")
def definitions() -> Definitions:
    packages = [fhir_package("hl7.fhir.r4.core#4.0.1"), fhir_package("hl7.terminology.r4#7.0.1")]
    return Definitions(packages, [CODE_SYSTEM, *VALUE_SETS, CONCEPT_MAP])


@pytest.fixture()
def service(definitions: Definitions) -> TerminologyService:
    return TerminologyService(definitions)


def _codes(service: TerminologyService, name: str) -> set[str]:
    codes, why = service.expand(T + "ValueSet/" + name)
    assert codes is not None, why
    return {c["code"] for c in codes}


def test_official_value_sets_expand_as_published(service: TerminologyService) -> None:
    gender, _ = service.expand("http://hl7.org/fhir/ValueSet/administrative-gender")
    assert {c["code"] for c in gender or []} == {"male", "female", "other", "unknown"}
    status, _ = service.expand("http://hl7.org/fhir/ValueSet/observation-status|4.0.1")
    assert {"registered", "preliminary", "final", "amended", "entered-in-error"} <= {c["code"] for c in status or []}
    contact, _ = service.expand("http://terminology.hl7.org/ValueSet/v2-0131")
    assert {"C", "N", "E"} <= {c["code"] for c in contact or []}


def test_membership_in_official_value_sets(service: TerminologyService) -> None:
    url = "http://hl7.org/fhir/ValueSet/administrative-gender"
    assert service.validate_code("http://hl7.org/fhir/administrative-gender", "female", None, url).valid is True
    assert service.validate_code("http://hl7.org/fhir/administrative-gender", "kvinne", None, url).valid is False
    assert service.validate_code("http://example.org/other", "female", None, url).valid is False
    v3 = service.validate_code("http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "M", None,
                               "http://hl7.org/fhir/ValueSet/marital-status")
    assert v3.valid is True


@pytest.mark.parametrize(("name", "expected"), [
    ("hjerte", {"K", "K74", "K75", "K75.1"}),
    ("under-hjerte", {"K74", "K75", "K75.1"}),
    ("uten-infarkt", {"K", "K74"}),
    ("regex", {"K74", "R74"}),
    ("liste", {"K74", "R74"}),
    ("egenskap", {"R74"}),
    ("nestet", {"K74"}),
])
def test_filters_exclude_and_nested_value_sets(service: TerminologyService, name: str, expected: set[str]) -> None:
    assert _codes(service, name) == expected
    for code in {c.code for c in service.code_system(SYSTEM).concepts.values()}:  # type: ignore[union-attr]
        assert service.validate_code(SYSTEM, code, None, T + "ValueSet/" + name).valid is (code in expected)


def test_display_check_accepts_every_language_and_ignores_case(service: TerminologyService) -> None:
    assert service.validate_code(SYSTEM, "K", "hjerte  og KAR").display_ok is True
    assert service.validate_code(SYSTEM, "K", "Circulatory").display_ok is True
    wrong = service.validate_code(SYSTEM, "K", "Luftveier")
    assert wrong.valid is True and wrong.display_ok is False and "Hjerte og kar" in wrong.displays


def test_unknown_code_in_a_complete_code_system_is_invalid(service: TerminologyService) -> None:
    verdict = service.validate_code(SYSTEM, "K99")
    assert (verdict.valid, verdict.kind) == (False, "unknown-code")
    assert service.lookup(SYSTEM, "K75")["parent"] == ["K"]  # type: ignore[index]
    assert service.lookup(SYSTEM, "K99") is None


def test_translate_through_a_concept_map(service: TerminologyService) -> None:
    found = service.translate(SYSTEM, "K74")
    assert [(t["system"], t["code"], t["equivalence"]) for t in found] == [(ICPC, "K74", "equivalent")]
    assert service.translate(SYSTEM, "R74") == []


def test_expansions_are_cached_on_disk_by_content(definitions: Definitions, tmp_path: Path) -> None:
    service = TerminologyService(definitions, TerminologyPolicy(cache_dir=tmp_path))
    first = _codes(service, "liste")
    cached = list((tmp_path / "expansions").glob("*.json"))
    assert len(cached) == 1
    cached[0].write_text(json.dumps([{"system": SYSTEM, "code": "FROM-CACHE", "display": None}]))
    assert _codes(service, "liste") == {"FROM-CACHE"}  # served from disk, not recomputed
    other = Definitions([], [CODE_SYSTEM, {**VALUE_SETS[4], "compose": {"include": [
        {"system": SYSTEM, "filter": [{"property": "concept", "op": "in", "value": "K74"}]}]}}])
    assert _codes(TerminologyService(other, TerminologyPolicy(cache_dir=tmp_path)), "liste") == {"K74"}
    assert first == {"K74", "R74"}


# -- the policy for code systems that are not available offline ------------------------------

def test_warn_never_passes_silently(service: TerminologyService) -> None:
    verdict = service.validate_code("http://snomed.info/sct", "22298006", None, T + "ValueSet/snomed")
    assert verdict.valid is None and verdict.kind == "unknown" and "could not be checked" in verdict.message


def test_trust_format_checks_check_digits(definitions: Definitions) -> None:
    policy = TerminologyPolicy(systems=(("http://snomed.info/sct", "trust-format"), ("http://loinc.org", "trust-format")))
    service = TerminologyService(definitions, policy)
    assert service.validate_code("http://snomed.info/sct", "22298006", None, T + "ValueSet/snomed").kind == "format-only"
    bad = service.validate_code("http://snomed.info/sct", "22298007", None, T + "ValueSet/snomed")
    assert (bad.valid, bad.kind) == (False, "format-error")
    assert service.validate_code("http://loinc.org", "8867-5", None, T + "ValueSet/loinc").valid is False


class _TxServer(http.server.ThreadingHTTPServer):
    known: set[tuple[str, str]]
    fault: bool = False
    calls: int = 0


class _TxHandler(http.server.BaseHTTPRequestHandler):
    server: _TxServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.calls += 1
        if self.server.fault:
            self.send_response(503)
            self.end_headers()
            return
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        valid = (query.get("system", ""), query.get("code", "")) in self.server.known
        body = {"resourceType": "Parameters", "parameter": [
            {"name": "result", "valueBoolean": valid},
            *([] if valid else [{"name": "message", "valueString": f"Unknown code {query.get('code')}"}])]}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: Any) -> None:
        """Quiet."""


@pytest.fixture()
def tx_server() -> Iterator[_TxServer]:
    server = _TxServer(("127.0.0.1", 0), _TxHandler)
    server.known = {("http://loinc.org", "8867-4")}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _remote(definitions: Definitions, server: _TxServer, cache: Path | None) -> TerminologyService:
    url = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    policy = TerminologyPolicy(systems=(("http://loinc.org", "remote"),), server=url, timeout=2, retries=0, cache_dir=cache)
    return TerminologyService(definitions, policy)


def test_remote_server_answers_and_is_cached(definitions: Definitions, tx_server: _TxServer, tmp_path: Path) -> None:
    service = _remote(definitions, tx_server, tmp_path)
    loinc = T + "ValueSet/loinc"
    assert service.validate_code("http://loinc.org", "8867-4", None, loinc).valid is True
    refused = service.validate_code("http://loinc.org", "1234-5", None, loinc)
    assert refused.valid is False and "Unknown code" in refused.message
    calls = tx_server.calls
    tx_server.fault = True  # the server breaks: answers already given still come from the cache
    again = _remote(definitions, tx_server, tmp_path)
    assert again.validate_code("http://loinc.org", "8867-4", None, loinc).valid is True
    assert tx_server.calls == calls


def test_a_failing_server_is_an_environment_problem_not_a_verdict(definitions: Definitions,
                                                                  tx_server: _TxServer) -> None:
    tx_server.fault = True
    verdict = _remote(definitions, tx_server, None).validate_code("http://loinc.org", "8867-4", None, T + "ValueSet/loinc")
    assert (verdict.valid, verdict.kind) == (None, "server-down")
    assert "503" in verdict.message


def test_policy_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        TerminologyPolicy.from_settings({"default": "ignore"})
    with pytest.raises(ValueError, match="needs server"):
        TerminologyPolicy.from_settings({"systems": {"http://loinc.org": "remote"}})
    policy = TerminologyPolicy.from_settings({"systems": {"http://snomed.info/sct": "trust-format"}})
    assert policy.mode("http://snomed.info/sct") == "trust-format" and policy.mode("http://loinc.org") == "warn"


def test_snomed_ct_from_rf2_answers_is_a_filters(definitions: Definitions, tmp_path: Path) -> None:
    from samsvar.validators.terminology.rf2 import load_rf2

    from .conftest import FIXTURES

    database = tmp_path / "snomed.sqlite"
    load_rf2(FIXTURES / "terminology" / "rf2", database)
    service = TerminologyService(definitions, TerminologyPolicy(snomed_database=database))
    findings = T + "ValueSet/snomed"  # is-a 404684003 |Clinical finding|
    assert service.validate_code("http://snomed.info/sct", "22298006", None, findings).valid is True
    assert service.validate_code("http://snomed.info/sct", "138875005", None, findings).valid is False
    assert service.validate_code("http://snomed.info/sct", "99999999999", None, findings).valid is False
    assert service.lookup("http://snomed.info/sct", "22298006")["display"]  # type: ignore[index]


def test_v3_hierarchies_through_subsumed_by(service: TerminologyService) -> None:
    parents = "http://hl7.org/fhir/ValueSet/parent-relationship-codes"  # is-a PRN in v3-RoleCode
    role = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
    assert service.validate_code(role, "MTH", None, parents).valid is True
    assert service.validate_code(role, "NBRO", None, parents).valid is False


def test_a_remembered_membership_follows_a_value_set_that_changed() -> None:
    """The service remembers a code's membership of a value set, but not past a change of a value set
    it read (here a nested one, replaced after the first answer)."""
    system = "http://example.org/cs"
    outer = {"resourceType": "ValueSet", "url": "http://example.org/vs-outer",
             "compose": {"include": [{"valueSet": ["http://example.org/vs-inner"]}]}}
    inner = {"resourceType": "ValueSet", "url": "http://example.org/vs-inner",
             "compose": {"include": [{"system": system, "concept": [{"code": "a"}]}]}}
    definitions = Definitions(resources=[outer, inner])
    service = TerminologyService(definitions)
    assert service.validate_code(system, "a", None, outer["url"]).valid is True
    assert service.validate_code(system, "b", None, outer["url"]).valid is False
    assert service.validate_code(system, "a", None, outer["url"]).valid is True  # (remembered)
    definitions.add_resource({**inner, "compose": {"include": [{"system": system, "concept": [{"code": "b"}]}]}})
    assert service.validate_code(system, "a", None, outer["url"]).valid is False
    assert service.validate_code(system, "b", None, outer["url"]).valid is True
