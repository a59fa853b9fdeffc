"""The Python API: a validator loaded once and reused, results with the CLI's report writers.

The command line's ``samsvar validate`` and this API build their options and read their
configuration with the same code (:func:`samsvar.conformance.session.prepare`), so a file gives
the same findings through both.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..conformance.session import ValidateRequest, build_report, prepare
from ..validators.issues import Issue, Severity
from ..validators.runner import Input, Result, Validator as Engine, resolve_jobs
from .inputs import Source, artifact

if TYPE_CHECKING:
    from ..conformance.report import Report

SeverityName = Literal["fatal", "error", "warning", "information"]
ConfigChoice = bool | str | Path | None


@dataclass(frozen=True, slots=True)
class Finding:
    """One issue of a result, as a library user reads it (maps one-to-one to ``OperationOutcome.issue``)."""

    code: str
    """The rule code, e.g. ``NO-ID-003``; ``samsvar rules explain CODE`` explains it."""
    severity: SeverityName
    message: str
    expression: str | None
    """FHIRPath (FHIR) or XPath (messages) of the element the issue is about."""
    line: int | None
    column: int | None
    waived: bool = False

    @property
    def level(self) -> Severity:
        return Severity.parse(self.severity)

    def __str__(self) -> str:
        where = self.expression or ""
        if self.line is not None:
            where = f"{where} ({self.line}:{self.column or 1})" if where else f"{self.line}:{self.column or 1}"
        return f"{where or '(document)'}: {self.severity} {self.code} {self.message}"

    @classmethod
    def of(cls, issue: Issue) -> "Finding":
        return cls(issue.rule, issue.severity.code, issue.message, issue.expression,  # type: ignore[arg-type]
                   issue.line, issue.column, issue.waived)


class ValidationResult:
    """The outcome for one artifact: :attr:`ok`, :attr:`issues`, and the CLI's report formats."""

    __slots__ = ("raw", "validator", "fail_on")

    def __init__(self, raw: Result, validator: "Validator", fail_on: Severity) -> None:
        self.raw = raw
        """The engine's result (``samsvar.validators.Result``), as the report writers read it."""
        self.validator = validator
        self.fail_on = fail_on

    @property
    def name(self) -> str:
        return self.raw.path

    @property
    def kind(self) -> str:
        """What was detected: ``fhir:Patient``, ``message:MsgHead/DIALOG_NOTAT``, ``unknown:unknown``."""
        return str(self.raw.kind)

    @property
    def issues(self) -> list[Finding]:
        return [Finding.of(issue) for issue in self.raw.issues]

    @property
    def codes(self) -> set[str]:
        """The rule codes raised (any severity)."""
        return {issue.rule for issue in self.raw.issues}

    def failures(self, fail_on: SeverityName | Severity | None = None) -> list[Finding]:
        """Unwaived issues at or above ``fail_on`` (default: the validator's fail level)."""
        level = _severity(fail_on) if fail_on is not None else self.fail_on
        return [Finding.of(i) for i in self.raw.issues if i.severity >= level and not i.waived]

    @property
    def ok(self) -> bool:
        """No unwaived issue at or above the fail level (``error`` unless configured otherwise)."""
        return not self.failures()

    def explain(self, fail_on: SeverityName | Severity | None = None) -> str:
        """The failing issues, one per line (``expression (line:col): severity CODE message``)."""
        return "\n".join(str(finding) for finding in self.failures(fail_on))

    def report(self) -> "Report":
        """This result as a report, the model every writer reads."""
        return self.validator.report([self])

    def render(self, fmt: str = "text", *, lang: str = "nb") -> str:
        """The report in a CLI format: text, json, operationoutcome, junit, sarif, html, testreport."""
        from ..conformance.reports import render

        return render(self.report(), fmt, lang=lang)

    def write(self, path: str | Path, fmt: str | None = None, *, lang: str = "nb") -> Path:
        """Write the report to ``path`` in ``fmt`` (default: by the file's suffix)."""
        return self.validator.write_report([self], path, fmt, lang=lang)

    def to_operation_outcome(self) -> dict[str, Any]:
        """A FHIR R4 OperationOutcome of this result, as ``samsvar validate -f operationoutcome`` writes it."""
        from ..conformance.reports.operationoutcome import operation_outcome

        return operation_outcome(self.report(), self.raw)

    def __repr__(self) -> str:
        return f"<ValidationResult {self.name} {self.kind} ok={self.ok} issues={len(self.raw.issues)}>"


class Validator:
    """A samsvar validator: FHIR packages, profiles and terminology loaded once, reused for every call.

    ::

        v = samsvar.Validator(igs=["hl7.fhir.no.basis#2.2.2"], profiles=["http://hl7.no/fhir/StructureDefinition/no-basis-Patient"])
        result = v.validate({"resourceType": "Patient", ...})
        assert result.ok, result.explain()

    Arguments mirror ``samsvar validate``'s options and the keys of ``[tool.samsvar]``:
    ``igs`` (package ``id#version`` from the cache, ``.tgz``, package folder, JSON files or
    folders), ``profiles`` (canonical URLs every FHIR input is validated against), ``terminology``
    (a ``[terminology]`` table as a dict, e.g. ``{"default": "trust-format"}``, or a
    ``TerminologyPolicy``), ``cache`` (the FHIR package cache), ``config`` (``None``: no
    configuration file; ``True``: the nearest ``samsvar.toml`` or ``pyproject.toml`` with
    ``[tool.samsvar]`` from the working folder, as the CLI does; or a path), ``fail_on``,
    ``select``/``ignore`` (rule codes or prefixes), ``production``, ``must_support``,
    ``example_urls``, ``contained``, ``hl7_paths`` (locations as HL7's validator writes them where
    it differs from the true location), ``security_checks``, ``html_in_markdown`` (``none``/``warning``/``error``),
    ``reference_policy`` (``ignore``/``exists``/``type``/``valid``) with ``reference_targets`` (files), ``max_size``, ``max_depth``,
    ``inputs_as_definitions`` (``validate_paths``: canonical resources among the inputs define for all of
    them, as in HL7's validator; default on). Explicit arguments win over the
    configuration file, as options do on the command line.

    Packages are loaded on the first FHIR input (or by :meth:`load`); a missing package or
    profile raises :class:`samsvar.validators.EnvironmentProblem` with a hint.

    **Thread safety**: a validator may be shared by threads that validate at the same time
    (reading): the definitions are loaded once under a lock, and the caches filled while
    validating are derived from them. Do not change a validator's settings while other threads use it
    (there are no setters; build another validator instead).
    """

    def __init__(self, *, igs: Sequence[str] = (), profiles: Sequence[str] = (), terminology: Any = None,
                 cache: str | Path | None = None, config: ConfigChoice = None,
                 fail_on: SeverityName | None = None, select: Sequence[str] = (), ignore: Sequence[str] = (),
                 production: bool | None = None, must_support: bool = False, example_urls: bool | None = None,
                 contained: bool | None = None, hl7_paths: bool | None = None,
                 security_checks: bool | None = None, html_in_markdown: str | None = None,
                 reference_policy: str | None = None, reference_targets: Sequence[str] = (), max_size: int | str | None = None, max_depth: int | None = None,
                 inputs_as_definitions: bool | None = None,
                 ) -> None:
        from ..validators.policy import parse_size

        use_config = config is not None and config is not False
        config_path = None if isinstance(config, bool) or config is None else Path(config)
        request = ValidateRequest(
            paths=(), fail_on=fail_on, config_path=config_path, use_config=use_config,
            select=tuple(select), ignore=tuple(ignore), igs=_strings(igs, "igs"), profiles=_strings(profiles, "profiles"),
            cache_root=Path(cache) if cache is not None else None, production=production,
            must_support=must_support, example_urls=example_urls, contained=contained, hl7_paths=hl7_paths,
            security_checks=security_checks, html_in_markdown=html_in_markdown, reference_policy=reference_policy,
            reference_targets=_strings(reference_targets, "reference_targets"),
            max_size=parse_size(max_size) if max_size is not None else None, max_depth=max_depth,
            terminology=_terminology(terminology), inputs_as_definitions=inputs_as_definitions,
        )
        self._request = request
        self._policy, self._fail_on, self._options = prepare(request)
        self._engine: Engine = Engine(self._options)
        self._by_profiles: dict[tuple[str, ...], Engine] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[ValidationResult], None]] = []

    # -- settings ------------------------------------------------------------------------
    @property
    def fail_on(self) -> Severity:
        return self._fail_on

    @property
    def options(self) -> Any:
        """The engine's options in force (``samsvar.validators.Options``), configuration included."""
        return self._options

    @property
    def engine(self) -> Engine:
        """The engine under this validator (``samsvar.validators.Validator``)."""
        return self._engine

    def load(self) -> "Validator":
        """Load the FHIR packages and check the profiles now, instead of on the first FHIR input."""
        self._engine.definitions()
        return self

    def add_listener(self, listener: Callable[[ValidationResult], None]) -> None:
        """Call ``listener`` with every result this validator produces (the pytest plugin's session report)."""
        with self._lock:
            self._listeners.append(listener)

    # -- validation ----------------------------------------------------------------------
    def validate(self, source: Source, profile: str | Sequence[str] | None = None, *, name: str | None = None,
                 today: dt.date | None = None) -> ValidationResult:
        """Validate one artifact: a dict, JSON or XML text, bytes, a path, an lxml element, a Pydantic
        model (fhir.resources) or a binary file object; FHIR resources and Bundles (JSON, XML) and
        Norwegian XML messages alike.

        ``profile`` (one canonical URL or several) replaces the validator's profiles for this
        call. ``name`` names the artifact in reports (default: the path, or ``Type/id``).
        """
        item = artifact(source, name)
        engine = self._engine_for(profile)
        if item.path is not None:
            raw = engine.validate_input(Input(item.name, item.path))
        else:
            assert item.data is not None
            raw = engine.validate_bytes(item.name, item.data, fmt=item.fmt)
        return self._finish(raw, today)

    def validate_paths(self, paths: Iterable[str | Path], *, jobs: int | str | None = 1,
                       profile: str | Sequence[str] | None = None) -> Iterator[ValidationResult]:
        """Files and folders (recursively: ``*.json``, ``*.xml``, ``*.ndjson``, one result per NDJSON line),
        in input order; ``jobs`` processes (``None`` or ``"auto"``: every core)."""
        engine = self._engine_for(profile)
        for raw in engine.validate_paths([str(p) for p in paths], jobs=resolve_jobs(jobs)):
            yield self._finish(raw, None)

    def assert_conforms(self, source: Source, profile: str | Sequence[str] | None = None, *,
                        fail_on: SeverityName | Severity | None = "error", name: str | None = None) -> ValidationResult:
        """Validate and raise ``AssertionError`` listing the issues at or above ``fail_on``, one per line
        (``expression (line:column): severity CODE message``); returns the result when it conforms."""
        __tracebackhide__ = True  # pytest shows the caller's line
        result = self.validate(source, profile, name=name)
        failures = result.failures(fail_on)
        if failures:
            level = _severity(fail_on) if fail_on is not None else self.fail_on
            against = f" to {_profiles_text(profile)}" if profile else ""
            lines = [f"{result.name} ({result.kind}) does not conform{against}: "
                     f"{len(failures)} issue{'s' if len(failures) != 1 else ''} at or above {level.code}"]
            lines += [f"  {finding}" for finding in failures]
            raise AssertionError("\n".join(lines))
        return result

    # -- reports -------------------------------------------------------------------------
    def report(self, results: Iterable[ValidationResult]) -> "Report":
        """The report of several results (the model every writer of ``samsvar.conformance.reports`` reads)."""
        raws = [r.raw for r in results]
        families = {raw.kind.family for raw in raws}
        return build_report(self._request, self._policy, self._fail_on, self._options, self._engine, raws,
                            families, 0)

    def write_report(self, results: Iterable[ValidationResult], path: str | Path, fmt: str | None = None, *,
                     lang: str = "nb") -> Path:
        """Write a report of ``results`` to ``path``; ``fmt`` defaults by suffix (``.html``, ``.xml`` = JUnit,
        ``.json``, ``.sarif``, ``.txt``). The HTML report and TestReport include the requirement verdicts."""
        from ..conformance.reports import render

        target = Path(path)
        fmt = fmt or format_for(target)
        report = self.report(results)
        if fmt in ("html", "testreport"):
            from ..conformance.catalogue import load_catalogue
            from ..conformance.judge import judge

            report.verdicts = judge(load_catalogue(), report, lang=lang)
        target.write_text(render(report, fmt, lang=lang), encoding="utf-8")
        return target

    # -- internals -----------------------------------------------------------------------
    def _engine_for(self, profile: str | Sequence[str] | None) -> Engine:
        if profile is None:
            return self._engine
        profiles = (profile,) if isinstance(profile, str) else tuple(profile)
        engine = self._by_profiles.get(profiles)
        if engine is None:
            with self._lock:
                engine = self._by_profiles.get(profiles)
                if engine is None:
                    engine = self._by_profiles[profiles] = self._engine.with_profiles(profiles)
        return engine

    def _finish(self, raw: Result, today: dt.date | None) -> ValidationResult:
        raw.issues = self._policy.apply(raw.path, raw.issues, today)
        result = ValidationResult(raw, self, self.fail_on)
        for listener in list(self._listeners):
            listener(result)
        return result


_SUFFIXES = {".html": "html", ".htm": "html", ".xml": "junit", ".json": "json", ".sarif": "sarif", ".txt": "text"}


def format_for(path: Path) -> str:
    """The report format a file's suffix asks for (``.html``, ``.xml`` JUnit, ``.json``, ``.sarif``, ``.txt``)."""
    try:
        return _SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise ValueError(f"cannot tell the report format of {path.name}: use .html, .xml (JUnit), .json, .sarif "
                         "or .txt, or give the format") from None


_DEFAULTS: dict[str, Validator] = {}
_DEFAULTS_LOCK = threading.Lock()


def validate(source: Source, profile: str | Sequence[str] | None = None, **options: Any) -> ValidationResult:
    """One call: validate ``source`` with a validator for ``options`` (the arguments of :class:`Validator`).

    The validator is kept and reused by later calls with the same options, so a loop over
    ``samsvar.validate(...)`` loads the packages once.
    """
    key = repr(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()))
    validator = _DEFAULTS.get(key)
    if validator is None:
        with _DEFAULTS_LOCK:
            validator = _DEFAULTS.get(key) or _DEFAULTS.setdefault(key, Validator(**options))
    return validator.validate(source, profile)


def _severity(value: SeverityName | Severity | str) -> Severity:
    return value if isinstance(value, Severity) else Severity.parse(value)


def _strings(value: Sequence[str] | str, what: str) -> tuple[str, ...]:
    if isinstance(value, (str, Path)):
        return (str(value),)
    return tuple(str(v) for v in value)


def _profiles_text(profile: str | Sequence[str]) -> str:
    return profile if isinstance(profile, str) else " or ".join(profile)


def _terminology(value: Any) -> Any:
    if value is None or not isinstance(value, dict):
        return value
    from ..validators.terminology.service import TerminologyPolicy

    return TerminologyPolicy.from_settings(dict(value), Path.cwd())
