"""Text that looks like HTML where no HTML belongs: string values with embedded tags (HL7's
security check) and markdown with raw HTML tags.

HL7's validator reports a string primitive whose value contains something that looks like an
HTML tag: as an error when its security checks are on (``-security-checks``), otherwise as a
hint, since a receiver that renders the text as HTML without escaping it runs the tag. Markdown
with a raw HTML tag is a warning (an error when HTML in markdown is refused), as the
presentation layer should escape it. The tests of what looks like a tag follow HL7's
(``HTMLUtilities.containsHtmlTags``, ``MarkDownProcessor.preProcess``).
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..issues import Issue, Severity
from ..rules import declared
from .elements import is_primitive
from .visit import Visit

HTML_IN_STRING = declared("FHIR-STRUCT-019")
HTML_IN_MARKDOWN = declared("FHIR-STRUCT-020")

XHTML_RENDERING = "http://hl7.org/fhir/StructureDefinition/rendering-xhtml"
"""The extension whose string value is XHTML on purpose: no hint there."""

_MARKDOWN_TAG = re.compile(r"(?<!\\)<(/)?([A-Za-z][A-Za-z0-9-]*[\s>])|<[!?]")
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

HTML_IN_MARKDOWN_LEVELS = ("none", "warning", "error")


def contains_html_tags(text: str) -> bool:
    """Whether the text holds ``<name ...>`` followed later by another ``<`` (HL7's test: a tag
    name of letters, digits and ``_`` starting with a letter, then the end or white space)."""
    rest = text
    start = rest.find("<")
    while start > -1:
        rest = rest[start + 1:]
        start = rest.find("<")
        end = rest.find(">")
        if -1 < end < start and _looks_like_tag(rest[:end]):
            return True
    return False


def _looks_like_tag(content: str) -> bool:
    match = _TAG_NAME.match(content)
    return match is not None and (match.end() == len(content) or content[match.end()].isspace())


def markdown_html_at(text: str) -> int | None:
    """Where the first raw HTML tag (or comment, processing instruction, declaration) of a
    markdown text starts, or None: what a presentation layer has to escape."""
    match = _MARKDOWN_TAG.search(text)
    return match.start() if match else None


class TextContentChecker:
    """An element check: HTML-looking content in string primitives and markdown."""

    def __init__(self, security_checks: bool = False, html_in_markdown: str = "warning") -> None:
        self.security_checks = security_checks
        self.html_in_markdown = html_in_markdown

    @staticmethod
    def relevant(element: dict[str, Any], code: str | None) -> bool:
        return code is not None and is_primitive(code) and code != "xhtml"

    @staticmethod
    def wants(value: Any) -> bool:
        """Whether a value of a relevant element can give a finding (the walk asks before it visits:
        most strings have no ``<``)."""
        return isinstance(value, str) and "<" in value

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        value, code = visit.value, visit.code
        if not isinstance(value, str) or "<" not in value:  # (the cheapest test first: most text has no '<')
            return
        if code is None or not is_primitive(code) or code == "xhtml":
            return
        if self.security_checks:
            if contains_html_tags(value):
                yield HTML_IN_STRING.issue(
                    "The string value contains text that looks like embedded HTML tags, which are not allowed "
                    "for security reasons in this context", path=visit.path, expression=visit.expression,
                    severity=Severity.ERROR)
        elif code != "markdown" and not self._in_xhtml_rendering(visit) and contains_html_tags(value):
            yield HTML_IN_STRING.issue(
                "The string value contains text that looks like embedded HTML tags. If this content is rendered "
                "to HTML without appropriate post-processing, it may be a security risk",
                path=visit.path, expression=visit.expression, severity=Severity.INFORMATION)
        if code == "markdown" and self.html_in_markdown != "none" and not self._element_comment_on_div(visit):
            at = markdown_html_at(value)
            if at is not None:
                yield HTML_IN_MARKDOWN.issue(
                    f"The markdown contains content that appears to be an embedded HTML tag starting at "
                    f"'{value[at:at + 2]}'. A presentation layer will (or should) escape it: check that this is "
                    "what is meant", path=visit.path, expression=visit.expression,
                    severity=Severity.ERROR if self.html_in_markdown == "error" else Severity.WARNING)

    @staticmethod
    def _in_xhtml_rendering(visit: Visit) -> bool:
        holder = visit.parent.value if visit.parent is not None else None
        return isinstance(holder, dict) and holder.get("url") == XHTML_RENDERING

    @staticmethod
    def _element_comment_on_div(visit: Visit) -> bool:
        """An ElementDefinition.comment of a ``.text.div`` element talks about HTML (HL7 leaves it alone)."""
        holder = visit.parent.value if visit.parent is not None else None
        return visit.expression.endswith(".comment") and isinstance(holder, dict) \
            and str(holder.get("path", "")).endswith(".text.div")
