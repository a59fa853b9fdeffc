"""The terminology service: ``$lookup``, ``$validate-code``, ``$expand`` and ``$translate`` over
the CodeSystems, ValueSets and ConceptMaps of the loaded packages and ``profiles/terminology/``,
offline, with a policy for the code systems that are not there.

For a code system that is not available locally (SNOMED CT, LOINC, the full NLK), the policy
says what to do, per system (``[terminology]`` in ``samsvar.toml``):

- ``warn`` (default): the code could not be checked offline. Never a silent pass.
- ``trust-format``: check the code's format (SNOMED CT Verhoeff check digit, LOINC check
  digit); a malformed code is an error, a well-formed one is *checked by format only*.
- ``remote``: ask a FHIR terminology server (``server = "https://..."``) with timeouts,
  retries and a persistent cache; a server that cannot be reached gives an environment
  warning, not a verdict.

Whatever the policy, a code of a system defined by a grammar (MIME types, ``urn:ietf:bcp:13``)
that breaks the grammar is not a code of it: an error, not *could not be checked*.

SNOMED CT loaded from RF2 into SQLite (``snomed-database``) is used for ``is-a`` filters.
Expansions are cached on disk by the content hash of the value set and its code systems.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .codesystems import CodeSystemIndex, normalise_display
from .valuesets import Membership, ValueSetEngine
from .verdict import CodeVerdict

MODES = ("warn", "trust-format", "remote")


@dataclass(frozen=True)
class TerminologyPolicy:
    default: str = "warn"
    systems: tuple[tuple[str, str], ...] = ()
    """(code system url, mode) overrides."""
    server: str | None = None
    snomed_database: Path | None = None
    timeout: float = 10.0
    retries: int = 2
    cache_dir: Path | None = None

    def mode(self, system: str) -> str:
        return dict(self.systems).get(system, self.default)

    @staticmethod
    def from_settings(table: dict[str, Any], base: Path | None = None) -> "TerminologyPolicy":
        """From ``[terminology]`` of the configuration; raises ValueError on unknown modes."""
        default = str(table.get("default", "warn"))
        systems = {str(k): str(v) for k, v in (table.get("systems") or {}).items()}
        for system, mode in [("default", default), *systems.items()]:
            if mode not in MODES:
                raise ValueError(f"[terminology] {system} = {mode!r}: the mode must be one of {', '.join(MODES)}")
        if "remote" in (default, *systems.values()) and not table.get("server"):
            raise ValueError("[terminology] mode 'remote' needs server = \"https://...\" (a FHIR terminology server)")
        database = table.get("snomed-database")
        return TerminologyPolicy(
            default=default, systems=tuple(sorted(systems.items())), server=table.get("server"),
            snomed_database=(base / database if base and database else Path(database)) if database else None,
            timeout=float(table.get("timeout", 10.0)), retries=int(table.get("retries", 2)))


def implicit_value_set(code_system: dict[str, Any]) -> dict[str, Any]:
    """The value set of every code of a code system (FHIR's ``CodeSystem.valueSet``, implicit)."""
    return {"resourceType": "ValueSet", "url": code_system.get("valueSet") or code_system["url"],
            "name": code_system.get("name"), "title": code_system.get("title"), "status": code_system.get("status"),
            "compose": {"include": [{"system": code_system["url"]}]}}


class TerminologyService:
    def __init__(self, definitions: Any, policy: TerminologyPolicy = TerminologyPolicy()) -> None:
        self.definitions = definitions
        self.policy = policy
        self._code_systems: dict[str, CodeSystemIndex | None] = {}
        self._snomed: Any = None
        self._remote: Any = None
        self.engine = ValueSetEngine(self._value_set, self.code_system, self._hierarchy)
        self._memberships: dict[tuple[str, str | None, str], tuple[list[tuple[str, Any]], Membership]] = {}
        """A code's membership of a value set, with the value sets (and code systems standing for one)
        the answer read, by URL and object: it is reused while each URL still gives the same object."""

    @property
    def offline(self) -> bool:
        """No code system is asked of a terminology server: every answer is the local store's (or the
        policy's), the same each time it is asked."""
        return "remote" not in (self.policy.default, *(mode for _, mode in self.policy.systems))

    # -- sources ------------------------------------------------------------------------------

    def _value_set(self, url: str) -> dict[str, Any] | None:
        """The value set at ``url``; a code system's URL (or its ``valueSet``) stands for every code of
        it, as a binding to ``urn:oid:2.16.578.1.12.4.1.1.8406`` (a Volven list) means."""
        resource = self.definitions.get(url)
        if resource and resource.get("resourceType") == "ValueSet":
            return resource
        if resource and resource.get("resourceType") == "CodeSystem" and resource.get("url"):
            return implicit_value_set(resource)
        return None

    def code_system(self, url: str) -> CodeSystemIndex | None:
        key = url.split("|", 1)[0]
        if key not in self._code_systems:
            resource = self.definitions.get(key)
            usable = resource is not None and resource.get("resourceType") == "CodeSystem" and (
                resource.get("concept") or resource.get("content") == "complete")
            self._code_systems[key] = CodeSystemIndex(resource) if usable else None
        return self._code_systems[key]

    def _hierarchy(self, system: str) -> Any:
        if system != "http://snomed.info/sct" or self.policy.snomed_database is None:
            return None
        if self._snomed is None:
            from .rf2 import SnomedStore

            self._snomed = SnomedStore(self.policy.snomed_database)
        return self._snomed

    def _remote_client(self) -> Any:
        if self._remote is None:
            from .remote import RemoteTerminology

            self._remote = RemoteTerminology(str(self.policy.server), timeout=self.policy.timeout,
                                             retries=self.policy.retries, cache_dir=self.policy.cache_dir)
        return self._remote

    # -- operations ---------------------------------------------------------------------------

    def lookup(self, system: str, code: str) -> dict[str, Any] | None:
        """``$lookup``: the concept's display, designations and properties, or None."""
        index = self.code_system(system)
        if index is not None:
            concept = index.get(code)
            if concept is None:
                return None
            return {"system": system, "code": concept.code, "display": concept.display,
                    "designation": [{"language": lang, "value": value} for lang, value in concept.designations],
                    "property": concept.properties, "parent": sorted(concept.parents)}
        bulk = self._hierarchy(system)
        if bulk is not None and bulk.has_concept(code):
            return {"system": system, "code": code, "display": bulk.display(code)}
        return None

    def validate_code(self, system: str | None, code: str, display: str | None = None,
                      value_set: str | None = None) -> CodeVerdict:
        """``$validate-code`` of a code (with its system) in a value set, or in its code system."""
        if value_set:
            membership = self._membership(value_set, system, code)
            if membership.contains is None:
                return self._unknown(membership, system, code, value_set)
            verdict = CodeVerdict(membership.contains, membership.reason,
                                  "member" if membership.contains else "not-member", system=system)
        elif system:
            verdict = self._in_code_system(system, code)
            if verdict.valid is None:
                return verdict
        else:
            return CodeVerdict(None, "no system and no value set to check the code against", "unknown")
        if display is not None and system and verdict.valid:
            self._check_display(system, code, display, verdict)
        return verdict

    _MEMBERSHIPS_KEPT = 100_000
    """How many answers are kept before they are forgotten (memory stays flat over a long stream)."""

    def _membership(self, value_set: str, system: str | None, code: str) -> Membership:
        """``engine.contains``, remembered: the same few codes are asked of the same value sets in every
        resource. An answer is reused only while every value set it read is still the object it read
        (code systems are held by :meth:`code_system` for the service's life, as before)."""
        if not isinstance(value_set, str) or not (system is None or isinstance(system, str)) \
                or not isinstance(code, str):
            return self.engine.contains(value_set, system, code)
        key = (value_set, system, code)
        found = self._memberships.get(key)
        if found is not None and all(self.definitions.get(url) is resource for url, resource in found[0]):
            return found[1]
        read: list[tuple[str, Any]] = []

        def value_sets(url: str) -> dict[str, Any] | None:
            read.append((url, self.definitions.get(url)))
            return self._value_set(url)

        membership = ValueSetEngine(value_sets, self.code_system, self._hierarchy).contains(value_set, system, code)
        if len(self._memberships) >= self._MEMBERSHIPS_KEPT:
            self._memberships.clear()
        self._memberships[key] = (read, membership)
        return membership

    def _in_code_system(self, system: str, code: str) -> CodeVerdict:
        index = self.code_system(system)
        if index is not None and index.get(code) is not None:
            return CodeVerdict(True, system=system)
        if index is not None and index.complete:
            return CodeVerdict(False, f"Unknown code '{code}' in the CodeSystem '{system}'", "unknown-code", system=system)
        bulk = self._hierarchy(system)
        if bulk is not None:
            found = bool(bulk.has_concept(code))
            return CodeVerdict(found, "" if found else f"Unknown code '{code}' in {system}",
                               "member" if found else "unknown-code", system=system)
        return self._unknown(Membership(None, "", {system}), system, code, None)

    def _unknown(self, membership: Membership, system: str | None, code: str, value_set: str | None) -> CodeVerdict:
        """What the policy makes of a code that could not be checked locally."""
        systems = sorted(membership.unknown_systems) or ([system] if system else [])
        modes = {self.policy.mode(s) for s in systems} or {self.policy.default}
        where = f"the value set {value_set}" if value_set else f"the code system {system}"
        # the code's system: given, or the one system of the value set that is not held (a bare code)
        implied = system or (systems[0] if len(systems) == 1 else None)
        if implied is not None:
            from .formats import (FHIR_FORMAT_SHORTHANDS, FHIR_MIME_TYPES_VALUE_SET, FORMAT_CHECKS, MIME_TYPE_SYSTEM,
                                  SYNTAX_CHECKS)

            if code in FHIR_FORMAT_SHORTHANDS and value_set and implied == MIME_TYPE_SYSTEM \
                    and value_set.split("|", 1)[0] == FHIR_MIME_TYPES_VALUE_SET:
                return CodeVerdict(True, f"'{code}' is FHIR's name for {FHIR_FORMAT_SHORTHANDS[code]} in "
                                         f"{value_set}", "member", system=implied)
            syntax = SYNTAX_CHECKS.get(implied)
            problem = syntax(code) if syntax is not None else None
            if problem:  # a grammar decides under any policy: not a code of the system at all
                return CodeVerdict(False, problem, "format-error", system=implied)
            check = FORMAT_CHECKS.get(implied) if modes == {"trust-format"} else None
            if check is not None:
                problem = check(code)
                if problem:
                    return CodeVerdict(False, problem, "format-error", system=implied)
                return CodeVerdict(None, f"The code '{code}' is a well-formed {implied} code; whether it is in "
                                         f"{where} was not checked (trust-format)", "format-only", system=implied)
        if modes == {"remote"} and system:
            from .remote import ServerUnavailable

            try:
                return self._remote_client().validate_code(system, code, value_set)
            except ServerUnavailable as exc:
                return CodeVerdict(None, f"The code '{code}' could not be checked: the terminology server "
                                         f"{self.policy.server} could not be used ({exc})", "server-down",
                                   system=system)
        reason = membership.reason or f"{', '.join(systems) or where} is not available offline"
        return CodeVerdict(None, f"The code '{code}' could not be checked against {where} offline ({reason})",
                           "unknown", system=system)

    def _check_display(self, system: str, code: str, display: str, verdict: CodeVerdict) -> None:
        index = self.code_system(system)
        if index is None:
            return
        choices = index.displays(code)
        if not choices:
            return
        verdict.displays = [value for _, value in choices]
        wanted = normalise_display(display)
        verdict.display_ok = any(normalise_display(value) == wanted for _, value in choices)

    def expand(self, url: str) -> tuple[list[dict[str, Any]] | None, str]:
        """``$expand``, cached on disk by content hash when a cache folder is configured."""
        cache = self._expansion_cache(url)
        if cache is not None and cache.is_file():
            return json.loads(cache.read_text(encoding="utf-8")), ""
        codes, why = self.engine.expand(url)
        if codes is not None and cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            temporary = cache.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(codes, ensure_ascii=False), encoding="utf-8")
            temporary.replace(cache)
        return codes, why

    def _expansion_cache(self, url: str) -> Path | None:
        folder = self.policy.cache_dir
        value_set = self._value_set(url.split("|", 1)[0])
        if folder is None or value_set is None:
            return None
        digest = hashlib.sha256(json.dumps(value_set, sort_keys=True, default=str).encode())
        for include in (value_set.get("compose") or {}).get("include") or []:
            system = self.definitions.get(str(include.get("system", ""))) if include.get("system") else None
            digest.update(json.dumps(system or {}, sort_keys=True, default=str).encode())
        return folder / "expansions" / f"{digest.hexdigest()}.json"

    def translate(self, system: str, code: str, concept_map: str | None = None,
                  target: str | None = None) -> list[dict[str, Any]]:
        """``$translate``: the targets of a code in one ConceptMap, or in every loaded one."""
        maps = [self.definitions.get(concept_map)] if concept_map else [
            self.definitions.get(url) for url in self.definitions.canonicals()
            if self.definitions.resource_type(url) == "ConceptMap"]
        found: list[dict[str, Any]] = []
        for resource in maps:
            if not resource or resource.get("resourceType") != "ConceptMap":
                continue
            for group in resource.get("group") or []:
                if group.get("source") not in (None, system) or (target and group.get("target") not in (None, target)):
                    continue
                for element in group.get("element") or []:
                    if element.get("code") != code:
                        continue
                    for item in element.get("target") or []:
                        found.append({"system": group.get("target"), "code": item.get("code"),
                                      "display": item.get("display"), "equivalence": item.get("equivalence"),
                                      "conceptMap": resource.get("url")})
        return found
