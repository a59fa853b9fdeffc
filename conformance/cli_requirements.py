"""``samsvar requirements``: the requirements catalogue on the command line.

Click commands only (``list``, ``show``, ``coverage``, ``matrix``, ``check``); the work is done by
:mod:`samsvar.conformance.catalogue` and :mod:`samsvar.conformance.judge`. Texts come in
Norwegian bokmål (``--lang nb``, the default) or English (``--lang en``). A catalogue that does
not validate, an unknown requirement id or an unwritable output file is a usage or input error
(exit code 2), reported without a traceback. ``cli.py`` registers the group with
``cli.add_command(requirements)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import click

from .cli_declare import declaration_options, finish
from .catalogue import LANGUAGES, PROFILE_RULES, Catalogue, CatalogueError, Requirement, expand_rules, load_catalogue
from .judge import COMMANDS, coverage, to_csv, to_html, traceability_rows

EXIT_USAGE = 2

LABELS: dict[str, dict[str, str]] = {
    "nb": {"principle": "Prinsipp", "applies": "Gjelder", "standards": "Standarder", "verification": "Verifisering",
           "rules": "regler", "tests": "tester", "manual": "manuell kontroll", "planned": "kommer",
           "available": "finnes", "on": "på", "run": "kjøres med", "status": "status",
           "requirements": "krav", "principles": "prinsipper", "under": "under",
           "by_kind": "Verifisert med regler: {rule}, med tester: {test}, manuelt: {manual}",
           "only": "Bare regler: {rule}, bare tester: {test}, bare manuelt: {manual}",
           "without_rule": "Krav uten regel ({count}):", "not_referenced": "Regler ingen krav viser til ({count}):",
           "valid": "gyldig", "wrote": "skrev", "cannot_write": "kan ikke skrive",
           "inconclusive": "ikke kontrollert når disse meldes", "profile": "bare funn fra profilen",
           "constraints": "bare funn om regelen(e)"},
    "en": {"principle": "Principle", "applies": "Applies to", "standards": "Standards", "verification": "Verification",
           "rules": "rules", "tests": "tests", "manual": "manual inspection", "planned": "to come",
           "available": "available", "on": "on", "run": "run with", "status": "status",
           "requirements": "requirements", "principles": "principles", "under": "under",
           "by_kind": "Verified by rules: {rule}, by tests: {test}, manually: {manual}",
           "only": "Rules only: {rule}, tests only: {test}, manual only: {manual}",
           "without_rule": "Requirements without a rule ({count}):",
           "not_referenced": "Rules no requirement refers to ({count}):",
           "valid": "valid", "wrote": "wrote", "cannot_write": "cannot write",
           "inconclusive": "not checked when these are reported", "profile": "only findings of the profile",
           "constraints": "only findings about the constraint(s)"},
}


class InputError(click.ClickException):
    """Exit code 2: the catalogue or an argument cannot be used (said in the run's language)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, lang: str = "en") -> None:
        super().__init__(message)
        self.lang = lang

    def show(self, file: Any = None) -> None:
        click.echo(f"{'Feil' if self.lang == 'nb' else 'Error'}: {self.format_message()}", file=file, err=True)


def _lang_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--lang", type=click.Choice(LANGUAGES), default="nb", show_default=True,
                        help="Language of titles and texts: Norwegian bokmål (nb) or English (en).")(func)


def _catalogue_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--catalogue", "catalogue_path", type=click.Path(exists=True, path_type=Path),
                        default=None, help="A catalogue file, or a folder with catalogue.json "
                        "[default: samsvar's profiles/requirements].")(func)


def _load(path: Path | None, lang: str = "en") -> Catalogue:
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
    catalogue = _load(catalogue_path, lang)
    requirement = catalogue.find(requirement_id)
    if requirement is None:
        raise click.BadParameter(f"no requirement {requirement_id!r}; see 'samsvar requirements list'",
                                 param_hint="ID")
    if as_json:
        click.echo(json.dumps(_as_json(catalogue, requirement, lang), indent=2, ensure_ascii=False))
        return
    click.echo("\n".join(_show_lines(catalogue, requirement, lang)))


def _show_lines(catalogue: Catalogue, requirement: Requirement, lang: str) -> list[str]:
    t = LABELS[lang]
    principle = catalogue.principle(requirement.principle)
    lines = [f"{requirement.id}  {requirement.level}  ({t['status']}: {requirement.status})",
             requirement.title.get(lang), "",
             requirement.text.get(lang), "",
             f"{t['principle']}: {principle.id} {principle.title.get(lang)}",
             f"{t['applies']}: {', '.join(requirement.artefacts)}",
             f"{t['standards']}:"]
    lines += [f"  - {s.name}: {s.reference}" for s in requirement.standards]
    lines.append(f"{t['verification']}:")
    lines += _verification_lines(requirement, lang)
    return lines


def _verification_lines(requirement: Requirement, lang: str) -> list[str]:
    from ..validators.rules import all_rules

    t = LABELS[lang]
    registry = {rule.code: rule for rule in all_rules()}
    lines = []
    for v in requirement.rule_verifications:
        extra = (f" {t['on']} {', '.join(v.kinds)}" if v.kinds else "") + \
                (f" ({t['run']} '{COMMANDS[v.run]}')" if v.run != "validate" else "")
        lines.append(f"  {t['rules']}: {', '.join(v.rules)}{extra}")
        if v.profile:
            lines.append(f"      {t['profile']}: {v.profile}")
        if v.constraints:
            lines.append(f"      {t['constraints']}: {', '.join(v.constraints)}")
        for code in ([] if v.profile and v.rules == PROFILE_RULES else expand_rules(v.rules, registry)):
            lines.append(f"      {code:<15} {registry[code].severity.code:<12} {registry[code].title}")
        if v.inconclusive:
            lines.append(f"      ({t['inconclusive']}: {', '.join(v.inconclusive)})")
    for v in requirement.test_verifications:
        lines.append(f"  {t['tests']} ({t[v.status]}): {', '.join(v.tests)}")
    for v in requirement.manual_verifications:
        lines.append(f"  {t['manual']}: {v.inspect.get(lang)}")
    return lines


def _as_json(catalogue: Catalogue, requirement: Requirement, lang: str) -> dict[str, Any]:
    principle = catalogue.principle(requirement.principle)
    return {
        "id": requirement.id, "level": requirement.level, "status": requirement.status,
        "title": requirement.title.get(lang), "text": requirement.text.get(lang),
        "principle": {"id": principle.id, "title": principle.title.get(lang)},
        "artefacts": list(requirement.artefacts),
        "standards": [{"name": s.name, "url": s.url, "oid": s.oid} for s in requirement.standards],
        "verification": [_verification_json(v, lang) for v in requirement.verification],
    }


def _verification_json(verification: Any, lang: str) -> dict[str, Any]:
    if verification.kind == "rule":
        return {"kind": "rule", "rules": list(verification.rules), "kinds": list(verification.kinds),
                "inconclusive": list(verification.inconclusive), "run": verification.run,
                **({"profile": verification.profile} if verification.profile else {}),
                **({"constraints": list(verification.constraints)} if verification.constraints else {})}
    if verification.kind == "test":
        return {"kind": "test", "tests": list(verification.tests), "status": verification.status}
    return {"kind": "manual", "inspect": verification.inspect.get(lang)}


# --------------------------------------------------------------------------- coverage
@requirements.command("coverage")
@_catalogue_option
@_lang_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def coverage_command(catalogue_path: Path | None, lang: str, as_json: bool) -> None:
    """How the requirements are verified, and which have no rule yet."""
    catalogue = _load(catalogue_path, lang)
    counts = coverage(catalogue)
    if as_json:
        click.echo(json.dumps(counts, indent=2, ensure_ascii=False))
        return
    t = LABELS[lang]
    click.echo(f"{counts['requirements']} {t['requirements']} {t['under']} {counts['principles']} {t['principles']}")
    click.echo(t["by_kind"].format(**counts["by_verification"]))
    click.echo(t["only"].format(**counts["only"]))
    click.echo(", ".join(f"{level} {n}" for level, n in counts["by_level"].items()))
    click.echo(t["without_rule"].format(count=len(counts["without_rule"])))
    for requirement_id in counts["without_rule"]:
        r = catalogue.requirement(requirement_id)
        click.echo(f"  {r.id:<12} {r.level:<7}{','.join(r.verification_kinds):<18} {r.title.get(lang)}")
    click.echo(t["not_referenced"].format(count=len(counts["rules_not_referenced"])))
    if counts["rules_not_referenced"]:
        click.echo("  " + ", ".join(counts["rules_not_referenced"]))


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
    rows = traceability_rows(_load(catalogue_path, lang), lang)
    text = to_csv(rows) if fmt == "csv" else to_html(rows, lang)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{LABELS[lang]['cannot_write']} {output}: {exc.strerror or exc}", lang) from None
    click.echo(f"{LABELS[lang]['wrote']} {output} ({len(rows)} {LABELS[lang]['requirements']})", err=True)


# --------------------------------------------------------------------------- check
@requirements.command("check")
@_catalogue_option
@_lang_option
@declaration_options
def check_command(catalogue_path: Path | None, lang: str, declaration: Any) -> None:
    """Validate a catalogue (schema and cross-checks); exit 2 with every problem when it is wrong.
    With --declare, a signed declaration names the catalogue (id, version, every requirement) and its hash."""
    catalogue = _load(catalogue_path, lang)
    t = LABELS[lang]
    click.echo(f"{catalogue.source}: {t['valid']}: {len(catalogue.requirements)} {t['requirements']}, "
               f"{len(catalogue.principles)} {t['principles']} ({catalogue.id} {catalogue.version}, {catalogue.status})")
    finish(declaration, "samsvar requirements check", None, inputs=[(Path(catalogue.source), "catalogue")],
           extra={"catalogue": {"id": catalogue.id, "version": catalogue.version, "status": catalogue.status,
                                "requirements": [{"id": r.id, "level": r.level, "status": r.status}
                                                 for r in catalogue.requirements]}})
