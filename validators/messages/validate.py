"""One message, every layer: the wrapper (NAV fellesformat, SOAP), the standards of its parts,
the XML Schema layer and the rule layer. The runner calls :func:`validate_message`."""

from __future__ import annotations

from datetime import date
from typing import Any

from lxml import etree

from ..issues import Issue
from .packs import check_message
from .schemas import SchemaSet, schema_issues
from .standards import describe, unsupported_issues
from .wrappers import unwrap


def validate_message(root: etree._Element, schemas: SchemaSet | None, terminology: Any, *,
                     today: date | None = None) -> list[Issue]:
    """Schema layer (installed XSD packs), then the rule layer; both run whatever the other finds.

    A wrapped message is validated as if it stood alone, located where it stands in the file; the
    schema layer takes the whole file when the installed packs know the wrapper's namespace."""
    unwrapped = unwrap(root)
    issues = list(unwrapped.issues)
    message = unwrapped.message
    if message is None:
        return issues
    issues.extend(unsupported_issues(describe(message)))
    whole = unwrapped.wrapper is None or (
        schemas is not None and schemas.schema_file(etree.QName(root).namespace or "") is not None)
    issues.extend(schema_issues(root if whole else message, schemas))
    issues.extend(check_message(message, terminology, today=today))
    return issues
