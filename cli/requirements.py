"""``samsvar requirements``: the requirements catalogue on the command line.

``list``, ``show``, ``coverage``, ``matrix`` and ``check`` over :mod:`samsvar.conformance.catalogue`,
:mod:`samsvar.conformance.judge` and :mod:`samsvar.conformance.requirements_text`. Texts come in
Norwegian bokmål (``--lang nb``, the default) or English (``--lang en``). A catalogue that does
not validate, an unknown requirement id or an unwritable output file is a usage or input error
(exit code 2), reported without a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

from ..conformance.texts import LANGUAGES
from .common import EXIT_USAGE, declaration_options, finish_declaration

if TYPE_CHECKING:
    from ..conformance.catalogue import Catalogue


class InputError(click.ClickException):
    """Exit code 2: the catalogue or an argument cannot be used (said in the run's language)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, lang: str = "en") -> None:
        super().__init__(message)
        self.lang = lang

    def show(self, file: Any = None) -> None:
        from ..conformance.texts import text

        click.echo(text("cli.error", self.lang, message=self.format_message()), file=file, err=True)


def _lang_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--lang", type=click.Choice(LANGUAGES), default="nb", show_default=True,
                        help="Language of titles and texts: Norwegian bokmål (nb) or English (en).")(func)


def _catalogue_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--catalogue", "catalogue_path", type=click.Path(exists=True, path_type=Path),
                        default=None, help="A catalogue file, or a folder with catalogue.json "
                        "[default: samsvar's profiles/requirements].")(func)


def _load(path: Path | None, lang: str = "en") -> Catalogue:
    from ..conformance.catalogue import CatalogueError, load_catalogue

    try:
        return load_catalogue(path)
    except CatalogueError as exc:
        raise InputError(exc.text(lang), lang) from None


@click.group()
def requirements() -> None:
    """The requirements catalogue: principles, technical requirements and how samsvar verifies them.

    \b
    Examples:
      samsvar requirements list --lang en
      samsvar requirements show R-IDENT-001
      samsvar requirements coverage
      samsvar requirements matrix --format html -o matrise.html
      samsvar requirements check --catalogue my-catalogue.json
    """


# --------------------------------------------------------------------------- list
@requirements.command("list")
@_catalogue_option
@_lang_option
@click.option("--principle", help="Only the requirements of this principle (for example P-IDENT).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_requirements(catalogue_path: Path | None, lang: str, principle: str | None, as_json: bool) -> None:
    """List the requirements: id, level, how they are verified, title."""
    catalogue = _load(catalogue_path, lang)
    chosen = catalogue.requirements
    if principle:
        wanted = principle.strip().upper()
        if wanted not in {p.id for p in catalogue.principles}:
            known = ", ".join(p.id for p in catalogue.principles)
            raise click.BadParameter(f"no principle {principle!r} (principles: {known})", param_hint="--principle")
        chosen = catalogue.requirements_of(wanted)
    if as_json:
        click.echo(json.dumps([{"id": r.id, "level": r.level, "principle": r.principle, "title": r.title.get(lang),
                                "verification": list(r.verification_kinds)} for r in chosen],
                              indent=2, ensure_ascii=False))
        return
    for r in chosen:
        click.echo(f"{r.id:<12} {r.level:<7}{','.join(r.verification_kinds):<18} {r.title.get(lang)}")


# --------------------------------------------------------------------------- show
@requirements.command("show")
@click.argument("requirement_id", metavar="ID")
@_catalogue_option
@_lang_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show_requirement(requirement_id: str, catalogue_path: Path | None, lang: str, as_json: bool) -> None:
    """Everything about one requirement: text, principle, standards, artefacts and verification."""
    from ..conformance.requirements_text import requirement_json, show_lines

    catalogue = _load(catalogue_path, lang)
    requirement = catalogue.find(requirement_id)
    if requirement is None:
        raise click.BadParameter(f"no requirement {requirement_id!r}; see 'samsvar requirements list'",
                                 param_hint="ID")
    if as_json:
        click.echo(json.dumps(requirement_json(catalogue, requirement, lang), indent=2, ensure_ascii=False))
        return
    click.echo("\n".join(show_lines(catalogue, requirement, lang)))


# --------------------------------------------------------------------------- coverage
@requirements.command("coverage")
@_catalogue_option
@_lang_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def coverage_command(catalogue_path: Path | None, lang: str, as_json: bool) -> None:
    """How the requirements are verified, and which have no rule yet."""
    from ..conformance.judge import coverage
    from ..conformance.requirements_text import coverage_lines

    catalogue = _load(catalogue_path, lang)
    counts = coverage(catalogue)
    if as_json:
        click.echo(json.dumps(counts, indent=2, ensure_ascii=False))
        return
    click.echo("\n".join(coverage_lines(catalogue, counts, lang)))


# --------------------------------------------------------------------------- matrix
@requirements.command("matrix")
@click.option("--format", "-f", "fmt", type=click.Choice(["csv", "html"]), default="csv", show_default=True,
              help="CSV for spreadsheets, or one self-contained HTML page.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file [default: standard output].")
@_catalogue_option
@_lang_option
def matrix_command(fmt: str, output: Path | None, catalogue_path: Path | None, lang: str) -> None:
    """The traceability matrix: principle, requirement, level, rules, tests, manual inspection."""
    from ..conformance.judge import to_csv, to_html, traceability_rows
    from ..conformance.texts import table

    t = table("requirements", lang)
    rows = traceability_rows(_load(catalogue_path, lang), lang)
    text = to_csv(rows) if fmt == "csv" else to_html(rows, lang)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{t['cannot_write']} {output}: {exc.strerror or exc}", lang) from None
    click.echo(f"{t['wrote']} {output} ({len(rows)} {t['requirements']})", err=True)


# --------------------------------------------------------------------------- check
@requirements.command("check")
@_catalogue_option
@_lang_option
@declaration_options
def check_command(catalogue_path: Path | None, lang: str, declaration: Any) -> None:
    """Validate a catalogue (schema and cross-checks); exit 2 with every problem when it is wrong.
    With --declare, a signed declaration names the catalogue (id, version, every requirement) and its hash."""
    from ..conformance.texts import table

    catalogue = _load(catalogue_path, lang)
    t = table("requirements", lang)
    click.echo(f"{catalogue.source}: {t['valid']}: {len(catalogue.requirements)} {t['requirements']}, "
               f"{len(catalogue.principles)} {t['principles']} ({catalogue.id} {catalogue.version}, {catalogue.status})")
    finish_declaration(declaration, "samsvar requirements check", None, inputs=[(Path(catalogue.source), "catalogue")],
           extra={"catalogue": {"id": catalogue.id, "version": catalogue.version, "status": catalogue.status,
                                "requirements": [{"id": r.id, "level": r.level, "status": r.status}
                                                 for r in catalogue.requirements]}})
