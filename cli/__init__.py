"""The ``samsvar`` command line: every Click command, one module per command group.

Each command is a thin shell over a library function (``samsvar.conformance``,
``samsvar.validators``): it parses options, calls the library and maps its answer to output and an
exit code. The root group below maps library errors to exit codes and never shows a traceback.
Commands are loaded from :data:`COMMANDS` when they are called or listed, and the command modules
import the library inside their functions, so ``samsvar --help`` and ``samsvar validate`` load
only what they use. A new command group is a module here and a row in :data:`COMMANDS`.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from typing import Any

import click

from .. import __version__
from .common import (
    EXIT_CLEAN,
    EXIT_ENVIRONMENT,
    EXIT_FINDINGS,
    EXIT_NOTHING_TO_CHECK,
    EXIT_USAGE,
    EnvironmentFailure,
    InternalFailure,
    NothingChecked,
)

__all__ = ["COMMANDS", "EXIT_CLEAN", "EXIT_ENVIRONMENT", "EXIT_FINDINGS", "EXIT_NOTHING_TO_CHECK", "EXIT_USAGE",
           "cli", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "validate"),
    "terminology": ("terminology", "terminology"),
    "messages": ("messages", "messages"),
    "apprec": ("messages", "apprec"),
    "packages": ("packages", "packages"),
    "rules": ("rules", "rules"),
    "sandbox": ("sandbox", "sandbox"),
    "requirements": ("requirements", "requirements"),
    "profiles": ("profiles", "profiles"),  # lint, list and new
    "suites": ("run", "suites"),
    "run": ("run", "run"),
    "verify": ("declare", "verify"),
}
"""Command name → (module of this package, attribute): the whole command line in one table."""


class Samsvar(click.Group):
    """Loads commands from :data:`COMMANDS`, maps library errors to exit codes and never shows a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, name = COMMANDS[cmd_name]
            self.add_command(getattr(import_module(f"{__name__}.{module}"), name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        from ..conformance.report import NothingToCheck
        from ..validators.issues import EnvironmentProblem

        try:
            return super().invoke(ctx)
        except EnvironmentProblem as problem:
            raise EnvironmentFailure.of(problem) from None
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


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from ..validators.compiled import describe

    click.echo(f"samsvar, version {__version__}\n{describe()}")
    ctx.exit()


@click.group(cls=Samsvar, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--version", "-V", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="Show the version, and whether the engine runs compiled, and exit.")
def cli() -> None:
    """samsvar: conformance checks for Norwegian health interoperability.

    Validates FHIR R4 resources and Bundles (JSON and XML) and Norwegian XML messages offline,
    and reports located, coded issues for people, CI and FHIR tools.

    Exit codes: 0 clean, 1 findings at or above the fail level, 2 usage error,
    3 environment error (for example a FHIR package missing offline) or internal error,
    5 nothing to check (a folder without *.json/*.xml/*.ndjson files, a -k that selects no test;
    --allow-empty accepts it).
    """


def main() -> None:
    cli(prog_name="samsvar")
