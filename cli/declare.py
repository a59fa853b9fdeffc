"""``samsvar verify``: check a declaration of conformity (:mod:`samsvar.conformance.declaration`).

Exit 0 verified, 1 mismatch (signature, chain, waiver, a changed file), 2 usage or unreadable
declaration, 3 evidence files not on this machine. The ``--declare``/``--sign`` options of
``validate``, ``run`` and ``requirements check`` are in :mod:`samsvar.cli.common`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .common import EXIT_CLEAN, EXIT_ENVIRONMENT, EXIT_FINDINGS, EnvironmentFailure, UsageFailure


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
    from ..conformance.declaration import DeclarationError, field_of, read_certificates, read_public_key
    from ..conformance.declaration import verify as verify_declaration

    if evidence_dir is not None and not evidence_dir.is_dir():
        raise EnvironmentFailure(f"the evidence folder {evidence_dir} does not exist")
    try:
        result = verify_declaration(declaration_file, key=read_public_key(key) if key else None,
                                    trust=read_certificates(trust) if trust else (), evidence_dir=evidence_dir)
    except DeclarationError as exc:
        raise UsageFailure(str(exc)) from None
    code = (EXIT_CLEAN if result.verified else EXIT_ENVIRONMENT if result.only_missing else EXIT_FINDINGS)
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
