"""Declarations of conformity: made by ``validate``, ``run`` and ``requirements check`` with
``--declare FILE --sign KEY``, verified by ``samsvar verify`` with a public key or a trusted CA;
a tampered verdict, a swapped or missing evidence file, an expired or untrusted certificate, the
wrong key and an expired waiver are each refused with their own rule and a clear message. Keys
and certificates are made here with ``cryptography``; the run's evidence is real."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import jwt
import lxml.html
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from samsvar.conformance.declaration import (
    DeclarationError, canonical, file_sha256, load_signer, read_certificates, verify,
)
from samsvar.conformance.sandbox import SandboxConfig, serve_in_thread

from .conftest import FIXTURES

IDS = FIXTURES / "fhir" / "identifiers"
VALID = IDS / "valid-fnr.json"
BAD = IDS / "fnr-wrong-checksum.json"
NOW = dt.datetime.now(dt.timezone.utc)


# -- keys and certificates ----------------------------------------------------------------------
def write_key(key, path: Path) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def write_public(key, path: Path) -> Path:
    path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def usage(**flags: bool) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{name: flags.get(name, False) for name in names})


@dataclass
class Pki:
    """A CA and a vendor's enterprise certificate (virksomhetssertifikat-like: O and organisation number)."""

    ca_key: ec.EllipticCurvePrivateKey
    ca: x509.Certificate

    @classmethod
    def make(cls, name: str = "samsvar test CA") -> Pki:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        ca = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(NOW - dt.timedelta(days=30)).not_valid_after(NOW + dt.timedelta(days=3650))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
              .sign(key, hashes.SHA256()))
        return cls(key, ca)

    def issue(self, key, *, days: int = 365, starts: int = -1, key_usage: x509.KeyUsage | None = None) -> x509.Certificate:
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Nordlys Journal AS"),
                             x509.NameAttribute(NameOID.SERIAL_NUMBER, "987654321")])
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(self.ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(NOW + dt.timedelta(days=starts)).not_valid_after(NOW + dt.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(key_usage or usage(digital_signature=True, content_commitment=True), critical=True)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                               critical=False)
                .sign(self.ca_key, hashes.SHA256()))

    def write_chain(self, certificate: x509.Certificate, path: Path) -> Path:
        path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM) + self.ca.public_bytes(serialization.Encoding.PEM))
        return path

    def write_ca(self, path: Path) -> Path:
        path.write_bytes(self.ca.public_bytes(serialization.Encoding.PEM))
        return path


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki.make()


@pytest.fixture()
def keys(tmp_path: Path) -> dict[str, Path]:
    """An EC signing key, its public key, and a stranger's public key."""
    folder = tmp_path / "keys"
    folder.mkdir()
    key = ec.generate_private_key(ec.SECP256R1())
    stranger = ec.generate_private_key(ec.SECP256R1())
    return {"key": write_key(key, folder / "vendor-key.pem"), "public": write_public(key, folder / "vendor-public.pem"),
            "stranger": write_public(stranger, folder / "stranger-public.pem")}


def declared_validate(run, keys: dict[str, Path], *extra: str, files: tuple[Path, ...] = (VALID,)):
    """``samsvar validate`` with an HTML report and a declaration, in the test's folder."""
    return run("validate", *map(str, files), "-f", "html", "-o", "report.html", "--lang", "en",
               "--declare", "declaration.json", "--sign", str(keys["key"]), "--system-name", "Nordlys EPJ",
               "--system-version", "4.2.1", "--vendor", "Nordlys Journal AS", *extra)


def edit(path: Path, change) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document["declaration"])
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")


# -- a good declaration ---------------------------------------------------------------------------
def test_a_declaration_of_a_validate_run_is_made_and_verified(run, keys: dict[str, Path], tmp_path: Path) -> None:
    made = declared_validate(run, keys)
    assert made.exit_code == 0, made.stdout + made.stderr
    assert "declared: declaration.json (ES256" in made.stderr
    document = json.loads((tmp_path / "declaration.json").read_text(encoding="utf-8"))
    content = document["declaration"]
    assert content["system"] == {"name": "Nordlys EPJ", "version": "4.2.1", "vendor": "Nordlys Journal AS"}
    assert content["outcome"]["conforms"] is True and content["command"] == "samsvar validate"
    verdicts = {v["id"]: v["verdict"] for v in content["outcome"]["requirements"]}
    assert verdicts["R-IDENT-001"] == "pass" and verdicts["R-SEC-001"] == "not-tested"
    environment = content["environment"]
    assert {p["id"] for p in environment["packages"]} >= {"hl7.fhir.r4.core"}
    assert len(environment["terminology"]["samsvar"]["sha256"]) == 64 and environment["waivers"] == []
    roles = {e["path"]: (e["role"], e["sha256"]) for e in content["evidence"]}
    assert roles["report.html"] == ("report", file_sha256(tmp_path / "report.html"))
    assert roles["declaration.report.json"][0] == "report"  # the findings, though only HTML was asked for
    assert [r for r, _ in roles.values()].count("input") == 1
    # the signature: a detached JWS with an unencoded payload over the canonical JSON
    header = jwt.get_unverified_header(document["signature"])
    assert header["alg"] == "ES256" and header["b64"] is False and header["crit"] == ["b64"]
    assert document["signature"].split(".")[1] == ""
    jwt.api_jws.PyJWS().decode_complete(document["signature"], serialization.load_pem_public_key(keys["public"].read_bytes()),
                                        algorithms=["ES256"], detached_payload=canonical(content))
    checked = run("verify", "declaration.json", "--key", str(keys["public"]))
    assert checked.exit_code == 0, checked.stdout + checked.stderr
    assert "declaration.json: verified" in checked.stdout and "Nordlys EPJ 4.2.1 (Nordlys Journal AS)" in checked.stdout
    assert "3 of 3 files checked" in checked.stdout and "declares: conformity" in checked.stdout
    # the HTML report names the declaration that lists it
    page = lxml.html.fromstring((tmp_path / "report.html").read_text(encoding="utf-8"))
    section = page.get_element_by_id("declaration")
    assert section.get("data-status") == "signed" and content["id"] in section.text_content()
    assert "samsvar verify declaration.json" in section.text_content()


def test_a_declaration_of_failures_is_signed_as_such(run, keys: dict[str, Path]) -> None:
    made = declared_validate(run, keys, files=(BAD,))
    assert made.exit_code == 1  # the run's verdict is unchanged
    checked = run("verify", "declaration.json", "--key", str(keys["public"]))
    assert checked.exit_code == 0 and "declares: NO conformity" in checked.stdout


# -- refusals -------------------------------------------------------------------------------------
def test_a_tampered_verdict_is_refused(run, keys: dict[str, Path], tmp_path: Path) -> None:
    assert declared_validate(run, keys, files=(BAD,)).exit_code == 1
    edit(tmp_path / "declaration.json", lambda d: d["outcome"].update(conforms=True))
    checked = run("verify", "declaration.json", "--key", str(keys["public"]))
    assert checked.exit_code == 1
    assert "DECL-001 the signature does not match the declaration's content: it was changed after it was signed" \
        in checked.stdout
    assert "NOT verified" in checked.stdout


def test_a_swapped_evidence_file_is_refused(run, keys: dict[str, Path], tmp_path: Path) -> None:
    assert declared_validate(run, keys).exit_code == 0
    (tmp_path / "report.html").write_text("<html>a nicer report</html>", encoding="utf-8")
    checked = run("verify", "declaration.json", "--key", str(keys["public"]))
    assert checked.exit_code == 1
    assert "DECL-003 report.html (report) is not the file that was declared: its SHA-256 is" in checked.stdout
    assert "2 of 3 files checked" not in checked.stdout and "3 of 3 files checked" in checked.stdout


def test_missing_evidence_is_an_environment_problem_and_evidence_can_be_elsewhere(run, keys: dict[str, Path],
                                                                                  tmp_path: Path) -> None:
    assert declared_validate(run, keys).exit_code == 0
    moved = tmp_path / "moved"
    moved.mkdir()
    (tmp_path / "declaration.json").rename(moved / "declaration.json")
    missing = run("verify", "moved/declaration.json", "--key", str(keys["public"]))
    assert missing.exit_code == 3
    assert "DECL-004 report.html (report) is not in moved; give the folder" in missing.stdout
    found = run("verify", "moved/declaration.json", "--key", str(keys["public"]), "--evidence", str(tmp_path))
    assert found.exit_code == 0, found.stdout
    assert run("verify", "moved/declaration.json", "--key", str(keys["public"]), "--evidence", "nowhere").exit_code == 3


def test_the_wrong_key_is_refused(run, keys: dict[str, Path]) -> None:
    assert declared_validate(run, keys).exit_code == 0
    checked = run("verify", "declaration.json", "--key", str(keys["stranger"]))
    assert checked.exit_code == 1
    assert "DECL-001 the declaration was signed by another key (kid" in checked.stdout


def test_a_waiver_past_its_expiry_is_refused(run, keys: dict[str, Path], tmp_path: Path) -> None:
    expires = (NOW + dt.timedelta(days=10)).date()
    (tmp_path / "samsvar.toml").write_text(
        f'[[waiver]]\nrule = "NO-ID-003"\nowner = "epj-team@example.no"\nreason = "legacy data"\nexpires = {expires}\n',
        encoding="utf-8")
    made = declared_validate(run, keys, files=(BAD,))
    assert made.exit_code == 0, made.stdout  # the finding is waived
    declaration = tmp_path / "declaration.json"
    content = json.loads(declaration.read_text(encoding="utf-8"))["declaration"]
    assert content["environment"]["waivers"] == [{"rule": "NO-ID-003", "owner": "epj-team@example.no",
                                                  "expires": expires.isoformat(), "path": None, "expression": None}]
    assert {e["role"] for e in content["evidence"]} == {"report", "input", "configuration"}
    public = serialization.load_pem_public_key(keys["public"].read_bytes())
    assert verify(declaration, key=public).verified
    later = verify(declaration, key=public, now=NOW + dt.timedelta(days=11))
    assert not later.verified and [i.rule for i in later.issues] == ["DECL-005"]
    assert (f"relies on a waiver for NO-ID-003 (owner epj-team@example.no) that expired on {expires}"
            in later.issues[0].message)


def test_a_declaration_made_with_an_expired_waiver_is_refused(run, keys: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "samsvar.toml").write_text(
        '[[waiver]]\nrule = "NO-ID-003"\nowner = "epj-team@example.no"\nreason = "legacy"\nexpires = 2001-01-01\n',
        encoding="utf-8")
    assert declared_validate(run, keys, files=(BAD,)).exit_code == 1
    checked = run("verify", "declaration.json", "--key", str(keys["public"]))
    assert checked.exit_code == 1 and "DECL-005" in checked.stdout and "expired on 2001-01-01" in checked.stdout


# -- certificate chains ---------------------------------------------------------------------------
def test_a_chain_to_the_trusted_ca_is_verified(run, pki: Pki, tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    chain = pki.write_chain(pki.issue(key), tmp_path / "chain.pem")
    made = run("requirements", "check", "--declare", "catalogue-declaration.json",
               "--sign", str(write_key(key, tmp_path / "key.pem")), "--cert", str(chain))
    assert made.exit_code == 0, made.stdout + made.stderr
    assert "RS256, signed by SERIALNUMBER=987654321,O=Nordlys Journal AS,C=NO" in made.stderr
    document = json.loads((tmp_path / "catalogue-declaration.json").read_text(encoding="utf-8"))
    assert len(jwt.get_unverified_header(document["signature"])["x5c"]) == 2
    assert document["declaration"]["catalogue"]["requirements"][0]["id"] == "R-STD-001"
    assert document["declaration"]["evidence"][0]["role"] == "catalogue"
    checked = run("verify", "catalogue-declaration.json", "--trust", str(pki.write_ca(tmp_path / "ca.pem")))
    assert checked.exit_code == 0, checked.stdout
    assert "by SERIALNUMBER=987654321,O=Nordlys Journal AS,C=NO" in checked.stdout


def sign_with_chain(tmp_path: Path, pki: Pki, **certificate) -> tuple[Path, ec.EllipticCurvePrivateKey]:
    """A declaration of a catalogue check signed with a key and its certificate from ``pki``."""
    from samsvar.conformance.declaration import Declaration, Evidence, Signer, SystemUnderTest

    key = ec.generate_private_key(ec.SECP256R1())
    target = tmp_path / "signed.json"
    evidence = tmp_path / "evidence.txt"
    evidence.write_text("evidence", encoding="utf-8")
    Declaration(target, Signer(key, (pki.issue(key, **certificate), pki.ca)), SystemUnderTest("EPJ")).write(
        "samsvar requirements check", None, [Evidence(evidence, "input")])
    return target, key


def test_an_expired_certificate_is_refused(pki: Pki, tmp_path: Path) -> None:
    declaration, _ = sign_with_chain(tmp_path, pki, days=30)
    assert verify(declaration, trust=[pki.ca]).verified
    expired = verify(declaration, trust=[pki.ca], now=NOW + dt.timedelta(days=31))
    assert [i.rule for i in expired.issues] == ["DECL-002"]
    assert "is not trusted at" in expired.issues[0].message
    assert "a certificate of the chain has expired or is not valid yet" in expired.issues[0].message


def test_an_expired_certificate_cannot_sign(pki: Pki, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    chain = pki.write_chain(pki.issue(key, starts=-30, days=-1), tmp_path / "chain.pem")
    with pytest.raises(DeclarationError, match="is not valid now"):
        load_signer(write_key(key, tmp_path / "key.pem"), chain)
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(DeclarationError, match="is not for the signing key"):
        load_signer(write_key(other, tmp_path / "other.pem"), pki.write_chain(pki.issue(key), tmp_path / "c2.pem"))


def test_another_ca_and_a_certificate_that_may_not_sign_are_refused(pki: Pki, tmp_path: Path) -> None:
    declaration, _ = sign_with_chain(tmp_path, pki)
    stranger = Pki.make("another CA")
    untrusted = verify(declaration, trust=[stranger.ca])
    assert [i.rule for i in untrusted.issues] == ["DECL-002"] and "no chain to a trusted CA" in untrusted.issues[0].message
    encipher_only, _ = sign_with_chain(tmp_path, pki, key_usage=usage(key_encipherment=True))
    refused = verify(encipher_only, trust=[pki.ca])
    assert [i.rule for i in refused.issues] == ["DECL-002"]
    assert "neither digitalSignature nor nonRepudiation" in refused.issues[0].message


def test_a_declaration_without_a_chain_cannot_be_checked_against_a_ca(run, keys: dict[str, Path], pki: Pki,
                                                                      tmp_path: Path) -> None:
    assert declared_validate(run, keys).exit_code == 0
    checked = run("verify", "declaration.json", "--trust", str(pki.write_ca(tmp_path / "ca.pem")))
    assert checked.exit_code == 1 and "DECL-002 the declaration carries no certificate chain (x5c)" in checked.stdout


def test_a_pkcs12_virksomhetssertifikat_signs(pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    bundle = tmp_path / "virksomhet.p12"
    bundle.write_bytes(pkcs12.serialize_key_and_certificates(
        b"nordlys", key, pki.issue(key), [pki.ca], serialization.BestAvailableEncryption(b"hemmelig")))
    with pytest.raises(DeclarationError, match="SAMSVAR_SIGN_PASSWORD"):
        load_signer(bundle)
    monkeypatch.setenv("SAMSVAR_SIGN_PASSWORD", "hemmelig")
    signer = load_signer(bundle)
    assert signer.algorithm == "ES256" and [c.subject for c in signer.chain] == [pki.issue(key).subject, pki.ca.subject]


# -- a live run and the usage errors --------------------------------------------------------------
def test_a_declaration_of_a_live_run(run, keys: dict[str, Path], tmp_path: Path, fhir_cache: Path) -> None:
    with serve_in_thread(SandboxConfig(cache_root=fhir_cache)) as sandbox:
        preset = tmp_path / "preset.toml"
        preset.write_text(f'target = "{sandbox.fhir_url}"\n', encoding="utf-8")
        made = run("run", "security", "--preset", str(preset), "-k", "without-token", "-f", "junit", "-o", "junit.xml",
                   "--declare", "run-declaration.json", "--sign", str(keys["key"]), "--system-name", "sandbox")
    assert made.exit_code == 1, made.stdout + made.stderr  # an open API fails the refusal
    content = json.loads((tmp_path / "run-declaration.json").read_text(encoding="utf-8"))["declaration"]
    assert content["command"] == "samsvar run security" and content["outcome"]["conforms"] is False
    assert content["outcome"]["tests"] == [{"id": "security/request-without-token-rejected", "status": "fail",
                                            "verifies": ["R-SEC-001"]}]
    assert content["outcome"]["requirements"] == [{"id": "R-SEC-001", "level": "SHALL", "verdict": "fail"}]
    assert {e["path"]: e["role"] for e in content["evidence"]} == {
        "junit.xml": "report", "run-declaration.report.json": "report", "preset.toml": "preset"}
    exchanges = json.loads((tmp_path / "run-declaration.report.json").read_text(encoding="utf-8"))
    assert exchanges["results"][0]["evidence"]["exchanges"][0]["response"]["status"] == 200
    assert exchanges["declaration"]["id"] == content["id"]
    assert run("verify", "run-declaration.json", "--key", str(keys["public"])).exit_code == 0


def test_usage_errors(run, keys: dict[str, Path], tmp_path: Path) -> None:
    no_key = run("validate", str(VALID), "--declare", "d.json")
    assert no_key.exit_code == 2 and "--declare needs --sign KEY" in no_key.stderr
    alone = run("validate", str(VALID), "--sign", str(keys["key"]))
    assert alone.exit_code == 2 and "go with --declare FILE" in alone.stderr
    stdin = run("validate", "-", "--declare", "d.json", "--sign", str(keys["key"]), input=VALID.read_bytes())
    assert stdin.exit_code == 2 and "standard input" in stdin.stderr
    remote = run("validate", "https://fhir.example.no/export/Patient.ndjson", "--declare", "d.json",
                 "--sign", str(keys["key"]))
    assert remote.exit_code == 2 and "must be files on this machine" in remote.stderr
    not_a_key = run("validate", str(VALID), "--declare", "d.json", "--sign", str(keys["public"]))
    assert not_a_key.exit_code == 2 and "is not a usable private key" in not_a_key.stderr
    small = tmp_path / "small.pem"
    write_key(rsa.generate_private_key(public_exponent=65537, key_size=1024), small)
    assert "at least 2048 bits" in run("validate", str(VALID), "--declare", "d.json", "--sign", str(small)).stderr
    assert not (tmp_path / "d.json").exists()
    assert declared_validate(run, keys).exit_code == 0
    both = run("verify", "declaration.json")
    assert both.exit_code == 2 and "either --key PUB" in both.stderr
    (tmp_path / "other.json").write_text('{"resourceType": "Patient"}', encoding="utf-8")
    other = run("verify", "other.json", "--key", str(keys["public"]))
    assert other.exit_code == 2 and "is not a samsvar declaration" in other.stderr
    assert run("verify", "gone.json", "--key", str(keys["public"])).exit_code == 2
    assert run("verify", "declaration.json", "--key", str(VALID)).exit_code == 2
    with pytest.raises(DeclarationError, match="no readable X.509 certificate"):
        read_certificates(VALID)


def test_verify_as_json(run, keys: dict[str, Path], tmp_path: Path) -> None:
    assert declared_validate(run, keys).exit_code == 0
    (tmp_path / "report.html").write_text("changed", encoding="utf-8")
    checked = run("verify", "declaration.json", "--key", str(keys["public"]), "--json")
    assert checked.exit_code == 1
    answer = json.loads(checked.stdout)
    assert answer["verified"] is False and [i["rule"] for i in answer["issues"]] == ["DECL-003"]


def test_a_signed_declaration_of_odd_shape_is_read_without_a_crash(run, keys: dict[str, Path], tmp_path: Path) -> None:
    """Whatever a signer put in it, verify reports on it and never breaks."""
    from samsvar.conformance.declaration import FORMAT, Signer, sign

    key = serialization.load_pem_private_key(keys["key"].read_bytes(), None)
    for odd in ({"environment": [1], "evidence": {"a": 1}, "system": "x", "outcome": 3, "signer": []},
                {"environment": {"waivers": [3, {"expires": None}]}, "evidence": [7, {"path": 1}]}):
        document = sign({"format": FORMAT, **odd}, Signer(key))
        (tmp_path / "odd.json").write_text(json.dumps(document), encoding="utf-8")
        checked = run("verify", "odd.json", "--key", str(keys["public"]))
        assert checked.exit_code == 1, checked.stdout + checked.stderr
        assert "DECL-001" in checked.stdout  # it names no signer key


def test_a_parquet_folder_is_declared_file_by_file(run, keys: dict[str, Path], tmp_path: Path) -> None:
    made = run("validate", str(BAD), "-f", "parquet", "-o", "issues", "--declare", "d.json", "--sign", str(keys["key"]))
    assert made.exit_code == 1, made.stdout + made.stderr
    evidence = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))["declaration"]["evidence"]
    parts = [e["path"] for e in evidence if e["path"].startswith("issues/")]
    assert parts and all(e["role"] == "report" for e in evidence if e["path"] in parts)
    assert run("verify", "d.json", "--key", str(keys["public"])).exit_code == 0
