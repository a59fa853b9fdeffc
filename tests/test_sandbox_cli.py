"""``samsvar sandbox``: usage errors, a taken port (exit 3), and a real run stopped with Ctrl-C."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from samsvar.conformance.sandbox import FAULTS, serve_in_thread

from .test_sandbox import TIMEOUT, patient, sandbox_config
from .test_sandbox_auth import make_key, public_pem

pytestmark = pytest.mark.timeout(120)


def test_help_lists_every_fault_and_an_example(run) -> None:
    outcome = run("sandbox", "--help")
    assert outcome.exit_code == 0
    joined = "".join(outcome.stdout.split())  # help wraps lines at hyphens
    for name, description in FAULTS.items():
        assert f"{name}:{''.join(description.split())}" in joined
    assert "samsvar sandbox --port 0" in outcome.stdout


def test_unknown_fault_is_a_usage_error_naming_the_faults(run) -> None:
    outcome = run("sandbox", "--fault", "banana")
    assert outcome.exit_code == 2
    assert "unknown fault 'banana'" in outcome.stderr and "no-paging" in outcome.stderr


def test_bad_client_option_is_a_usage_error(run, tmp_path: Path) -> None:
    assert run("sandbox", "--client", "no-equals-sign").exit_code == 2
    not_a_key = tmp_path / "key.pem"
    not_a_key.write_text("hello")
    outcome = run("sandbox", "--client", f"c={not_a_key}")
    assert outcome.exit_code == 2 and "not a PEM public key" in outcome.stderr


def test_a_port_in_use_is_an_environment_error(run) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        outcome = run("sandbox", "--port", str(port))
    assert outcome.exit_code == 3
    assert f"port {port}" in outcome.stderr and "already in use" in outcome.stderr


def _lines(stream) -> "queue.Queue[str]":
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_serves_until_interrupted(fhir_cache: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "client.pem"
    key_file.write_text(public_pem(make_key()))
    env = dict(os.environ, SAMSVAR_FHIR_HOME=str(fhir_cache))
    command = [sys.executable, "-c", "from samsvar.cli import main; main()", "sandbox", "--port", "0",
               "--fault", "no-paging", "--client", f"test-client={key_file}", "--data", str(tmp_path / "data")]
    # stderr to a file, not an unread pipe (a full pipe would block the server); shown if the test fails
    errors = tmp_path / "stderr.txt"
    with errors.open("w") as error_file:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=error_file, text=True, env=env,
                                   cwd=tmp_path)
    try:
        lines = _lines(process.stdout)
        printed = [lines.get(timeout=60)]
        assert printed[0].startswith("samsvar sandbox at http://127.0.0.1:"), printed
        base = printed[0].split(" at ", 1)[1].strip()
        while not printed[-1].startswith("Ctrl-C"):
            printed.append(lines.get(timeout=10))
        text = "".join(printed)
        assert f"{base}/fhir" in text and f"{base}/token" in text and "no-paging" in text
        statement = requests.get(base + "/fhir/metadata", timeout=TIMEOUT)
        assert statement.status_code == 200 and "security" in statement.json()["rest"][0]  # --client: auth on
        assert requests.get(base + "/fhir/Patient", timeout=TIMEOUT).status_code == 401
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the sandbox still runs 30 s after Ctrl-C; its stderr:\n{errors.read_text()[-4000:]}")
        assert code == 0, errors.read_text()[-4000:]
        assert lines.get(timeout=10).startswith("sandbox stopped")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert (tmp_path / "data" / "sandbox.sqlite").is_file()


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = make_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_https(fhir_cache: Path, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    with serve_in_thread(sandbox_config(fhir_cache, tls_cert=cert, tls_key=key)) as secure:
        assert secure.base_url.startswith("https://127.0.0.1:")
        created = requests.post(secure.fhir_url + "/Patient", json=patient(), verify=str(cert), timeout=TIMEOUT)
        assert created.status_code == 201
        assert created.headers["Location"].startswith(secure.fhir_url + "/Patient/")
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(secure.fhir_url + "/metadata", timeout=TIMEOUT)  # not trusted without the certificate
