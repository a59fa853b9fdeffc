"""HL7's check inventory: every message key of HL7's Java validator, mapped to samsvar's rules.

HL7's validator declares each finding it can raise as a key of its ``Messages.properties``.
``hl7_inventory.tsv`` beside this module has one line per key (sorted by key, tab-separated):

    key  family  what  severity  rule  status  reason

``family`` groups the keys (``FAMILIES``); ``what`` says in our words what the key checks;
``severity`` is HL7's (``error``, ``warning``, ``information``) where the code that raises it
fixes one, else empty; ``rule`` lists the samsvar rule codes that raise the same finding
(comma-separated); ``status`` is ``implemented`` (samsvar raises it, a fixture shows it),
``not-applicable`` (not a check on an R4 instance offline: R5-only, validator-internal, needs
a server, IG publisher only, ...) or ``planned``; ``reason`` is required unless implemented.
Only the key names come from HL7; the rest is ours.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

INVENTORY = Path(__file__).with_name("hl7_inventory.tsv")
COLUMNS = ("key", "family", "what", "severity", "rule", "status", "reason")
STATUSES = ("implemented", "not-applicable", "planned")
SEVERITIES = ("error", "warning", "information", "")
FAMILIES = (
    "structure", "datatype", "reference", "bundle", "terminology", "extension", "profile",
    "slicing", "invariant", "narrative", "questionnaire", "measure", "searchparameter",
    "codesystem", "valueset", "conceptmap", "structuredefinition", "xml", "json", "fhirpath",
    "signature", "structuremap", "implementationguide", "other",
)


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    family: str
    what: str
    severity: str
    rules: tuple[str, ...]
    status: str
    reason: str

    def line(self) -> str:
        return "\t".join((self.key, self.family, self.what, self.severity, ",".join(self.rules),
                          self.status, self.reason))


class InventoryError(ValueError):
    """A line of the inventory that does not have the seven columns."""


def parse(text: str) -> list[Entry]:
    """The entries of an inventory file's text (the header line first)."""
    lines = text.splitlines()
    if not lines or tuple(lines[0].split("\t")) != COLUMNS:
        raise InventoryError(f"line 1: the header must be {'<TAB>'.join(COLUMNS)}")
    entries = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(COLUMNS):
            raise InventoryError(f"line {number}: {len(cells)} columns, expected {len(COLUMNS)}")
        key, family, what, severity, rules, status, reason = (c.strip() for c in cells)
        codes = tuple(code.strip() for code in rules.split(",") if code.strip())
        entries.append(Entry(key, family, what, severity, codes, status, reason))
    return entries


def load(path: Path = INVENTORY) -> list[Entry]:
    return parse(path.read_text(encoding="utf-8"))


def render(entries: list[Entry]) -> str:
    """The file's text: the header, then one line per key, sorted by key."""
    body = [e.line() for e in sorted(entries, key=lambda e: e.key)]
    return "\n".join(["\t".join(COLUMNS), *body]) + "\n"


def property_keys(text: str) -> list[str]:
    """The keys of a Java ``.properties`` file, in file order (values and comments skipped,
    continuation lines followed, escapes in keys resolved)."""
    keys: list[str] = []
    continued = False
    for raw in text.splitlines():
        line = raw.strip()
        if continued:
            continued = _continues(line)
            continue
        if not line or line[0] in "#!":
            continue
        match = re.match(r"((?:\\.|[^=:\s\\])+)", line)
        if match:
            keys.append(re.sub(r"\\(.)", r"\1", match.group(1)))
        continued = _continues(line)
    return keys


def _continues(line: str) -> bool:
    """A line continues on the next when it ends in an odd number of backslashes."""
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


_FAMILY_BY_PREFIX = (
    ("QUESTIONNAIRE", "questionnaire"), ("MEASURE", "measure"), ("CODESYSTEM", "codesystem"),
    ("VALUESET", "valueset"), ("CONCEPTMAP", "conceptmap"), ("SEARCHPARAMETER", "searchparameter"),
    ("SD_", "structuredefinition"), ("BUNDLE_SIGNATURE", "signature"), ("BUNDLE", "bundle"),
    ("REFERENCE", "reference"), ("EXTENSION", "extension"), ("TERMINOLOGY", "terminology"),
    ("XHTML", "narrative"), ("FHIRPATH", "fhirpath"), ("SM_", "structuremap"),
    ("IG_", "implementationguide"), ("JSON", "json"), ("XML", "xml"),
    ("TYPE_SPECIFIC_CHECKS", "datatype"), ("VALIDATION_VAL_PROFILE", "profile"),
)


def guess_family(key: str) -> str:
    upper = key.upper()
    return next((family for prefix, family in _FAMILY_BY_PREFIX if upper.startswith(prefix)), "other")


def add_new_keys(entries: list[Entry], keys: list[str]) -> tuple[list[Entry], list[str], list[str]]:
    """The inventory with the keys it lacks added as ``planned`` (to be reviewed), the keys
    added, and the inventory's keys that the properties no longer have (kept, for review)."""
    known = {e.key for e in entries}
    wanted = set(keys)
    added = sorted(set(keys) - known)
    gone = sorted(known - wanted)
    new = [Entry(key, guess_family(key), "new HL7 key, not yet reviewed", "", (), "planned",
                 "new in HL7's validator: review what it checks and map it") for key in added]
    return sorted(entries + new, key=lambda e: e.key), added, gone


@dataclass(frozen=True, slots=True)
class Coverage:
    family: str
    counts: Counter

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def share(self, status: str) -> float:
        return 100.0 * self.counts[status] / self.total if self.total else 0.0

    @property
    def applicable_done(self) -> float | None:
        """Implemented among the keys that apply to an R4 instance offline (None: no such key)."""
        applicable = self.counts["implemented"] + self.counts["planned"]
        return 100.0 * self.counts["implemented"] / applicable if applicable else None


def coverage(entries: list[Entry]) -> list[Coverage]:
    """Counts per status for every family (most keys first), then ``all``."""
    by_family: dict[str, Counter] = {}
    for entry in entries:
        by_family.setdefault(entry.family, Counter())[entry.status] += 1
    rows = [Coverage(f, c) for f, c in sorted(by_family.items(), key=lambda fc: (-sum(fc[1].values()), fc[0]))]
    return [*rows, Coverage("all", Counter(e.status for e in entries))]


def key_of_message_id(message_id: str, keys: set[str]) -> str | None:
    """The inventory key behind a message id HL7 puts in an OperationOutcome (the
    ``operationoutcome-message-id`` extension): the key itself, the base of a plural key
    (``X`` for ``X_one``/``X_other``), or ``INV_FAILED`` for an invariant's ``url#key``."""
    if message_id in keys:
        return message_id
    for plural in ("_one", "_other"):
        if message_id + plural in keys:
            return message_id + plural
    if "#" in message_id and "INV_FAILED" in keys:
        return "INV_FAILED"
    return None
