"""``samsvar suites list`` and ``samsvar run``: live suites on the command line.

The work is done by :mod:`samsvar.conformance.runner`. Exit codes as ``validate``: 0 every test
passed or was skipped, 1 a test failed, 2 usage error (unknown suite, bad ``-k``, bad input), 3 the
target cannot be reached, 5 a ``-k`` that selects no test (``--allow-empty`` accepts it). With
``--strict``, a skipped or broken test, or a requirement the run's tests verify left without a
verdict, is exit code 1 as well.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..conformance.texts import LANGUAGES
from .common import (EXIT_CLEAN, EXIT_FINDINGS, UsageFailure, check_formats, declaration_options,
                     finish_declaration)

if TYPE_CHECKING:
    from ..conformance.runner import RunRequest

STATUS_STYLE = {"pass": ("PASS", "green"), "fail": ("FAIL", "red"), "skip": ("SKIP", "yellow"),
                "error": ("ERROR", "magenta")}


def _suites() -> dict[str, Any]:
    from ..conformance.runner import SuiteError, discover

    try:
        return discover()
    except SuiteError as exc:
        raise UsageFailure(str(exc)) from None


@click.group("suites")
def suites() -> None:
    """Live conformance suites (run them with `samsvar run SUITE --target URL`)."""


@suites.command("list")
@click.option("--tests", "show_tests", is_flag=True, help="List each suite's tests and the requirements they verify.")
def list_suites(show_tests: bool) -> None:
    """The suites samsvar ships and those installed packages add (entry points `samsvar.suites`).

    \b
    Examples:
      samsvar suites list
      samsvar suites list --tests
    """
    for suite in _suites().values():
        click.echo(f"{suite.id:<12} {len(suite.tests()):>3} tests  {suite.title}")
        if show_tests:
            if suite.inputs:
                click.echo("    inputs: " + ", ".join(i.name + (f"={i.default}" if i.default else "")
                                                      for i in suite.inputs))
            for test in suite.tests():
                click.echo(f"    {test.id:<44} {', '.join(test.verifies):<22} {test.title}")


@click.command("run")
@click.argument("suite_id", metavar="SUITE")
@click.option("--target", "-t", metavar="URL", help="The system under test (a FHIR base URL, a messaging "
              "endpoint, or file:///folder for the messaging file drop). Also `target` in a preset.")
@click.option("--input", "-i", "inputs", multiple=True, metavar="NAME=VALUE",
              help="A suite input (see `samsvar suites list --tests`). Repeatable; wins over the preset.")
@click.option("--preset", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML or JSON file with `target` and an `inputs` table.")
@click.option("-k", "keyword", metavar="EXPR", help="Only tests whose id, title or group match, pytest-style "
              "(for example: -k 'crud and not delete').")
@click.option("--format", "-f", "formats", multiple=True, metavar="FORMAT",
              help="text (default), json, junit, html, testreport, sarif or operationoutcome. Repeatable.")
@click.option("--output", "-o", "outputs", multiple=True, type=click.Path(dir_okay=False, writable=True),
              help="File for the format at the same position; formats without one go to standard output.")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=30.0, show_default=True,
              help="Seconds to wait for a connection and for each answer.")
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (never for a certification run).")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False), help="CA certificates to trust for TLS.")
@click.option("--no-validate", is_flag=True, help="Do not validate response bodies with the offline engine.")
@click.option("--seed", type=int, default=None, help="Seed for the synthetic test data (a reproducible run).")
@click.option("--cache", "cache_root", type=click.Path(file_okay=False, path_type=Path),
              help="FHIR package cache [default: $SAMSVAR_FHIR_HOME or ~/.fhir/packages].")
@click.option("--lang", type=click.Choice(LANGUAGES), default="nb", show_default=True,
              help="Language of the HTML report and the TestReport (the text output is in English, as the "
                   "suites' tests are).")
@click.option("--progress/--no-progress", default=None, help="Progress bar on standard error [default: on a terminal].")
@click.option("--allow-empty", is_flag=True,
              help="Accept a -k that selects no test (an empty run, exit 0) instead of exit code 5.")
@click.option("--strict", is_flag=True,
              help="A gate that never passes on what it did not check: a skipped or broken test, or a requirement "
                   "the run's tests verify left without a verdict (not tested), makes the exit code 1.")
@declaration_options
def run(suite_id: str, target: str | None, inputs: tuple[str, ...], preset: Path | None, keyword: str | None,
        formats: tuple[str, ...], outputs: tuple[str, ...], timeout: float, insecure: bool, ca_bundle: str | None,
        no_validate: bool, seed: int | None, cache_root: Path | None, lang: str, progress: bool | None,
        allow_empty: bool, strict: bool, declaration: Any) -> None:
    """Run a live SUITE against a running system, keep every exchange as evidence, and judge the
    requirements its tests verify.

    Test data is synthetic (fødselsnummer with month + 80), tagged with the run's tag, and
    deleted at the end even when tests fail.

    Exit codes: 0 every test passed or was skipped, 1 a test failed or broke (with --strict also a
    test skipped or a requirement left without a verdict), 2 usage error, 3 the target cannot be
    reached, 5 a -k that selects no test (--allow-empty accepts it).

    \b
    Examples:
      samsvar run fhir-api --target http://127.0.0.1:8080/fhir
      samsvar run fhir-api -t https://fhir.example.no/fhir -f html -o report.html -f junit -o junit.xml
      samsvar run security -t https://api.example.no/fhir --preset helseid.toml
      samsvar run messaging -t http://127.0.0.1:8080/messaging -k apprec
      samsvar run messaging -t file:///srv/edi/samsvar
      samsvar run smart -t http://127.0.0.1:8080/fhir -i other-patient=samsvar-smart-other-patient
      samsvar run security -t https://api.example.no/fhir --preset helseid.toml \\
          --declare erklaering.json --sign virksomhet.p12 --system-name "EPJ Nord" --system-version 4.2
    """
    from ..conformance.evidence import ClientSettings
    from ..conformance.reports import FORMATS, render
    from ..conformance.runner import RunRequest, SuiteError, load_preset, not_judged, parse_inputs, run_verdicts

    formats = formats or ("text",)
    check_formats(formats, outputs, FORMATS)
    try:
        preset_data = load_preset(preset) if preset else {"target": None, "inputs": {}}
        given = {**preset_data["inputs"], **parse_inputs(inputs)}
    except SuiteError as exc:
        raise UsageFailure(str(exc)) from None
    target = target or preset_data["target"]
    if not target:
        raise click.UsageError("give the system under test with --target URL (or `target` in the preset)")
    settings = ClientSettings(timeout=timeout, verify=False if insecure else (ca_bundle or True))
    request = RunRequest(suite=suite_id, target=target, inputs=given, keyword=keyword, settings=settings,
                         seed=seed, validate=not no_validate, cache_root=cache_root, allow_empty=allow_empty)
    show = sys.stderr.isatty() if progress is None else progress
    try:
        report = _run_with_progress(request, show)
    except SuiteError as exc:
        raise UsageFailure(str(exc)) from None
    report.verdicts = run_verdicts(report, lang)
    # The text output is English throughout, as the suites' test titles and messages are: its list
    # of verdicts takes the English requirement titles whatever --lang (HTML, TestReport) says.
    text_verdicts = report.verdicts if lang == "en" else run_verdicts(report, "en")
    report.declaration = declaration.report_status() if declaration else None
    for i, fmt in enumerate(formats):
        if i < len(outputs):
            Path(outputs[i]).write_text(render(report, fmt, lang=lang), encoding="utf-8")
        else:
            click.echo(render(report, fmt, lang=lang, color=False), nl=False)
    _echo_verdicts(text_verdicts, to_stdout="text" in formats[len(outputs):])
    gaps = not_judged(report, report.verdicts) if strict else []
    if gaps:
        click.echo("\n".join([f"strict: {len(gaps)} not judged, so the run does not pass:",
                               *(f"  {gap}" for gap in gaps)]), err=True)
    finish_declaration(declaration, f"samsvar run {suite_id}", report, formats=formats, outputs=outputs, lang=lang,
                       inputs=[(preset, "preset")] if preset else [])
    sys.exit(EXIT_CLEAN if report.passed and not gaps else EXIT_FINDINGS)


def _echo_verdicts(verdicts: list[dict[str, Any]], *, to_stdout: bool) -> None:
    """Per-requirement verdicts, after the text report (or on standard error when stdout has another format)."""
    if not verdicts:
        return
    lines = ["", "Requirements verified by this run:"]
    for verdict in verdicts:
        lines.append(f"  {verdict['verdict'].upper():<10} {verdict['id']:<12} {verdict['title']}")
    click.echo("\n".join(lines), err=not to_stdout)


def _run_with_progress(request: RunRequest, show: bool) -> Any:
    from ..conformance.runner import TestResult, discover, keyword_filter, run_suite
    from ..conformance.suite import LiveTest

    if not show:
        return run_suite(request)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[current]}"), console=console, transient=False) as bar:
        task = bar.add_task(request.suite, total=None, current="")

        def on_test(test: LiveTest, result: TestResult | None) -> None:
            if result is None:
                bar.update(task, current=test.id)
                return
            label, style = STATUS_STYLE.get(result.status, (result.status, "white"))
            bar.console.print(f"[{style}]{label:<5}[/] {test.id}  [dim]{test.title}[/]")
            bar.advance(task)

        suites = discover()
        if request.suite in suites:
            bar.update(task, total=sum(1 for t in suites[request.suite].tests() if keyword_filter(request.keyword)(t)))
        return run_suite(request, suites=suites, progress=on_test)
