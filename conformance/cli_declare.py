"""``--declare FILE --sign KEY`` for ``validate``, ``run`` and ``requirements check``, and ``samsvar verify``.

Click glue only; the work is done by :mod:`samsvar.conformance.declaration`. The options are one
decorator (:func:`declaration_options`) that hands the command a ready
:class:`~samsvar.conformance.declaration.Declaration` (or None), so a bad key or certificate
stops the command before the run. :func:`finish` writes the declaration after the reports.
``samsvar verify`` exits 0 verified, 1 mismatch (signature, chain, waiver, a changed file),
2 usage or unreadable declaration, 3 evidence files not on this machine.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import click

if TYPE_CHECKING:  # the cryptography is loaded only when a declaration is asked for
    from .declaration import Declaration
    from .report import Report

EXIT_VERIFIED, EXIT_MISMATCH, EXIT_USAGE, EXIT_ENVIRONMENT = 0, 1, 2, 3
_OPTIONS = ("declare", "sign", "cert", "system_name", "system_version", "vendor")


class UsageFailure(click.ClickException):
    exit_code = EXIT_USAGE


class EnvironmentFailure(click.ClickException):
    exit_code = EXIT_ENVIRONMENT


def declaration_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds ``--declare``, ``--sign``, ``--cert``, ``--system-name``, ``--system-version`` and
    ``--vendor``; the command gets ``declaration`` (a :class:`Declaration`, or None)."""
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in _OPTIONS}
        kwargs["declaration"] = start(**given)
        return command(*args, **kwargs)

    options = [
        click.option("--declare", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
                     help="Write a signed declaration of conformity here (with --sign): the verdicts, the "
                          "environment and the SHA-256 of every report and input. Check it with `samsvar verify`."),
        click.option("--sign", type=click.Path(dir_okay=False, path_type=Path), metavar="KEY",
                     help="Signing key for --declare: PEM (EC P-256 → ES256, RSA → RS256) or PKCS#12 (.p12/.pfx, "
                          "a virksomhetssertifikat, with its chain); password in $SAMSVAR_SIGN_PASSWORD."),
        click.option("--cert", type=click.Path(dir_okay=False, path_type=Path), metavar="CHAIN.pem",
                     help="The signing key's certificate and its issuers (PEM, leaf first), sent as x5c."),
        click.option("--system-name", metavar="NAME", help="The system under test, for the declaration."),
        click.option("--system-version", metavar="VERSION", help="Its version, for the declaration."),
        click.option("--vendor", metavar="NAME", help="Its vendor, for the declaration."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def start(declare: Path | None, sign: Path | None, cert: Path | None, system_name: str | None,
          system_version: str | None, vendor: str | None) -> Declaration | None:
    """The declaration the options ask for, with its signer loaded; a usage error when they do not fit."""
    if declare is None:
        if sign or cert or system_name or system_version or vendor:
            raise UsageFailure("--sign, --cert, --system-name, --system-version and --vendor go with --declare FILE")
        return None
    if sign is None:
        raise UsageFailure("--declare needs --sign KEY: a declaration of conformity is always signed")
    from .declaration import Declaration, DeclarationError, SystemUnderTest, load_signer

    try:
        signer = load_signer(sign, cert)
    except DeclarationError as exc:
        raise UsageFailure(str(exc)) from None
    return Declaration(declare, signer, SystemUnderTest(system_name, system_version, vendor))


def input_files(paths: Iterable[str]) -> list[tuple[Path, str]]:
    """The files a ``validate`` run reads, as evidence (standard input cannot be declared)."""
    from ..validators.runner import iter_inputs

    files = list(iter_inputs(paths))
    if any(item.path is None for item in files):
        raise UsageFailure("--declare needs its inputs as files: standard input (-) cannot be hashed afterwards")
    elsewhere = [item.name for item in files if item.path is not None and not item.path.is_file()]
    if elsewhere:
        raise UsageFailure(f"--declare hashes every input, so they must be files on this machine (not URLs or "
                           f"globs): {', '.join(elsewhere[:3])}")
    return [(item.path, "input") for item in files if item.path is not None]


def finish(declaration: Declaration | None, command: str, report: Report | None, *, formats: Sequence[str] = (),
           outputs: Sequence[str] = (), inputs: Sequence[tuple[Path, str]] = (), lang: str = "nb",
           extra: dict[str, Any] | None = None) -> None:
    """Write the declaration after the reports: every report file written and every input is evidence.
    Without a JSON report among them, the JSON report (every finding and exchange) is written beside
    the declaration as ``NAME.report.json`` and listed too."""
    if declaration is None:
        return
    from .declaration import DeclarationError, Evidence

    files = [Evidence(path, "report") for out in outputs for path in _files(Path(out))]
    if report is not None and "json" not in formats[:len(outputs)]:
        from .reports import render

        beside = declaration.path.with_name(declaration.path.stem + ".report.json")
        beside.write_text(render(report, "json", lang=lang), encoding="utf-8")
        files.append(Evidence(beside, "report"))
    if report is not None and report.reproducibility.config_path:
        files.append(Evidence(Path(report.reproducibility.config_path), "configuration"))
    try:
        declaration.write(command, report, [*files, *(Evidence(path, role) for path, role in inputs)], extra)
    except DeclarationError as exc:
        raise UsageFailure(str(exc)) from None
    signer = declaration.signer.describe()
    who = signer.get("certificate", {}).get("subject") or f"key {signer['key_thumbprint']}"
    click.echo(f"declared: {declaration.path} ({signer['algorithm']}, signed by {who})", err=True)


def _files(output: Path) -> list[Path]:
    """An output file, or every file of an output folder (``-f parquet -o DIR``)."""
    return sorted(p for p in output.rglob("*") if p.is_file()) if output.is_dir() else [output]


@click.command("verify")
@click.argument("declaration_file", metavar="DECLARATION", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", type=click.Path(dir_okay=False, path_type=Path), metavar="PUB",
              help="The signer's public key (PEM) or certificate.")
@click.option("--trust", type=click.Path(dir_okay=False, path_type=Path), metavar="CA.pem",
              help="CA certificates (PEM) to check the declaration's certificate chain (x5c) against.")
@click.option("--evidence", "evidence_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Folder the evidence paths are relative to [default: the declaration's folder].")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify(declaration_file: Path, key: Path | None, trust: Path | None, evidence_dir: Path | None,
           as_json: bool) -> None:
    """Check a declaration of conformity: its signature, the signer's certificate chain, its waivers,
    and the SHA-256 of every evidence file it lists.

    Exit codes: 0 verified, 1 mismatch (changed content, wrong key, untrusted or expired
    certificate, expired waiver, changed evidence), 2 usage or not a declaration, 3 evidence
    files not found on this machine.

    \b
    Examples:
      samsvar verify erklaering.json --key leverandor-public.pem
      samsvar verify erklaering.json --trust buypass-root.pem --evidence leveranse/
    """
    if (key is None) == (trust is None):
        raise UsageFailure("give either --key PUB (the signer's public key) or --trust CA.pem, not both or neither")
    from .declaration import DeclarationError, field_of, read_certificates, read_public_key
    from .declaration import verify as verify_declaration

    if evidence_dir is not None and not evidence_dir.is_dir():
        raise EnvironmentFailure(f"the evidence folder {evidence_dir} does not exist")
    try:
        result = verify_declaration(declaration_file, key=read_public_key(key) if key else None,
                                    trust=read_certificates(trust) if trust else (), evidence_dir=evidence_dir)
    except DeclarationError as exc:
        raise UsageFailure(str(exc)) from None
    code = (EXIT_VERIFIED if result.verified else EXIT_ENVIRONMENT if result.only_missing else EXIT_MISMATCH)
    if as_json:
        click.echo(json.dumps({"declaration": str(declaration_file), "verified": result.verified,
                               "signer": result.signer, "files_checked": result.files_checked,
                               "issues": [i.as_dict() for i in result.issues]}, indent=2, ensure_ascii=False))
        sys.exit(code)
    for issue in result.issues:
        click.echo(f"{declaration_file}: {issue.severity.code} {issue.rule} {issue.message} ({issue.expression})")
    content = result.declaration
    system = field_of(content, "system")
    described = " ".join(str(v) for v in (system.get("name"), system.get("version")) if v) or "(not named)"
    if system.get("vendor"):
        described += f" ({system['vendor']})"
    conforms = field_of(content, "outcome").get("conforms")
    click.echo(f"{declaration_file}: {'verified' if result.verified else 'NOT verified'}")
    click.echo(f"  system:   {described}")
    click.echo(f"  issued:   {content.get('issued')} by {result.signer or 'an unknown signer'}")
    click.echo(f"  command:  {content.get('command')}")
    if conforms is not None:
        click.echo(f"  declares: {'conformity' if conforms else 'NO conformity (the run found failures)'}")
    listed = content.get("evidence") if isinstance(content.get("evidence"), list) else []
    click.echo(f"  evidence: {result.files_checked} of {len(listed)} files checked")
    sys.exit(code)
