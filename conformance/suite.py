"""Live suites as readable declarations.

A :class:`Suite` has inputs and groups; a :class:`Group` has tests; a test is a function that
gets a :class:`TestContext` and makes assertions on what the target answers::

    suite = Suite("fhir-api", "FHIR REST API", inputs=[SuiteInput("patient-identifier-system", ...)])
    crud = suite.group("crud", "Create, read, update, delete")

    @crud.test("create", "Create answers 201 with Location and ETag", verifies=["R-STD-012"])
    def create(t: TestContext) -> None:
        response = t.http.post("Patient", json_body=t.tagged(patient))
        t.require_status(response, 201)
        t.check("Location" in response.headers, "201 Created without a Location header")

A test's id is ``SUITE/NAME`` (``fhir-api/create``): the id the requirements catalogue names in
its test verifications. ``t.check`` records a failed assertion and goes on; ``t.require`` and
``t.require_status`` stop the test; ``t.skip`` ends it as skipped with a reason. Every answer's
body a test wants judged by the offline engine goes through ``t.validate_body``. Suites are found in
``samsvar.conformance.suites`` and in the ``samsvar.suites`` entry-point group, so a third party
can ship one in its own package.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping

import requests

from ..validators.issues import Issue
from ..validators.rules import declared
from .evidence import EvidenceClient, Exchange
from .testdata import RunTag

ASSERTION = declared("LIVE-001")
UNANSWERED = declared("LIVE-002")
SKIPPED = declared("LIVE-003")
BROKEN = declared("LIVE-004")

STATUSES = ("pass", "fail", "skip", "error")


class Stop(Exception):
    """Ends a test early (a failed requirement of the test itself)."""


class Skip(Exception):
    """Ends a test as skipped, with the reason as message."""


@dataclass(frozen=True, slots=True)
class SuiteInput:
    """A value a suite needs from the user (``--input NAME=VALUE`` or a preset file)."""

    name: str
    description: str
    default: str | None = None
    secret: bool = False
    """Kept out of reports (a password, a key path is not a secret)."""


TestFunction = Callable[["TestContext"], None]


@dataclass(slots=True)
class LiveTest:
    """One test: ``id`` (``suite/name``), a title, the requirements it verifies and its body."""

    id: str
    title: str
    verifies: tuple[str, ...]
    function: TestFunction
    group: str
    description: str = ""
    needs: tuple[str, ...] = ()
    """Inputs without which the test is skipped."""

    __test__ = False  # not a pytest test class


@dataclass(slots=True)
class Group:
    id: str
    title: str
    suite_id: str
    tests: list[LiveTest] = field(default_factory=list)

    def test(self, name: str, title: str, *, verifies: Iterable[str] = (), needs: Iterable[str] = (),
             description: str | None = None) -> Callable[[TestFunction], TestFunction]:
        """Declare the decorated function as the test ``SUITE/name``."""
        def declare(function: TestFunction) -> TestFunction:
            doc = description if description is not None else (function.__doc__ or "")
            self.tests.append(LiveTest(f"{self.suite_id}/{name}", title, tuple(verifies), function, self.id,
                                       " ".join(doc.split()), tuple(needs)))
            return function
        return declare


@dataclass(slots=True)
class Suite:
    id: str
    title: str
    description: str = ""
    inputs: tuple[SuiteInput, ...] = ()
    groups: list[Group] = field(default_factory=list)
    cleanup: Callable[["TestContext"], None] | None = None
    """Called once at the end of a run (also when tests failed) to remove what the run created."""
    probe: str | None = ""
    """Path under the target fetched before the first test to tell that it answers (None: no probe)."""

    def group(self, id: str, title: str) -> Group:
        group = Group(id, title, self.id)
        self.groups.append(group)
        return group

    def tests(self) -> list[LiveTest]:
        return [test for group in self.groups for test in group.tests]

    def input(self, name: str) -> SuiteInput | None:
        return next((i for i in self.inputs if i.name == name), None)


ResponseValidator = Callable[[bytes, str], list[Issue]]
"""Validates a response body (bytes, a name for locations) with the offline engine."""


@dataclass(slots=True)
class RunState:
    """What lives for the whole run: the target, the inputs, the client, the tag, shared values."""

    target: str
    inputs: Mapping[str, str]
    http: EvidenceClient
    tag: RunTag
    rng: random.Random
    validate: ResponseValidator | None = None
    shared: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class TestContext:
    """What a test sees: its run, its own issues and notes, and the assertion helpers."""

    run: RunState
    test: LiveTest
    issues: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    __test__ = False

    # -- what the run provides ----------------------------------------------------------------
    @property
    def http(self) -> EvidenceClient:
        return self.run.http

    @property
    def target(self) -> str:
        return self.run.target

    @property
    def shared(self) -> dict[str, Any]:
        return self.run.shared

    @property
    def rng(self) -> random.Random:
        return self.run.rng

    def input(self, name: str) -> str:
        """The input's value; a missing input skips the test and says how to give it."""
        value = self.run.inputs.get(name)
        if value in (None, ""):
            raise Skip(f"no input {name!r}: give it with --input {name}=VALUE or in a --preset file")
        return str(value)

    def optional(self, name: str) -> str | None:
        value = self.run.inputs.get(name)
        return None if value in (None, "") else str(value)

    def tagged(self, resource: dict[str, Any]) -> dict[str, Any]:
        """``resource`` with the run's tag in ``meta.tag`` (cleanup finds it by the tag)."""
        return self.run.tag.apply(resource)

    def note(self, text: str) -> None:
        """A line of evidence that is not an exchange (what was compared, what was found)."""
        self.notes.append(text)

    # -- assertions ---------------------------------------------------------------------------
    def check(self, condition: bool, message: str, *, exchange: Exchange | None = None) -> bool:
        """Record ``message`` as a failed assertion unless ``condition``; the test goes on."""
        if not condition:
            self.fail(message, exchange=exchange, stop=False)
        return condition

    def require(self, condition: bool, message: str, *, exchange: Exchange | None = None) -> None:
        """As :meth:`check`, but a failure ends the test."""
        if not condition:
            self.fail(message, exchange=exchange, stop=True)

    def fail(self, message: str, *, exchange: Exchange | None = None, stop: bool = True) -> None:
        exchange = exchange or self.last_exchange()
        where = f"{exchange.method} {exchange.url}" if exchange is not None else None
        self.issues.append(ASSERTION.issue(message, expression=where, source=self.test.id))
        if stop:
            raise Stop(message)

    def skip(self, reason: str) -> None:
        raise Skip(reason)

    def last_exchange(self) -> Exchange | None:
        return self.run.http.exchanges[-1] if self.run.http.exchanges else None

    def check_status(self, response: requests.Response, *expected: int, what: str = "") -> bool:
        ok = response.status_code in expected
        if not ok:
            wanted = " or ".join(str(code) for code in expected)
            self.fail(f"{what + ': ' if what else ''}expected HTTP {wanted}, found {response.status_code}"
                      f"{_reason(response)}", stop=False)
        return ok

    def require_status(self, response: requests.Response, *expected: int, what: str = "") -> None:
        if not self.check_status(response, *expected, what=what):
            raise Stop(f"HTTP {response.status_code}")

    def json(self, response: requests.Response, *, what: str = "the body") -> dict[str, Any]:
        """The response body as a JSON object; anything else fails the test with what was found."""
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            found = response.headers.get("Content-Type", "no Content-Type")
            self.fail(f"{what} of HTTP {response.status_code} is not JSON ({found})")
            raise AssertionError("unreachable")  # pragma: no cover - fail() raised
        if not isinstance(body, dict):
            self.fail(f"{what} is a JSON {type(body).__name__}, not an object")
        return body

    def validate_body(self, body: bytes, name: str) -> list[Issue]:
        """The offline engine's findings on an answer's ``body``, each saying which answer
        (``name``) and carrying this test as source; the test adds those that count to
        :attr:`issues`. Nothing when the run does not validate (``--no-validate``)."""
        if self.run.validate is None:
            return []
        return [replace(issue, message=f"In the answer to {name}: {issue.message}", source=self.test.id)
                for issue in self.run.validate(body, name)]


def _reason(response: requests.Response) -> str:
    """`` (OperationOutcome: first diagnostics)`` for an error answer, when there is one."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        for issue in body.get("issue") or []:
            if isinstance(issue, dict):
                text = issue.get("diagnostics") or (issue.get("details") or {}).get("text")
                if text:
                    return f" (OperationOutcome: {str(text)[:200]})"
    return ""
