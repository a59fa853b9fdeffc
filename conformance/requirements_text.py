"""The requirements catalogue as people and machines read it: ``samsvar requirements show`` and
``coverage`` in Norwegian bokmål or English, and one requirement as JSON.
"""

from __future__ import annotations

from typing import Any

from ..validators.rules import all_rules
from .catalogue import PROFILE_RULES, Catalogue, Requirement, expand_rules
from .judge import COMMANDS
from .texts import table

def show_lines(catalogue: Catalogue, requirement: Requirement, lang: str) -> list[str]:
    t = table("requirements", lang)
    principle = catalogue.principle(requirement.principle)
    lines = [f"{requirement.id}  {requirement.level}  ({t['status']}: {requirement.status})",
             requirement.title.get(lang), "",
             requirement.text.get(lang), "",
             f"{t['principle']}: {principle.id} {principle.title.get(lang)}",
             f"{t['applies']}: {', '.join(requirement.artefacts)}",
             f"{t['standards']}:"]
    lines += [f"  - {s.name}: {s.reference}" for s in requirement.standards]
    lines.append(f"{t['verification']}:")
    lines += verification_lines(requirement, lang)
    return lines


def verification_lines(requirement: Requirement, lang: str) -> list[str]:
    t = table("requirements", lang)
    registry = {rule.code: rule for rule in all_rules()}
    lines = []
    for v in requirement.rule_verifications:
        extra = (f" {t['on']} {', '.join(v.kinds)}" if v.kinds else "") + \
                (f" ({t['run']} '{COMMANDS[v.run]}')" if v.run != "validate" else "")
        lines.append(f"  {t['rules']}: {', '.join(v.rules)}{extra}")
        if v.profile:
            lines.append(f"      {t['profile']}: {v.profile}")
        if v.constraints:
            lines.append(f"      {t['constraints']}: {', '.join(v.constraints)}")
        for code in ([] if v.profile and v.rules == PROFILE_RULES else expand_rules(v.rules, registry)):
            lines.append(f"      {code:<15} {registry[code].severity.code:<12} {registry[code].title}")
        if v.inconclusive:
            lines.append(f"      ({t['inconclusive']}: {', '.join(v.inconclusive)})")
    for v in requirement.test_verifications:
        lines.append(f"  {t['tests']} ({t[v.status]}): {', '.join(v.tests)}")
    for v in requirement.manual_verifications:
        lines.append(f"  {t['manual']}: {v.inspect.get(lang)}")
    return lines


def requirement_json(catalogue: Catalogue, requirement: Requirement, lang: str) -> dict[str, Any]:
    principle = catalogue.principle(requirement.principle)
    return {
        "id": requirement.id, "level": requirement.level, "status": requirement.status,
        "title": requirement.title.get(lang), "text": requirement.text.get(lang),
        "principle": {"id": principle.id, "title": principle.title.get(lang)},
        "artefacts": list(requirement.artefacts),
        "standards": [{"name": s.name, "url": s.url, "oid": s.oid} for s in requirement.standards],
        "verification": [verification_json(v, lang) for v in requirement.verification],
    }


def verification_json(verification: Any, lang: str) -> dict[str, Any]:
    if verification.kind == "rule":
        return {"kind": "rule", "rules": list(verification.rules), "kinds": list(verification.kinds),
                "inconclusive": list(verification.inconclusive), "run": verification.run,
                **({"profile": verification.profile} if verification.profile else {}),
                **({"constraints": list(verification.constraints)} if verification.constraints else {})}
    if verification.kind == "test":
        return {"kind": "test", "tests": list(verification.tests), "status": verification.status}
    return {"kind": "manual", "inspect": verification.inspect.get(lang)}


def coverage_lines(catalogue: Catalogue, counts: dict[str, Any], lang: str) -> list[str]:
    """``samsvar requirements coverage`` as text: counts, requirements without a rule, rules no requirement names."""
    t = table("requirements", lang)
    lines = [f"{counts['requirements']} {t['requirements']} {t['under']} {counts['principles']} {t['principles']}",
             t["by_kind"].format(**counts["by_verification"]),
             t["only"].format(**counts["only"]),
             ", ".join(f"{level} {n}" for level, n in counts["by_level"].items()),
             t["without_rule"].format(count=len(counts["without_rule"]))]
    for requirement_id in counts["without_rule"]:
        r = catalogue.requirement(requirement_id)
        lines.append(f"  {r.id:<12} {r.level:<7}{','.join(r.verification_kinds):<18} {r.title.get(lang)}")
    lines.append(t["not_referenced"].format(count=len(counts["rules_not_referenced"])))
    if counts["rules_not_referenced"]:
        lines.append("  " + ", ".join(counts["rules_not_referenced"]))
    return lines
