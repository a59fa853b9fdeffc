"""``samsvar sandbox``: serve the reference sandbox until Ctrl-C."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..validators.issues import EnvironmentProblem


def _sandbox_fault_help() -> str:
    from ..conformance.sandbox.faults import FAULTS

    return "Switch on one non-conformance (repeatable): " + "; ".join(f"{n}: {d}" for n, d in FAULTS.items()) + "."


@click.command()
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
@click.option("--smart", is_flag=True, help="SMART App Launch for a citizen app: /fhir/.well-known/smart-configuration, "
              "/smart/authorize (a fixed test patient, no browser), /smart/token (PKCE S256), and the FHIR API taking "
              "patient-level SMART tokens; seeds the test patient and another patient.")
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
            clients: tuple[str, ...], dpop_required: bool, dpop_nonce: bool, smart: bool, drop_dir: Path | None,
            apprec_delay: float, tls_cert: Path | None, tls_key: Path | None) -> None:
    """Serve the reference sandbox: a small conformant FHIR R4 (JSON) and messaging endpoint.

    FHIR at /fhir, MsgHead messages answered with their AppRec at /messaging, with --auth a
    HelseID-style token endpoint at /token, and with --smart SMART App Launch for a citizen app. Serves until Ctrl-C; exit 3 when the port is taken.

    \b
    Examples:
      samsvar sandbox
      samsvar sandbox --port 0 --fault no-paging --fault wrong-status
      samsvar sandbox --client test-client=client-public.pem --drop meldinger/
      samsvar sandbox --smart --fault smart-leak-search
    """
    import signal
    import time

    from ..conformance.sandbox import SandboxConfig, SandboxStartError, UnknownFault, parse_faults, serve_in_thread
    from ..conformance.sandbox.auth import read_client_option

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
                           dpop_required=dpop_required, dpop_nonce=dpop_nonce, smart=smart,
                           apprec_delay=apprec_delay, tls_cert=tls_cert, tls_key=tls_key)
    try:
        running = serve_in_thread(config)
    except SandboxStartError as exc:
        raise EnvironmentProblem(str(exc)) from None

    # Ctrl-C and SIGTERM only ask the loop below to stop: an exception raised wherever the signal
    # lands could interrupt the thread bookkeeping of Thread.is_alive()/join() itself and leave the
    # server's thread marked stopped while it still runs (seen once as a sandbox that did not exit).
    stopping: list[int] = []

    def _stop(signum: int, _frame: Any) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    click.echo(f"samsvar sandbox at {running.base_url}")
    click.echo(f"  FHIR R4:    {running.fhir_url}  (CapabilityStatement: {running.fhir_url}/metadata)")
    click.echo(f"  messaging:  {running.messaging_url}  (POST a MsgHead, get its AppRec)")
    if config.auth:
        click.echo(f"  token:      {running.token_url}  (clients: {', '.join(keys) or 'none'}; "
                   f"discovery: {running.base_url}/.well-known/openid-configuration)")
    if smart:
        from ..conformance.sandbox.smart import CLIENT_ID, OTHER_PATIENT, REDIRECT_URI, TEST_PATIENT

        click.echo(f"  SMART:      {running.fhir_url}/.well-known/smart-configuration  (client_id {CLIENT_ID}, "
                   f"redirect_uri {REDIRECT_URI}; test patient {TEST_PATIENT}, another patient {OTHER_PATIENT})")
    if drop_dir is not None:
        click.echo(f"  file drop:  {drop_dir / 'inbox'} -> {drop_dir / 'outbox'}")
    click.echo(f"  data:       {running.sandbox.data_dir}")
    click.echo(f"  faults:     {', '.join(sorted(chosen)) or 'none (conformant)'}")
    click.echo("Ctrl-C to stop.")
    try:
        while running.alive and not stopping:
            time.sleep(0.2)
    finally:
        running.stop()
    if not running.alive:
        click.echo("sandbox stopped")
