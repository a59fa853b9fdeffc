"""The validation flow for files, folders and streams: load, detect, validate, locate.

This is the library API under ``samsvar validate``: :class:`Validator` holds what is loaded
once per process (packages, definitions) and turns bytes into a :class:`Result`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

from .detect import UNKNOWN, Kind, detect
from .issues import EnvironmentProblem, Issue, Path as DocPath, Severity
from .load import INPUT_UNREADABLE, Document, Limits, load_bytes
from .rules import rule

CORE_PACKAGE = "hl7.fhir.r4.core#4.0.1"
VALIDATED_SUFFIXES = (".json", ".xml")

INTERNAL = rule(
    "SAMSVAR-001", "samsvar failed on this file", Severity.FATAL,
    """
    samsvar met an unexpected condition while checking this file and stopped checking it; the
    rest of the run went on. This is a bug in samsvar, not necessarily in the file: please
    report it with the file (or a reduced copy) attached.
    """,
    bad="(any file that makes samsvar fail)",
    good="(the same file after the bug is fixed)",
)


@dataclass(slots=True)
class Result:
    """The outcome for one artifact."""

    path: str
    kind: Kind
    format: str | None
    issues: list[Issue] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": str(self.kind),
            "format": self.format,
            "issues": [issue.as_dict() for issue in self.issues],
        }


@dataclass(frozen=True, slots=True)
class Options:
    limits: Limits = Limits()
    production: bool = False
    must_support: bool = False
    profiles: tuple[str, ...] = ()
    igs: tuple[str, ...] = ()
    cache_root: Path | None = None
    core: str = CORE_PACKAGE
    terminology: Any = None
    """A :class:`~samsvar.validators.terminology.service.TerminologyPolicy`; None = the default (warn)."""


@dataclass(frozen=True, slots=True)
class Input:
    """One artifact to read: a file, or standard input (``name == "-"``)."""

    name: str
    path: Path | None

    def read(self, max_bytes: int, stdin: BinaryIO | None = None) -> bytes:
        """Up to ``max_bytes + 1`` bytes, so the caller can tell an over-size input."""
        if self.path is None:
            stream = stdin if stdin is not None else sys.stdin.buffer
            return stream.read(max_bytes + 1)
        with self.path.open("rb") as handle:
            return handle.read(max_bytes + 1)


def iter_inputs(paths: Iterable[str]) -> Iterator[Input]:
    """Files as given, folders recursively (``.json``/``.xml``, sorted, no hidden entries)."""
    for raw in paths:
        if raw == "-":
            yield Input("-", None)
            continue
        path = Path(raw)
        if path.is_dir():
            yield from _walk(path)
        else:
            yield Input(raw, path)


def _walk(folder: Path) -> Iterator[Input]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        yield Input(str(folder), folder)  # reading it reports the error where it belongs
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path))
        elif entry.is_file() and entry.name.lower().endswith(VALIDATED_SUFFIXES):
            yield Input(entry.path, Path(entry.path))


def fhirpath_expression(root: str, path: DocPath) -> str:
    """``Patient.identifier[0].value`` from a document path."""
    parts = [root]
    for step in path:
        if isinstance(step, int):
            parts[-1] += f"[{step}]"
        else:
            name = step.rsplit("}", 1)[-1]
            parts.append(name[1:] if name.startswith("_") else name)
    return ".".join(parts)


class Validator:
    """Validates artifacts; packages and definitions are loaded once, on first need."""

    def __init__(self, options: Options = Options()) -> None:
        self.options = options
        self._definitions = None
        self._light_terminology: Any = None
        self._packages: list[Any] = []

    # -- environment --------------------------------------------------------------------
    @property
    def packages(self) -> list[Any]:
        """The FHIR packages loaded so far (for the reproducibility block)."""
        return list(self._packages)

    def definitions(self):  # -> Definitions
        if self._definitions is None:
            from .fhir.igs import load_definitions

            self._definitions, self._packages = load_definitions(
                self.options.core, self.options.igs, self.options.cache_root)
            from .terminology.service import TerminologyPolicy, TerminologyService

            self._definitions.memo["terminology"] = TerminologyService(
                self._definitions, self.options.terminology or TerminologyPolicy())
            for profile in self.options.profiles:
                if self._definitions.get(profile) is None:
                    raise EnvironmentProblem(
                        f"profile {profile} is not defined in the loaded packages",
                        hint="load the package or file that defines it with --ig")
        return self._definitions

    # -- validation ---------------------------------------------------------------------
    def validate_input(self, item: Input, stdin: BinaryIO | None = None) -> Result:
        try:
            data = item.read(self.options.limits.max_bytes, stdin)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return Result(item.name, UNKNOWN, None, [INPUT_UNREADABLE.issue(
                f"Could not read {item.name}: {reason}.", line=1, column=1)])
        return self.validate_bytes(item.name, data)

    def validate_bytes(self, name: str, data: bytes) -> Result:
        loaded = load_bytes(name, data, self.options.limits)
        document = loaded.document
        result = Result(name, UNKNOWN, document.format if document else None, list(loaded.issues))
        if document is None:
            return result
        try:
            kind, issues = detect(document)
            result.kind = kind
            result.issues.extend(issues)
            if kind.family == "fhir":
                result.issues.extend(self._validate_fhir(document))
            elif kind.family == "message":
                result.issues.extend(self._validate_message(document))
        except EnvironmentProblem:
            raise
        except Exception as exc:  # a bug must cost one file, not the run
            result.issues.append(INTERNAL.issue(
                f"samsvar failed while checking this file ({type(exc).__name__}: {exc}); "
                "please report this.", line=1, column=1))
        locate(document, result)
        return result

    def _message_terminology(self) -> Any:
        """Volven code systems for messages: samsvar's own lists, without needing the FHIR core package."""
        if self._definitions is not None:
            return self._definitions.memo["terminology"]
        if self._light_terminology is None:
            from .fhir.definitions import Definitions
            from .fhir.igs import PROJECT_TERMINOLOGY, ProjectResources
            from .terminology.service import TerminologyPolicy, TerminologyService

            definitions = Definitions([ProjectResources(PROJECT_TERMINOLOGY)])
            self._light_terminology = TerminologyService(definitions, self.options.terminology or TerminologyPolicy())
        return self._light_terminology

    def _validate_message(self, document: Document) -> list[Issue]:
        """Schema layer (installed XSD packs), then the rule layer; both run whatever the other finds."""
        from .messages.rules import check_message
        from .messages.schemas import default_schema_set, schema_issues
        from .messages.standards import describe, unsupported_issues

        root = document.tree
        issues = unsupported_issues(describe(root))
        issues.extend(schema_issues(root, default_schema_set()))
        issues.extend(check_message(root, self._message_terminology()))
        for issue in issues:  # lxml knows lines, not columns: the start of the line, or of the file
            issue.line = issue.line or 1
            issue.column = issue.column or 1
        return issues

    def _validate_fhir(self, document: Document) -> list[Issue]:
        from .fhir.validate import FhirOptions, validate_resource
        from .fhir.xmlformat import read_fhir_xml

        definitions = self.definitions()
        issues: list[Issue] = []
        if document.format == "xml":
            resource, xml_issues = read_fhir_xml(document.tree, definitions, document.locator)  # type: ignore[arg-type]
            issues.extend(xml_issues)
        else:
            resource = document.tree
        issues.extend(validate_resource(resource, definitions, FhirOptions(
            production=self.options.production, profiles=self.options.profiles,
            must_support=self.options.must_support)))
        return issues

    def validate_paths(self, paths: Iterable[str], stdin: BinaryIO | None = None, jobs: int = 1) -> Iterator[Result]:
        """Results in input order; with ``jobs > 1`` files are validated by that many processes."""
        paths = list(paths)
        if jobs <= 1 or "-" in paths:
            for item in iter_inputs(paths):
                yield self.validate_input(item, stdin)
            return
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs, initializer=_start_worker, initargs=(self.options,)) as pool:
            yield from pool.map(_validate_in_worker, iter_inputs(paths), chunksize=8)


_WORKER: Validator | None = None


def _start_worker(options: Options) -> None:
    """Each worker process loads the definitions once, on its first FHIR file."""
    global _WORKER
    _WORKER = Validator(options)


def _validate_in_worker(item: Input) -> Result:
    assert _WORKER is not None
    return _WORKER.validate_input(item)


def locate(document: Document, result: Result) -> None:
    """Fill expression, line and column of every issue that points into the document."""
    root = result.kind.name if result.kind.family == "fhir" else None
    for issue in result.issues:
        if issue.path is None:
            continue
        if issue.expression is None and root is not None:
            issue.expression = fhirpath_expression(root, issue.path)
        if issue.line is None:
            position = document.locator.locate(issue.path)
            if position is not None:
                issue.line, issue.column = position
