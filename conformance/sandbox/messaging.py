"""The sandbox as a message receiver: a MsgHead in, the AppRec a conformant receiver returns out.

Two transports share :class:`MessageReceiver`: HTTP (``POST /messaging``, see the app) and a
file drop (:class:`DropWatcher`): a message written to ``DIR/inbox/NAME.xml`` (write it under
another name, then rename, so that it is never read half-written) is answered in
``DIR/outbox/NAME.apprec.xml`` and moved to ``DIR/processed/``. A file that is not a readable
MsgHead gets ``DIR/outbox/NAME.error.txt`` with the reason instead.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from ...validators.load import load_bytes
from ...validators.messages.apprec import APPREC_11_NS, STATUS_DISPLAYS, expected_apprec
from ...validators.runner import Result
from .config import SandboxConfig

MAX_MESSAGE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the receiver answers: an AppRec, nothing (fault ``no-apprec``), or a refusal with a reason."""

    apprec: bytes | None = None
    refused: str | None = None


class MessageReceiver:
    """Validates a message with samsvar's message layers and builds its AppRec."""

    def __init__(self, config: SandboxConfig, validate: Callable[[str, bytes], Result]) -> None:
        self.config = config
        self._validate = validate

    def receive(self, data: bytes, name: str = "message.xml") -> Receipt:
        if len(data) > MAX_MESSAGE_BYTES:
            return Receipt(refused=f"message larger than {MAX_MESSAGE_BYTES} bytes")
        loaded = load_bytes(name, data)
        document = loaded.document
        if document is None or document.format != "xml":
            reason = loaded.issues[0].message if loaded.issues else "not XML"
            return Receipt(refused=f"not a readable XML message: {reason}")
        issues = self._validate(name, data).issues
        try:
            apprec = expected_apprec(document.tree, issues, now=dt.datetime.now(dt.timezone.utc))
        except ValueError as exc:
            return Receipt(refused=str(exc))
        if self.config.has("no-apprec"):
            return Receipt()
        if self.config.has("wrong-apprec-status"):
            status = apprec.find(f"{{{APPREC_11_NS}}}Status")
            if status is not None:
                status.set("V", "1")
                status.set("DN", STATUS_DISPLAYS["1"])
        return Receipt(apprec=etree.tostring(apprec, xml_declaration=True, encoding="UTF-8", pretty_print=True))


class DropWatcher:
    """Polls ``folder/inbox`` for ``*.xml`` in a daemon thread and answers each message once."""

    def __init__(self, receiver: MessageReceiver, folder: Path, *, poll_interval: float, delay: float) -> None:
        self.receiver = receiver
        self.folder = folder
        self.inbox = folder / "inbox"
        self.outbox = folder / "outbox"
        self.processed = folder / "processed"
        self.poll_interval = poll_interval
        self.delay = delay
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for path in (self.inbox, self.outbox, self.processed):
            path.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="samsvar-sandbox-drop", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.process_once()
            except OSError:
                pass  # a file moved away under us, a full disk: try again on the next round
            self._stop.wait(self.poll_interval)

    def process_once(self) -> list[Path]:
        """Answer every message now in the inbox; the files written to the outbox."""
        written = []
        for message in sorted(self.inbox.glob("*.xml")):
            if self._stop.is_set():
                break
            if message.name.startswith(".") or not message.is_file():
                continue
            written.extend(self._process(message))
        return written

    def _process(self, message: Path) -> list[Path]:
        receipt = self.receiver.receive(message.read_bytes(), message.name)
        if self.delay and self._stop.wait(self.delay):
            return []
        written = []
        if receipt.refused is not None:
            written.append(_write_atomic(self.outbox / f"{message.stem}.error.txt", (receipt.refused + "\n").encode()))
        elif receipt.apprec is not None:
            written.append(_write_atomic(self.outbox / f"{message.stem}.apprec.xml", receipt.apprec))
        os.replace(message, _free_name(self.processed / message.name))
        return written


def _write_atomic(path: Path, data: bytes) -> Path:
    partial = path.with_name(f".{path.name}.part")
    partial.write_bytes(data)
    os.replace(partial, path)
    return path


def _free_name(path: Path) -> Path:
    """``path``, or ``name.1.xml``, ``name.2.xml``, … when a message of that name was processed before."""
    candidate, number = path, 0
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}.{number}{path.suffix}")
    return candidate
