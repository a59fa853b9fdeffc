"""A ``validate`` run from request to report: configuration, validation, policy, notices.

The library call under ``samsvar validate``; the CLI only parses options and renders.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..validators.detect import Kind
from ..validators.issues import Severity
from ..validators.load import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, MAX_DEPTH_LIMIT, Limits
from ..validators.policy import ConfigError, Policy, find_config, load_policy, parse_size
from ..validators.runner import VALIDATED_SUFFIXES, Options, Result, Validator, iter_inputs, resolve_jobs
from .report import NothingToCheck, PackageRecord, Report, Reproducibility

NOT_YET_FHIR = (
    "Not implemented yet, so a clean result does not cover them: code systems that are not in the "
    "loaded packages (SNOMED CT, LOINC, NLK: reported as 'could not be checked' unless the [terminology] "
    "policy says otherwise), displays given by value sets, and references to resources outside the file."
)
NOT_YET_PROFILE = (
    "Profiles are validated from their snapshots, generated from the differential when a profile has "
    "none (cardinality, types, bindings, invariants, fixed/pattern/ranges, slicing)."
)
NOT_YET_MESSAGES = (
    "Norwegian messages: the XSD layer needs an installed schema pack (samsvar messages install-schemas PATH; "
    "without one, MSG-XSD-002 says so)."
)


@dataclass(frozen=True, slots=True)
class ValidateRequest:
    paths: tuple[str, ...]
    fail_on: str | None = None
    config_path: Path | None = None
    use_config: bool = True
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    igs: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    cache_root: Path | None = None
    production: bool | None = None
    must_support: bool = False
    example_urls: bool | None = None
    """Accept undefined extensions in example domains (None: the configuration's ``example-urls``, default yes)."""
    contained: bool | None = None
    """Report findings inside contained resources (None: the configuration's ``contained``, default yes)."""
    hl7_paths: bool | None = None
    """Report locations as HL7's validator writes them (None: the configuration's ``hl7-paths``, default no)."""
    security_checks: bool | None = None
    """HTML-looking text in strings is an error (None: the configuration's ``security-checks``, default no)."""
    html_in_markdown: str | None = None
    """``none``, ``warning`` or ``error`` for raw HTML in markdown (None: the configuration's, default warning)."""
    reference_policy: str | None = None
    """``ignore``, ``exists``, ``type`` or ``valid`` (None: the configuration's ``reference-policy``, default ignore)."""
    reference_targets: tuple[str, ...] = ()
    """Files of resources outside the documents that references may resolve to."""
    jobs: int | None = None
    judge: bool = False
    """Judge the requirements catalogue on the run (the HTML report and TestReport show the verdicts)."""
    lang: str = "nb"
    keep_clean: bool = True
    """Keep the results without findings (every report format but text lists them); when False
    they are only counted, so memory does not grow with a long clean input."""
    max_size: int | None = None
    max_depth: int | None = None
    strict: bool | None = None
    """Anything not checked is an error (None: the configuration's ``strict``, default no)."""
    inputs_as_definitions: bool | None = None
    """Canonical resources among the inputs define for the whole run (None: the configuration's
    ``inputs-as-definitions``, default yes)."""
    allow_empty: bool = False
    """Accept a run with nothing to check (otherwise :class:`NothingToCheck`, exit code 5)."""
    terminology: Any = None
    """A terminology policy object given directly (the Python API); None: the configuration's ``[terminology]``."""
    today: dt.date | None = field(default=None, compare=False)


def resolve_policy(request: ValidateRequest) -> Policy:
    if not request.use_config:
        return Policy()
    return load_policy(request.config_path or find_config(Path.cwd()))


def prepare(request: ValidateRequest) -> tuple[Policy, Severity, Options]:
    """The policy (configuration with the request's select/ignore), the fail level and the
    validator's options of a run: one place for the CLI's run, the bulk (Dask) run and the API."""
    policy = resolve_policy(request)
    settings = policy.settings
    if request.select:
        policy = _replace(policy, select=request.select)
    if request.ignore:
        policy = _replace(policy, ignore=policy.ignore + request.ignore)
    if request.strict is not None:
        policy = _replace(policy, strict=request.strict)
    fail_on = Severity.parse(request.fail_on) if request.fail_on else policy.fail_on

    options = Options(
        limits=Limits(
            max_bytes=request.max_size or parse_size(settings.get("max-size", DEFAULT_MAX_BYTES)),
            max_depth=request.max_depth or _max_depth(settings.get("max-depth", DEFAULT_MAX_DEPTH), policy),
        ),
        production=bool(request.production if request.production is not None else settings.get("production", False)),
        must_support=request.must_support or bool(settings.get("must-support", False)),
        allow_example_urls=bool(request.example_urls if request.example_urls is not None
                                else settings.get("example-urls", True)),
        check_contained=bool(request.contained if request.contained is not None else settings.get("contained", True)),
        hl7_paths=bool(request.hl7_paths if request.hl7_paths is not None else settings.get("hl7-paths", False)),
        security_checks=bool(request.security_checks if request.security_checks is not None
                             else settings.get("security-checks", False)),
        html_in_markdown=_choice(request.html_in_markdown or settings.get("html-in-markdown", "warning"),
                                 ("none", "warning", "error"), "html-in-markdown", policy),
        reference_policy=_choice(request.reference_policy or settings.get("reference-policy", "ignore"),
                                 ("ignore", "exists", "type", "valid"), "reference-policy", policy),
        reference_targets=request.reference_targets or tuple(settings.get("reference-targets", ())),
        profiles=request.profiles or tuple(settings.get("profile", ())),
        igs=request.igs or tuple(settings.get("ig", ())),
        cache_root=request.cache_root or (Path(settings["cache"]) if "cache" in settings else None),
        terminology=request.terminology if request.terminology is not None else settings.get("terminology"),
        inputs_as_definitions=bool(request.inputs_as_definitions if request.inputs_as_definitions is not None
                                   else settings.get("inputs-as-definitions", True)),
    )
    return policy, fail_on, options


def _choice(value: Any, allowed: tuple[str, ...], name: str, policy: Policy) -> str:
    if value not in allowed:
        raise ConfigError(f"{policy.source or 'options'}: {name} must be one of {', '.join(allowed)}, not {value!r}")
    return str(value)


def run_validate(request: ValidateRequest, stdin: BinaryIO | None = None) -> Report:
    policy, fail_on, options = prepare(request)
    if not request.allow_empty:
        refuse_empty_folders(request.paths)
    validator = Validator(options)
    if options.profiles and options.inputs_as_definitions:
        validator.load_packages()  # a missing package up front; a profile may be among the inputs
    elif options.profiles or options.igs:
        validator.definitions()  # a missing profile or package is an environment error up front

    results: list[Result] = []
    try:
        jobs = resolve_jobs(request.jobs or policy.settings.get("jobs"))
    except ValueError as exc:
        raise ConfigError(f"{policy.source or 'configuration'}: {exc}") from None
    families: set[str] = set()
    clean = 0
    for result in validator.validate_paths(request.paths, stdin, jobs=jobs):
        result.issues = policy.apply(result.path, result.issues, request.today)
        families.add(result.kind.family)
        if not result.issues and not request.keep_clean:
            clean += 1
            continue
        results.append(result)
    if not results and not clean and not request.allow_empty:
        raise nothing_checked(request.paths)
    return build_report(request, policy, fail_on, options, validator, results, families, clean)


def build_report(request: ValidateRequest, policy: Policy, fail_on: Severity, options: Options, validator: Validator,
                 results: list[Result], families: set[str], clean: int) -> Report:
    """The report of a run from its results: expired waivers, reproducibility, notices, verdicts."""
    if not validator.packages and "fhir" in families:
        validator.definitions()  # the workers loaded them: the reproducibility block names them too
    expired = policy.apply(str(policy.source), policy.expired_waiver_issues(request.today), request.today)
    if expired:
        results.append(Result(str(policy.source), Kind("config", "samsvar"), "toml", expired))

    report = Report(
        results=results,
        fail_on=fail_on,
        reproducibility=Reproducibility(
            packages=[_record(p) for p in validator.packages],
            config_path=str(policy.source) if policy.source else None,
            config_file_sha256=policy.sha256 if policy.source else None,
            options={
                "fail_on": fail_on.code,
                "strict": policy.strict,
                "production": options.production,
                "must_support": options.must_support,
                "example_urls": options.allow_example_urls,
                "contained": options.check_contained,
                "hl7_paths": options.hl7_paths,
                "security_checks": options.security_checks,
                "html_in_markdown": options.html_in_markdown,
                "reference_policy": options.reference_policy,
                "reference_targets": list(options.reference_targets),
                "inputs_as_definitions": options.inputs_as_definitions,
                "terminology": _terminology_record(options.terminology),
                "max_bytes": options.limits.max_bytes,
                "max_depth": options.limits.max_depth,
                "igs": list(options.igs),
                "profiles": list(options.profiles),
                "select": list(policy.select),
                "ignore": list(policy.ignore),
                "severity": {code: severity.code for code, severity in sorted(policy.severity.items())},
                "waivers": [[w.rule, w.owner, w.expires, w.path, w.expression] for w in policy.waivers],
            },
        ),
        notices=_notices(families, options) + _input_definition_notices(validator.last_input_definitions),
        clean=clean,
    )
    if request.judge:
        from .catalogue import load_catalogue
        from .judge import judge

        report.verdicts = judge(load_catalogue(), report, lang=request.lang)
    return report


def _input_definition_notices(found: Any) -> list[str]:
    """Which inputs defined for the run (canonical resources among them), and which were left out."""
    if found is None or not (found.used or found.shadowed):
        return []
    notices = [f"Definitions from the inputs, used for every input of this run as HL7's validator uses "
               f"the canonical resources among its inputs (--no-inputs-as-definitions turns this off): "
               f"{len(found.used)} ({_names(found.used)})."]
    if found.shadowed:
        notices.append("Not used as definitions, as an input earlier by path has the same url|version: " + "; ".join(
            f"{path} ({key}, {first} used)" for path, key, first in found.shadowed) + ".")
    return notices


def _names(paths: list[str], shown: int = 5) -> str:
    return ", ".join(paths[:shown]) + (f" and {len(paths) - shown} more" if len(paths) > shown else "")


def _max_depth(value: Any, policy: Policy) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DEPTH_LIMIT:
        raise ConfigError(f"{policy.source or 'configuration'}: max-depth must be a whole number from 1 to "
                          f"{MAX_DEPTH_LIMIT} (deeper input cannot be parsed and walked), found {value!r}")
    return value


def _patterns() -> str:
    return ", ".join(f"*{suffix}" for suffix in VALIDATED_SUFFIXES)


def nothing_checked(paths: tuple[str, ...]) -> NothingToCheck:
    """The run's inputs held no artifact at all (files that match nothing, empty NDJSON files)."""
    return NothingToCheck(
        f"nothing to check: {', '.join(paths)} held no artifact (an empty NDJSON file has no "
        "resource lines); check the path, or pass --allow-empty to accept an empty input")


def refuse_empty_folders(paths: tuple[str, ...]) -> None:
    """A folder argument without a single file samsvar reads is a mistake (a mistyped path in a CI
    job), not a clean run: say what was looked for and where."""
    empty = [raw for raw in paths if raw != "-" and Path(raw).is_dir() and next(iter_inputs([raw]), None) is None]
    if empty:
        where = "; ".join(f"{raw} ({Path(raw).resolve()})" if Path(raw).resolve() != Path(raw) else raw
                          for raw in empty)
        raise NothingToCheck(
            f"nothing to check: no {_patterns()} file in {where} or its subfolders (hidden files and folders "
            "are skipped); check the path, or pass --allow-empty to accept an empty input")


def _replace(policy: Policy, **changes: Any) -> Policy:
    from dataclasses import replace

    return replace(policy, **changes)


def _record(package: Any) -> PackageRecord:
    info = getattr(package, "info", package)
    return PackageRecord(id=str(info.id), version=str(info.version), sha256=str(package.sha256),
                         source=str(getattr(package, "origin", "cache")))


def _notices(families: set[str], options: Options) -> list[str]:
    notices = []
    if "fhir" in families:
        notices.append(NOT_YET_FHIR)
    if options.profiles:
        notices.append(NOT_YET_PROFILE)
    if "message" in families:
        from ..validators.messages.schemas import default_schema_set

        if default_schema_set() is None:  # with a pack installed there is nothing to say
            notices.append(NOT_YET_MESSAGES)
    return notices


def _terminology_record(policy: object) -> dict[str, object]:
    """The terminology policy in the reproducibility block (what decides unavailable code systems)."""
    if policy is None:
        return {"default": "warn", "systems": {}, "server": None}
    return {"default": getattr(policy, "default"), "systems": dict(getattr(policy, "systems")),
            "server": getattr(policy, "server"),
            "snomed_database": str(getattr(policy, "snomed_database")) if getattr(policy, "snomed_database") else None}

