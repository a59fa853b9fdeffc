"""``samsvar terminology``: lookup, validate-code, expand, translate, import and load-rf2, offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .common import EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE


@click.group()
def terminology() -> None:
    """Offline terminology: the code systems and value sets of the loaded packages and samsvar's own
    (profiles/terminology), with the [terminology] policy of samsvar.toml for the rest."""


def _terminology_options(func: Any) -> Any:
    func = click.option("--no-config", is_flag=True, help="Ignore configuration files.")(func)
    func = click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                        help="Configuration file with a [terminology] table.")(func)
    func = click.option("--cache", "cache_root", type=click.Path(file_okay=False, path_type=Path),
                        help="FHIR package cache [default: $SAMSVAR_FHIR_HOME or ~/.fhir/packages].")(func)
    return click.option("--ig", "igs", multiple=True, metavar="PACKAGE|FILE",
                        help="Extra definitions (as for validate). Repeatable.")(func)


def _service(igs: tuple[str, ...], cache_root: Path | None, config_path: Path | None, no_config: bool) -> Any:
    from ..validators.policy import ConfigError, find_config, load_policy
    from ..validators.runner import Options, Validator

    try:
        policy = None if no_config else load_policy(config_path or find_config(Path.cwd()))
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    settings = policy.settings if policy else {}
    validator = Validator(Options(igs=igs, cache_root=cache_root, terminology=settings.get("terminology")))
    return validator.definitions().memo["terminology"]


def _emit(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))


@terminology.command("lookup")
@click.option("--system", required=True, help="Code system URL (urn:oid:2.16.578.1.12.4.1.1.NNNN for Volven).")
@click.option("--code", required=True)
@_terminology_options
def terminology_lookup(system: str, code: str, **env: Any) -> None:
    """$lookup: display, designations and properties of a code. Exit 1 when the code is unknown.

    \b
    Example:
      samsvar terminology lookup --system urn:oid:2.16.578.1.12.4.1.1.8279 --code DIALOG_NOTAT
    """
    found = _service(**env).lookup(system, code)
    if found is None:
        click.echo(f"{system}#{code}: not found (or the code system is not available offline)", err=True)
        sys.exit(EXIT_FINDINGS)
    _emit(found)


@terminology.command("validate-code")
@click.option("--system", help="Code system URL.")
@click.option("--code", required=True)
@click.option("--display", help="Check this display too.")
@click.option("--valueset", "value_set", help="Value set URL; without it the code is checked in its code system.")
@_terminology_options
def terminology_validate_code(system: str | None, code: str, display: str | None, value_set: str | None,
                              **env: Any) -> None:
    """$validate-code. Exit 0 valid, 1 invalid, 2 undecided (not checkable offline under the policy).

    \b
    Example:
      samsvar terminology validate-code --valueset http://hl7.org/fhir/ValueSet/administrative-gender \\
          --system http://hl7.org/fhir/administrative-gender --code female --display Female
    """
    verdict = _service(**env).validate_code(system, code, display, value_set)
    _emit({"result": verdict.valid, "kind": verdict.kind, "message": verdict.message,
           "display_ok": verdict.display_ok, "displays": verdict.displays})
    sys.exit(EXIT_CLEAN if verdict.valid and verdict.display_ok is not False else
             EXIT_FINDINGS if verdict.valid is False or verdict.display_ok is False else EXIT_USAGE)


@terminology.command("expand")
@click.argument("value_set", metavar="VALUESET_URL")
@click.option("--count", is_flag=True, help="Print only the number of codes.")
@_terminology_options
def terminology_expand(value_set: str, count: bool, **env: Any) -> None:
    """$expand a value set (when it can be enumerated offline). Exit 1 when it cannot."""
    codes, why = _service(**env).expand(value_set)
    if codes is None:
        click.echo(f"{value_set} cannot be expanded offline: {why}", err=True)
        sys.exit(EXIT_FINDINGS)
    if count:
        click.echo(len(codes))
    else:
        _emit({"resourceType": "ValueSet", "url": value_set,
               "expansion": {"total": len(codes), "contains": codes}})


@terminology.command("translate")
@click.option("--system", required=True)
@click.option("--code", required=True)
@click.option("--conceptmap", "concept_map", help="ConceptMap URL [default: every loaded ConceptMap].")
@click.option("--target", help="Target code system URL.")
@_terminology_options
def terminology_translate(system: str, code: str, concept_map: str | None, target: str | None, **env: Any) -> None:
    """$translate a code through ConceptMaps. Exit 1 when there is no mapping."""
    found = _service(**env).translate(system, code, concept_map, target)
    _emit(found)
    sys.exit(EXIT_CLEAN if found else EXIT_FINDINGS)


@terminology.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--oid", required=True, help="The code system's OID, e.g. 2.16.578.1.12.4.1.1.8279.")
@click.option("--name", required=True, help="Computer-friendly name.")
@click.option("--title", required=True, help="Human title.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="CodeSystem JSON to write.")
@click.option("--code-column", help="CSV column of the codes [default: detected].")
@click.option("--display-column", help="CSV column of the displays [default: detected].")
def terminology_import(source: Path, oid: str, name: str, title: str, out: Path, code_column: str | None,
                       display_column: str | None) -> None:
    """Turn a public code list (CSV or JSON) into a FHIR CodeSystem, for profiles/terminology/.

    \b
    Example:
      samsvar terminology import kommuner.csv --oid 2.16.578.1.12.4.1.1.3402 --name Kommunenummer \\
          --title "Kommunenummer" --out profiles/terminology/CodeSystem-volven-3402.json
    """
    from ..validators.terminology.importer import import_code_list

    try:
        written = import_code_list(source, oid=oid, name=name, title=title, out=out, code_column=code_column,
                                   display_column=display_column)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"wrote {written}")


@terminology.command("load-rf2")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--database", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="SQLite file to write (then set snomed-database in [terminology]).")
def terminology_load_rf2(folder: Path, database: Path) -> None:
    """Load a SNOMED CT RF2 snapshot (concepts, descriptions, is-a) into SQLite for offline is-a checks."""
    from ..validators.terminology.rf2 import load_rf2

    try:
        summary = load_rf2(folder, database)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"wrote {database}: {summary}")
