"""Configuration by rule code: select, ignore, re-grade, waive (``samsvar.toml`` or
``[tool.samsvar]`` in ``pyproject.toml``).

```toml
fail-on = "error"            # or "warning", "information", "fatal"
select = ["ALL"]             # codes or prefixes ("NO-ID" = every NO-ID-* rule)
ignore = ["INPUT-009"]
production = false
must-support = false        # report absent mustSupport elements of profiles
example-urls = true          # false: undefined extensions in example domains are errors (FHIR-EXT-006)
contained = true             # false: findings inside contained resources are left out
strict = false               # true: anything not checked (unknown profile, code system not available
                             # offline, constraint not evaluated, message without a schema) is an error
max-size = "256MB"
max-depth = 200

[terminology]                # code systems not available offline (SNOMED CT, LOINC, full NLK)
default = "warn"             # warn | trust-format | remote
systems = { "http://snomed.info/sct" = "trust-format" }
# server = "https://tx.example.no/fhir"    # for "remote"; timeout = 10, retries = 2
# snomed-database = "snomed.sqlite"        # from `samsvar terminology load-rf2`

[severity]                   # re-grade by code or prefix
"NO-ID-005" = "warning"

[[waiver]]                   # an accepted finding, with an owner, a reason and an expiry date
rule = "NO-ID-003"
path = "fixtures/legacy/*.json"   # optional glob on the reported path
expression = "Patient.identifier[0].value"   # optional
owner = "team-epj@example.no"
reason = "Legacy test data, replaced in release 12"
expires = 2027-06-30
```
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from .issues import Issue, Severity, Waiver
from .rules import declared, not_checked_codes

CONFIG_FILE = "samsvar.toml"

WAIVER_EXPIRED = declared("CONFIG-001")


class ConfigError(ValueError):
    """The configuration file is wrong (a usage error, exit code 2)."""


@dataclass(frozen=True, slots=True)
class Policy:
    select: tuple[str, ...] = ("ALL",)
    ignore: tuple[str, ...] = ()
    severity: dict[str, Severity] = field(default_factory=dict)
    waivers: tuple[Waiver, ...] = ()
    fail_on: Severity = Severity.ERROR
    settings: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None
    sha256: str | None = None
    """sha256 of the configuration file's bytes (None: no file)."""
    strict: bool = False
    """A gate that never passes on what it did not check: every rule declared ``not_checked`` is
    at least an error (after ``[severity]``; ``ignore`` and waivers still apply)."""

    def selected(self, code: str) -> bool:
        return _matches(code, self.select) and not _matches(code, self.ignore)

    def grade(self, issue: Issue) -> Issue:
        for pattern in sorted(self.severity, key=len, reverse=True):
            if _matches(issue.rule, (pattern,)):
                issue = replace(issue, severity=self.severity[pattern])
                break
        if self.strict and issue.severity < Severity.ERROR and issue.rule in not_checked_codes():
            issue = replace(issue, severity=Severity.ERROR,
                            message=issue.message + " [strict: what was not checked is an error]")
        return issue

    def apply(self, path: str, issues: Iterable[Issue], today: dt.date | None = None) -> list[Issue]:
        """Selected, re-graded issues, with unexpired waivers attached."""
        today = today or dt.date.today()
        out = []
        for issue in issues:
            if not self.selected(issue.rule):
                continue
            issue = self.grade(issue)
            waiver = self._waiver_for(path, issue, today)
            if waiver is not None:
                issue = replace(issue, waiver=waiver)
            out.append(issue)
        return out

    def _waiver_for(self, path: str, issue: Issue, today: dt.date) -> Waiver | None:
        for waiver in self.waivers:
            if dt.date.fromisoformat(waiver.expires) < today:
                continue
            if not _matches(issue.rule, (waiver.rule,)):
                continue
            if waiver.path and not (fnmatch.fnmatch(path, waiver.path) or fnmatch.fnmatch(Path(path).as_posix(), waiver.path)):
                continue
            if waiver.expression and waiver.expression != issue.expression:
                continue
            return waiver
        return None

    def expired_waiver_issues(self, today: dt.date | None = None) -> list[Issue]:
        """One CONFIG-001 issue per expired waiver, located in the configuration file."""
        today = today or dt.date.today()
        text = self.source.read_text(encoding="utf-8") if self.source and self.source.exists() else ""
        lines = [i + 1 for i, line in enumerate(text.splitlines()) if re.match(r"\s*\[\[(tool\.samsvar\.)?waiver\]\]", line)]
        issues = []
        for n, waiver in enumerate(self.waivers):
            if dt.date.fromisoformat(waiver.expires) >= today:
                continue
            issues.append(WAIVER_EXPIRED.issue(
                f"Waiver for {waiver.rule} (owner {waiver.owner}: {waiver.reason}) expired on "
                f"{waiver.expires}; its findings count again. Fix them or renew the waiver.",
                line=lines[n] if n < len(lines) else 1, column=1,
                expression=f"waiver[{n}]"))
        return issues


def _matches(code: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        pattern = pattern.strip().upper()
        if pattern == "ALL" or code == pattern or code.startswith(pattern.rstrip("-") + "-"):
            return True
    return False


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?I?B?)?\s*$", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """``"256MB"``, ``"4GiB"``, ``"1000"`` to bytes (powers of 1024)."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise ConfigError(f"not a size: {text!r} (examples: 500KB, 256MB, 4GB)")
    number = float(match.group(1))
    unit = (match.group(2) or "").upper()[:1]
    return int(number * 1024 ** " KMGT".index(unit or " "))


def find_config(start: Path) -> Path | None:
    """The nearest ``samsvar.toml``, or ``pyproject.toml`` with ``[tool.samsvar]``, upwards."""
    for folder in [start, *start.parents]:
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                if "samsvar" in tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}):
                    return pyproject
            except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
                continue
    return None


def load_policy(path: Path | None) -> Policy:
    """The policy of a configuration file (``None``: the defaults)."""
    if path is None:
        return Policy()
    try:
        raw = path.read_bytes()
        document = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc}") from None
    table = document.get("tool", {}).get("samsvar", {}) if path.name == "pyproject.toml" else document
    return _policy_from(table, path, hashlib.sha256(raw).hexdigest())


_KNOWN_KEYS = {"fail-on", "select", "ignore", "severity", "waiver", "production", "must-support", "max-size",
               "max-depth", "ig", "profile", "cache", "terminology", "jobs", "example-urls",
               "contained", "strict", "hl7-paths", "security-checks", "html-in-markdown", "reference-policy",
               "reference-targets", "inputs-as-definitions"}


def _policy_from(table: dict[str, Any], source: Path, digest: str) -> Policy:
    unknown = set(table) - _KNOWN_KEYS
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_KNOWN_KEYS))}")
    try:
        fail_on = Severity.parse(str(table.get("fail-on", "error")))
    except ValueError as exc:
        raise ConfigError(f"{source}: fail-on: {exc}") from None
    try:
        severity = {code.upper(): Severity.parse(str(value)) for code, value in table.get("severity", {}).items()}
    except (ValueError, AttributeError) as exc:
        raise ConfigError(f"{source}: [severity]: {exc}") from None
    waivers = tuple(_waiver(entry, source) for entry in table.get("waiver", []))
    strict = table.get("strict", False)
    if not isinstance(strict, bool):
        raise ConfigError(f"{source}: strict must be true or false")
    settings = {k: table[k] for k in ("production", "must-support", "max-size", "max-depth", "ig", "profile", "cache",
                                      "jobs", "example-urls", "contained", "hl7-paths", "security-checks",
                                      "html-in-markdown", "reference-policy", "reference-targets",
                                      "inputs-as-definitions") if k in table}
    if not isinstance(settings.get("inputs-as-definitions", True), bool):
        raise ConfigError(f"{source}: inputs-as-definitions must be true or false")
    if "terminology" in table:
        from .terminology.service import TerminologyPolicy

        try:
            settings["terminology"] = TerminologyPolicy.from_settings(dict(table["terminology"]), source.parent)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{source}: {exc}") from None
    return Policy(
        select=tuple(_strings(table.get("select", ["ALL"]), "select", source)),
        ignore=tuple(_strings(table.get("ignore", []), "ignore", source)),
        severity=severity,
        waivers=waivers,
        fail_on=fail_on,
        settings=settings,
        source=source,
        sha256=digest,
        strict=strict,
    )


def _strings(value: Any, key: str, source: Path) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{source}: {key} must be a list of rule codes or prefixes")
    return value


def _waiver(entry: Any, source: Path) -> Waiver:
    missing = [k for k in ("rule", "owner", "reason", "expires") if k not in entry]
    if missing:
        raise ConfigError(f"{source}: every [[waiver]] needs rule, owner, reason and expires; missing {', '.join(missing)}")
    expires = entry["expires"]
    if isinstance(expires, dt.datetime):
        expires = expires.date()
    if isinstance(expires, str):
        try:
            expires = dt.date.fromisoformat(expires)
        except ValueError:
            raise ConfigError(f"{source}: waiver expires must be a date (YYYY-MM-DD), found {expires!r}") from None
    if not isinstance(expires, dt.date):
        raise ConfigError(f"{source}: waiver expires must be a date (YYYY-MM-DD)")
    return Waiver(
        rule=str(entry["rule"]).upper(),
        owner=str(entry["owner"]),
        reason=str(entry["reason"]),
        expires=expires.isoformat(),
        path=entry.get("path"),
        expression=entry.get("expression"),
    )
