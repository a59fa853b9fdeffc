"""Attachments: data, size and hash agree with each other (datatypes.html#Attachment).

``Attachment.data`` is base64 (RFC 4648, no white space inside the value in JSON), ``size`` is
the number of bytes of the decoded data and ``hash`` the base64 SHA-1 of them. HL7's validator
decodes the data and checks both; so does this check, with the same severities. An attachment
with neither data nor url should at least say what it would hold (contentType or language).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any, Iterator

from ..issues import Issue
from ..rules import declared
from .visit import Visit

NOT_BASE64 = declared("FHIR-ATT-001")
SIZE_MISMATCH = declared("FHIR-ATT-002")
HASH_MISMATCH = declared("FHIR-ATT-003")
NO_CONTENT = declared("FHIR-ATT-004")

_STRICT = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def strict_base64(text: str) -> tuple[bytes | None, str | None]:
    """The decoded bytes, or None and why: RFC 4648 without white space; padding may be left out."""
    if not _STRICT.match(text):
        bad = next((c for c in text if not (c.isascii() and (c.isalnum() or c in "+/="))), "=")
        return None, f"illegal base64 character {bad!r}"
    body = text.rstrip("=")
    if len(body) % 4 == 1:
        return None, "the last unit does not have enough valid bits"
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True), None
    except (binascii.Error, ValueError) as exc:
        return None, str(exc)


class AttachmentChecker:
    def relevant(self, element: dict[str, Any], code: str | None) -> bool:
        return code == "Attachment" and element.get("path") != "Attachment"

    def __call__(self, visit: Visit) -> Iterator[Issue]:
        value = visit.value
        if visit.code != "Attachment" or not isinstance(value, dict) or visit.element.get("path") == "Attachment":
            return  # (not again for the datatype's own constraints)
        where = {"path": visit.path, "expression": visit.expression}
        if not any(key in value for key in ("data", "url", "contentType", "language")):
            yield NO_CONTENT.issue("Attachments have data and/or url, or else should have either contentType "
                                   "and/or language", **where)
        hash_bytes = None
        stated_hash = value.get("hash")
        if isinstance(stated_hash, str) and stated_hash:
            hash_bytes, problem = strict_base64(stated_hash)
            if problem:
                yield NOT_BASE64.issue(f"The base64 content in the hash element is not valid base64: {problem}", **where)
        data = value.get("data")
        if not isinstance(data, str) or not data:
            return
        content, problem = strict_base64(data)
        if content is None:
            if strict_base64("".join(data.split()))[0] is not None:
                # valid base64 apart from white space: the datatype check only warns, but the
                # attachment's content cannot be decoded as it stands
                yield NOT_BASE64.issue(f"The base64 content in the data element is not valid base64: {problem}",
                                       **where)
            return  # otherwise not base64 at all: the datatype check (FHIR-STRUCT-006) says so
        size = value.get("size")
        if isinstance(size, int) and not isinstance(size, bool) and size >= 0 and size != len(content):
            yield SIZE_MISMATCH.issue(f"Stated Attachment Size {size} does not match actual attachment size "
                                      f"{len(content)}", **where)
        if hash_bytes is not None:
            digest = hashlib.sha1(content).digest()
            if digest != hash_bytes:
                yield HASH_MISMATCH.issue(f"The hash of the data did not match the data (stated: '{stated_hash}', "
                                          f"actual: '{base64.b64encode(digest).decode()}')", **where)
