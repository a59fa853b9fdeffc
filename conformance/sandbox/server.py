"""Running the sandbox: uvicorn in a background thread, started and stopped within bounded times."""

from __future__ import annotations

import errno
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette

from .app import Sandbox, create_app
from .config import SandboxConfig

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


class SandboxStartError(RuntimeError):
    """The sandbox could not start: the port is taken, the address is wrong, or the server failed."""


@dataclass
class RunningSandbox:
    """A sandbox serving in a background thread; a context manager that stops it on exit."""

    config: SandboxConfig
    app: Starlette
    host: str
    port: int
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _socket: socket.socket = field(repr=False)

    @property
    def scheme(self) -> str:
        return "https" if self.config.tls_cert else "http"

    @property
    def base_url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def fhir_url(self) -> str:
        return self.base_url + "/fhir"

    @property
    def messaging_url(self) -> str:
        return self.base_url + "/messaging"

    @property
    def token_url(self) -> str:
        return self.base_url + "/token"

    @property
    def sandbox(self) -> Sandbox:
        """The running sandbox's parts (store, token service, drop watcher)."""
        return self.app.state.sandbox

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop serving and wait (bounded) for the thread; the temporary store is removed."""
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        try:
            self._socket.close()
        except OSError:
            pass

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket, or :class:`SandboxStartError` saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise SandboxStartError(f"cannot use host {host!r}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise SandboxStartError(f"port {port} on {host} is already in use; choose another with --port "
                                    "(or --port 0 for a free one)") from None
        raise SandboxStartError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def serve_in_thread(config: SandboxConfig, *, startup_timeout: float = STARTUP_TIMEOUT) -> RunningSandbox:
    """Start a sandbox in a daemon thread and return once it answers ``GET /fhir/metadata``."""
    sock = bind(config.host, config.port)
    try:
        app = create_app(config)
    except BaseException:
        sock.close()
        raise
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2,
        ssl_certfile=str(config.tls_cert) if config.tls_cert else None,
        ssl_keyfile=str(config.tls_key) if config.tls_key else None))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported to the starting thread
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"samsvar-sandbox-{port}", daemon=True)
    running = RunningSandbox(config, app, config.host, port, server, thread, sock)
    thread.start()
    try:
        _wait_until_answering(running, server, failure, startup_timeout)
    except BaseException:
        running.stop()
        app.state.sandbox.close()
        raise
    return running


def _wait_until_answering(running: RunningSandbox, server: uvicorn.Server, failure: list[BaseException],
                          timeout: float) -> None:
    deadline = time.monotonic() + timeout
    context: Any = None
    if running.config.tls_cert:
        context = ssl.create_default_context(cafile=str(running.config.tls_cert))
        context.check_hostname = False
    while time.monotonic() < deadline:
        if failure or not running.alive:
            reason = f": {failure[0]}" if failure else ""
            raise SandboxStartError(f"the sandbox server stopped while starting{reason}")
        if server.started:
            try:
                with urllib.request.urlopen(running.fhir_url + "/metadata", timeout=5, context=context) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
        time.sleep(0.05)
    raise SandboxStartError(f"the sandbox did not answer within {timeout:.0f} s")
