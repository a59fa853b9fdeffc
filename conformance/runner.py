"""Running a live suite against a target: select, run, clean up, and report like ``validate``.

:func:`run_suite` is the library call under ``samsvar run``. Before the first test the target
is probed; a target that does not answer is an :class:`~samsvar.validators.issues.EnvironmentProblem`
(exit code 3). Each test gets a :class:`~samsvar.conformance.suite.TestContext`; its outcome, its
issues and the exchanges it caused become a :class:`TestResult`, a
:class:`~samsvar.validators.runner.Result` whose path is the test id, so every renderer and the
judge read a live run as they read a file run. The suite's cleanup runs at the end whatever
happened before.
"""

from __future__ import annotations

import json
import random
import re
import time
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ..validators.detect import Kind
from ..validators.issues import EnvironmentProblem, Issue
from ..validators.runner import Result
from .auth import TokenError, token_source
from .catalogue import load_catalogue
from .evidence import ClientSettings, EvidenceClient, Exchange, TargetUnreachable, local_folder
from .judge import judge
from .report import NothingToCheck, Report
from .suite import BROKEN, SKIPPED, UNANSWERED, LiveTest, ResponseValidator, RunState, Skip, Stop, Suite, TestContext
from .testdata import RunTag

ENTRY_POINT_GROUP = "samsvar.suites"
BUILT_IN = ("fhir_api", "messaging", "security", "smart")
"""Modules of samsvar.conformance.suites, each with a SUITE."""


class SuiteError(Exception):
    """A usage problem: unknown suite, bad -k expression, bad preset or input (exit code 2)."""


# -- discovery ------------------------------------------------------------------------------
def discover() -> dict[str, Suite]:
    """The suites samsvar ships (``samsvar.conformance.suites``) and those of installed packages.

    A third party declares ``[project.entry-points."samsvar.suites"] my-suite = "pkg.module:SUITE"``.
    """
    import importlib

    suites: dict[str, Suite] = {}
    for name in BUILT_IN:
        module = importlib.import_module(f"{__package__}.suites.{name}")
        suite = getattr(module, "SUITE")
        suites[suite.id] = suite
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            suite = entry.load()
        except Exception as exc:  # a broken third-party suite must not break the built-in ones
            raise SuiteError(f"the suite entry point {entry.name!r} ({entry.value}) could not be loaded: {exc}") from None
        if not isinstance(suite, Suite):
            raise SuiteError(f"the suite entry point {entry.name!r} ({entry.value}) is not a samsvar Suite")
        suites.setdefault(suite.id, suite)
    return suites


# -- selection ------------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")


def keyword_filter(expression: str | None) -> Callable[[LiveTest], bool]:
    """pytest's ``-k``: words matched case-insensitively in a test's id, title or group, with
    ``and``, ``or``, ``not`` and parentheses."""
    if not expression or not expression.strip():
        return lambda test: True
    tokens = _TOKEN.findall(expression)
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise SuiteError(f"-k {expression!r}: the expression ends too early")
        position += 1
        return tokens[position - 1]

    def parse_or() -> Callable[[str], bool]:
        left = parse_and()
        while peek() == "or":
            take()
            right, first = parse_and(), left
            left = lambda text, a=first, b=right: a(text) or b(text)  # noqa: E731
        return left

    def parse_and() -> Callable[[str], bool]:
        left = parse_not()
        while peek() == "and":
            take()
            right, first = parse_not(), left
            left = lambda text, a=first, b=right: a(text) and b(text)  # noqa: E731
        return left

    def parse_not() -> Callable[[str], bool]:
        if peek() == "not":
            take()
            inner = parse_not()
            return lambda text: not inner(text)
        token = take()
        if token == "(":
            inner = parse_or()
            if take() != ")":
                raise SuiteError(f"-k {expression!r}: a '(' is not closed")
            return inner
        if token in (")", "and", "or"):
            raise SuiteError(f"-k {expression!r}: unexpected {token!r}")
        word = token.lower()
        return lambda text: word in text

    matcher = parse_or()
    if position != len(tokens):
        raise SuiteError(f"-k {expression!r}: unexpected {tokens[position]!r}")
    return lambda test: matcher(f"{test.id} {test.title} {test.group}".lower())


# -- inputs ---------------------------------------------------------------------------------
def load_preset(path: Path) -> dict[str, Any]:
    """A preset: TOML or JSON with ``target`` and an ``inputs`` table (or the inputs at the top)."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SuiteError(f"the preset {path} cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise SuiteError(f"the preset {path} is not a table/object")
    inputs = data.get("inputs", {k: v for k, v in data.items() if k not in ("target", "suite")})
    if not isinstance(inputs, dict):
        raise SuiteError(f"the preset {path}: 'inputs' is not a table/object")
    return {"target": data.get("target"), "inputs": {str(k): str(v) for k, v in inputs.items()}}


def parse_inputs(pairs: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise SuiteError(f"--input {pair!r}: expected NAME=VALUE")
        out[name.strip()] = value
    return out


def resolve_inputs(suite: Suite, given: Mapping[str, str]) -> dict[str, str]:
    """The suite's defaults overlaid with what was given; unknown names are a usage error."""
    unknown = sorted(set(given) - {i.name for i in suite.inputs})
    if unknown:
        known = ", ".join(i.name for i in suite.inputs) or "none"
        raise SuiteError(f"suite {suite.id!r} has no input {', '.join(map(repr, unknown))} (its inputs: {known})")
    values = {i.name: i.default for i in suite.inputs if i.default is not None}
    values.update(given)
    return values


# -- results --------------------------------------------------------------------------------
@dataclass(slots=True)
class TestResult(Result):
    """The outcome of one live test: a :class:`Result` whose ``path`` is the test id."""

    title: str = ""
    group: str = ""
    status: str = "pass"
    verifies: tuple[str, ...] = ()
    exchanges: list[Exchange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duration_ms: float = 0.0

    __test__ = False

    @property
    def test_id(self) -> str:
        return self.path

    def as_dict(self) -> dict[str, Any]:
        out = Result.as_dict(self)
        out.update({
            "test": {"id": self.path, "title": self.title, "group": self.group, "status": self.status,
                     "verifies": list(self.verifies), "duration_ms": round(self.duration_ms, 1)},
            "evidence": {"notes": list(self.notes), "exchanges": [e.as_dict() for e in self.exchanges]},
        })
        return out


@dataclass(frozen=True, slots=True)
class RunRequest:
    suite: str
    target: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    keyword: str | None = None
    settings: ClientSettings = ClientSettings()
    seed: int | None = None
    validate: bool = True
    """Validate response bodies with the offline engine (needs the core package)."""
    cache_root: Path | None = None
    allow_empty: bool = False
    """A ``-k`` that selects no test gives an empty report instead of :class:`NothingToCheck`."""


Progress = Callable[[LiveTest, "TestResult | None"], None]
"""Called before a test (result None) and after it (with its result)."""


def run_suite(request: RunRequest, *, suites: Mapping[str, Suite] | None = None,
              progress: Progress | None = None, token: Callable[[], str | None] | None = None) -> Report:
    """Run the suite ``request.suite`` against ``request.target`` and report it like ``validate``."""
    suites = suites if suites is not None else discover()
    if request.suite not in suites:
        raise SuiteError(f"no suite {request.suite!r}; known: {', '.join(sorted(suites)) or 'none'}")
    suite = suites[request.suite]
    selected = keyword_filter(request.keyword)
    tests = [test for test in suite.tests() if selected(test)]
    if not tests:
        message = (f"nothing to check: -k {request.keyword!r} selects no test of suite {suite.id!r} "
                   f"(matched against the ids, titles and groups of its {len(suite.tests())} tests; "
                   f"see `samsvar suites list --tests`)")
        if not request.allow_empty:
            raise NothingToCheck(message + "; pass --allow-empty to accept a run of no test")
        report = Report(results=[], notices=[message])
        report.reproducibility.options = {"suite": suite.id, "target": request.target, "tests": [],
                                          "keyword": request.keyword}
        return report
    inputs = resolve_inputs(suite, request.inputs)
    _probe(suite, request)

    client = EvidenceClient(request.target, request.settings, token=token)
    if token is None:
        try:
            client.token = token_source(inputs, client)
        except TokenError as exc:
            raise SuiteError(str(exc)) from None
    state = RunState(target=request.target, inputs=inputs, http=client, tag=RunTag.new(),
                     rng=random.Random(request.seed), validate=_response_validator(request) if request.validate else None)
    results: list[Result] = []
    try:
        for test in tests:
            if progress:
                progress(test, None)
            result = run_test(test, state)
            results.append(result)
            if progress:
                progress(test, result)
    finally:
        cleanup = _cleanup(suite, state)
        client.close()
    report = Report(results=results, notices=_notices(suite, tests, state, cleanup))
    report.reproducibility.options = {
        "suite": suite.id, "target": request.target, "tests": [t.id for t in tests], "keyword": request.keyword,
        "inputs": {k: ("[secret]" if (suite.input(k) and suite.input(k).secret) else v) for k, v in inputs.items()},
        "tag": state.tag.code, "seed": request.seed, "timeout": request.settings.timeout,
        "tls_verify": request.settings.verify is not False,
    }
    return report


def run_test(test: LiveTest, state: RunState) -> TestResult:
    """Run one test; its exchanges, notes and issues become its result."""
    context = TestContext(state, test)
    mark = state.http.mark()
    status = "pass"
    started = time.perf_counter()
    try:
        for name in test.needs:
            context.input(name)
        test.function(context)
    except Skip as skip:
        status = "skip"
        context.issues.append(SKIPPED.issue(f"{test.id} skipped: {skip}", source=test.id))
    except Stop:
        status = "fail"
    except TargetUnreachable as exc:
        status = "error"
        context.issues.append(UNANSWERED.issue(f"{test.id}: no answer from {exc.url}: {exc.reason}",
                                               expression=exc.url, source=test.id))
    except Exception as exc:  # a test must never take the run down; the evidence shows what it met
        status = "error"
        context.issues.append(BROKEN.issue(f"{test.id} broke: {type(exc).__name__}: {exc}", source=test.id))
    if status == "pass" and any(issue.severity.code in ("error", "fatal") for issue in context.issues):
        status = "fail"
    return TestResult(
        path=test.id, kind=Kind("live", test.id.split("/", 1)[0]), format=None, issues=context.issues,
        title=test.title, group=test.group, status=status, verifies=test.verifies,
        exchanges=state.http.since(mark), notes=context.notes,
        duration_ms=(time.perf_counter() - started) * 1000)


def _probe(suite: Suite, request: RunRequest) -> None:
    if suite.probe is None:
        return
    try:
        folder = local_folder(request.target)
    except ValueError as exc:
        raise EnvironmentProblem(str(exc)) from None
    if folder is not None:  # a file-drop folder (messaging): it must be there; nothing to ask over HTTP
        if not folder.is_dir():
            raise EnvironmentProblem(f"the target {request.target} is not a folder on this machine ({folder})")
        return
    client = EvidenceClient(request.target, ClientSettings(timeout=min(request.settings.timeout, 10.0),
                                                           verify=request.settings.verify, retries=1))
    try:
        client.request("GET", suite.probe or request.target, auth=False,
                       headers={"Accept": "application/fhir+json, application/json;q=0.9, */*;q=0.5"})
    except TargetUnreachable as exc:
        raise EnvironmentProblem(f"the target {request.target} cannot be reached: {exc.reason}") from None
    finally:
        client.close()


def _cleanup(suite: Suite, state: RunState) -> list[str]:
    """Run the suite's cleanup; what it could not remove is said in the report's notices."""
    if suite.cleanup is None:
        return []
    test = LiveTest(f"{suite.id}/cleanup", "Clean-up of the run's test data", (), suite.cleanup, "cleanup")
    result = run_test(test, state)
    state.shared["cleanup"] = result
    if result.status == "pass":
        return [f"Clean-up: {note}" for note in result.notes] or ["Clean-up: nothing to remove."]
    problems = "; ".join(issue.message for issue in result.issues) or result.status
    return [f"Clean-up did not finish ({problems}). Resources tagged {state.tag.search} may remain on the target."]


def _notices(suite: Suite, tests: list[LiveTest], state: RunState, cleanup: list[str]) -> list[str]:
    notices = [f"Live run of suite {suite.id} ({suite.title}) against {state.target}: {len(tests)} "
               f"test{'s' if len(tests) != 1 else ''}; test data is synthetic and tagged {state.tag.search}."]
    if state.validate is None:
        notices.append("Response bodies were not validated with the offline engine (--no-validate).")
    return notices + cleanup


def _response_validator(request: RunRequest) -> ResponseValidator:
    """Validate a body with the offline engine, loaded once for the run."""
    from ..validators.load import Limits
    from ..validators.runner import Options, Validator

    validator = Validator(Options(limits=Limits(), cache_root=request.cache_root))

    def validate(body: bytes, name: str) -> list[Issue]:
        return validator.validate_bytes(name, body).issues

    return validate


# -- verdicts -------------------------------------------------------------------------------
def run_verdicts(report: Report, lang: str = "nb") -> list[dict[str, Any]]:
    """The verdicts of the requirements this run's tests verify (the others are not this run's business)."""
    verifies = {r for result in report.results if isinstance(result, TestResult) for r in result.verifies}
    return [v for v in judge(load_catalogue(), report, run="run", lang=lang) if v["id"] in verifies]


def not_judged(report: Report, verdicts: Iterable[Mapping[str, Any]]) -> list[str]:
    """What a strict run (``samsvar run --strict``) refuses to pass on: every test that was skipped
    or broke, and every requirement the run's tests verify that got no verdict (not tested, for
    lack of evidence). A gate never passes on what it did not check."""
    gaps = [f"test {result.path}: {result.status}" for result in report.results
            if isinstance(result, TestResult) and result.status in ("skip", "error")]
    gaps += [f"requirement {v['id']}: {v['verdict']}" for v in verdicts if v["verdict"] not in ("pass", "fail")]
    return gaps

