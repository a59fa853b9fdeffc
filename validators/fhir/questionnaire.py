"""QuestionnaireResponse against its Questionnaire: the answers a form allows.

The Questionnaire is found by the response's canonical ``questionnaire`` among the loaded
definitions (``--ig``) or its contained resources. Then every response item is matched to the
Questionnaire item with its ``linkId``, and judged: the answer's type against the item's type,
answers where none belong (group, display), required items, repeats and the min/maxOccurs
extensions, answerOption lists, enableWhen (answers to items that are not enabled), and the
value constraints of the item's extensions: minValue/maxValue, minLength/maxLength, regex,
maxDecimalPlaces, the allowed mime types and maximum size of attachments, and the resource
types a reference answer may point to, and the value sets an item names: a Coding answer's code
(and display) in the answerValueSet, a string answer as a code of it, a quantity's unit in the
unitValueSet (codes that cannot be decided locally are a warning, as in HL7's validator without
a terminology server).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator

from ..issues import Issue, Path, Severity
from ..rules import declared
from .definitions import Definitions
from .profiles import UCUM, _in_base_unit
from .visit import Visit

EXT = "http://hl7.org/fhir/StructureDefinition/"
SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-"

NOT_FOUND = declared("FHIR-QR-001")
UNKNOWN_LINK_ID = declared("FHIR-QR-002")
WRONG_ANSWER_TYPE = declared("FHIR-QR-003")
ANSWER_NOT_ALLOWED = declared("FHIR-QR-004")
ANSWER_COUNT = declared("FHIR-QR-005")
NOT_ENABLED = declared("FHIR-QR-006")
NOT_AN_OPTION = declared("FHIR-QR-007")
OUT_OF_BOUNDS = declared("FHIR-QR-008")

INNER_ENABLE_WHEN = declared("FHIR-QR-009")

ENABLE_WHEN_LINK = declared("FHIR-QR-010")
ENABLE_WHEN_LATER = declared("FHIR-QR-011")

_ANSWER_TYPES: dict[str, tuple[str, ...]] = {
    "boolean": ("boolean",), "decimal": ("decimal",), "integer": ("integer",), "date": ("date",),
    "dateTime": ("dateTime",), "time": ("time",), "string": ("string",), "text": ("string",), "url": ("uri",),
    "choice": ("Coding", "string"), "open-choice": ("Coding", "string"), "attachment": ("Attachment",),
    "reference": ("Reference",), "quantity": ("Quantity",),
}
_NO_ANSWERS = ("group", "display", "question")
_ANSWER_VALUE_TYPES = {"boolean", "decimal", "integer", "date", "dateTime", "time", "string", "uri", "Attachment",
                       "Coding", "Quantity", "Reference"}
"""QuestionnaireResponse.item.answer.value[x]: other suffixes are the structure check's (unknown property)."""
_RESOURCE_URL = re.compile(r"(?:^|/)([A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?:/_history/[A-Za-z0-9\-.]{1,64})?$")
_URL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:\S+|[A-Za-z]+/[A-Za-z0-9\-.]{1,64}|#\S+)$")


@dataclass(frozen=True, slots=True)
class _Here:
    path: Path
    expression: str


def _ext(item: dict[str, Any], name: str) -> Any:
    """The value of an extension of ``item``: a full URL, or a short name under the core base."""
    url = name if ":" in name else EXT + name
    for ext in item.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == url:
            for key, value in ext.items():
                if key.startswith("value"):
                    return value
    return None


def _exts(item: dict[str, Any], name: str) -> list[Any]:
    return [value for ext in item.get("extension") or [] if isinstance(ext, dict) and ext.get("url") == EXT + name
            for key, value in ext.items() if key.startswith("value")]


def _value(answer: dict[str, Any]) -> tuple[str, Any] | None:
    """(value key, value) of an answer."""
    for key, value in answer.items():
        if key.startswith("value") and len(key) > 5:
            return key, value
    return None


class QuestionnaireChecker:
    """An element check on QuestionnaireResponse resources."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions

    @staticmethod
    def relevant(element: dict[str, Any], _code: str | None) -> bool:
        """Only a resource's root element is visited with the resource itself (see StructureChecker)."""
        return "." not in element.get("path", "")

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        response = visit.value
        if visit.value is not visit.resource or not isinstance(response, dict):
            return
        if response.get("resourceType") == "Questionnaire":
            yield from _inner_conditions(response.get("item") or [], _Here(visit.path, visit.expression))
            return
        if response.get("resourceType") != "QuestionnaireResponse":
            return
        canonical = response.get("questionnaire")
        if not isinstance(canonical, str):
            return
        questionnaire = self._find(canonical, response)
        here = _Here((*visit.path, "questionnaire"), f"{visit.expression}.questionnaire")
        if questionnaire is None:
            yield NOT_FOUND.issue(f"The questionnaire '{canonical}' could not be found (load it with --ig), so the "
                                  "answers were not checked against it", path=here.path, expression=here.expression)
            return
        if questionnaire.get("resourceType") != "Questionnaire":
            yield NOT_FOUND.issue(f"Canonical URL '{canonical}' refers to a resource that has the wrong type. Found "
                                  f"{questionnaire.get('resourceType')} expecting one of [Questionnaire]",
                                  path=here.path, expression=here.expression, severity=Severity.ERROR)
            return
        session = _Session(self.definitions, response, visit)
        yield from session.items(questionnaire.get("item") or [], response.get("item") or [],
                                 _Here(visit.path, visit.expression))

    def _find(self, canonical: str, response: dict[str, Any]) -> dict[str, Any] | None:
        if canonical.startswith("#"):
            return next((c for c in response.get("contained") or []
                         if isinstance(c, dict) and c.get("id") == canonical[1:]), None)
        return self.definitions.get(canonical)


class _Session:
    """One response checked against one questionnaire."""

    def __init__(self, definitions: Definitions, response: dict[str, Any], visit: Visit) -> None:
        self.definitions = definitions
        self.root = _Here(visit.path, visit.expression)

    def items(self, definitions: list[Any], responses: list[Any], parent: _Here,
              scopes: tuple[list[Any], ...] = ()) -> Iterator[Issue]:
        scopes = (responses, *scopes)
        by_link = {d.get("linkId"): d for d in definitions if isinstance(d, dict)}
        seen: dict[str, int] = {}
        for i, response in enumerate(responses):
            if not isinstance(response, dict):
                continue
            here = _Here((*parent.path, "item", i), f"{parent.expression}.item[{i}]")
            link = response.get("linkId")
            definition = by_link.get(link)
            if definition is None:
                yield UNKNOWN_LINK_ID.issue(f"LinkId '{link}' not found in questionnaire", path=self.root.path,
                                            expression=self.root.expression)
                continue
            seen[str(link)] = seen.get(str(link), 0) + 1
            if seen[str(link)] == 2 and not definition.get("repeats"):
                yield ANSWER_COUNT.issue("Only one response answer item with this linkId allowed", **_at(here))
            yield from self._item(definition, response, here, scopes)
        for definition in by_link.values():
            link = str(definition.get("linkId"))
            if definition.get("required") and link not in seen and self._enabled(definition, scopes) \
                    and definition.get("type") != "display":
                kind = "group" if definition.get("type") == "group" else "item"
                yield ANSWER_COUNT.issue(f"No response answer found for required {kind} '{link}'", **_at(parent))

    def _item(self, definition: dict[str, Any], response: dict[str, Any], here: _Here,
              scopes: tuple[list[Any], ...]) -> Iterator[Issue]:
        answers = [a for a in response.get("answer") or [] if isinstance(a, dict)]
        kind = definition.get("type")
        link = definition.get("linkId")
        if answers and not self._enabled(definition, scopes):
            yield NOT_ENABLED.issue(f"Item has answer, even though it is not enabled (item id = '{link}')", **_at(here))
        if kind in _NO_ANSWERS:
            if answers:
                label = f"'{kind}'" if kind == "display" else kind
                message = f"Items of type {label} cannot have answers" if kind == "display" else \
                    f"Items of type {'question' if kind == 'question' else kind} should not have answers"
                yield ANSWER_NOT_ALLOWED.issue(message, **_at(here))
            if kind == "group" and definition.get("required") and not response.get("item"):
                yield ANSWER_COUNT.issue("No sub-items found for required group", **_at(here))
            yield from self.items(definition.get("item") or [], response.get("item") or [], here, scopes)
            return
        yield from self._counts(definition, answers, here)
        for j, answer in enumerate(answers):
            answer_here = _Here((*here.path, "answer", j), f"{here.expression}.answer[{j}]")
            yield from self._answer(definition, answer, answer_here)
            yield from self.items(definition.get("item") or [], answer.get("item") or [], answer_here, scopes)
        if response.get("item"):
            yield from self.items(definition.get("item") or [], response.get("item") or [], here, scopes)

    def _counts(self, definition: dict[str, Any], answers: list[Any], here: _Here) -> Iterator[Issue]:
        minimum, maximum = _ext(definition, "questionnaire-minOccurs"), _ext(definition, "questionnaire-maxOccurs")
        if isinstance(minimum, int) and len(answers) < minimum:
            yield ANSWER_COUNT.issue(f"The minimum number of answers is {minimum} but this has {len(answers)} answers",
                                     **_at(here))
        if isinstance(maximum, int) and len(answers) > maximum:
            yield ANSWER_COUNT.issue(f"The maximum number of answers is {maximum} but this has {len(answers)} answers",
                                     **_at(here))
        elif maximum is None and len(answers) > 1 and not definition.get("repeats"):
            yield ANSWER_COUNT.issue("Only one response answer item with this linkId allowed", **_at(here))

    def _answer(self, definition: dict[str, Any], answer: dict[str, Any], here: _Here) -> Iterator[Issue]:
        found = _value(answer)
        if found is None:
            return
        key, value = found
        suffix = key[5:]
        code = suffix if suffix in self.definitions.type_kinds and suffix[:1].isupper() else suffix[:1].lower() + suffix[1:]
        value_here = _Here((*here.path, key), f"{here.expression}.value.ofType({code})")
        if code not in _ANSWER_VALUE_TYPES:
            return
        allowed = _ANSWER_TYPES.get(str(definition.get("type")))
        if allowed is not None and code not in allowed:
            yield WRONG_ANSWER_TYPE.issue(f"Answer value must be of the type {allowed[0]} not {code}", **_at(value_here))
            return
        yield from self._options(definition, code, value, here, value_here)
        yield from self._value_sets(definition, code, value, here, value_here)
        yield from _limits(definition, code, value, here, value_here, self.definitions.resource_types)

    def _value_sets(self, definition: dict[str, Any], code: str, value: Any, here: _Here,
                    value_here: _Here) -> Iterator[Issue]:
        """The answer's code in the item's answerValueSet, a quantity's unit in its unitValueSet."""
        from .bindings import terminology

        url = definition.get("answerValueSet")
        units = _ext(definition, "questionnaire-unitValueSet")
        if isinstance(url, str) and url and code == "Coding" and isinstance(value, dict):
            system, item, display = value.get("system"), value.get("code"), value.get("display")
            if not isinstance(item, str) and definition.get("type") == "open-choice":
                return  # free text in a Coding's display: what open-choice allows
            if not isinstance(item, str):
                return
            verdict = terminology(self.definitions).validate_code(system if isinstance(system, str) else None, item,
                                                                   display if isinstance(display, str) else None, url)
            if verdict.valid is None:
                yield NOT_AN_OPTION.issue(f"The code {system}#{item} could not be checked against the options value "
                                          f"set {url} ({verdict.message})", severity=Severity.WARNING, **_at(here))
            elif verdict.valid is False or verdict.display_ok is False:
                why = "" if verdict.valid is False else (
                    f": the display '{display}' is not the code's ({', '.join(repr(d) for d in verdict.displays[:3])})")
                yield NOT_AN_OPTION.issue(f"The code '{item}' in the system '{system}' is not in the options value set "
                                          f"{url}{why}", **_at(here))
        elif isinstance(url, str) and url and code == "string" and definition.get("type") in ("string", "text") \
                and isinstance(value, str):
            verdict = terminology(self.definitions).validate_code(None, value, None, url)
            if verdict.valid is False:
                yield NOT_AN_OPTION.issue(f"The value '{value}' is not in the list of allowed values (value set {url})",
                                          **_at(value_here))
        if isinstance(units, str) and code == "Quantity" and isinstance(value, dict):
            system, unit = value.get("system"), value.get("code")
            shown = f"{value.get('value')} {value.get('unit') or ''} ({system or 'no system'}#{unit})".replace("  ", " ")
            if not isinstance(unit, str):
                yield OUT_OF_BOUNDS.issue(f"The value {shown} has no unit code, so it is not in the unit value set "
                                          f"{units}", **_at(value_here))
                return
            verdict = terminology(self.definitions).validate_code(system if isinstance(system, str) else None, unit,
                                                                   None, units)
            if verdict.valid is False:
                yield OUT_OF_BOUNDS.issue(f"The value {shown} has a unit that is not in the unit value set {units}",
                                          **_at(value_here))
            elif verdict.valid is None:
                yield OUT_OF_BOUNDS.issue(f"The unit of {shown} could not be checked against the unit value set "
                                          f"{units} ({verdict.message})", severity=Severity.WARNING, **_at(value_here))

    def _options(self, definition: dict[str, Any], code: str, value: Any, here: _Here,
                 value_here: _Here) -> Iterator[Issue]:
        options = [o for o in definition.get("answerOption") or [] if isinstance(o, dict)]
        if not options or (definition.get("type") == "open-choice" and code == "string"):
            return
        values = [v for o in options for k, v in o.items() if k.startswith("value")]
        if code == "Coding" and isinstance(value, dict):
            if not any(isinstance(v, dict) and v.get("code") == value.get("code")
                       and (v.get("system") is None or v.get("system") == value.get("system")) for v in values):
                yield NOT_AN_OPTION.issue(f"The code {value.get('system')}::{value.get('code')} is not in the set of "
                                          "permitted values", **_at(here))
        elif value not in values:
            yield NOT_AN_OPTION.issue(f"The {code} {value} is not in the set of permitted values", **_at(value_here))

    def _enabled(self, definition: dict[str, Any], scopes: tuple[list[Any], ...]) -> bool:
        conditions = [c for c in definition.get("enableWhen") or [] if isinstance(c, dict)]
        if not conditions:
            return True
        results = [self._condition(c, scopes) for c in conditions]
        return any(results) if definition.get("enableBehavior") == "any" else all(results)

    @staticmethod
    def _condition(condition: dict[str, Any], scopes: tuple[list[Any], ...]) -> bool:
        """The question's answers come from the nearest enclosing item list that has the question
        (the same repetition of a repeating group first), as HL7's validator resolves them."""
        link = str(condition.get("question"))
        answers: list[Any] = []
        for scope in scopes:
            if _answers(scope, link, answers):
                break
        operator = condition.get("operator")
        expected = next((v for k, v in condition.items() if k.startswith("answer")), None)
        if operator == "exists":
            return bool(answers) == bool(expected)
        return any(_compare_answer(answer, operator, expected) for answer in answers)


def _inner_conditions(items: list[Any], parent: _Here) -> Iterator[Issue]:
    """The enableWhen conditions of a Questionnaire's items, as HL7's validator checks them: a
    question link to an item of the questionnaire, not to the item itself or one of its own
    sub-items, preferably to an item that comes before it."""
    order = {link: n for n, link in enumerate(_link_ids(items))}
    yield from _conditions(items, parent, order)


def _conditions(items: list[Any], parent: _Here, order: dict[str, int]) -> Iterator[Issue]:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        here = _Here((*parent.path, "item", i), f"{parent.expression}.item[{i}]")
        inner = set(_link_ids(item.get("item") or []))
        own = item.get("linkId")
        for condition in item.get("enableWhen") or []:
            if not isinstance(condition, dict):
                continue
            question = condition.get("question")
            if not isinstance(question, str) or not question:
                yield ENABLE_WHEN_LINK.issue("Questions with an enableWhen must have a value for the question link",
                                             **_at(here))
            elif question in inner:
                yield INNER_ENABLE_WHEN.issue("Questions with an enableWhen cannot refer to an inner question for its "
                                              "enableWhen condition", **_at(here))
            elif question not in order:
                yield ENABLE_WHEN_LINK.issue(f"Unable to find an item with the linkId '{question}' which is referenced "
                                             f"in the enableWhen for '{own}'", **_at(here))
            elif question == own:
                yield ENABLE_WHEN_LINK.issue("The enableWhen of a question cannot refer to the question itself",
                                             **_at(here))
            elif isinstance(own, str) and order.get(question, -1) > order.get(own, -1):
                yield ENABLE_WHEN_LATER.issue(f"The target of this enableWhen rule ({question}) comes after the "
                                              "question itself", **_at(here))
        yield from _conditions(item.get("item") or [], here, order)


def _link_ids(items: list[Any]) -> Iterator[str]:
    for item in items:
        if isinstance(item, dict):
            yield str(item.get("linkId"))
            yield from _link_ids(item.get("item") or [])


def _answers(items: list[Any], link: str, into: list[Any]) -> bool:
    """Collect the answers to ``link`` among ``items`` and their descendants; True if the item is there."""
    found = False
    for item in items:
        if not isinstance(item, dict):
            continue
        if str(item.get("linkId")) == link:
            found = True
            into.extend(v[1] for a in item.get("answer") or [] if isinstance(a, dict) and (v := _value(a)))
        for answer in item.get("answer") or []:
            if isinstance(answer, dict):
                found = _answers(answer.get("item") or [], link, into) or found
        found = _answers(item.get("item") or [], link, into) or found
    return found


def _compare_answer(answer: Any, operator: Any, expected: Any) -> bool:
    if isinstance(answer, dict) and isinstance(expected, dict):  # Coding
        same = answer.get("code") == expected.get("code") and answer.get("system") == expected.get("system")
        return same if operator == "=" else (not same if operator == "!=" else False)
    if operator == "=":
        return answer == expected
    if operator == "!=":
        return answer != expected
    try:
        a, b = (Decimal(str(answer)), Decimal(str(expected))) if not isinstance(answer, str) else (answer, expected)
        return {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}.get(str(operator), False)
    except (InvalidOperation, TypeError):
        return False


def _at(here: _Here) -> dict[str, Any]:
    return {"path": here.path, "expression": here.expression}


def _limits(definition: dict[str, Any], code: str, value: Any, here: _Here, value_here: _Here,
            resource_types: set[str]) -> Iterator[Issue]:
    where = _at(value_here)
    for name, word, sign in (("minValue", "less than the allowed minimum of", -1),
                             ("maxValue", "greater than the allowed maximum of", 1)):
        limit = _ext(definition, name)
        if limit is None and code == "Quantity":
            limit = _ext(definition, SDC + name.replace("Value", "Quantity"))
        if limit is None:
            continue
        if code == "Quantity":
            yield from _quantity_limit(value, limit, sign, where)
            continue
        order = _order(value, limit)
        if order == sign:
            yield OUT_OF_BOUNDS.issue(f"The value {value} is {word} {limit}", **where)
    if isinstance(value, str) and code in ("string", "uri"):
        minimum, maximum = _ext(definition, "minLength"), definition.get("maxLength")
        if isinstance(minimum, int) and len(value) < minimum:
            yield OUT_OF_BOUNDS.issue(f"The answer '{value}' is shorter then the required minimum length of {minimum}",
                                      **where)
        if isinstance(maximum, int) and len(value) > maximum:
            yield OUT_OF_BOUNDS.issue(f"The answer '{value}' is longer then the allowed maximum length of {maximum}",
                                      **where)
        regex = _ext(definition, "regex")
        if isinstance(regex, str) and not _full_match(regex, value):
            yield OUT_OF_BOUNDS.issue(f"The answer '{value}' does not conform to the expected format (regex '{regex}')",
                                      **where)
    places = _ext(definition, "maxDecimalPlaces")
    if isinstance(places, int):
        number = value.get("value") if isinstance(value, dict) else value
        if isinstance(number, (int, float, Decimal)) and not isinstance(number, bool):
            exponent = Decimal(str(number)).as_tuple().exponent
            if isinstance(exponent, int) and -exponent > places:
                yield OUT_OF_BOUNDS.issue(f"The value {number} has too many decimal places (limit = {places})", **where)
    if code == "Attachment" and isinstance(value, dict):
        yield from _attachment(definition, value, here, value_here)
    if code == "Reference" and isinstance(value, dict):
        yield from _reference(definition, value, value_here, resource_types)


def _quantity_limit(value: Any, limit: Any, sign: int, where: dict[str, Any]) -> Iterator[Issue]:
    if not isinstance(value, dict) or not isinstance(limit, dict):
        return
    bound = "minimum" if sign < 0 else "maximum"
    shown = f"{value.get('value')} {value.get('unit') or value.get('code') or ''}".strip()
    shown_limit = f"{limit.get('value')} {limit.get('unit') or limit.get('code') or ''}".strip()
    if value.get("system") != UCUM or limit.get("system") != UCUM or not value.get("code") or not limit.get("code"):
        yield OUT_OF_BOUNDS.issue(f"The quantity {shown} cannot be compared to the allowed {bound} of {shown_limit} "
                                  "because no formal units are specified", **where)
        return
    a, b = _in_base_unit(value), _in_base_unit(limit)
    if a is None or b is None or a[1] != b[1]:
        yield OUT_OF_BOUNDS.issue(f"The quantity {shown} cannot be compared to the allowed {bound} of {shown_limit}",
                                  **where)
        return
    if (a[0] > b[0]) - (a[0] < b[0]) == sign:
        word = "less than" if sign < 0 else "greater than"
        yield OUT_OF_BOUNDS.issue(f"The quantity {shown} is {word} the allowed {bound} of {shown_limit}", **where)


def _order(value: Any, limit: Any) -> int | None:
    if isinstance(value, str) and isinstance(limit, str):  # dates and times: as HL7 compares them, by text
        return (value > limit) - (value < limit)
    try:
        a, b = Decimal(str(value)), Decimal(str(limit))
    except InvalidOperation:
        return None
    return (a > b) - (a < b)


def _full_match(regex: str, value: str) -> bool:
    try:
        return re.fullmatch(regex, value) is not None
    except re.error:
        return True  # a broken regex in the form is the form's problem, not the answer's


def _attachment(definition: dict[str, Any], value: dict[str, Any], here: _Here, value_here: _Here) -> Iterator[Issue]:
    types = [t for t in _exts(definition, "mimeType") if isinstance(t, str)]
    content_type = value.get("contentType")
    if types and isinstance(content_type, str) and content_type not in types:
        yield OUT_OF_BOUNDS.issue(f"The mime type {content_type} is not valid for this answer (allowed = "
                                  f"{', '.join(types)})", **_at(here))
    data = value.get("data")
    actual = None
    if isinstance(data, str):
        try:
            actual = len(base64.b64decode(data, validate=False))
        except (binascii.Error, ValueError):
            actual = None
    stated = value.get("size")
    if actual is not None and isinstance(stated, int) and stated != actual:
        yield OUT_OF_BOUNDS.issue(f"Stated Attachment Size {stated:,} does not match actual attachment size {actual}",
                                  **_at(value_here))
    limit = _ext(definition, "maxSize")
    size = actual if actual is not None else stated
    if isinstance(limit, (int, float, Decimal)) and isinstance(size, int) and size > limit:
        yield OUT_OF_BOUNDS.issue(f"The attachment is too large (allowed = {limit}, found = {size})", **_at(here))


def _reference(definition: dict[str, Any], value: dict[str, Any], value_here: _Here,
               resource_types: set[str]) -> Iterator[Issue]:
    reference = value.get("reference")
    if not isinstance(reference, str):
        return
    where = _at(value_here)
    if not _URL.match(reference):
        yield OUT_OF_BOUNDS.issue(f"The reference '{reference}' is not a valid reference", **where)
    allowed = [t for t in _exts(definition, "questionnaire-referenceResource") if isinstance(t, str)]
    match = _RESOURCE_URL.search(reference.replace(" ", ""))
    if match is None:
        return
    kind = match.group(1)
    if kind not in resource_types:
        yield OUT_OF_BOUNDS.issue(f"The resource type {kind} in the reference {reference} is not valid", **where)
    elif allowed and kind not in allowed:
        yield OUT_OF_BOUNDS.issue(f"The resource type '{kind}' in the reference {reference} is not allowed (allowed = "
                                  f"{','.join(allowed)})", **where)
