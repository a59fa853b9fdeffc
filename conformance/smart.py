"""A SMART App Launch client for live runs: discovery, PKCE and the authorization-code flow.

What a citizen-facing app does against a FHIR R4 server protected by SMART App Launch (STU 2):
read ``[fhir-base]/.well-known/smart-configuration`` (:func:`discover`), send the user to the
authorization endpoint with ``response_type=code``, the app's ``client_id`` and ``redirect_uri``,
the scopes, a fresh ``state``, the FHIR base as ``aud`` and a PKCE challenge (:func:`pkce`,
RFC 7636, ``S256``), and trade the code it gets back at the token endpoint for an access token
(:meth:`SmartClient.exchange`). Every request goes through the run's
:class:`~samsvar.conformance.evidence.EvidenceClient`, so it is evidence (tokens redacted).

The one step a browser normally does, the user's login, is done in one of two ways:

* without a ``login`` command samsvar GETs the authorization URL itself and follows redirects on
  the authorization server until one points at the ``redirect_uri``: this works against a server
  that logs a fixed test user in without a page (samsvar's sandbox with ``--smart``, or a vendor's
  test mode); a login page instead is a :class:`LoginNeeded` that says to give a command;
* with a ``login`` command (``--input login-command="python login.py"``) samsvar runs it with
  the authorization URL as its last argument and reads, from the last line it prints, the URL
  the browser was sent back to (``REDIRECT_URI?code=…&state=…``): a script of the vendor's that
  fills in its test user's login form (Playwright, Selenium) or a person who pastes the URL.

samsvar itself never listens on the ``redirect_uri``: it only reads where it is sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import shlex
import subprocess
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests

from .evidence import EvidenceClient

WELL_KNOWN = ".well-known/smart-configuration"
MAX_HOPS = 5
"""Redirects followed on the authorization server before giving up."""
LOGIN_TIMEOUT = 120.0


class SmartError(Exception):
    """The SMART flow could not go on; the message says what the server answered."""


class LoginNeeded(SmartError):
    """The authorization server wants a login in a browser and no login command was given."""


# -- discovery ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SmartConfiguration:
    """The ``.well-known/smart-configuration`` document and where it was read."""

    url: str
    document: Mapping[str, Any]

    def endpoint(self, name: str) -> str | None:
        """An endpoint of the document, made absolute against the document's URL (a client does
        this for a relative one; the discovery test says that it is relative)."""
        value = self.document.get(name)
        return urljoin(self.url, value) if isinstance(value, str) and value else None

    @property
    def authorization_endpoint(self) -> str | None:
        return self.endpoint("authorization_endpoint")

    @property
    def token_endpoint(self) -> str | None:
        return self.endpoint("token_endpoint")

    def strings(self, name: str) -> list[str]:
        value = self.document.get(name)
        return [str(item) for item in value] if isinstance(value, list) else []

    @property
    def capabilities(self) -> list[str]:
        return self.strings("capabilities")


def discovery_url(fhir_base: str) -> str:
    return fhir_base.rstrip("/") + "/" + WELL_KNOWN


def discover(http: EvidenceClient, fhir_base: str) -> tuple[requests.Response, SmartConfiguration | None]:
    """GET the discovery document; (the answer, the parsed document or None when it is not a JSON object)."""
    url = discovery_url(fhir_base)
    response = http.get(url, headers={"Accept": "application/json"}, auth=False)
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return response, None
    return response, (SmartConfiguration(url, body) if response.status_code == 200 and isinstance(body, dict) else None)


# -- PKCE ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Pkce:
    """A PKCE pair (RFC 7636): the verifier the app keeps and the challenge it sends."""

    verifier: str
    challenge: str
    method: str = "S256"


def s256(verifier: str) -> str:
    """``BASE64URL(SHA256(verifier))`` without padding (RFC 7636 section 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def pkce(method: str = "S256") -> Pkce:
    """A fresh verifier of 64 unreserved characters and its challenge (``plain``: the verifier itself)."""
    verifier = secrets.token_urlsafe(48)
    return Pkce(verifier, s256(verifier) if method == "S256" else verifier, method)


# -- the authorization step ---------------------------------------------------------------------
@dataclass(slots=True)
class Authorization:
    """What came back from the authorization step: where the user was sent, and its parameters."""

    url: str
    """The authorization request that was sent."""
    state: str | None
    pkce: Pkce | None
    redirect_uri: str
    location: str | None = None
    """The URL the user was sent back to (None: the server did not send the user anywhere)."""
    status: int | None = None
    """HTTP status of the authorization server's last answer (None with a login command)."""
    params: dict[str, str] = field(default_factory=dict)
    """The query (and fragment) parameters of :attr:`location`."""

    @property
    def to_redirect_uri(self) -> bool:
        return self.location is not None and same_endpoint(self.location, self.redirect_uri)

    @property
    def code(self) -> str | None:
        return self.params.get("code") if self.to_redirect_uri else None

    @property
    def error(self) -> str | None:
        return self.params.get("error") if self.to_redirect_uri else None

    def describe(self) -> str:
        if self.location is None:
            return f"HTTP {self.status} without a redirect" if self.status is not None else "no redirect"
        if not self.to_redirect_uri:
            return f"a redirect to {self.location}"
        if self.code:
            return "a redirect with a code"
        if self.error:
            text = self.params.get("error_description")
            return f"a redirect with error={self.error}" + (f" ({text})" if text else "")
        return "a redirect without code or error"


def same_endpoint(url: str, endpoint: str) -> bool:
    """Does ``url`` go to ``endpoint`` (scheme, host, port and path; the query is the answer)?"""
    a, b = urlsplit(url), urlsplit(endpoint)
    return (a.scheme.lower(), a.netloc.lower(), a.path or "/") == (b.scheme.lower(), b.netloc.lower(), b.path or "/")


def answer_params(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.fragment, keep_blank_values=True))
    params.update(parse_qsl(parts.query, keep_blank_values=True))
    return params


@dataclass(slots=True)
class SmartClient:
    """One app (``client_id``, ``redirect_uri``) against one server (its discovery document)."""

    http: EvidenceClient
    configuration: SmartConfiguration
    client_id: str
    redirect_uri: str
    audience: str
    """The FHIR base URL, sent as ``aud``."""
    client_secret: str | None = None
    """A confidential client's secret (sent with HTTP Basic); None: a public client."""
    login_command: str | None = None
    login_timeout: float = LOGIN_TIMEOUT

    def authorization_url(self, params: Mapping[str, str | None]) -> str:
        endpoint = self.configuration.authorization_endpoint
        if endpoint is None:
            raise SmartError("the discovery document has no authorization_endpoint")
        parts = urlsplit(endpoint)
        query = parse_qsl(parts.query, keep_blank_values=True)
        query += [(k, v) for k, v in params.items() if v is not None]
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))

    def authorize(self, scope: str, *, state: str | None = "", challenge: Pkce | None | str = "S256",
                  redirect_uri: str | None = None, login: bool = True, **extra: str | None) -> Authorization:
        """Send an authorization request and follow it to where the user is sent back.

        ``state=""`` makes a fresh one (None: none sent); ``challenge`` is a PKCE method for a fresh
        pair, a :class:`Pkce`, or None for a request without PKCE; ``extra`` adds or (with None)
        removes parameters. ``login=False`` asks the server without the login command (a refusal
        expected before any login)."""
        state = secrets.token_urlsafe(16) if state == "" else state
        pair = pkce(challenge) if isinstance(challenge, str) else challenge
        redirect = redirect_uri or self.redirect_uri
        params: dict[str, str | None] = {
            "response_type": "code", "client_id": self.client_id, "redirect_uri": redirect, "scope": scope,
            "state": state, "aud": self.audience,
            "code_challenge": pair.challenge if pair else None, "code_challenge_method": pair.method if pair else None,
        }
        params.update(extra)
        url = self.authorization_url(params)
        found = Authorization(url, state, pair, redirect)
        if login and self.login_command:
            found.location = self._run_login(url)
        else:
            found.location, found.status = self._follow(url, redirect)
        if found.location is not None:
            found.params = answer_params(found.location)
        return found

    def _follow(self, url: str, redirect_uri: str) -> tuple[str | None, int | None]:
        """GET ``url`` and the redirects after it (the authorization server's, or its identity
        provider's), until one goes to the redirect URI, which is never requested; (that URL or
        None, the last status). A page on the way is a login: :class:`LoginNeeded`."""
        for _hop in range(MAX_HOPS):
            response = self.http.get(url, auth=False, headers={"Accept": "text/html, application/json;q=0.9"})
            location = response.headers.get("Location")
            if response.status_code not in (301, 302, 303, 307, 308) or not location:
                if response.status_code == 200 and "html" in response.headers.get("Content-Type", "").lower():
                    raise LoginNeeded(
                        f"the authorization server answered a page (HTTP 200, {response.headers.get('Content-Type')}), "
                        "presumably a login: give --input login-command=… (a script that logs the test user in and "
                        "prints the URL the browser is sent back to); see the README's SMART section")
                return None, response.status_code
            location = urljoin(url, location)
            if same_endpoint(location, redirect_uri) or urlsplit(location).scheme.lower() not in ("http", "https"):
                return location, response.status_code
            url = location
        raise SmartError(f"more than {MAX_HOPS} redirects on the authorization server, none to the redirect URI")

    def _run_login(self, url: str) -> str | None:
        """Run the login command with the authorization URL; the last line it prints is where the
        browser was sent back to (nothing printed: the server sent the user nowhere)."""
        assert self.login_command is not None
        command = [*shlex.split(self.login_command), url]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=self.login_timeout, check=False)
        except (OSError, ValueError) as exc:
            raise SmartError(f"the login command {self.login_command!r} could not be run: {exc}") from None
        except subprocess.TimeoutExpired:
            raise SmartError(f"the login command did not finish within {self.login_timeout:.0f} s") from None
        if done.returncode != 0:
            raise SmartError(f"the login command exited with {done.returncode}: {done.stderr.strip()[-300:]}")
        lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
        return lines[-1] if lines else None

    # -- the token endpoint -------------------------------------------------------------------
    def exchange(self, code: str, *, verifier: str | None, redirect_uri: str | None = None,
                 **extra: str | None) -> requests.Response:
        """POST the authorization code to the token endpoint (with ``code_verifier`` unless None)."""
        endpoint = self.configuration.token_endpoint
        if endpoint is None:
            raise SmartError("the discovery document has no token_endpoint")
        form: dict[str, str | None] = {"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": redirect_uri or self.redirect_uri,
                                       "code_verifier": verifier, "client_id": self.client_id}
        form.update(extra)
        headers = {"Accept": "application/json"}
        if self.client_secret:
            basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {basic}"
        return self.http.post(endpoint, data={k: v for k, v in form.items() if v is not None}, headers=headers,
                              auth=False)


def token_body(response: requests.Response) -> dict[str, Any] | None:
    """The token response as a JSON object, or None."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


# -- scopes -------------------------------------------------------------------------------------
V2_ORDER = "cruds"


@dataclass(frozen=True, slots=True)
class ScopeGrant:
    """One resource scope: ``patient/Observation.rs`` (v2) or ``patient/Observation.read`` (v1)."""

    context: str
    """``patient``, ``user`` or ``system``."""
    resource_type: str
    """A type or ``*``."""
    actions: frozenset[str]
    """Letters of ``cruds``."""
    syntax: str
    """``v1`` or ``v2``."""
    query: str = ""


def parse_scope(scope: str) -> ScopeGrant | None:
    """A SMART resource scope, or None for anything else (``launch/patient``, ``openid``, …)."""
    context, slash, rest = scope.partition("/")
    if not slash or context not in ("patient", "user", "system"):
        return None
    resource_type, dot, permission = rest.partition(".")
    if not dot or not resource_type or not (resource_type == "*" or resource_type.isalnum()):
        return None
    permission, _, query = permission.partition("?")
    if permission in ("read", "write", "*"):
        actions = {"read": "rs", "write": "cud", "*": "cruds"}[permission]
        return None if query else ScopeGrant(context, resource_type, frozenset(actions), "v1")
    if permission and all(letter in V2_ORDER for letter in permission) and \
            list(permission) == sorted(set(permission), key=V2_ORDER.index):
        return ScopeGrant(context, resource_type, frozenset(permission), "v2", query)
    return None


def covers(granted: str, wanted: str) -> bool:
    """Does the granted scope string give at least what the scope ``wanted`` asks (same context,
    the type or ``*``, every action, and no narrowing query)?"""
    want = parse_scope(wanted)
    if want is None:
        return wanted in granted.split()
    for item in granted.split():
        have = parse_scope(item)
        if have is not None and have.context == want.context and have.resource_type in ("*", want.resource_type) \
                and want.actions <= have.actions and not have.query:
            return True
    return False
