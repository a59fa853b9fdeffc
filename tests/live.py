"""Real servers for the live-suite tests: SEKMET (a third-party FHIR R4 server) and free ports.

SEKMET (PyPI ``sekmet-fhir==0.1.1``) lives in a virtual environment of its own (``.ci/run``
makes ``.ci-sekmet``); the tests find its ``sekmet`` command through ``$SAMSVAR_SEKMET``, that
folder, or ``PATH``, and skip with the reason when it is not installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import requests

REPO = Path(__file__).resolve().parent.parent
SEKMET_START_TIMEOUT = 60.0


def free_port() -> int:
    """A port nothing listens on now (the OS picks it; closed again before use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sekmet_command() -> str | None:
    candidates = [os.environ.get("SAMSVAR_SEKMET"), str(REPO / ".ci-sekmet" / "bin" / "sekmet"), shutil.which("sekmet")]
    return next((c for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)


@dataclass(frozen=True)
class Sekmet:
    fhir_url: str
    log: Path


@contextmanager
def sekmet(folder: Path) -> Iterator[Sekmet]:
    """SEKMET serving a fresh SQLite store on 127.0.0.1, its simulator off; stopped at the end."""
    command = sekmet_command()
    if command is None:
        pytest.skip("SEKMET is not installed (.ci/run installs sekmet-fhir==0.1.1 into .ci-sekmet; "
                    "or set SAMSVAR_SEKMET to its 'sekmet' command)")
    port = free_port()
    fhir_url = f"http://127.0.0.1:{port}/fhir"
    config = folder / "settings.yaml"
    config.write_text(
        f"base_url: {fhir_url}\nhost: 127.0.0.1\nport: {port}\ndata_dir: {folder / 'data'}\n"
        "simulator:\n  enabled: false\n", encoding="utf-8")
    log = folder / "sekmet.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([command, "serve", "--config", str(config)], cwd=folder, stdout=sink,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SEKMET_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"SEKMET exited with {process.returncode} at start:\n{log.read_text(errors='replace')[-2000:]}")
            try:
                if requests.get(f"{fhir_url}/metadata", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"SEKMET did not answer within {SEKMET_START_TIMEOUT:.0f} s")
            time.sleep(0.2)
        yield Sekmet(fhir_url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
