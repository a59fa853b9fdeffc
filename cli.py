"""The ``samsvar`` command line: Click commands only; the work is done by the library."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__
from .conformance.report import NothingToCheck
from .conformance.cli_declare import declaration_options, finish, input_files
from .validators.issues import EnvironmentProblem, Severity

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE, EXIT_ENVIRONMENT = 0, 1, 2, 3
EXIT_NOTHING_TO_CHECK = 5  # as pytest's "no tests collected"; conformance.report.NothingToCheck
SEVERITY_CHOICE = click.Choice([s.code for s in Severity], case_sensitive=False)


class EnvironmentFailure(click.ClickException):
    """Exit code 3: the machine, not the input, stopped the run."""

    exit_code = EXIT_ENVIRONMENT

    def __init__(self, problem: EnvironmentProblem) -> None:
        message = str(problem) + (f"\nhint: {problem.hint}" if problem.hint else "")
        super().__init__(message)


class NothingChecked(click.ClickException):
    """Exit code 5: the input held nothing to check (an empty folder, a -k that selects no test)."""

    exit_code = EXIT_NOTHING_TO_CHECK


class InternalFailure(click.ClickException):
    """Exit code 3 as well: samsvar itself failed, so the run proves nothing about the input."""

    exit_code = EXIT_ENVIRONMENT


class Samsvar(click.Group):
    """Maps library errors to exit codes and never shows a traceback.

    The command groups that live with their library (the catalogue, the linter, the live suites)
    are imported when they are called or listed, so ``samsvar validate`` does not load them.
    """

    LAZY = {"requirements": ("conformance.cli_requirements", "requirements"),
            "profiles": ("conformance.profiles_scaffold", "profiles"),  # lint, list and new
            "suites": ("conformance.cli_run", "suites"),
            "run": ("conformance.cli_run", "run"),
            "verify": ("conformance.cli_declare", "verify")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY and cmd_name not in self.commands:
            from importlib import import_module

            module, name = self.LAZY[cmd_name]
            self.add_command(getattr(import_module(f"{__package__}.{module}"), name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EnvironmentProblem as problem:
            raise EnvironmentFailure(problem) from None
        except NothingToCheck as empty:
            raise NothingChecked(str(empty)) from None
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (`samsvar rules list | head`): stop quietly, as Unix tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise click.exceptions.Exit(128 + 13) from None  # the shell's code for SIGPIPE
        except Exception as exc:  # pragma: no cover - a bug; exercised by the hostile corpus
            if os.environ.get("SAMSVAR_DEBUG"):
                raise
            raise InternalFailure(
                f"internal error ({type(exc).__name__}: {exc}); rerun with SAMSVAR_DEBUG=1 and report it"
            ) from None


@click.group(cls=Samsvar, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="samsvar")
def cli() -> None:
    """samsvar: conformance checks for Norwegian health interoperability.

    Validates FHIR R4 resources and Bundles (JSON and XML) and Norwegian XML messages offline,
    and reports located, coded issues for people, CI and FHIR tools.

    Exit codes: 0 clean, 1 findings at or above the fail level, 2 usage error,
    3 environment error (for example a FHIR package missing offline) or internal error,
    5 nothing to check (a folder without *.json/*.xml/*.ndjson files, a -k that selects no test;
    --allow-empty accepts it).
    """


# --------------------------------------------------------------------------- validate
def _size(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    from .validators.policy import ConfigError, parse_size

    if value is None:
        return None
    try:
        return parse_size(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--format", "-f", "formats", multiple=True, metavar="FORMAT",
              help="text (default), json, operationoutcome, junit, sarif, codequality, html or testreport. Repeatable.")
@click.option("--report", "formats", multiple=True, hidden=True)
@click.option("--output", "-o", "outputs", multiple=True, type=click.Path(writable=True),
              help="File for the format given at the same position (the first --output goes with the "
                   "first --format; a folder for parquet). Formats without one go to standard output.")
@click.option("--fail-on", type=SEVERITY_CHOICE, default=None,
              help="Lowest severity that makes the exit code 1 [default: error, or fail-on in the config].")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Configuration file [default: nearest samsvar.toml or pyproject.toml with [tool.samsvar]].")
@click.option("--no-config", is_flag=True, help="Ignore configuration files.")
@click.option("--select", multiple=True, metavar="CODE", help="Only these rule codes or prefixes. Repeatable.")
@click.option("--ignore", multiple=True, metavar="CODE", help="Drop these rule codes or prefixes. Repeatable.")
@click.option("--ig", "igs", multiple=True, metavar="PACKAGE|FILE",
              help="Extra definitions: package id#version from the cache, a .tgz, a package folder, "
                   "or a JSON conformance resource or folder of them. Repeatable.")
@click.option("--profile", "profiles", multiple=True, metavar="URL", help="Validate against this profile.")
@click.option("--cache", "cache_root", type=click.Path(file_okay=False, path_type=Path),
              help="FHIR package cache [default: $SAMSVAR_FHIR_HOME or ~/.fhir/packages].")
@click.option("--production", is_flag=True, default=None,
              help="Treat synthetic test identities as errors.")
@click.option("--must-support", is_flag=True, default=False,
              help="Report mustSupport elements of the profiles that an instance leaves out (information).")
@click.option("--example-urls/--no-example-urls", default=None,
              help="Accept undefined extensions in example domains (example.org, ...) with a note, or report "
                   "them as errors like HL7's -allow-example-urls false [default: accept, or example-urls "
                   "in the config].")
@click.option("--contained/--no-contained", default=None,
              help="Report findings inside contained resources, or leave them out like HL7's validateContains "
                   "IGNORE [default: report, or contained in the config].")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None,
              help="Validate files and NDJSON lines in this many processes; results keep the input order "
                   "[default: every core, or jobs in the config].")
@click.option("--max-size", callback=_size, metavar="SIZE",
              help="Largest file, or NDJSON line, read, e.g. 256MB [default: 256MB].")
@click.option("--max-depth", type=click.IntRange(1, 500),
              help="Deepest nesting accepted, at most 500 (deeper input cannot be parsed and walked) [default: 200].")
@click.option("--strict/--no-strict", default=None,
              help="A gate that never passes on what it did not check: a declared profile that is not loaded, "
                   "a code system not available offline, a constraint that could not be evaluated, a message "
                   "without an installed schema are errors [default: off, or strict in the config].")
@click.option("--allow-empty", is_flag=True,
              help="Accept a run with nothing to check (a folder without *.json/*.xml/*.ndjson files) as clean "
                   "instead of exit code 5.")
@click.option("--no-group", "no_group", is_flag=True,
              help="List every finding in text and HTML output. By default a rule with more than 10 findings "
                   "shows its first 3 and a count; JSON, SARIF, JUnit and OperationOutcome always keep every one.")
@click.option("--color/--no-color", default=None, help="Colour in text output [default: when a terminal].")
@click.option("--lang", type=click.Choice(["nb", "en"]), default="nb", show_default=True,
              help="Language of the HTML report.")
@click.option("--dask", "use_dask", is_flag=True,
              help="Validate on Dask: a LocalCluster on this machine, or the scheduler of --scheduler "
                   "(pip install 'samsvar[dask]'). NDJSON files are split into byte ranges over the workers.")
@click.option("--scheduler", metavar="ADDRESS", help="Address of an existing Dask scheduler (implies --dask).")
@click.option("--dask-workers", type=click.IntRange(1, 1024), default=None,
              help="Workers of the LocalCluster [default: every core].")
@click.option("--part-size", callback=_size, metavar="SIZE",
              help="Bytes of NDJSON per Dask task [default: 32MB].")
@declaration_options
def validate(paths: tuple[str, ...], formats: tuple[str, ...], outputs: tuple[str, ...],
             fail_on: str | None, config_path: Path | None, no_config: bool, select: tuple[str, ...],
             ignore: tuple[str, ...], igs: tuple[str, ...], profiles: tuple[str, ...],
             cache_root: Path | None, production: bool | None, must_support: bool,
             example_urls: bool | None, contained: bool | None, jobs: int | None,
             max_size: int | None,
             max_depth: int | None, strict: bool | None, allow_empty: bool, no_group: bool, color: bool | None,
             lang: str, use_dask: bool, scheduler: str | None, dask_workers: int | None,
             part_size: int | None, declaration: Any) -> None:
    """Validate files, folders (recursively: *.json, *.xml, *.ndjson) or - (standard input).

    An NDJSON file (*.ndjson, a Bulk Data export) is read one line at a time: one resource and
    one result per line (PATH:LINE), whatever the length of the file.

    A folder without a single file to check, or an empty NDJSON file, is exit code 5 (nothing to
    check), not a clean run; --allow-empty accepts it.

    \b
    Examples:
      samsvar validate patient.json
      samsvar validate export/Patient.ndjson --jobs 2
      samsvar validate bundles/ --format sarif --output samsvar.sarif
      samsvar validate - < patient.xml
      samsvar validate exports/ -f json -o report.json -f junit -o junit.xml -f text
      samsvar validate fixtures/ -f html -o report.html --lang en
      samsvar validate export/ --dask -f parquet -o issues/      # one row per issue, for DuckDB
      samsvar validate s3://bucket/export/ --scheduler tcp://10.0.0.5:8786 -f parquet -o issues/
      samsvar validate eksport/ -f html -o rapport.html --declare erklaering.json --sign nokkel.pem
    """
    from .conformance.reports import FORMATS, render
    from .conformance.session import ValidateRequest, run_validate
    from .validators.policy import ConfigError

    formats = formats or ("text",)
    for fmt in formats:
        if fmt not in FORMATS and fmt != "parquet":
            raise click.BadParameter(f"{fmt!r} is not a format; choose from {', '.join(FORMATS)} or parquet",
                                     param_hint="--format")
    if len(outputs) > len(formats):
        raise click.UsageError("more --output files than --format options; pair each --output with a --format")
    if len(formats) - len(outputs) > 1:
        raise click.UsageError("only one format can go to standard output; give --output FILE for the others")
    parquet = _parquet_folder(formats, outputs)
    use_dask = use_dask or scheduler is not None
    missing = [p for p in paths if p != "-" and "://" not in p and not os.path.lexists(p)
               and not (use_dask and any(c in p for c in "*?["))]
    if missing:
        raise click.BadParameter(f"no such file or folder: {', '.join(missing)}", param_hint="PATH")
    inputs = input_files(paths) if declaration else []

    request = ValidateRequest(
        paths=paths, fail_on=fail_on, config_path=config_path, use_config=not no_config,
        select=select, ignore=ignore, igs=igs, profiles=profiles, cache_root=cache_root,
        production=production, must_support=must_support, example_urls=example_urls, contained=contained, jobs=jobs,
        max_size=max_size, max_depth=max_depth, allow_empty=allow_empty, strict=strict,
        judge=bool({"html", "testreport", "json"} & set(formats)) or declaration is not None, lang=lang,
        keep_clean=not set(formats) <= {"text"},  # text lists findings only: clean results are counted
    )
    try:
        if use_dask:
            report = _validate_on_dask(request, scheduler, dask_workers, part_size, parquet,
                                       keep_results=bool(set(formats) - {"parquet"}))
        else:
            report = run_validate(request, stdin=getattr(sys.stdin, "buffer", None))
            if parquet is not None:
                from .conformance.reports.parquet import write_part

                write_part(report.results, parquet, 0)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None

    report.declaration = declaration.report_status() if declaration else None
    use_color = sys.stdout.isatty() if color is None else color
    for i, fmt in enumerate(formats):
        if fmt == "parquet":
            continue
        if i < len(outputs):
            Path(outputs[i]).write_text(render(report, fmt, lang=lang, group=not no_group), encoding="utf-8")
        else:
            click.echo(render(report, fmt, color=use_color and fmt == "text", lang=lang, group=not no_group),
                       nl=False, color=use_color)
    finish(declaration, "samsvar validate", report, formats=formats, outputs=outputs, inputs=inputs, lang=lang)
    sys.exit(EXIT_CLEAN if report.passed else EXIT_FINDINGS)


def _parquet_folder(formats: tuple[str, ...], outputs: tuple[str, ...]) -> str | None:
    """The folder of ``-f parquet -o DIR`` (parquet is a folder of part files, never standard output)."""
    if "parquet" not in formats:
        return None
    position = formats.index("parquet")
    if position >= len(outputs):
        raise click.UsageError("-f parquet needs its own --output FOLDER (it writes part files there)")
    folder = outputs[position]
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise click.BadParameter(f"{folder} is a file; parquet output is a folder", param_hint="--output")
    return folder


def _validate_on_dask(request: Any, scheduler: str | None, workers: int | None, part_size: int | None,
                      parquet: str | None, keep_results: bool) -> Any:
    """``samsvar validate --dask``: the run on a cluster, with the dashboard link and a progress bar."""
    from rich.progress import Progress

    from .conformance.bulk import DEFAULT_PART_BYTES, run_bulk
    from .conformance.reports.text import summary_line

    console_progress = Progress(transient=True, disable=not sys.stderr.isatty())
    task = console_progress.add_task("validating", total=None)

    def started(dashboard: str | None, parts: int, count: int) -> None:
        click.echo(f"Dask: {parts} parts on {count} workers" + (f"; dashboard: {dashboard}" if dashboard else ""),
                   err=True)
        console_progress.update(task, total=parts)

    if "-" in request.paths:
        raise click.UsageError("--dask cannot split standard input; give files, folders, globs or URLs")
    with console_progress:  # a BulkError is an EnvironmentProblem: exit 3 with its message
        run = run_bulk(request, scheduler=scheduler, workers=workers, part_bytes=part_size or DEFAULT_PART_BYTES,
                       parquet=parquet, keep_results=keep_results, on_start=started,
                       on_progress=lambda done, total: console_progress.update(task, completed=done))
    if not keep_results:
        click.echo(summary_line(run.report), err=True)
    return run.report


# --------------------------------------------------------------------------- terminology
@cli.group()
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
    from .validators.policy import ConfigError, find_config, load_policy
    from .validators.runner import Options, Validator

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
    from .validators.terminology.importer import import_code_list

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
    from .validators.terminology.rf2 import load_rf2

    try:
        summary = load_rf2(folder, database)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"wrote {database}: {summary}")


# --------------------------------------------------------------------------- messages
@cli.group()
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
    from .validators.messages.schemas import install_schemas

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
    from .validators.messages.schemas import installed_packs, schema_home

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


@cli.command()
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
    import datetime as dt

    from lxml import etree

    from .validators.load import load_bytes
    from .validators.messages.apprec import compare_apprec, expected_apprec
    from .validators.runner import Options, Validator

    data = message.read_bytes()
    loaded = load_bytes(str(message), data)
    if loaded.document is None or loaded.document.format != "xml":
        reason = loaded.issues[0].message if loaded.issues else "not XML"
        raise click.UsageError(f"{message}: not a readable XML message ({reason})")
    issues = Validator(Options()).validate_bytes(str(message), data).issues
    try:
        expected = expected_apprec(loaded.document.tree, issues, now=dt.datetime.now(dt.timezone.utc))
    except ValueError as exc:
        raise click.UsageError(f"{message}: {exc}") from None
    if received is None:
        text = etree.tostring(expected, pretty_print=True, xml_declaration=True, encoding="UTF-8").decode()
        if output:
            output.write_text(text, encoding="utf-8")
        else:
            click.echo(text, nl=False)
        return
    answer = load_bytes(str(received), received.read_bytes())
    if answer.document is None or answer.document.format != "xml":
        raise click.UsageError(f"{received}: not a readable XML AppRec")
    findings = compare_apprec(answer.document.tree, expected)
    for issue in findings:
        click.echo(f"{received}:{issue.line or 1}: {issue.severity.code} {issue.rule} {issue.message}")
    errors = [i for i in findings if i.severity >= Severity.ERROR]
    click.echo(f"{'matches' if not errors else 'does not match'} the AppRec a conformant receiver returns "
               f"({len(errors)} error, {len(findings) - len(errors)} other)")
    sys.exit(EXIT_FINDINGS if errors else EXIT_CLEAN)


# --------------------------------------------------------------------------- packages
@cli.group()
def packages() -> None:
    """FHIR packages in the shared cache (~/.fhir/packages, as SUSHI and HL7's validator use)."""


@packages.command("install")
@click.argument("sources", nargs=-1, required=True, metavar="ID#VERSION|FILE.tgz|FOLDER...")
@click.option("--registry", envvar="SAMSVAR_PACKAGE_REGISTRY", default=None,
              help="Package registry base URL [default: https://packages.fhir.org].")
@click.option("--cache", "cache_root", type=click.Path(file_okay=False, path_type=Path),
              help="FHIR package cache [default: $SAMSVAR_FHIR_HOME or ~/.fhir/packages].")
@click.option("--no-deps", is_flag=True, help="Do not install the dependencies of packages fetched by id.")
def packages_install(sources: tuple[str, ...], registry: str | None, cache_root: Path | None, no_deps: bool) -> None:
    """Install packages from a tarball, a folder or (by id, over the network) a registry.

    \b
    Examples:
      samsvar packages install hl7.fhir.r4.core-4.0.1.tgz
      samsvar packages install hl7.fhir.no.basis#2.2.2
    """
    from .validators.fhir.packages import PackageCache, default_registry

    cache = PackageCache(cache_root)
    for source in sources:
        with _download_progress(source) as progress:
            installed = cache.install(source, registry=registry or default_registry(),
                                      progress=progress, with_dependencies=not no_deps)
        for info in installed:
            click.echo(f"installed {info.ref} -> {info.path}")
            missing = cache.missing_dependencies(info)
            if missing:
                click.echo(f"  note: dependencies not in the cache: {', '.join(missing)}; install them too", err=True)


class _download_progress:
    """A rich progress bar on standard error, shown only while bytes arrive."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self):
        return self.update

    def update(self, done: int, total: int | None) -> None:
        if self._progress is None:
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                      TransferSpeedColumn(), console=Console(stderr=True), transient=True)
            self._progress.start()
            self._task = self._progress.add_task(f"downloading {self.label}", total=total)
        self._progress.update(self._task, completed=done, total=total)

    def __exit__(self, *_exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


@packages.command("list")
@click.option("--cache", "cache_root", type=click.Path(file_okay=False, path_type=Path),
              help="FHIR package cache [default: $SAMSVAR_FHIR_HOME or ~/.fhir/packages].")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def packages_list(cache_root: Path | None, as_json: bool) -> None:
    """List the installed packages and the embedded default (shipped with samsvar).

    A package in the cache wins over the embedded copy of the same id#version.
    """
    from .validators.fhir.embedded import embedded_packages, embedded_pins
    from .validators.fhir.packages import PackageCache

    cache = PackageCache(cache_root)
    infos = cache.list()
    cached = {i.ref for i in infos}
    embedded = embedded_packages()
    rows = [{"id": i.id, "version": i.version, "fhirVersions": i.fhir_versions, "source": "cache",
             "path": str(i.path)} for i in infos]
    rows += [{"id": p.id, "version": p.version, "fhirVersions": [str(v) for v in p.manifest.get("fhirVersions") or []],
              "source": "embedded", "path": str(p.path), "sha256": p.pin.sha256, "license": p.pin.license,
              "shadowed": ref in cached} for ref, p in embedded.items()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not infos:
        click.echo(f"no packages in {cache.root}")
    for row in rows:
        where = row["path"] if row["source"] == "cache" else \
            "embedded" + (" (the cache's copy is used)" if row["shadowed"] else "")
        click.echo(f"{row['id'] + '#' + row['version']:<50} FHIR {','.join(row['fhirVersions']) or '?':<8} {where}")
    missing = [pin.ref for pin in embedded_pins() if pin.ref not in embedded]
    if missing:
        click.echo(f"not embedded in this installation: {', '.join(missing)} (see embedded/packages.toml)", err=True)


# --------------------------------------------------------------------------- rules
@cli.group()
def rules() -> None:
    """The rule catalogue: every check samsvar makes, by stable code."""


@rules.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def rules_list(as_json: bool) -> None:
    """List every rule: code, default severity, title."""
    from .validators.rules import all_rules

    catalogue = all_rules()
    if as_json:
        from .conformance.catalogue import load_catalogue

        requirements = load_catalogue()
        click.echo(json.dumps([{"code": r.code, "severity": r.severity.code, "title": r.title,
                                "requirements": [q.id for q in requirements.verified_by(r.code)],
                                "implemented": r.implemented, "status": r.status, "module": r.module,
                                "not_checked": r.not_checked}
                               for r in catalogue], indent=2, ensure_ascii=False))
        return
    for r in catalogue:
        click.echo(f"{r.code:<13} {r.severity.code:<12} {r.title}")


@rules.command("explain")
@click.argument("code")
def rules_explain(code: str) -> None:
    """Explain one rule, with a bad and a good example."""
    from .validators.rules import get_rule

    found = get_rule(code)
    if found is None:
        raise click.BadParameter(f"no rule {code!r}; see 'samsvar rules list'", param_hint="CODE")
    click.echo(f"{found.code}: {found.title}\n")
    click.echo(f"Default severity: {found.severity.code}")
    click.echo(f"Raised by: {found.module} ({found.status})")
    if found.not_checked:
        click.echo("Says something was not checked: an error under --strict (strict = true).")
    for requirement in _requirements_verified_by(found.code):
        click.echo(f"Verifies: {requirement.id} ({requirement.level}) {requirement.title.get('en')}")
    click.echo(f"\n{found.explanation}\n\nExample (bad):\n{_indent(found.bad)}\n\nExample (good):\n{_indent(found.good)}")


def _requirements_verified_by(code: str) -> tuple[Any, ...]:
    """The catalogue's requirements that ``code`` helps verify (the catalogue is the one source)."""
    from .conformance.catalogue import load_catalogue

    return load_catalogue().verified_by(code)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


# --------------------------------------------------------------------------- sandbox
def _sandbox_fault_help() -> str:
    from .conformance.sandbox.faults import FAULTS

    return "Switch on one non-conformance (repeatable): " + "; ".join(f"{n}: {d}" for n, d in FAULTS.items()) + "."


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on (0 = a free one).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the SQLite store in this folder [default: a fresh temporary one, removed at exit].")
@click.option("--fault", "faults", multiple=True, metavar="NAME", help=_sandbox_fault_help())
@click.option("--auth/--no-auth", default=None,
              help="Require OAuth2 bearer tokens from /token [default: on when --client is given].")
@click.option("--client", "clients", multiple=True, metavar="CLIENT_ID=PUBLIC_KEY.pem",
              help="A client allowed at /token with a private_key_jwt assertion signed by its key. Repeatable.")
@click.option("--dpop-required", is_flag=True, help="Issue and accept DPoP-bound tokens only (RFC 9449, as HelseID "
              "asks of new clients); without it a token request with a DPoP proof gets a bound token.")
@click.option("--dpop-nonce", is_flag=True, help="Demand server nonces in DPoP proofs (use_dpop_nonce, DPoP-Nonce).")
@click.option("--drop", "drop_dir", type=click.Path(file_okay=False, path_type=Path),
              help="File-drop transport: messages in DIR/inbox/*.xml, AppRecs to DIR/outbox, messages moved "
                   "to DIR/processed.")
@click.option("--apprec-delay", type=click.FloatRange(0, 3600), default=0.0, show_default=True,
              help="Seconds to wait before each AppRec (to try a client's timeouts).")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Serve HTTPS with this PEM certificate (with --tls-key).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The PEM private key of --tls-cert.")
def sandbox(host: str, port: int, data_dir: Path | None, faults: tuple[str, ...], auth: bool | None,
            clients: tuple[str, ...], dpop_required: bool, dpop_nonce: bool, drop_dir: Path | None,
            apprec_delay: float, tls_cert: Path | None, tls_key: Path | None) -> None:
    """Serve the reference sandbox: a small conformant FHIR R4 (JSON) and messaging endpoint.

    FHIR at /fhir, MsgHead messages answered with their AppRec at /messaging, and with --auth a
    HelseID-style token endpoint at /token. Serves until Ctrl-C; exit 3 when the port is taken.

    \b
    Examples:
      samsvar sandbox
      samsvar sandbox --port 0 --fault no-paging --fault wrong-status
      samsvar sandbox --client test-client=client-public.pem --drop meldinger/
    """
    import signal
    import time

    from .conformance.sandbox import SandboxConfig, SandboxStartError, UnknownFault, parse_faults, serve_in_thread
    from .conformance.sandbox.auth import read_client_option

    try:
        chosen = parse_faults(faults)
    except UnknownFault as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None
    try:
        keys = dict(read_client_option(text) for text in clients)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--client") from None
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("give --tls-cert and --tls-key together")
    config = SandboxConfig(host=host, port=port, data_dir=data_dir, faults=chosen,
                           auth=bool(keys) if auth is None else auth, clients=keys, drop_dir=drop_dir,
                           dpop_required=dpop_required, dpop_nonce=dpop_nonce,
                           apprec_delay=apprec_delay, tls_cert=tls_cert, tls_key=tls_key)
    try:
        running = serve_in_thread(config)
    except SandboxStartError as exc:
        raise EnvironmentProblem(str(exc)) from None

    def _stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    click.echo(f"samsvar sandbox at {running.base_url}")
    click.echo(f"  FHIR R4:    {running.fhir_url}  (CapabilityStatement: {running.fhir_url}/metadata)")
    click.echo(f"  messaging:  {running.messaging_url}  (POST a MsgHead, get its AppRec)")
    if config.auth:
        click.echo(f"  token:      {running.token_url}  (clients: {', '.join(keys) or 'none'}; "
                   f"discovery: {running.base_url}/.well-known/openid-configuration)")
    if drop_dir is not None:
        click.echo(f"  file drop:  {drop_dir / 'inbox'} -> {drop_dir / 'outbox'}")
    click.echo(f"  data:       {running.sandbox.data_dir}")
    click.echo(f"  faults:     {', '.join(sorted(chosen)) or 'none (conformant)'}")
    click.echo("Ctrl-C to stop.")
    try:
        while running.alive:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
    if not running.alive:
        click.echo("sandbox stopped")


def main() -> None:
    cli(prog_name="samsvar")


