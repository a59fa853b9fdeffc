"""A remote FHIR terminology server, used only where the policy says ``remote`` for a system.

``$validate-code`` is called with requests, with a timeout, retries with back-off on
connection errors and 502/503/504, and a persistent cache in SQLite (one row per request URL),
so a run repeats no call and a later offline run still has the answers it had. A server that
cannot be reached raises :class:`ServerUnavailable`: the caller reports that as an environment
warning, never as a verdict on the code.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .verdict import CodeVerdict


class ServerUnavailable(Exception):
    """The terminology server could not be reached or did not answer with FHIR."""


class RemoteTerminology:
    def __init__(self, server: str, *, timeout: float = 10.0, retries: int = 2, cache_dir: Path | None = None) -> None:
        self.server = server.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        retry = Retry(total=retries, connect=retries, read=retries, backoff_factor=0.2,
                      status_forcelist=(502, 503, 504), allowed_methods=("GET",), raise_on_status=False)
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.headers["Accept"] = "application/fhir+json"
        self._cache = _Cache(cache_dir / "terminology-server.sqlite") if cache_dir else None

    def validate_code(self, system: str, code: str, value_set: str | None = None) -> CodeVerdict:
        params = {"system": system, "code": code}
        if value_set:
            params["url"] = value_set
        resource = "ValueSet" if value_set else "CodeSystem"
        url = f"{self.server}/{resource}/$validate-code?{urlencode(params)}"
        answer = self._get(url)
        result = _parameter(answer, "result")
        message = str(_parameter(answer, "message") or "")
        if not isinstance(result, bool):
            raise ServerUnavailable(f"{url} answered without a boolean 'result' parameter")
        return CodeVerdict(result, message or ("" if result else f"The server says '{code}' is not valid"),
                           "member" if result else "not-member", system=system)

    def _get(self, url: str) -> dict[str, Any]:
        if self._cache is not None:
            cached = self._cache.get(url)
            if cached is not None:
                return cached
        try:
            response = self.session.get(url, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ServerUnavailable(f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 500:
            raise ServerUnavailable(f"HTTP {response.status_code} from {url}")
        try:
            answer = response.json()
        except ValueError:
            raise ServerUnavailable(f"{url} did not answer with JSON (HTTP {response.status_code})") from None
        if not isinstance(answer, dict) or answer.get("resourceType") not in ("Parameters", "OperationOutcome"):
            raise ServerUnavailable(f"{url} did not answer with a FHIR Parameters resource")
        if answer.get("resourceType") == "OperationOutcome":
            raise ServerUnavailable(f"{url}: {_outcome_text(answer)}")
        if self._cache is not None:
            self._cache.put(url, answer)
        return answer


def _parameter(parameters: dict[str, Any], name: str) -> Any:
    for item in parameters.get("parameter") or []:
        if isinstance(item, dict) and item.get("name") == name:
            return next((v for k, v in item.items() if k.startswith("value")), None)
    return None


def _outcome_text(outcome: dict[str, Any]) -> str:
    texts = [str(i.get("diagnostics") or (i.get("details") or {}).get("text") or i.get("code"))
             for i in outcome.get("issue") or [] if isinstance(i, dict)]
    return "; ".join(texts) or "OperationOutcome without text"


class _Cache:
    """Answers by request URL, in SQLite, shared by runs."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(path)
        self.connection.execute("CREATE TABLE IF NOT EXISTS answer (url TEXT PRIMARY KEY, body TEXT, stored REAL)")

    def get(self, url: str) -> dict[str, Any] | None:
        row = self.connection.execute("SELECT body FROM answer WHERE url = ?", (url,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, url: str, body: dict[str, Any]) -> None:
        with self.connection:
            self.connection.execute("INSERT OR REPLACE INTO answer VALUES (?, ?, ?)", (url, json.dumps(body), time.time()))
