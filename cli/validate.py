"""``samsvar validate``: files, folders, standard input, NDJSON, and Dask for the large runs."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from ..conformance.texts import LANGUAGES
from ..validators.issues import Severity
from .common import (EXIT_CLEAN, EXIT_FINDINGS, check_formats, declaration_options, declared_inputs,
                     finish_declaration)

SEVERITY_CHOICE = click.Choice([s.code for s in Severity], case_sensitive=False)


def _size(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    from ..validators.policy import ConfigError, parse_size

    if value is None:
        return None
    try:
        return parse_size(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
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
@click.option("--hl7-paths/--true-paths", "hl7_paths", default=None,
              help="Locate findings where HL7's validator writes them when that differs from the true location "
                   "(fullUrl findings on Bundle.entry[0], document indices from 1, extension[url=...]), for "
                   "comparing with HL7's output [default: true locations, or hl7-paths in the config].")
@click.option("--security-checks/--no-security-checks", default=None,
              help="Text that looks like HTML or script is an error, like HL7's -security-checks "
                   "[default: information, or security-checks in the config].")
@click.option("--html-in-markdown", type=click.Choice(["none", "warning", "error"]), default=None,
              help="Severity of raw HTML in markdown, like HL7's noHtmlInMarkdown "
                   "[default: warning, or html-in-markdown in the config].")
@click.option("--reference-policy", type=click.Choice(["ignore", "exists", "type", "valid"]), default=None,
              help="What a reference outside the input must do, like HL7's validateReference: ignore, exist "
                   "among --reference-target files (FHIR-REF-006), also have the right type, or also be valid "
                   "[default: ignore, or reference-policy in the config].")
@click.option("--reference-target", "reference_targets", multiple=True, type=click.Path(exists=True),
              metavar="FILE", help="A resource (or Bundle) that references may resolve to. Repeatable.")
@click.option("--inputs-as-definitions/--no-inputs-as-definitions", "inputs_as_definitions", default=None,
              help="Canonical resources among the inputs (Measure, Library, Questionnaire, StructureDefinition, "
                   "ValueSet, ...) are definitions for validating every input of the run, as HL7's validator "
                   "loads its inputs before validating them; of two with one url|version the first by path is "
                   "used [default: on, or inputs-as-definitions in the config].")
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
@click.option("--lang", type=click.Choice(LANGUAGES), default="nb", show_default=True,
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
             example_urls: bool | None, contained: bool | None, hl7_paths: bool | None,
             security_checks: bool | None, html_in_markdown: str | None, reference_policy: str | None,
             reference_targets: tuple[str, ...], inputs_as_definitions: bool | None, jobs: int | None,
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
    from ..conformance.reports import FORMATS, render
    from ..conformance.session import ValidateRequest, run_validate
    from ..validators.policy import ConfigError

    formats = formats or ("text",)
    check_formats(formats, outputs, FORMATS, extra=("parquet",))
    parquet = _parquet_folder(formats, outputs)
    use_dask = use_dask or scheduler is not None
    missing = [p for p in paths if p != "-" and "://" not in p and not os.path.lexists(p)
               and not (use_dask and any(c in p for c in "*?["))]
    if missing:
        raise click.BadParameter(f"no such file or folder: {', '.join(missing)}", param_hint="PATH")
    inputs = declared_inputs(paths) if declaration else []

    request = ValidateRequest(
        paths=paths, fail_on=fail_on, config_path=config_path, use_config=not no_config,
        select=select, ignore=ignore, igs=igs, profiles=profiles, cache_root=cache_root,
        production=production, must_support=must_support, example_urls=example_urls, contained=contained, jobs=jobs,
        hl7_paths=hl7_paths, security_checks=security_checks, html_in_markdown=html_in_markdown,
        reference_policy=reference_policy, reference_targets=reference_targets,
        inputs_as_definitions=inputs_as_definitions,
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
                from ..conformance.reports.parquet import write_part

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
    finish_declaration(declaration, "samsvar validate", report, formats=formats, outputs=outputs, inputs=inputs, lang=lang)
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

    from ..conformance.bulk import DEFAULT_PART_BYTES, run_bulk
    from ..conformance.reports.text import summary_line

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
