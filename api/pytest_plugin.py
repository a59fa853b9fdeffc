"""samsvar's pytest plugin (registered through the ``pytest11`` entry point, so installing samsvar
is enough).

- ``samsvar``: a session-scoped fixture, the loaded :class:`samsvar.Validator` with the options
  of ``[tool.samsvar]`` in the project's ``pyproject.toml`` (or ``samsvar.toml``) found from
  pytest's root folder, or of ``--samsvar-config FILE``.
  ``samsvar.assert_conforms(resource, profile=..., fail_on="error")`` fails the test with one
  line per issue.
- ``@pytest.mark.samsvar_validate(profile=None, fail_on="error")``: the resources the test
  returns (one, or a list or tuple of them) are validated; the test fails when one does not conform.
- ``--samsvar-report FILE``: everything validated during the session, as an HTML (``.html``),
  JUnit (``.xml``), JSON (``.json``), SARIF (``.sarif``) or text (``.txt``) report.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .core import ValidationResult, Validator

MARKER = "samsvar_validate"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("samsvar", "samsvar conformance checks")
    group.addoption("--samsvar-report", metavar="FILE", default=None,
                    help="Write a report of every resource samsvar validated in the session: .html, .xml (JUnit), "
                         ".json, .sarif or .txt.")
    group.addoption("--samsvar-config", metavar="FILE", default=None,
                    help="samsvar configuration [default: [tool.samsvar] of pyproject.toml or samsvar.toml, "
                         "found upwards from the root folder].")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(profile=None, fail_on='error'): validate the resources the test returns with samsvar")
    report = config.getoption("--samsvar-report")
    if report:
        from .core import format_for

        try:
            format_for(Path(report))
        except ValueError as exc:
            raise pytest.UsageError(f"--samsvar-report: {exc}") from None
    config.stash[_STATE] = _Session(config)


class _Session:
    """The validator of a test session and what it validated, by test."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.validator_: Validator | None = None
        self.results: list[tuple[str | None, ValidationResult]] = []
        self.current: str | None = None
        self.lock = threading.Lock()

    def validator(self) -> "Validator":
        with self.lock:
            if self.validator_ is None:
                self.validator_ = self._build()
            return self.validator_

    def _build(self) -> "Validator":
        from ..validators.policy import ConfigError, find_config
        from .core import Validator

        given = self.config.getoption("--samsvar-config")
        path = Path(given) if given else find_config(Path(self.config.rootpath))
        try:
            validator = Validator(config=path) if path is not None else Validator()
        except ConfigError as exc:
            raise pytest.UsageError(f"samsvar: {exc}") from None
        validator.add_listener(self.record)
        return validator

    def record(self, result: "ValidationResult") -> None:
        with self.lock:
            self.results.append((self.current, result))

    def write_report(self) -> Path | None:
        target = self.config.getoption("--samsvar-report")
        if not target or self.validator_ is None:
            return None
        return self.validator_.write_report([_named(test, result) for test, result in self.results], target)


def _named(test: str | None, result: "ValidationResult") -> "ValidationResult":
    """The result named after the test that validated it (``tests/test_x.py::test_a: Patient/p1``)."""
    from dataclasses import replace

    from .core import ValidationResult

    if test is None or result.name.startswith(test):
        return result
    return ValidationResult(replace(result.raw, path=f"{test}: {result.name}"), result.validator, result.fail_on)


_STATE = pytest.StashKey[_Session]()


@pytest.fixture(scope="session")
def samsvar(pytestconfig: pytest.Config) -> "Validator":
    """The session's samsvar validator (options from ``[tool.samsvar]``), loaded once for every test."""
    return pytestconfig.stash[_STATE].validator()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    state = item.config.stash[_STATE]
    state.current = item.nodeid
    try:
        return (yield)
    finally:
        state.current = None


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run a ``samsvar_validate`` test ourselves, to validate what it returns."""
    marker = pyfuncitem.get_closest_marker(MARKER)
    if marker is None:
        return None
    __tracebackhide__ = True
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    returned = pyfuncitem.obj(**arguments)
    profile = marker.kwargs.get("profile", marker.args[0] if marker.args else None)
    fail_on = marker.kwargs.get("fail_on", "error")
    resources = list(returned) if isinstance(returned, (list, tuple)) else [returned]
    if returned is None or not resources:
        pytest.fail(f"{pyfuncitem.nodeid} is marked {MARKER} but returned no resource to validate", pytrace=False)
    validator = pyfuncitem.config.stash[_STATE].validator()
    failures = []
    for n, resource in enumerate(resources):
        name = f"{pyfuncitem.nodeid}[{n}]" if len(resources) > 1 else pyfuncitem.nodeid
        try:
            validator.assert_conforms(resource, profile, fail_on=fail_on, name=name)
        except AssertionError as exc:
            failures.append(str(exc))
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)
    return True


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is None:
        return
    written = state.write_report()
    if written is not None:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"samsvar: report of {len(state.results)} validated artifact(s) written to {written}")
