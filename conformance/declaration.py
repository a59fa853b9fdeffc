"""Declarations of conformity (samsvarserklæringer): what a run showed, signed so others can rely on it.

A declaration is one JSON file::

    {"declaration": {...}, "signature": "<protected header>..<signature>"}

``declaration`` says which system was tested (name, version, vendor as given), by which command,
with what outcome (the suite's tests, the requirement verdicts, the summary), in which
environment (samsvar's version, every FHIR package with its hash, samsvar's own terminology and
the installed XSD packs with their hashes, the configuration and every waiver with its owner and
expiry) and the SHA-256 of every evidence file and input (the reports the run wrote, the files
it validated, the configuration and preset it read). ``signature`` is a detached JWS (RFC 7515
appendix F) with an unencoded payload (RFC 7797, ``b64: false``) over the RFC 8785 canonical JSON
of ``declaration``: ES256 or RS256, the key's RFC 7638 thumbprint as ``kid`` and, when the signer
has one, its X.509 chain as ``x5c`` (a Norwegian virksomhetssertifikat and its issuing CA). The
file stays readable JSON and any JOSE library can check it.

:func:`verify` checks the signature with a given public key, or the ``x5c`` chain up to a trusted
CA (validity at verification time, issuer signatures, key usage), that no waiver the declaration
relies on has expired, and that every listed file is present with the hash declared. Each
problem is an :class:`~samsvar.validators.issues.Issue` with a ``DECL-*`` rule.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import platform
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import jwt
import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import verification

from .. import __version__
from ..validators.cache import file_sha256
from ..validators.issues import Issue, Severity
from ..validators.rules import declared
from .jwk import SIGNING_ALGORITHMS, UnusableKey, algorithm_for, key_thumbprint
from .report import Report, Reproducibility

FORMAT = "samsvar-declaration/1"
CONTENT_TYPE = "samsvar-declaration+json"
PASSWORD_ENV = "SAMSVAR_SIGN_PASSWORD"
"""Environment variable with the password of an encrypted signing key or PKCS#12 file."""
TERMINOLOGY_FOLDER = Path(__file__).resolve().parent.parent / "profiles" / "terminology"
STATEMENT = ("samsvar tested the system under test on the date of issue with the command, configuration and "
             "environment given here. The requirement verdicts and the evidence listed with their SHA-256 are "
             "what it found; the issuer declares them under its own responsibility (ISO/IEC 17050-1).")

BAD_SIGNATURE = declared("DECL-001")
UNTRUSTED_SIGNER = declared("DECL-002")
EVIDENCE_CHANGED = declared("DECL-003")
EVIDENCE_MISSING = declared("DECL-004")
WAIVER_EXPIRED = declared("DECL-005")


class DeclarationError(ValueError):
    """A declaration that cannot be made or read as asked (a usage or input error, exit code 2)."""


# -- hashes ---------------------------------------------------------------------------------------
def tree_sha256(folder: Path, files: Iterable[str] | None = None) -> str:
    """One hash for a folder: SHA-256 over ``relative-path NUL file-sha256 LF`` of its files, sorted."""
    names = sorted(files) if files is not None else sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for name in names:
        digest.update(f"{name}\0{file_sha256(folder / name)}\n".encode("utf-8"))
    return digest.hexdigest()


def canonical(document: Any) -> bytes:
    """RFC 8785 (JSON Canonicalization Scheme) bytes: what the signature covers."""
    return rfc8785.dumps(document)


# -- the signer -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Signer:
    """A private key (ES256 or RS256) and, optionally, its certificate chain (leaf first)."""

    key: Any
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def algorithm(self) -> str:
        return algorithm_for(self.key)

    @property
    def kid(self) -> str:
        return key_thumbprint(self.key)

    def header(self) -> dict[str, Any]:
        header: dict[str, Any] = {"typ": "JOSE", "cty": CONTENT_TYPE, "kid": self.kid}
        if self.chain:  # RFC 7515 section 4.1.6: base64 (not base64url) DER, leaf first
            header["x5c"] = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in self.chain]
        return header

    def describe(self) -> dict[str, Any]:
        """Who signs, as the declaration states it (the verifier compares it with the key it trusts)."""
        described: dict[str, Any] = {"algorithm": self.algorithm, "key_thumbprint": self.kid}
        if self.chain:
            described["certificate"] = describe_certificate(self.chain[0])
        return described


_NAMES = {x509.NameOID.SERIAL_NUMBER: "SERIALNUMBER", x509.NameOID.ORGANIZATION_IDENTIFIER: "organizationIdentifier"}
"""Attribute names RFC 4514 leaves as OIDs that Norwegian enterprise certificates carry: the
organisation number as serialNumber (SEID 1) or organizationIdentifier ``NTRNO-…`` (SEID 2)."""


def name_text(name: x509.Name) -> str:
    return name.rfc4514_string(_NAMES)


def describe_certificate(certificate: x509.Certificate) -> dict[str, str]:
    return {"subject": name_text(certificate.subject), "issuer": name_text(certificate.issuer),
            "serial": format(certificate.serial_number, "x"),
            "not_before": certificate.not_valid_before_utc.isoformat(),
            "not_after": certificate.not_valid_after_utc.isoformat()}


def load_signer(key_path: Path, cert_path: Path | None = None, *, password: bytes | None = None,
                now: dt.datetime | None = None) -> Signer:
    """The signer in ``key_path``: a PEM private key (with ``cert_path``, a PEM chain, leaf first),
    or a PKCS#12 file (``.p12``/``.pfx``, as virksomhetssertifikater come) with key and chain.
    The password comes from ``$SAMSVAR_SIGN_PASSWORD`` when not given. The certificate must hold
    the key's public key and be valid now. :class:`DeclarationError` says what is wrong."""
    if password is None and os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV].encode("utf-8")
    try:
        data = key_path.read_bytes()
    except OSError as exc:
        raise DeclarationError(f"cannot read the signing key {key_path}: {exc.strerror or exc}") from None
    chain: list[x509.Certificate] = []
    try:
        if key_path.suffix.lower() in (".p12", ".pfx"):
            key, leaf, others = pkcs12.load_key_and_certificates(data, password)
            chain = [c for c in (leaf, *others) if c is not None]
        else:
            key = serialization.load_pem_private_key(data, password)
    except (ValueError, TypeError) as exc:
        hint = f" (an encrypted key needs its password in ${PASSWORD_ENV})" if "password" in str(exc).lower() else ""
        raise DeclarationError(f"{key_path} is not a usable private key: {exc}{hint}") from None
    if key is None:
        raise DeclarationError(f"{key_path} holds no private key")
    if cert_path is not None:
        chain = read_certificates(cert_path)
    signer = Signer(key, tuple(chain))
    try:
        signer.algorithm
    except UnusableKey as exc:
        raise DeclarationError(f"{key_path}: {exc}") from None
    if chain:
        _check_signing_certificate(signer, now or dt.datetime.now(dt.timezone.utc))
    return signer


def _check_signing_certificate(signer: Signer, now: dt.datetime) -> None:
    leaf = signer.chain[0]
    if key_thumbprint(leaf.public_key()) != signer.kid:
        raise DeclarationError(f"the certificate {name_text(leaf.subject)} is not for the signing key "
                               "(give the key's own certificate first in the chain)")
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise DeclarationError(f"the certificate {name_text(leaf.subject)} is not valid now (valid "
                               f"{leaf.not_valid_before_utc:%Y-%m-%d} to {leaf.not_valid_after_utc:%Y-%m-%d})")


def read_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate of a PEM file (or one DER certificate); :class:`DeclarationError` otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DeclarationError(f"cannot read the certificates {path}: {exc.strerror or exc}") from None
    try:
        found = x509.load_pem_x509_certificates(data) if b"-----BEGIN" in data else [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise DeclarationError(f"{path} holds no readable X.509 certificate ({exc})") from None
    return list(found)


def read_public_key(path: Path) -> Any:
    """A PEM public key or the public key of a PEM/DER certificate."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DeclarationError(f"cannot read the key {path}: {exc.strerror or exc}") from None
    try:
        return serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        pass
    try:
        return read_certificates(path)[0].public_key()
    except DeclarationError:
        raise DeclarationError(f"{path} is neither a PEM public key nor a certificate") from None


# -- what is declared -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SystemUnderTest:
    name: str | None = None
    version: str | None = None
    vendor: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "version": self.version, "vendor": self.vendor}


@dataclass(frozen=True)
class Evidence:
    """A file the declaration lists: its role (report, input, configuration, preset, catalogue)."""

    path: Path
    role: str


def evidence_entries(files: Sequence[Evidence], base: Path) -> list[dict[str, Any]]:
    """``{"path", "role", "sha256", "bytes"}`` per file, paths relative to ``base`` (the declaration's folder)."""
    entries, seen = [], set()
    for item in files:
        resolved = item.path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        if not resolved.is_file():
            raise DeclarationError(f"cannot declare {item.path}: it is not a file on this machine")
        entries.append({"path": Path(os.path.relpath(resolved, base.resolve())).as_posix(), "role": item.role,
                        "sha256": file_sha256(resolved), "bytes": resolved.stat().st_size})
    return entries


def environment(reproducibility: Reproducibility) -> dict[str, Any]:
    """The reproducibility block of the reports, with the waivers spelt out and the terminology and
    XSD packs samsvar would use, each with its hash."""
    from ..validators.messages.schema_packs import installed_packs

    options = reproducibility.options
    terminology = options.get("terminology") if isinstance(options.get("terminology"), dict) else None
    snomed = (terminology or {}).get("snomed_database")
    return {
        **reproducibility.as_dict(),
        "python": platform.python_version(),
        "waivers": [dict(zip(("rule", "owner", "expires", "path", "expression"), w))
                    for w in options.get("waivers", [])],
        "terminology": {
            "samsvar": {"path": "profiles/terminology", "sha256": tree_sha256(TERMINOLOGY_FOLDER)},
            "snomed_database": ({"path": str(snomed), "sha256": file_sha256(Path(snomed))}
                                if snomed and Path(snomed).is_file() else None),
            "server": (terminology or {}).get("server"),
        },
        "schema_packs": [{"name": pack.name, "files": len(pack.files), "sha256": tree_sha256(pack.root, pack.files)}
                         for pack in installed_packs()],
    }


def outcome(report: Report) -> dict[str, Any]:
    """The verdicts: the summary, each live test, each requirement judged."""
    failed = [v["id"] for v in report.verdicts if v.get("verdict") == "fail"]
    out: dict[str, Any] = {"conforms": report.passed and not failed, "summary": report.summary()}
    if report.live:
        out["tests"] = [{"id": r.path, "status": getattr(r, "status"), "verifies": list(getattr(r, "verifies", ()))}
                        for r in report.results]
    out["requirements"] = [{"id": v["id"], "level": v.get("level"), "verdict": v["verdict"]} for v in report.verdicts]
    return out


@dataclass
class Declaration:
    """A declaration being made: where it goes, who signs, what was tested. Made before the run (so
    a bad key stops it early), finished after the reports are written (so they can be hashed)."""

    path: Path
    signer: Signer
    system: SystemUnderTest
    id: str = field(default_factory=lambda: f"urn:uuid:{uuid.uuid4()}")
    issued: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).replace(microsecond=0))

    def report_status(self) -> dict[str, Any]:
        """What the HTML report shows about the declaration that will list it."""
        return {"id": self.id, "file": self.path.name, "issued": self.issued.isoformat(), "status": "signed",
                "system": self.system.as_dict(), **self.signer.describe()}

    def content(self, command: str, report: Report | None, evidence: Sequence[Evidence],
                extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        reproducibility = report.reproducibility if report is not None else Reproducibility()
        content: dict[str, Any] = {
            "format": FORMAT, "id": self.id, "issued": self.issued.isoformat(), "statement": STATEMENT,
            "standard": "ISO/IEC 17050-1:2004 (supplier's declaration of conformity)",
            "system": self.system.as_dict(), "signer": self.signer.describe(),
            "tool": {"name": "samsvar", "version": __version__}, "command": command,
        }
        if report is not None:
            content["outcome"] = outcome(report)
        content.update(extra or {})
        content["environment"] = environment(reproducibility)
        content["evidence"] = evidence_entries(evidence, self.path.parent)
        return content

    def write(self, command: str, report: Report | None, evidence: Sequence[Evidence],
              extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Build, sign and write the declaration file; returns what was written."""
        document = sign(self.content(command, report, evidence, extra), self.signer)
        self.path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return document


def open_declaration(declare: Path, sign_key: Path, cert: Path | None, system: SystemUnderTest) -> Declaration:
    """The declaration ``--declare FILE --sign KEY`` asks for, with its signer loaded (a bad key or
    certificate is a :class:`DeclarationError` before the run)."""
    return Declaration(declare, load_signer(sign_key, cert), system)


def input_evidence(paths: Iterable[str]) -> list[tuple[Path, str]]:
    """The files a ``validate`` run reads, as evidence (standard input, URLs and globs cannot be declared)."""
    from ..validators.runner import iter_inputs

    files = list(iter_inputs(paths))
    if any(item.path is None for item in files):
        raise DeclarationError("--declare needs its inputs as files: standard input (-) cannot be hashed afterwards")
    elsewhere = [item.name for item in files if item.path is not None and not item.path.is_file()]
    if elsewhere:
        raise DeclarationError(f"--declare hashes every input, so they must be files on this machine (not URLs or "
                               f"globs): {', '.join(elsewhere[:3])}")
    return [(item.path, "input") for item in files if item.path is not None]


def declare_run(declaration: Declaration, command: str, report: Report | None, *, formats: Sequence[str] = (),
                outputs: Sequence[str] = (), inputs: Sequence[tuple[Path, str]] = (), lang: str = "nb",
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the declaration after the reports: every report file written and every input is evidence.
    Without a JSON report among them, the JSON report (every finding and exchange) is written beside
    the declaration as ``NAME.report.json`` and listed too. Returns the signer's description."""
    files = [Evidence(path, "report") for out in outputs for path in _output_files(Path(out))]
    if report is not None and "json" not in formats[:len(outputs)]:
        from .reports import render

        beside = declaration.path.with_name(declaration.path.stem + ".report.json")
        beside.write_text(render(report, "json", lang=lang), encoding="utf-8")
        files.append(Evidence(beside, "report"))
    if report is not None and report.reproducibility.config_path:
        files.append(Evidence(Path(report.reproducibility.config_path), "configuration"))
    declaration.write(command, report, [*files, *(Evidence(path, role) for path, role in inputs)], extra)
    return declaration.signer.describe()


def _output_files(output: Path) -> list[Path]:
    """An output file, or every file of an output folder (``-f parquet -o DIR``)."""
    return sorted(p for p in output.rglob("*") if p.is_file()) if output.is_dir() else [output]


def sign(content: Mapping[str, Any], signer: Signer) -> dict[str, Any]:
    """``{"declaration": content, "signature": detached JWS}`` (PyJWT: ``b64: false``, RFC 7797)."""
    token = jwt.api_jws.PyJWS().encode(canonical(content), signer.key, algorithm=signer.algorithm,
                                       headers=signer.header(), is_payload_detached=True)
    return {"declaration": dict(content), "signature": token}


# -- verifying ------------------------------------------------------------------------------------
@dataclass
class Verification:
    """What :func:`verify` found: the declaration, who signed it, and the problems."""

    source: str
    declaration: dict[str, Any]
    header: dict[str, Any]
    issues: list[Issue] = field(default_factory=list)
    files_checked: int = 0
    signer: str = ""

    @property
    def verified(self) -> bool:
        return not any(i.severity >= Severity.ERROR for i in self.issues)

    @property
    def only_missing(self) -> bool:
        """Every problem is an evidence file that is not here (an environment problem, not a mismatch)."""
        return bool(self.issues) and all(i.rule == EVIDENCE_MISSING.code for i in self.issues)


def read_declaration(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise DeclarationError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DeclarationError(f"{path} is not JSON ({exc})") from None
    if not (isinstance(document, dict) and isinstance(document.get("declaration"), dict)
            and isinstance(document.get("signature"), str)):
        raise DeclarationError(f"{path} is not a samsvar declaration (expected {{\"declaration\": {{…}}, "
                               "\"signature\": \"…\"}})")
    if document["declaration"].get("format") != FORMAT:
        raise DeclarationError(f"{path}: unknown declaration format {document['declaration'].get('format')!r} "
                               f"(this samsvar reads {FORMAT})")
    return document


def verify(path: Path, *, key: Any = None, trust: Sequence[x509.Certificate] = (), evidence_dir: Path | None = None,
           now: dt.datetime | None = None) -> Verification:
    """Check a declaration file: signature (with ``key``, or the ``x5c`` chain up to one of
    ``trust``), waivers, and every evidence file under ``evidence_dir`` (default: the
    declaration's folder). :class:`DeclarationError` when it cannot be read as a declaration."""
    if (key is None) == (not trust):
        raise DeclarationError("give either the signer's public key (--key) or the CA certificates to trust (--trust)")
    now = now or dt.datetime.now(dt.timezone.utc)
    document = read_declaration(path)
    content, token = document["declaration"], document["signature"]
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise DeclarationError(f"{path}: the signature is not a JWS ({exc})") from None
    result = Verification(str(path), content, header)
    signing_key = _signing_key(result, key, trust, now)
    if signing_key is not None:
        _check_signature(result, token, signing_key)
    _check_waivers(result, now.date())
    _check_evidence(result, evidence_dir or path.parent)
    return result


def field_of(document: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``document[name]`` when it is an object, else an empty one (a changed declaration may hold anything)."""
    value = document.get(name)
    return value if isinstance(value, dict) else {}


def _issue(result: Verification, rule: Any, message: str, expression: str) -> None:
    result.issues.append(rule.issue(message, expression=expression, source=result.source))


def _signing_key(result: Verification, key: Any, trust: Sequence[x509.Certificate], now: dt.datetime) -> Any:
    """The key to check the signature with: the given one, or the x5c leaf's once its chain is trusted."""
    if key is not None:
        result.signer = f"the key given (thumbprint {key_thumbprint(key)})"
        return key
    encoded = result.header.get("x5c")
    if not isinstance(encoded, list) or not encoded:
        _issue(result, UNTRUSTED_SIGNER, "the declaration carries no certificate chain (x5c) to check against the "
               "trusted CA; verify it with the signer's public key (--key) instead", "signature.x5c")
        return None
    try:
        chain = [x509.load_der_x509_certificate(base64.b64decode(c, validate=True)) for c in encoded]
    except (ValueError, TypeError) as exc:
        _issue(result, UNTRUSTED_SIGNER, f"the certificate chain (x5c) cannot be read: {exc}", "signature.x5c")
        return None
    leaf = chain[0]
    result.signer = name_text(leaf.subject)
    policy = verification.PolicyBuilder().store(verification.Store(list(trust))).time(now).extension_policies(
        ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(), ee_policy=_signing_certificate_policy())
    try:
        policy.build_client_verifier().verify(leaf, chain[1:])
    except verification.VerificationError as exc:
        valid = f"valid {leaf.not_valid_before_utc:%Y-%m-%d} to {leaf.not_valid_after_utc:%Y-%m-%d}"
        _issue(result, UNTRUSTED_SIGNER, f"the signer's certificate {result.signer} ({valid}) is not trusted at "
               f"{now:%Y-%m-%d %H:%M} UTC: {_chain_reason(exc)}", "signature.x5c[0]")
        return None
    return leaf.public_key()


def _signing_certificate_policy() -> verification.ExtensionPolicy:
    """An end-entity certificate that may sign documents: key usage digitalSignature or nonRepudiation
    (contentCommitment); no extended key usage is asked for (virksomhetssertifikater differ there)."""
    def key_usage(_policy: Any, _certificate: Any, usage: x509.KeyUsage | None) -> None:
        if usage is None or not (usage.digital_signature or usage.content_commitment):
            raise ValueError("its key usage allows neither digitalSignature nor nonRepudiation")

    return (verification.ExtensionPolicy.permit_all()
            .require_present(x509.KeyUsage, verification.Criticality.AGNOSTIC, key_usage)
            .require_present(x509.BasicConstraints, verification.Criticality.AGNOSTIC, _not_a_ca))


def _not_a_ca(_policy: Any, _certificate: Any, constraints: x509.BasicConstraints | None) -> None:
    if constraints is not None and constraints.ca:
        raise ValueError("it is a CA certificate, not a signer's")


def _chain_reason(exc: Exception) -> str:
    text = str(exc).removeprefix("validation failed: ")
    if "not valid at validation time" in text:
        return "a certificate of the chain has expired or is not valid yet"
    if "candidates exhausted" in text or "no valid issuer" in text.lower():
        return f"no chain to a trusted CA ({text})"
    return text


def _check_signature(result: Verification, token: str, key: Any) -> None:
    algorithm = result.header.get("alg")
    if algorithm not in SIGNING_ALGORITHMS:
        _issue(result, BAD_SIGNATURE, f"the signature uses {algorithm!r}; samsvar accepts {', '.join(SIGNING_ALGORITHMS)}",
               "signature")
        return
    try:
        jwt.api_jws.PyJWS().decode_complete(token, key, algorithms=[algorithm], detached_payload=canonical(result.declaration))
    except jwt.PyJWTError as exc:
        given = key_thumbprint(key)
        if result.header.get("kid") not in (None, given):
            message = (f"the declaration was signed by another key (kid {result.header.get('kid')}) than the one "
                       f"it is checked with (thumbprint {given})")
        elif isinstance(exc, jwt.InvalidSignatureError):
            message = ("the signature does not match the declaration's content: it was changed after it was "
                       "signed (a verdict, a hash or any other value)")
        else:
            message = f"the signature cannot be checked: {exc}"
        _issue(result, BAD_SIGNATURE, message, "signature")
        return
    stated = field_of(result.declaration, "signer").get("key_thumbprint")
    if stated != key_thumbprint(key):
        _issue(result, BAD_SIGNATURE, f"the declaration names key {stated} as its signer, but it was signed with "
               f"{key_thumbprint(key)}", "declaration.signer.key_thumbprint")


def _check_waivers(result: Verification, today: dt.date) -> None:
    waivers = field_of(result.declaration, "environment").get("waivers")
    for n, waiver in enumerate(waivers if isinstance(waivers, list) else []):
        try:
            expires = dt.date.fromisoformat(str(waiver.get("expires")))
        except (AttributeError, TypeError, ValueError):
            _issue(result, WAIVER_EXPIRED, f"waiver {n} has no readable expiry date ({waiver!r})",
                   f"declaration.environment.waivers[{n}]")
            continue
        if expires < today:
            _issue(result, WAIVER_EXPIRED, f"the declaration relies on a waiver for {waiver.get('rule')} (owner "
                   f"{waiver.get('owner')}) that expired on {expires.isoformat()}: its findings count again, so "
                   "the declared verdicts no longer hold; run again and declare anew",
                   f"declaration.environment.waivers[{n}]")


def _check_evidence(result: Verification, base: Path) -> None:
    entries = result.declaration.get("evidence")
    for n, entry in enumerate(entries if isinstance(entries, list) else []):
        where = f"declaration.evidence[{n}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or not isinstance(entry.get("sha256"), str):
            _issue(result, EVIDENCE_CHANGED, f"evidence entry {n} has no path and sha256", where)
            continue
        found = base / entry["path"]
        if not found.is_file():
            _issue(result, EVIDENCE_MISSING, f"{entry['path']} ({entry.get('role', 'evidence')}) is not in {base}; "
                   "give the folder that holds the evidence with --evidence DIR", where)
            continue
        digest = file_sha256(found)
        result.files_checked += 1
        if digest != entry["sha256"]:
            _issue(result, EVIDENCE_CHANGED, f"{entry['path']} ({entry.get('role', 'evidence')}) is not the file that "
                   f"was declared: its SHA-256 is {digest}, the declaration says {entry['sha256']}", where)
