"""``samsvar profiles``: lint, list and scaffold samsvar's own FHIR profiles (profiles/fhir/).

The work is done by :mod:`samsvar.conformance.profiles_lint` and
:mod:`samsvar.conformance.profiles_scaffold`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..conformance.profiles_lint import DEFAULT_IGS, PROFILES_FOLDER
from ..conformance.profiles_scaffold import FIXTURES_FOLDER
from ..validators.issues import EnvironmentProblem
from .common import EnvironmentFailure

FOLDER_ARGUMENT = click.argument("folder", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))


@click.group()
def profiles() -> None:
    """samsvar's own FHIR profiles (profiles/fhir/): lint and list them."""


@profiles.command("lint")
@FOLDER_ARGUMENT
@click.option("--ig", "igs", multiple=True, metavar="ID#VERSION|PATH",
              help="What the profiles build on: package id#version from the cache, a .tgz or a folder "
                   f"[default for samsvar's own folder: {', '.join(DEFAULT_IGS)}].")
@click.option("--cache", "cache_root", type=click.Path(file_okay=False, path_type=Path),
              help="FHIR package cache [default: $SAMSVAR_FHIR_HOME or ~/.fhir/packages].")
def profiles_lint(folder: Path | None, igs: tuple[str, ...], cache_root: Path | None) -> None:
    """Check every StructureDefinition in FOLDER (default: samsvar's profiles/fhir/); exit 1 on errors."""
    from ..conformance.profiles_lint import lint_folder

    try:
        outcome = lint_folder(folder, igs, cache_root)
    except EnvironmentProblem as problem:
        raise EnvironmentFailure.of(problem) from None
    for problem in outcome.problems:
        click.echo(problem.line())
    click.echo(outcome.summary())
    if outcome.errors:
        raise SystemExit(1)


@profiles.command("list")
@FOLDER_ARGUMENT
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def profiles_list(folder: Path | None, as_json: bool) -> None:
    """url, type, base and title of every StructureDefinition in FOLDER (default: profiles/fhir/)."""
    from ..conformance.profiles_lint import list_profiles

    rows = list_profiles(folder or PROFILES_FOLDER)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"{row['url']}  {row['type']}  (on {row['base']})  {row['title'] or ''}".rstrip())


@profiles.command("new")
@click.argument("name")
@click.option("--base", required=True, metavar="CANONICAL", help="The profile or resource definition it builds on.")
@click.option("--resource", "resource_type", metavar="TYPE", help="The resource type [default: the base's].")
@click.option("--into", "profiles_folder", type=click.Path(file_okay=False, path_type=Path), default=PROFILES_FOLDER,
              show_default="profiles/fhir", help="Folder of the profile.")
@click.option("--fixtures", "fixtures_folder", type=click.Path(file_okay=False, path_type=Path), default=FIXTURES_FOLDER,
              show_default="fixtures/fhir/samsvar-profiles", help="Folder of the fixtures and their expected.toml.")
@click.option("--ig", "igs", multiple=True, metavar="ID#VERSION|PATH",
              help=f"What the base comes from [default: {', '.join(DEFAULT_IGS)}].")
@click.option("--cache", "cache_root", type=click.Path(file_okay=False, path_type=Path),
              help="FHIR package cache [default: $SAMSVAR_FHIR_HOME or ~/.fhir/packages].")
def profiles_new(name: str, base: str, resource_type: str | None, profiles_folder: Path, fixtures_folder: Path,
                 igs: tuple[str, ...], cache_root: Path | None) -> None:
    """Write a new profile NAME on --base, a valid and an invalid fixture and their expected.toml entries.

    \b
    Example:
      samsvar profiles new HomeCareAppointment --base http://hl7.no/fhir/StructureDefinition/no-basis-Appointment
    """
    from ..conformance.profiles_scaffold import ScaffoldError, scaffold

    try:
        made = scaffold(name, base, resource_type=resource_type, profiles=profiles_folder, fixtures=fixtures_folder,
                        igs=igs or DEFAULT_IGS, cache=cache_root)
    except ScaffoldError as exc:
        raise click.UsageError(str(exc)) from None
    except EnvironmentProblem as problem:
        raise EnvironmentFailure.of(problem) from None
    for path in (made.profile, made.valid, made.invalid):
        click.echo(f"wrote {path}")
    click.echo(f"added both fixtures to {made.manifest} ([expected] and [reasons])")
    if made.findings:
        click.echo(f"the valid fixture still raises {len(made.findings)} finding(s); fill in what the base requires:")
        for finding in made.findings:
            click.echo(f"  {finding}")
    click.echo(f"next: edit the differential (replace the example constraint {made.constraint}), then "
               "'samsvar profiles lint' and the fixture tests")
