"""The official FHIRPath test suite (R4) through samsvar's FHIRPath layer (run on demand).

    python bench/fhirpath_suite.py [--verbose]

Reads ``../shared/data/peer/fhirpath-suite/tests-fhir-r4.xml`` (the suite's source of truth;
``tests-fhir-r4.parsed.json`` beside it holds the same tests) and evaluates every test with
``samsvar.validators.fhir.fhirpath.compile_expression`` on its input: the JSON form from
``input-json/``, read as the validator reads JSON (decimals as ``Decimal``) and passed as a node
typed by the R4 model, as the invariant checker passes resources, with ``%context``,
``%resource`` and ``%rootResource`` set to it. A test passes when:

- it is marked ``invalid`` (syntax, semantic or execution) and compiling or evaluating raises;
- it is a ``predicate`` test and the existence of a result matches the expected boolean;
- otherwise the result equals the expected outputs, value by value (in order unless the test
  says ``ordered="false"``): booleans, integers, decimals and strings by value, dates and times
  by their FHIRPath literal text, Quantities by value and unit.

Tests of the strict mode (``mode="strict"``: semantic errors such as an unknown element name)
are counted like the others. Prints the share per group and overall, and (``--verbose``) every
failing test.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fhirpathpy.engine.nodes import ResourceNode  # noqa: E402
from tests.shared import shared_root  # noqa: E402

from samsvar.validators.fhir.fhirpath import compile_expression  # noqa: E402

Output = tuple[str | None, str]  # (type or None, expected value as written in the suite)


@dataclass
class Case:
    group: str
    name: str
    expression: str
    inputfile: str | None
    invalid: str | None
    predicate: bool
    ordered: bool
    outputs: list[Output]


@dataclass
class Outcome:
    case: Case
    passed: bool
    got: str


def load_cases(path: Path) -> list[Case]:
    """Every ``<test>`` of the suite (``<modeTest>`` elements are for other modes and skipped)."""
    cases = []
    for group in ET.parse(path).getroot().iter("group"):
        for test in group.iter("test"):
            expression = test.find("expression")
            assert expression is not None and expression.text is not None
            cases.append(Case(
                group=group.get("name", ""),
                name=test.get("name", ""),
                expression=expression.text,
                inputfile=test.get("inputfile"),
                invalid=expression.get("invalid"),
                predicate=test.get("predicate") == "true",
                ordered=test.get("ordered") != "false",
                outputs=[(output.get("type"), output.text or "") for output in test.iter("output")],
            ))
    return cases


def evaluate(case: Case, inputs: Path) -> list[Any]:
    """The expression's result on the test's input (compiling and evaluating may raise)."""
    compiled = compile_expression(case.expression)
    if case.inputfile is None:
        return compiled(None, {})
    data = json.loads((inputs / Path(case.inputfile).with_suffix(".json").name).read_text(), parse_float=Decimal)
    node = ResourceNode.create_node(data, data["resourceType"])
    return compiled(node, {"context": node, "resource": node, "rootResource": node})


def run(case: Case, inputs: Path) -> Outcome:
    try:
        result = evaluate(case, inputs)
    except Exception as exc:  # noqa: BLE001 - raising is the expected outcome of invalid tests
        return Outcome(case, case.invalid is not None, f"raised {type(exc).__name__}: {exc}")
    if case.invalid is not None:
        return Outcome(case, False, render(result))
    if case.predicate:
        result = [bool(result)]
    return Outcome(case, same(case.outputs, result, case.ordered), render(result))


def same(outputs: list[Output], result: list[Any], ordered: bool) -> bool:
    if len(outputs) != len(result):
        return False
    if ordered:
        return all(matches(output, value) for output, value in zip(outputs, result))
    remaining = list(result)
    for output in outputs:
        found = next((i for i, value in enumerate(remaining) if matches(output, value)), None)
        if found is None:
            return False
        remaining.pop(found)
    return True


def matches(output: Output, value: Any) -> bool:
    """Whether one result value equals one expected output of the suite."""
    kind, text = output
    kind = kind or _implied_type(text)
    if kind == "boolean":
        return isinstance(value, bool) and str(value).lower() == text
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool) and value == int(text)
    if kind == "decimal":
        return _number(value) is not None and _number(value) == _number(text)
    if kind in ("date", "dateTime", "time"):
        return _temporal_text(value) == text.lstrip("@").removeprefix("T")
    if kind == "Quantity":
        return _quantity(value) == _quantity_literal(text)
    return isinstance(value, str) and value == text


def _implied_type(text: str) -> str:
    """The type of an untyped expected output, from how its value is written."""
    if text in ("true", "false"):
        return "boolean"
    if text.startswith("@"):
        return "dateTime"
    return "Quantity" if "'" in text else "decimal"


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _temporal_text(value: Any) -> str | None:
    """A date, dateTime or time as written in a FHIRPath literal, without ``@`` and ``T``."""
    text = getattr(value, "asStr", value)
    return text.removeprefix("T") if isinstance(text, str) else None


def _quantity(value: Any) -> tuple[Decimal | None, str] | None:
    if isinstance(value, dict):
        return _number(value.get("value")), str(value.get("code") or value.get("unit") or "")
    if hasattr(value, "unit") and hasattr(value, "value"):
        return _number(value.value), str(value.unit or "").strip("'")
    return None


def _quantity_literal(text: str) -> tuple[Decimal | None, str]:
    number, _, unit = text.partition(" ")
    return _number(number), unit.strip("'")


def render(result: list[Any]) -> str:
    return "[" + ", ".join(f"{type(v).__name__} {getattr(v, 'asStr', v)}" for v in result) + "]"


def render_outputs(outputs: list[Output]) -> str:
    return "[" + ", ".join(f"{kind or 'untyped'} {text}" for kind, text in outputs) + "]"


def share(passed: int, total: int) -> str:
    return f"{passed}/{total} = {100 * passed / max(total, 1):.1f} %"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", "-v", action="store_true", help="print every failing test")
    args = parser.parse_args()
    root = shared_root()
    if root is None:
        print("../shared is not beside the repository; nothing to measure", file=sys.stderr)
        return 2
    suite = root / "data" / "peer" / "fhirpath-suite"
    outcomes = [run(case, suite / "input-json") for case in load_cases(suite / "tests-fhir-r4.xml")]

    by_group: dict[str, list[Outcome]] = collections.defaultdict(list)
    for outcome in outcomes:
        by_group[outcome.case.group].append(outcome)
    width = max(len(group) for group in by_group)
    for group, members in by_group.items():
        print(f"{group:<{width}}  {share(sum(o.passed for o in members), len(members))}")
    print(f"\nall tests: {share(sum(o.passed for o in outcomes), len(outcomes))}")
    if args.verbose:
        print("\nfailing tests:")
        for outcome in outcomes:
            if not outcome.passed:
                case = outcome.case
                expected = f"invalid ({case.invalid})" if case.invalid else render_outputs(case.outputs)
                print(f"- {case.group}/{case.name}: {case.expression!r}\n"
                      f"    expected: {expected}\n    got:      {outcome.got}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
