"""The HTTP client of live runs: every exchange with the target is kept as evidence.

:class:`EvidenceClient` wraps a :class:`requests.Session` and records, for each request, an
:class:`Exchange`: method, URL, request and response headers (secrets redacted), bodies (up to
:data:`MAX_BODY` characters each), status and timing, or the transport error when there was no
response. Timeouts are always set; only idempotent methods (GET, HEAD, OPTIONS) are retried, and
only on connection failures and 502/503/504; TLS certificates are verified unless the run says
otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .. import __version__

MAX_BODY = 64 * 1024
"""Characters of a request or response body kept in the evidence."""
REDACTED = "[redacted]"
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})
SECRET_FIELDS = ("access_token", "refresh_token", "id_token", "client_assertion", "client_secret", "password")
_SECRET_FORM = re.compile(r"((?:^|&)(?:%s)=)[^&]*" % "|".join(SECRET_FIELDS))
_SECRET_JSON = re.compile(r'("(?:%s)"\s*:\s*")[^"]*(")' % "|".join(SECRET_FIELDS))
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


class TargetUnreachable(Exception):
    """The target did not answer at the transport level (refused, DNS, TLS, timeout)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(slots=True)
class Exchange:
    """One request and its response (or the transport error), as evidence."""

    number: int
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    started: str
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None
    elapsed_ms: float | None = None
    error: str | None = None
    truncated: bool = False

    @property
    def summary(self) -> str:
        """``#3 GET http://…/Patient/1 → 200 (12 ms)``."""
        answer = f"{self.status}" if self.status is not None else f"no response ({self.error})"
        timing = f" ({self.elapsed_ms:.0f} ms)" if self.elapsed_ms is not None else ""
        return f"#{self.number} {self.method} {self.url} → {answer}{timing}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number, "method": self.method, "url": self.url, "started": self.started,
            "request": {"headers": self.request_headers, "body": self.request_body},
            "response": {"status": self.status, "headers": self.response_headers, "body": self.response_body},
            "elapsed_ms": None if self.elapsed_ms is None else round(self.elapsed_ms, 1),
            "error": self.error, "truncated": self.truncated,
        }


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with credentials replaced; the scheme of an Authorization header is kept."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if name.lower().endswith("authorization") and " " in value else ""
            out[name] = f"{scheme} {REDACTED}".strip()
        else:
            out[name] = value
    return out


def redact_body(text: str) -> str:
    """A body with token, assertion and secret values replaced (form-encoded or JSON)."""
    return _SECRET_JSON.sub(rf"\1{REDACTED}\2", _SECRET_FORM.sub(rf"\1{REDACTED}", text))


def _body_text(body: Any) -> tuple[str | None, bool]:
    if body is None:
        return None, False
    if isinstance(body, bytes):
        text = body.decode("utf-8", errors="replace")
    elif isinstance(body, str):
        text = body
    else:
        text = json.dumps(body, ensure_ascii=False)
    text = redact_body(text)
    return (text[:MAX_BODY], True) if len(text) > MAX_BODY else (text, False)


@dataclass(frozen=True, slots=True)
class ClientSettings:
    timeout: float = 30.0
    """Seconds to wait for a connection and for each read."""
    verify: bool | str = True
    """TLS verification: True, False (``--insecure``) or a CA bundle path."""
    retries: int = 2
    """Retries of idempotent requests on connection failure or 502/503/504."""


class EvidenceClient:
    """Requests against ``base_url`` with every exchange recorded.

    ``token`` is a callable giving the bearer token to send (None: no Authorization header);
    a request may pass ``auth=False`` to send none, or ``headers={"Authorization": ...}`` to
    send its own.
    """

    def __init__(self, base_url: str, settings: ClientSettings = ClientSettings(),
                 token: Callable[[], str | None] | None = None) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.settings = settings
        self.token = token
        self.exchanges: list[Exchange] = []
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"samsvar/{__version__}"
        retry = Retry(total=settings.retries, connect=settings.retries, read=0, status=settings.retries,
                      allowed_methods=IDEMPOTENT, status_forcelist=(502, 503, 504), backoff_factor=0.2,
                      raise_on_status=False)
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def url(self, path: str) -> str:
        """``path`` against the base URL; absolute URLs are kept."""
        return path if urlsplit(path).scheme else urljoin(self.base_url, path.lstrip("/"))

    def request(self, method: str, path: str, *, headers: Mapping[str, str] | None = None, json_body: Any = None,
                data: str | bytes | Mapping[str, str] | None = None, params: Mapping[str, str] | None = None,
                auth: bool = True, timeout: float | None = None) -> requests.Response:
        """Send one request and record it. Raises :class:`TargetUnreachable` when there is no response."""
        method = method.upper()
        send_headers = dict(headers or {})
        if json_body is not None:
            send_headers.setdefault("Content-Type", "application/fhir+json")
            data = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
        if auth and self.token is not None and "Authorization" not in send_headers:
            token = self.token()
            if token:
                send_headers["Authorization"] = f"Bearer {token}"
        prepared = self.session.prepare_request(requests.Request(
            method, self.url(path), headers=send_headers, data=data, params=params))
        body, truncated = _body_text(prepared.body)
        exchange = Exchange(
            number=len(self.exchanges) + 1, method=method, url=prepared.url or self.url(path),
            request_headers=redact_headers(prepared.headers), request_body=body,
            started=dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"), truncated=truncated)
        self.exchanges.append(exchange)
        started = time.perf_counter()
        try:
            response = self.session.send(prepared, timeout=timeout or self.settings.timeout,
                                         verify=self.settings.verify, allow_redirects=False)
        except requests.RequestException as exc:
            exchange.elapsed_ms = (time.perf_counter() - started) * 1000
            exchange.error = _transport_reason(exc)
            raise TargetUnreachable(exchange.url, exchange.error) from None
        exchange.elapsed_ms = (time.perf_counter() - started) * 1000
        exchange.status = response.status_code
        exchange.response_headers = redact_headers(response.headers)
        exchange.response_body, cut = _body_text(response.content)
        exchange.truncated = exchange.truncated or cut
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def since(self, mark: int) -> list[Exchange]:
        """The exchanges recorded after :meth:`mark` returned ``mark``."""
        return self.exchanges[mark:]

    def mark(self) -> int:
        return len(self.exchanges)

    def close(self) -> None:
        self.session.close()

    def __iter__(self) -> Iterator[Exchange]:
        return iter(self.exchanges)


def _transport_reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS failed (certificate not trusted or not valid for this host; --ca-bundle or --insecure)"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "no answer within the timeout"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
            return "host name not found"
        if "refused" in text.lower():
            return "connection refused (nothing listens there)"
        return "connection failed"
    return type(exc).__name__


def local_folder(url: str) -> Path | None:
    """The folder a ``file:`` target names (``file:///srv/edi/samsvar``), or None for any other URL.

    Such a target is not spoken to over HTTP: the messaging suite's file-drop transport writes
    and reads files there. A ``file:`` URL with a host other than ``localhost`` is a ValueError.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "file":
        return None
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"{url}: a file: target names a folder on this machine (file:///path), not on {parts.netloc!r}")
    return Path(url2pathname(parts.path))
