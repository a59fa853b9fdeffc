"""``samsvar rules``: the rule catalogue (validators/rules.toml) on the command line."""

from __future__ import annotations

import json
from typing import Any

import click


@click.group()
def rules() -> None:
    """The rule catalogue: every check samsvar makes, by stable code."""


@rules.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def rules_list(as_json: bool) -> None:
    """List every rule: code, default severity, title."""
    from ..validators.rules import all_rules

    catalogue = all_rules()
    if as_json:
        from ..conformance.catalogue import load_catalogue

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
    from ..validators.rules import get_rule

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
    from ..conformance.catalogue import load_catalogue

    return load_catalogue().verified_by(code)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
