"""The judge: one verdict per requirement of the catalogue, from the issues of a run.

For a requirement verified by rules, the judge looks at the results of the run whose artefact
applies (a result's ``kind.family`` among the requirement's artefacts, and its kind among the
verification's ``kinds`` when given):

- ``fail``: an applicable artefact has a non-waived issue at or above the report's fail level
  whose rule the requirement lists; the evidence names up to :data:`MAX_ISSUE_EVIDENCE` of them
  (file, rule, severity, message, location). An input that could not even be detected (kind
  ``unknown``, for example XML with a DOCTYPE) fails the requirements whose rules it raises.
- ``pass``: at least one applicable artefact was checked and none failed; the evidence says how
  many and which rules were applied. An artefact with an *inconclusive* finding (the check
  could not be made: no XSD pack, a code system not available offline) is not counted as checked.
- ``not-tested``: no applicable artefact was checked, the rules were not selected in the run,
  they belong to another command (``samsvar apprec --check``), or the verification is a
  live-suite test still to come or not part of this run.
- for live-suite tests (``samsvar run``): ``fail`` when a verifying test failed or broke,
  ``pass`` when one passed and none failed, ``not-tested`` when all were skipped; the evidence
  names each test, its result, its number of exchanges and its first findings.
- ``manual``: the requirement is verified by manual inspection only; the evidence says what to
  inspect.

The verdicts have the shape :attr:`samsvar.conformance.report.Report.verdicts` holds. The same
module gives the catalogue's coverage and its traceability matrix (CSV or a small HTML page).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from ..validators.issues import Issue, Severity
from ..validators.policy import Policy
from ..validators.runner import Result
if TYPE_CHECKING:
    import jinja2

from .catalogue import (
    Catalogue, LEVELS, Requirement, RuleVerification, TestVerification, expand_rules, registered_rule_codes,
)
from .report import Report
from .texts import LANGUAGES, table, text

VERDICTS = ("pass", "fail", "not-tested", "manual")
MAX_ISSUE_EVIDENCE = 20
COMMANDS = {"validate": "samsvar validate", "apprec-check": "samsvar apprec MESSAGE --check RECEIVED",
            "run": "samsvar run SUITE --target URL", "verify": "samsvar verify DECLARATION"}
DETECTED_FAMILIES = ("fhir", "message")
"""Families an undetected (``unknown``) input may have been meant as."""


# -- judging --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RunContext:
    """What the judge needs to know about the run besides its results."""

    report: Report
    run: str
    codes: tuple[str, ...]
    selected: Callable[[str], bool]
    lang: str = "en"

    def say(self, key: str, **values: Any) -> str:
        return say(self.lang, key, **values)


def say(lang: str, key: str, **values: Any) -> str:
    """The evidence sentence ``key`` (a ``judge.*`` text) in ``lang`` (English when the language is not known)."""
    return text(key, lang, **values)


@dataclass(slots=True)
class Outcome:
    """The verdict of one rule verification, with its evidence and the artefacts it looked at."""

    verdict: str
    evidence: list[Any] = field(default_factory=list)
    artefacts: list[str] = field(default_factory=list)


def judge(catalogue: Catalogue, report: Report, *, run: str = "validate", lang: str = "en",
          rule_codes: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """A verdict per requirement, in catalogue order, for ``Report.verdicts``.

    ``run`` names the command that produced the report (``validate``, ``apprec-check``, ``run`` or ``verify``);
    ``lang`` chooses the title and manual texts (``nb`` or ``en``).
    """
    context = run_context(report, run, rule_codes, lang)
    return [judge_requirement(requirement, context, lang) for requirement in catalogue.requirements]


def run_context(report: Report, run: str = "validate", rule_codes: Iterable[str] | None = None,
                lang: str = "en") -> RunContext:
    if run not in COMMANDS:
        raise ValueError(f"unknown run {run!r} (expected one of: {', '.join(COMMANDS)})")
    codes = tuple(sorted(registered_rule_codes() if rule_codes is None else rule_codes))
    options = report.reproducibility.options
    policy = Policy(select=tuple(options.get("select") or ("ALL",)), ignore=tuple(options.get("ignore") or ()))
    return RunContext(report, run, codes, policy.selected, lang)


def judge_requirement(requirement: Requirement, context: RunContext, lang: str = "en") -> dict[str, Any]:
    outcomes = [judge_rules(requirement, v, context) for v in requirement.rule_verifications]
    outcomes += [judge_tests(v, context) for v in requirement.test_verifications]
    verdict = _combine(outcomes) if outcomes else "manual"
    evidence = [item for outcome in outcomes for item in outcome.evidence]
    evidence += _manual_evidence(requirement, lang)
    artefacts = list(dict.fromkeys(path for outcome in outcomes for path in outcome.artefacts))
    return {
        "id": requirement.id,
        "title": requirement.title.get(lang),
        "level": requirement.level,
        "principle": requirement.principle,
        "verdict": verdict,
        "evidence": evidence,
        "artefacts": artefacts,
    }


def _combine(outcomes: list[Outcome]) -> str:
    verdicts = {outcome.verdict for outcome in outcomes}
    for verdict in ("fail", "pass"):
        if verdict in verdicts:
            return verdict
    return "not-tested"


def judge_rules(requirement: Requirement, verification: RuleVerification, context: RunContext) -> Outcome:
    """The verdict of one rule verification over the run's results."""
    if verification.run != context.run:
        return Outcome("not-tested", [context.say("judge.other_command", rules=", ".join(verification.rules),
                                                  command=COMMANDS[verification.run], this=COMMANDS[context.run])])
    known = expand_rules(verification.rules, context.codes)
    applied = [code for code in known if context.selected(code)]
    notes = _deselected_note(sorted(set(known) - set(applied)), context.lang)
    if not applied:
        return Outcome("not-tested", notes or [context.say("judge.unknown_rules", rules=", ".join(verification.rules))])
    walk = _walk(requirement, verification, context)
    blind = [code for code in expand_rules(verification.inconclusive, context.codes) if not context.selected(code)]
    if blind and not walk.failed:
        return Outcome("not-tested", notes + [context.say("judge.blind", codes=", ".join(blind))], walk.paths())
    return _outcome(walk, requirement, verification, applied, context, notes)


@dataclass(slots=True)
class _Walk:
    """The applicable results of a run, sorted into failed, checked and inconclusive."""

    failed: list[tuple[Result, list[Issue]]] = field(default_factory=list)
    checked: list[Result] = field(default_factory=list)
    inconclusive: list[tuple[Result, list[Issue]]] = field(default_factory=list)
    below: Counter = field(default_factory=Counter)
    waived: int = 0

    def paths(self) -> list[str]:
        seen = [r.path for r, _ in self.failed] + [r.path for r in self.checked] + [r.path for r, _ in self.inconclusive]
        return list(dict.fromkeys(seen))


def _walk(requirement: Requirement, verification: RuleVerification, context: RunContext) -> _Walk:
    walk = _Walk()
    fail_on = context.report.fail_on
    for result in context.report.results:
        applicable = _applies(result, requirement, verification)
        if not applicable and not _undetected(result, requirement, verification):
            continue
        matching = [issue for issue in result.issues if verification.covers_issue(issue)]
        failing = [issue for issue in matching if not issue.waived and issue.severity >= fail_on]
        walk.waived += sum(1 for issue in matching if issue.waived)
        walk.below.update(issue.severity.code for issue in matching if not issue.waived and issue.severity < fail_on)
        if failing:
            walk.failed.append((result, failing))
        elif applicable:
            reasons = [issue for issue in result.issues if verification.is_inconclusive(issue.rule)]
            if reasons:
                walk.inconclusive.append((result, reasons))
            else:
                walk.checked.append(result)
    return walk


def _applies(result: Result, requirement: Requirement, verification: RuleVerification) -> bool:
    return (result.kind.family in requirement.artefacts and verification.applies_to_kind(str(result.kind))
            and (verification.profile is None or verification.profile in getattr(result, "profiles", ())))


def _undetected(result: Result, requirement: Requirement, verification: RuleVerification) -> bool:
    """An input of unknown kind may have been meant as FHIR or a message: it counts only by its failures."""
    return (result.kind.family == "unknown" and not verification.kinds and verification.profile is None
            and any(family in requirement.artefacts for family in DETECTED_FAMILIES))


def _outcome(walk: _Walk, requirement: Requirement, verification: RuleVerification, applied: list[str],
             context: RunContext, notes: list[str]) -> Outcome:
    notes = notes + _inconclusive_notes(walk, context.lang) + _quiet_notes(walk, context.report.fail_on, context.lang)
    if walk.failed:
        return Outcome("fail", _issue_evidence(walk.failed, context.lang) + notes, walk.paths())
    if walk.checked:
        return Outcome("pass", [_checked_evidence(walk.checked, applied, verification)] + notes, walk.paths())
    if walk.inconclusive:
        return Outcome("not-tested", notes, walk.paths())
    return Outcome("not-tested",
                   [context.say("judge.nothing_applies", scope=_scope(requirement, verification, context.lang))]
                   + notes)


def _scope(requirement: Requirement, verification: RuleVerification, lang: str = "en") -> str:
    if verification.profile:
        return say(lang, "judge.profile_scope", profile=verification.profile)
    if verification.kinds:
        return say(lang, "judge.kinds", names=", ".join(verification.kinds))
    return say(lang, "judge.artefacts", names=", ".join(requirement.artefacts))


def _issue_evidence(failed: list[tuple[Result, list[Issue]]], lang: str = "en") -> list[Any]:
    issues = [(result, issue) for result, found in failed for issue in found]
    evidence: list[Any] = [_issue_item(result, issue) for result, issue in issues[:MAX_ISSUE_EVIDENCE]]
    if len(issues) > MAX_ISSUE_EVIDENCE:
        more = len(issues) - MAX_ISSUE_EVIDENCE
        evidence.append(say(lang, "judge.more_findings", more=more, total=len(issues), artefacts=len(failed)))
    return evidence


def _issue_item(result: Result, issue: Issue) -> dict[str, Any]:
    return {"file": result.path, "rule": issue.rule, "severity": issue.severity.code,
            "message": issue.message, "location": location(issue)}


def location(issue: Issue) -> str:
    """``7:7 Patient.identifier[0].value``, or whichever of the two is known."""
    position = f"{issue.line}:{issue.column or 1}" if issue.line is not None else ""
    return " ".join(part for part in (position, issue.expression or "") if part)


def _checked_evidence(checked: list[Result], applied: list[str], verification: RuleVerification) -> dict[str, Any]:
    families = Counter(result.kind.family for result in checked)
    evidence = {
        "artefacts_checked": len(checked),
        "by_family": ", ".join(f"{family} {n}" for family, n in sorted(families.items())),
        "rules_applied": ", ".join(applied),
    }
    if verification.profile:
        evidence["profile"] = verification.profile
    if verification.constraints:
        evidence["constraints"] = ", ".join(verification.constraints)
    return evidence


def _inconclusive_notes(walk: _Walk, lang: str = "en") -> list[str]:
    return [say(lang, "judge.not_counted", path=result.path, rules=", ".join(sorted({i.rule for i in reasons})))
            for result, reasons in walk.inconclusive]


def _quiet_notes(walk: _Walk, fail_on: Severity, lang: str = "en") -> list[str]:
    notes = []
    if walk.below:
        counts = ", ".join(f"{n} {severity}" for severity, n in sorted(walk.below.items()))
        notes.append(say(lang, "judge.below", level=fail_on.code, counts=counts))
    if walk.waived:
        notes.append(say(lang, "judge.waived", count=walk.waived))
    return notes


def _deselected_note(codes: list[str], lang: str = "en") -> list[str]:
    return [say(lang, "judge.deselected", codes=", ".join(codes))] if codes else []


def judge_tests(verification: TestVerification, context: RunContext) -> Outcome:
    """The verdict of live-suite tests: fail when one of them failed (or broke), pass when one
    passed and none failed, not-tested when none ran (skipped, not selected, or another run)."""
    if verification.status == "planned":
        return Outcome("not-tested", [context.say("judge.tests_planned", tests=", ".join(verification.tests))])
    ran = {result.path: result for result in context.report.results
           if str(result.kind).startswith("live:") and result.path in verification.tests}
    if not ran:
        suites = sorted({test.split("/", 1)[0] for test in verification.tests})
        return Outcome("not-tested", [context.say("judge.tests_not_run", tests=", ".join(verification.tests),
                                                  suites=" / ".join(suites))])
    evidence: list[Any] = []
    statuses = []
    for test_id in verification.tests:
        result = ran.get(test_id)
        if result is None:
            continue
        status = getattr(result, "status", "pass")
        statuses.append(status)
        item: dict[str, Any] = {"test": test_id, "result": status,
                                "exchanges": len(getattr(result, "exchanges", []))}
        messages = [issue.message for issue in result.issues if not issue.waived
                    and (issue.severity >= context.report.fail_on or status == "skip")]
        if messages:
            item["message"] = "; ".join(messages[:3]) + (context.say("judge.and_more", count=len(messages) - 3)
                                                         if len(messages) > 3 else "")
        evidence.append(item)
    missing = [test_id for test_id in verification.tests if test_id not in ran]
    if missing:
        evidence.append(context.say("judge.tests_missing", tests=", ".join(missing)))
    if any(status in ("fail", "error") for status in statuses):
        return Outcome("fail", evidence)
    if "pass" in statuses:
        return Outcome("pass", evidence)
    return Outcome("not-tested", evidence)


def _manual_evidence(requirement: Requirement, lang: str) -> list[Any]:
    label = say(lang, "judge.manual")
    return [f"{label}: {v.inspect.get(lang)}" for v in requirement.manual_verifications]


# -- coverage -------------------------------------------------------------------------------
def coverage(catalogue: Catalogue, rule_codes: Iterable[str] | None = None) -> dict[str, Any]:
    """How the catalogue is verified: counts by verification kind (``by_verification``: requirements
    with at least one of the kind; ``only``: with that kind alone), level and principle, the
    requirements without a rule, the planned tests, and samsvar's rules by use: verifying a
    requirement, marking a check as inconclusive, or referred to by no requirement."""
    codes = sorted(registered_rule_codes() if rule_codes is None else rule_codes)
    requirements = catalogue.requirements
    referenced = expand_rules((p for r in requirements for p in r.rules), codes)
    markers = expand_rules((p for r in requirements for v in r.rule_verifications for p in v.inconclusive), codes)
    return {
        "requirements": len(requirements),
        "principles": len(catalogue.principles),
        "by_verification": {kind: sum(1 for r in requirements if kind in r.verification_kinds)
                            for kind in ("rule", "test", "manual")},
        "only": {kind: sum(1 for r in requirements if r.verification_kinds == (kind,))
                 for kind in ("rule", "test", "manual")},
        "by_level": {level: sum(1 for r in requirements if r.level == level) for level in LEVELS},
        "by_principle": {p.id: len(catalogue.requirements_of(p.id)) for p in catalogue.principles},
        "without_rule": [r.id for r in requirements if "rule" not in r.verification_kinds],
        "tests_planned": sorted({t for r in requirements for v in r.test_verifications
                                 if v.status == "planned" for t in v.tests}),
        "rules_referenced": referenced,
        "rules_inconclusive": markers,
        "rules_not_referenced": sorted(set(codes) - set(referenced) - set(markers)),
    }


# -- traceability matrix --------------------------------------------------------------------
COLUMNS = ("principle", "principle_title", "requirement", "level", "title", "artefacts", "rules", "tests",
           "manual")


def traceability_rows(catalogue: Catalogue, lang: str = "nb",
                      verdicts: Iterable[Mapping[str, Any]] | None = None) -> list[dict[str, str]]:
    """One row per requirement: principle → requirement → rules, tests, manual (and verdict when given)."""
    by_id = {v["id"]: v["verdict"] for v in verdicts} if verdicts is not None else None
    rows = []
    for requirement in catalogue.requirements:
        row = _row(catalogue, requirement, lang)
        if by_id is not None:
            row["verdict"] = by_id.get(requirement.id, "")
        rows.append(row)
    return rows


def _row(catalogue: Catalogue, requirement: Requirement, lang: str) -> dict[str, str]:
    return {
        "principle": requirement.principle,
        "principle_title": catalogue.principle(requirement.principle).title.get(lang),
        "requirement": requirement.id,
        "level": requirement.level,
        "title": requirement.title.get(lang),
        "artefacts": ", ".join(requirement.artefacts),
        "rules": "; ".join(_rules_cell(v) for v in requirement.rule_verifications),
        "tests": "; ".join(", ".join(v.tests) + f" ({v.status})" for v in requirement.test_verifications),
        "manual": " ".join(v.inspect.get(lang) for v in requirement.manual_verifications),
    }


def _rules_cell(verification: RuleVerification) -> str:
    cell = ", ".join(verification.rules)
    if verification.profile:
        cell += f" of {verification.profile}"
    if verification.constraints:
        cell += f" ({', '.join(verification.constraints)})"
    if verification.kinds:
        cell += f" on {', '.join(verification.kinds)}"
    if verification.run != "validate":
        cell += f" ({COMMANDS[verification.run]})"
    return cell


def to_csv(rows: list[dict[str, str]]) -> str:
    """The matrix as CSV with a header row (the row keys)."""
    columns = list(rows[0]) if rows else list(COLUMNS)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


_HTML_SOURCE = """\
<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1b1b1b; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border: 1px solid #c8c8c8; padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #eef1f4; }
td.code { font-family: ui-monospace, monospace; }
td.id { white-space: nowrap; }
tr.level-SHALL td.level { font-weight: 700; }
@media print { body { margin: 0; } tr { break-inside: avoid; } }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<table>
<thead><tr>{% for column in columns %}<th scope="col">{{ headers.get(column, column) }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in rows %}
<tr class="level-{{ row.get('level', '') }}">{% for column in columns %}<td class="{{ 'code id' if column in ('principle', 'requirement') else 'code' if column == 'rules' else column }}">{{ row.get(column, '') }}</td>{% endfor %}</tr>
{% endfor %}
</tbody>
</table>
</body>
</html>
"""


def _html_template() -> "jinja2.Template":
    """The matrix page, compiled on first use (keeps jinja2 out of start-up)."""
    import jinja2

    return jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(_HTML_SOURCE)


def to_html(rows: list[dict[str, str]], lang: str = "nb", title: str | None = None) -> str:
    """The matrix as one self-contained HTML page (inline CSS, no scripts), every cell escaped."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r} (expected one of: {', '.join(LANGUAGES)})")
    columns = list(rows[0]) if rows else list(COLUMNS)
    return _html_template().render(lang=lang, title=title or text("matrix.page_title", lang), columns=columns,
                                   headers=table("matrix", lang), rows=rows)
