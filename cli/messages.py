"""``samsvar messages`` (schema packs) and ``samsvar apprec`` (the AppRec a receiver must return)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..validators.issues import Severity
from .common import EXIT_CLEAN, EXIT_FINDINGS


@click.group()
def messages() -> None:
    """Norwegian XML messages: schema packs for the XSD layer."""


@messages.command("install-schemas")
@click.argument("source", type=click.Path(exists=True, path_type=Path), metavar="FOLDER|ZIP")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path),
              help="Where packs are kept [default: $SAMSVAR_SCHEMA_HOME or ~/.samsvar/schemas].")
def messages_install_schemas(source: Path, home: Path | None) -> None:
    """Install a schema pack: a folder or zip of the official XSDs (for example the Sarepta archive).

    Schemas are found by target namespace and imports by file name inside the pack; nothing is
    fetched over the network.

    \b
    Example:
      samsvar messages install-schemas sarepta-skjema/
    """
    from ..validators.messages.schema_packs import install_schemas

    try:
        info = install_schemas(source, home)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"installed {info.name} in {info.root}: {len(info.files)} schemas, {len(info.namespaces)} namespaces"
               + (f", {len(info.skipped)} unreadable" if info.skipped else ""))
    for file, reason in sorted(info.skipped.items()):
        click.echo(f"  unreadable, left out: {file}: {reason}", err=True)


@messages.command("list-schemas")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path),
              help="Where packs are kept [default: $SAMSVAR_SCHEMA_HOME or ~/.samsvar/schemas].")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def messages_list_schemas(home: Path | None, as_json: bool) -> None:
    """List the installed schema packs: name, schemas, namespaces, unreadable files, folder.

    \b
    Example:
      samsvar messages list-schemas
    """
    from ..validators.messages.schema_packs import installed_packs, schema_home

    packs = installed_packs(home)
    if as_json:
        click.echo(json.dumps([{"name": p.name, "path": str(p.root), "schemas": len(p.files),
                                "namespaces": sorted(p.namespaces), "unreadable": p.skipped} for p in packs],
                              indent=2, ensure_ascii=False))
        return
    if not packs:
        click.echo(f"no schema packs in {home or schema_home()}; install one with "
                   "samsvar messages install-schemas FOLDER|ZIP")
        return
    for pack in packs:
        click.echo(f"{pack.name:<30} {len(pack.files):>4} schemas {len(pack.namespaces):>4} namespaces"
                   + (f" {len(pack.skipped)} unreadable" if pack.skipped else "") + f"  {pack.root}")


@click.command()
@click.argument("message", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", "received", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A receiver's actual AppRec: judge it against the expected one instead of printing that.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write the expected AppRec here [default: standard output].")
def apprec(message: Path, received: Path | None, output: Path | None) -> None:
    """The AppRec 1.1 a conformant receiver must return for MESSAGE, or judge a received one.

    The message is validated (schema layer when a pack is installed, then the rules); its findings
    decide the status (1 OK, 2 Avvist, 3 OK with errors in parts) and the 8221 error codes.
    Exit 0 when a checked AppRec matches, 1 when it does not.

    \b
    Examples:
      samsvar apprec dialogmelding.xml -o forventet-apprec.xml
      samsvar apprec dialogmelding.xml --check mottatt-apprec.xml
    """
    from ..conformance.apprec import AppRecError, apprec_text, expected_apprec_for, judge_apprec

    try:
        expected = expected_apprec_for(message)
        if received is None:
            if output:
                output.write_text(apprec_text(expected), encoding="utf-8")
            else:
                click.echo(apprec_text(expected), nl=False)
            return
        findings = judge_apprec(received, expected)
    except AppRecError as exc:
        raise click.UsageError(str(exc)) from None
    for issue in findings:
        click.echo(f"{received}:{issue.line or 1}: {issue.severity.code} {issue.rule} {issue.message}")
    errors = [i for i in findings if i.severity >= Severity.ERROR]
    click.echo(f"{'matches' if not errors else 'does not match'} the AppRec a conformant receiver returns "
               f"({len(errors)} error, {len(findings) - len(errors)} other)")
    sys.exit(EXIT_FINDINGS if errors else EXIT_CLEAN)
