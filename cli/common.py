"""What the command groups share: exit codes, the failures that carry them, common options and
the ``--declare``/``--sign`` options.

This module is imported by every command module, so it imports Click and nothing heavy: the
library is loaded inside the functions that use it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import click

if TYPE_CHECKING:  # the cryptography is loaded only when a declaration is asked for
    from ..conformance.declaration import Declaration
    from ..conformance.report import Report
    from ..validators.issues import EnvironmentProblem

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE, EXIT_ENVIRONMENT = 0, 1, 2, 3
EXIT_NOTHING_TO_CHECK = 5  # as pytest's "no tests collected"; conformance.report.NothingToCheck


class UsageFailure(click.ClickException):
    """Exit code 2: the input or an argument cannot be used."""

    exit_code = EXIT_USAGE


class EnvironmentFailure(click.ClickException):
    """Exit code 3: the machine, not the input, stopped the run."""

    exit_code = EXIT_ENVIRONMENT

    @classmethod
    def of(cls, problem: EnvironmentProblem) -> EnvironmentFailure:
        return cls(str(problem) + (f"\nhint: {problem.hint}" if problem.hint else ""))


class NothingChecked(click.ClickException):
    """Exit code 5: the input held nothing to check (an empty folder, a -k that selects no test)."""

    exit_code = EXIT_NOTHING_TO_CHECK


class InternalFailure(click.ClickException):
    """Exit code 3 as well: samsvar itself failed, so the run proves nothing about the input."""

    exit_code = EXIT_ENVIRONMENT


def cache_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--cache DIR``: the FHIR package cache."""
    return click.option("--cache", "cache_root", type=click.Path(file_okay=False, path_type=Path),
                        help="FHIR package cache [default: $SAMSVAR_FHIR_HOME or ~/.fhir/packages].")(func)


def check_formats(formats: tuple[str, ...], outputs: tuple[str, ...], known: Iterable[str],
                  extra: tuple[str, ...] = ()) -> None:
    """``--format``/``--output`` pairs: known formats, an output per format but one."""
    known = list(known)
    for fmt in formats:
        if fmt not in known and fmt not in extra:
            more = f" or {', '.join(extra)}" if extra else ""
            raise click.BadParameter(f"{fmt!r} is not a format; choose from {', '.join(known)}{more}",
                                     param_hint="--format")
    if len(outputs) > len(formats):
        raise click.UsageError("more --output files than --format options; pair each --output with a --format")
    if len(formats) - len(outputs) > 1:
        raise click.UsageError("only one format can go to standard output; give --output FILE for the others")


# --------------------------------------------------------------------------- declarations
_DECLARATION_OPTIONS = ("declare", "sign", "cert", "system_name", "system_version", "vendor")


def declaration_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds ``--declare``, ``--sign``, ``--cert``, ``--system-name``, ``--system-version`` and
    ``--vendor``; the command gets ``declaration`` (a :class:`Declaration`, or None), made before
    the run so that a bad key or certificate stops the command early."""
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in _DECLARATION_OPTIONS}
        kwargs["declaration"] = start_declaration(**given)
        return command(*args, **kwargs)

    options = [
        click.option("--declare", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
                     help="Write a signed declaration of conformity here (with --sign): the verdicts, the "
                          "environment and the SHA-256 of every report and input. Check it with `samsvar verify`."),
        click.option("--sign", type=click.Path(dir_okay=False, path_type=Path), metavar="KEY",
                     help="Signing key for --declare: PEM (EC P-256 → ES256, RSA → RS256) or PKCS#12 (.p12/.pfx, "
                          "a virksomhetssertifikat, with its chain); password in $SAMSVAR_SIGN_PASSWORD."),
        click.option("--cert", type=click.Path(dir_okay=False, path_type=Path), metavar="CHAIN.pem",
                     help="The signing key's certificate and its issuers (PEM, leaf first), sent as x5c."),
        click.option("--system-name", metavar="NAME", help="The system under test, for the declaration."),
        click.option("--system-version", metavar="VERSION", help="Its version, for the declaration."),
        click.option("--vendor", metavar="NAME", help="Its vendor, for the declaration."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def start_declaration(declare: Path | None, sign: Path | None, cert: Path | None, system_name: str | None,
                      system_version: str | None, vendor: str | None) -> Declaration | None:
    """The declaration the options ask for, with its signer loaded; a usage error when they do not fit."""
    if declare is None:
        if sign or cert or system_name or system_version or vendor:
            raise UsageFailure("--sign, --cert, --system-name, --system-version and --vendor go with --declare FILE")
        return None
    if sign is None:
        raise UsageFailure("--declare needs --sign KEY: a declaration of conformity is always signed")
    from ..conformance.declaration import DeclarationError, SystemUnderTest, open_declaration

    try:
        return open_declaration(declare, sign, cert, SystemUnderTest(system_name, system_version, vendor))
    except DeclarationError as exc:
        raise UsageFailure(str(exc)) from None


def declared_inputs(paths: Iterable[str]) -> list[tuple[Path, str]]:
    """The files a ``validate`` run reads, as evidence; a usage error for standard input, URLs, globs."""
    from ..conformance.declaration import DeclarationError, input_evidence

    try:
        return input_evidence(paths)
    except DeclarationError as exc:
        raise UsageFailure(str(exc)) from None


def finish_declaration(declaration: Declaration | None, command: str, report: Report | None, *,
                       formats: Sequence[str] = (), outputs: Sequence[str] = (),
                       inputs: Sequence[tuple[Path, str]] = (), lang: str = "nb",
                       extra: dict[str, Any] | None = None) -> None:
    """Write the declaration after the reports (see :func:`samsvar.conformance.declaration.declare_run`)."""
    if declaration is None:
        return
    from ..conformance.declaration import DeclarationError, declare_run

    try:
        signer = declare_run(declaration, command, report, formats=formats, outputs=outputs, inputs=inputs,
                             lang=lang, extra=extra)
    except DeclarationError as exc:
        raise UsageFailure(str(exc)) from None
    who = signer.get("certificate", {}).get("subject") or f"key {signer['key_thumbprint']}"
    click.echo(f"declared: {declaration.path} ({signer['algorithm']}, signed by {who})", err=True)
