"""MIME types (urn:ietf:bcp:13) by their grammar (RFC 6838 names; parameters are not judged, as
HL7's terminology server does not), and what the terminology service makes of them under every
policy."""

from __future__ import annotations

import pytest

from samsvar.validators.fhir.definitions import Definitions
from samsvar.validators.terminology.formats import MIME_TYPE_SYSTEM, SYNTAX_CHECKS, mime_type_problem
from samsvar.validators.terminology.service import TerminologyPolicy, TerminologyService

from .shared import fhir_package

MIME_TYPES = "http://hl7.org/fhir/ValueSet/mimetypes"

WELL_FORMED = [
    "text/plain",
    "TEXT/Plain",                                  # names are case-insensitive
    "application/fhir+json",
    "application/fhir+json;fhirVersion=4.0",
    "application/fhir+json; fhirVersion=4.0",
    "text/plain ;charset=utf-8",
    'text/plain; charset="utf-8"',
    'text/plain; title="a \\"quoted\\" value; with a semicolon"',
    "text/plain;",
    "application/dicom; variant=DICOM WADO-RS",    # HL7's Endpoint examples (RFC 9110 would quote it)
    "text/plain; charset",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/x-hl7-dialogmelding",
    "image/svg+xml",
    "message/rfc822",
    "a/" + "b" * 127,
]


@pytest.mark.parametrize("code", WELL_FORMED)
def test_well_formed_media_types(code: str) -> None:
    assert mime_type_problem(code) is None


@pytest.mark.parametrize(("code", "message"), [
    ("[%payloadFormat%]", "MIME type '[%payloadFormat%]' is not of the form type/subtype (RFC 6838), like "
                          "'application/pdf' or 'application/fhir+json'"),
    ("pdf", "MIME type 'pdf' is not of the form type/subtype (RFC 6838), like 'application/pdf' or "
            "'application/fhir+json'"),
    ("", "MIME type is empty"),
    ("/pdf", "MIME type '/pdf': the type name '' is not 1 to 127 letters, digits and ! # $ & - ^ _ . +, starting "
             "with a letter or digit (RFC 6838 section 4.2)"),
    ("application/", "MIME type 'application/': the subtype name '' is not 1 to 127 letters, digits and "
                     "! # $ & - ^ _ . +, starting with a letter or digit (RFC 6838 section 4.2)"),
    ("application/fhir+json, application/fhir+xml",
     "MIME type 'application/fhir+json, application/fhir+xml': the subtype name 'fhir+json, application/fhir+xml' "
     "is not 1 to 127 letters, digits and ! # $ & - ^ _ . +, starting with a letter or digit (RFC 6838 section 4.2)"),
])
def test_messages_say_what_is_wrong(code: str, message: str) -> None:
    assert mime_type_problem(code) == message


@pytest.mark.parametrize("code", [
    "image/*",                    # a media range (HTTP Accept), not a media type
    "application/pdf/x",
    "-text/plain",                # a name starts with a letter or digit
    "text/.plain",
    "tekst/ren tekst",
    "bilde/jpeg\u00e6",           # only ASCII
    "a/" + "b" * 128,             # 127 characters at most
    "text /plain",
    "; charset=utf-8",
])
def test_malformed_media_types(code: str) -> None:
    assert mime_type_problem(code) is not None


@pytest.fixture(scope="module")
def definitions() -> Definitions:
    return Definitions([fhir_package("hl7.fhir.r4.core#4.0.1")], [])


@pytest.mark.parametrize("mode", ["warn", "trust-format", "remote"])
def test_a_malformed_code_is_invalid_under_every_policy(definitions: Definitions, mode: str) -> None:
    policy = TerminologyPolicy(systems=((MIME_TYPE_SYSTEM, mode),), server="http://127.0.0.1:9")
    service = TerminologyService(definitions, policy)
    for system in (None, MIME_TYPE_SYSTEM):  # a bare code (Attachment.contentType) or a Coding
        verdict = service.validate_code(system, "[%payloadFormat%]", None, MIME_TYPES)
        assert (verdict.valid, verdict.kind, verdict.system) == (False, "format-error", MIME_TYPE_SYSTEM)
        assert "type/subtype" in verdict.message
    verdict = service.validate_code(MIME_TYPE_SYSTEM, "pdf")  # in the code system, without a value set
    assert (verdict.valid, verdict.kind) == (False, "format-error")


def test_a_well_formed_code_is_only_as_checked_as_the_policy_allows(definitions: Definitions) -> None:
    warn = TerminologyService(definitions).validate_code(None, "application/pdf", None, MIME_TYPES)
    assert (warn.valid, warn.kind) == (None, "unknown") and "could not be checked" in warn.message
    trusting = TerminologyService(definitions, TerminologyPolicy(systems=((MIME_TYPE_SYSTEM, "trust-format"),)))
    verdict = trusting.validate_code(None, "application/pdf", None, MIME_TYPES)
    assert (verdict.valid, verdict.kind) == (None, "format-only")


def test_grammars_are_facts_check_digits_are_a_policy() -> None:
    from samsvar.validators.terminology.formats import ISO_3166_2_SYSTEM, M49_SYSTEM

    assert set(SYNTAX_CHECKS) == {MIME_TYPE_SYSTEM, ISO_3166_2_SYSTEM, M49_SYSTEM}


def test_fhir_r4_format_names_are_in_its_mimetypes_value_set(definitions: Definitions) -> None:
    service = TerminologyService(definitions)
    for code in ("xml", "json", "ttl"):  # CapabilityStatement.format: "xml", "json" and "ttl" are allowed
        verdict = service.validate_code(None, code, None, MIME_TYPES + "|4.0.1")
        assert (verdict.valid, verdict.kind) == (True, "member"), code
    assert service.validate_code(MIME_TYPE_SYSTEM, "json").kind == "format-error"  # not media types as such
    assert service.validate_code(None, "yaml", None, MIME_TYPES).kind == "format-error"
