"""The validation flow for files, folders and streams: load, detect, validate, locate.

This is the library API under ``samsvar validate``: :class:`Validator` holds what is loaded
once per process (packages, definitions) and turns bytes into a :class:`Result`.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Union

from .detect import UNKNOWN, Kind, detect
from .issues import EnvironmentProblem, Issue, Severity
from .positions import fhirpath_expression
from .load import INPUT_TOO_LARGE, INPUT_UNREADABLE, Document, Limits, load_bytes
from .rules import declared

CORE_PACKAGE = "hl7.fhir.r4.core#4.0.1"
NDJSON_SUFFIXES = (".ndjson",)
VALIDATED_SUFFIXES = (".json", ".xml", *NDJSON_SUFFIXES)

INTERNAL = declared("SAMSVAR-001")


@dataclass(slots=True)
class Result:
    """The outcome for one artifact."""

    path: str
    kind: Kind
    format: str | None
    issues: list[Issue] = field(default_factory=list)
    source: str | None = None
    """For one line of an NDJSON file, the file (``path`` is ``FILE:LINE``; issue lines count in FILE)."""
    resource_id: str | None = None
    """The FHIR resource's ``id``, where it has one (bulk outputs list issues by resource)."""
    profiles: list[str] = field(default_factory=list)
    """The profiles (canonical URLs) a FHIR artefact was validated against (asked for, declared, global)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": str(self.kind),
            "format": self.format,
            **({"profiles": list(self.profiles)} if self.profiles else {}),
            "issues": [issue.as_dict() for issue in self.issues],
        }


@dataclass(frozen=True, slots=True)
class Options:
    limits: Limits = Limits()
    production: bool = False
    must_support: bool = False
    allow_example_urls: bool = True
    check_contained: bool = True
    """Report findings inside contained resources (False: leave them out, HL7's ``validateContains: IGNORE``)."""
    assume_valid_rest_references: bool = False
    """Take the type in a RESTful reference (``Patient/123``) to a target outside the document as
    the target's type, so a type the element does not allow is an error (HL7's
    ``-assumeValidRestReferences``); by default it is a warning, as HL7's validator does not judge it."""
    resolve_urls: bool = True
    """Report URLs in HL7's namespaces that name nothing loaded (FHIR-URL-003), as HL7's validator
    does from the command line. False: take every URL outside the example domains as resolving,
    as HL7's test harness does (its resource fetcher resolves them all)."""
    hl7_paths: bool = False
    """Report locations the way HL7's validator writes them where it differs from the true
    FHIRPath location (for example a Bundle's fullUrl findings on ``Bundle.entry[0]``). Off by
    default: samsvar reports where the problem is. For comparing with HL7's OperationOutcomes."""
    reference_policy: str = "ignore"
    """What is asked of a reference to a resource outside the document (HL7's reference validation
    policy): ``ignore`` (nothing), ``exists`` (it resolves: FHIR-REF-006), ``type`` (and its target
    has an allowed type), ``valid`` (and conforms to the target profiles). Outside resources resolve
    only to the ``reference_targets``: samsvar does not fetch."""
    reference_targets: tuple[str, ...] = ()
    """Files (JSON or XML) of resources outside the document that references may resolve to, by ``Type/id``."""
    security_checks: bool = False
    """Text that looks like HTML tags in a string value is an error (HL7's ``-security-checks``);
    by default it is information, as in HL7's validator."""
    html_in_markdown: str = "warning"
    """Raw HTML tags in markdown: ``warning`` (HL7's default), ``error`` (HL7's ``noHtmlInMarkdown``) or ``none``."""
    inputs_as_definitions: bool = True
    """Canonical resources among a run's inputs (a Measure, a profile, a value set, ...) are
    definitions for validating every input of the run, as HL7's validator loads its inputs before
    validating them (see :mod:`samsvar.validators.inputs_as_definitions`). False: only packages
    and ``igs`` define."""
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
            # read(max_bytes + 1) reserves max_bytes (256 MB) for every file; ask for what is there
            expected = os.fstat(handle.fileno()).st_size
            data = handle.read(min(expected, max_bytes) + 1) if expected else b""
            if not expected or len(data) > expected:  # a size the system does not know, or it grew
                data += handle.read(max_bytes + 1 - len(data))
            return data


@dataclass(frozen=True, slots=True)
class Line:
    """One line of an NDJSON file (Bulk Data export: one resource per line), read by the caller.

    ``data`` is None when the line is longer than the size limit; it was skipped, not kept, and
    ``size`` says how long it was. ``problem`` is set when the file itself could not be read.
    """

    file: str
    number: int
    data: bytes | None
    size: int = 0
    problem: str | None = None

    @property
    def name(self) -> str:
        return f"{self.file}:{self.number}"


Item = Union[Input, Line]


def is_ndjson(name: str) -> bool:
    return name.lower().endswith(NDJSON_SUFFIXES)


def iter_ndjson(name: str, path: Path, max_bytes: int) -> Iterator[Line]:
    """The non-blank lines of an NDJSON file, read one at a time: memory holds one line (of at
    most ``max_bytes``), whatever the length of the file. A longer line is skipped in chunks and
    reported by its size; blank lines (a final newline, CRLF endings) are no resources and skipped."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        yield Line(name, 0, None, problem=exc.strerror or str(exc))
        return
    with handle:
        yield from iter_lines(name, handle, max_bytes)


def iter_lines(name: str, handle: BinaryIO, max_bytes: int, *, lines_before: int = 0,
               start: int = 0, end: int | None = None) -> Iterator[Line]:
    """The non-blank lines of an open NDJSON stream whose first byte lies at or after ``start``
    and before ``end`` (None: to the end), numbered in the whole file: ``lines_before`` is the
    number of newlines before ``start``. The stream is positioned at ``start``; a line that began
    before it belongs to the range before (a byte range of a file is one task of a bulk run)."""
    position, number = start, lines_before
    if start > 0:  # finish the line that began in the range before, unless a line begins here
        handle.seek(start - 1)
        if handle.read(1) != b"\n":
            while True:
                chunk = handle.readline(1 << 20)
                position += len(chunk)
                if not chunk or chunk.endswith(b"\n"):
                    break
            number += 1 if chunk.endswith(b"\n") else 0
    while end is None or position < end:
        try:
            raw = handle.readline(max_bytes + 1)
        except OSError as exc:
            yield Line(name, number + 1, None, problem=exc.strerror or str(exc))
            return
        if not raw:
            return
        position += len(raw)
        number += 1
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            size = len(raw)
            while True:  # the rest of the over-size line, never held whole
                chunk = handle.readline(1 << 20)
                size += len(chunk)
                position += len(chunk)
                if not chunk or chunk.endswith(b"\n"):
                    break
            yield Line(name, number, None, size=size - (1 if chunk.endswith(b"\n") else 0))
            continue
        if raw.strip(b" \t\r\n"):
            yield Line(name, number, raw)


def iter_items(paths: Iterable[str], max_bytes: int = Limits().max_bytes) -> Iterator[Item]:
    """Every artifact to validate, in input order: files, and the lines of NDJSON files."""
    for item in iter_inputs(paths):
        if item.path is not None and is_ndjson(item.name) and not item.path.is_dir():
            yield from iter_ndjson(item.name, item.path, max_bytes)
        else:
            yield item


def iter_inputs(paths: Iterable[str]) -> Iterator[Input]:
    """Files as given, folders recursively (``.json``/``.xml``/``.ndjson``, sorted, no hidden entries)."""
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


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def resolve_jobs(value: int | str | None) -> int:
    """``--jobs`` / ``jobs =`` in the configuration: a number, or 0 / ``auto`` / None for every core."""
    if value is None or value == 0 or (isinstance(value, str) and value.strip().lower() in ("auto", "0")):
        return available_cores()
    try:
        jobs = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"jobs must be a number of processes or 'auto', not {value!r}") from None
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1 (or 'auto'), not {jobs}")
    return jobs


DROPPED_BY_XML_READER = ("FHIR-XML-001", "FHIR-XML-004")
"""Children the FHIR XML reader reports and leaves out of the JSON model (foreign, undefined)."""


def _without_emptied(found: Iterable[Issue], xml_issues: list[Issue]) -> Iterator[Issue]:
    """The structure findings, less "Object must have some content" for an XML element whose only
    children were undefined: it was not empty, and its children are already reported (as HL7 does)."""
    emptied = {issue.path[:-1] for issue in xml_issues if issue.rule in DROPPED_BY_XML_READER and issue.path}
    for issue in found:
        if issue.rule == "FHIR-STRUCT-009" and issue.path is not None and tuple(issue.path) in emptied:
            continue
        yield issue


def _inside_contained(issue: Issue) -> bool:
    """A finding located inside a contained resource (``….contained[n]…``)."""
    return issue.path is not None and "contained" in issue.path


class Validator:
    """Validates artifacts; packages and definitions are loaded once, on first need.

    Several threads may validate with one validator: the definitions are loaded once under a
    lock, and what validation caches afterwards is derived from them and the same in every thread.
    """

    def __init__(self, options: Options = Options()) -> None:
        self.options = options
        self._definitions = None
        self._light_terminology: Any = None
        self._targets: dict[str, dict[str, Any]] | None = None
        self._packages: list[Any] = []
        self._lock = threading.RLock()
        self.input_definitions: Any = None
        """The :class:`~samsvar.validators.inputs_as_definitions.InputDefinitions` of this run, if any."""
        self._profiles_checked = False
        self.last_input_definitions: Any = None
        """Those of the last :meth:`validate_paths` run (for the report's notices)."""

    def with_profiles(self, profiles: tuple[str, ...]) -> "Validator":
        """A validator for the same packages that validates against ``profiles`` instead, sharing
        what this one has loaded (definitions, terminology, compiled expressions)."""
        other = Validator(replace(self.options, profiles=profiles))
        with self._lock:
            other._definitions, other._packages = self.definitions(), self._packages
            other._lock = self._lock
        other._check_profiles()
        return other

    # -- environment --------------------------------------------------------------------
    @property
    def packages(self) -> list[Any]:
        """The FHIR packages loaded so far (for the reproducibility block)."""
        return list(self._packages)

    def definitions(self):  # -> Definitions
        if self._definitions is None or not self._profiles_checked:
            with self._lock:
                if self._definitions is None:
                    self._load_definitions()
                if not self._profiles_checked:
                    self._check_profiles()
        return self._definitions

    def load_packages(self):  # -> Definitions
        """The definitions of the packages and ``igs``, loaded if they are not, without asking
        that the ``profiles`` be among them (a run's inputs may define them)."""
        if self._definitions is None:
            with self._lock:
                if self._definitions is None:
                    self._load_definitions(check_profiles=False)
        return self._definitions

    def _load_definitions(self, check_profiles: bool = True) -> None:
        from .fhir.igs import load_definitions
        from .terminology.service import TerminologyPolicy, TerminologyService

        definitions, packages = load_definitions(self.options.core, self.options.igs, self.options.cache_root)
        definitions.memo["terminology"] = TerminologyService(definitions, self.options.terminology or TerminologyPolicy())
        if self.input_definitions is not None and self.input_definitions.resources:
            definitions = definitions.with_resources(self.input_definitions.resources)
            definitions.memo["terminology"] = TerminologyService(definitions, self.options.terminology or TerminologyPolicy())
        self._definitions, self._packages = definitions, packages
        if check_profiles:
            self._check_profiles()

    def _check_profiles(self) -> None:
        assert self._definitions is not None
        for profile in self.options.profiles:
            if self._definitions.get(profile) is None:
                raise EnvironmentProblem(
                    f"profile {profile} is not defined in the loaded packages",
                    hint="load the package or file that defines it with --ig")
        self._profiles_checked = True

    # -- validation ---------------------------------------------------------------------
    def validate_input(self, item: Input, stdin: BinaryIO | None = None) -> Result:
        try:
            data = item.read(self.options.limits.max_bytes, stdin)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return Result(item.name, UNKNOWN, None, [INPUT_UNREADABLE.issue(
                f"Could not read {item.name}: {reason}.", line=1, column=1)])
        return self.validate_bytes(item.name, data)

    def validate_item(self, item: Item, stdin: BinaryIO | None = None) -> Result:
        """A file (or standard input), or one line of an NDJSON file."""
        if isinstance(item, Line):
            return self.validate_line(item)
        return self.validate_input(item, stdin)

    def validate_line(self, line: Line) -> Result:
        """One NDJSON line as a JSON resource of its own, its issues located in the file's lines."""
        if line.problem is not None:
            if not line.number:  # the file could not be opened: a result for the file
                return Result(line.file, UNKNOWN, None, [INPUT_UNREADABLE.issue(
                    f"Could not read {line.file}: {line.problem}.", line=1, column=1)])
            return Result(line.name, UNKNOWN, None, [INPUT_UNREADABLE.issue(
                f"Could not read {line.file} after line {line.number - 1}: {line.problem}.",
                line=line.number, column=1)], source=line.file)
        if line.data is None:
            limit = self.options.limits.max_bytes
            return Result(line.name, UNKNOWN, None, [INPUT_TOO_LARGE.issue(
                f"Line {line.number} is {line.size:,} bytes, over the limit of {limit:,} bytes for one "
                "resource; it was skipped. Raise --max-size to check it.", line=line.number, column=1)],
                source=line.file)
        result = self.validate_bytes(line.name, line.data.rstrip(b"\r\n"), fmt="json", first_line=line.number)
        result.source = line.file
        return result

    def validate_bytes(self, name: str, data: bytes, fmt: str | None = None, first_line: int = 1) -> Result:
        """``fmt`` (``"json"``/``"xml"``) forces the format instead of sniffing it; ``first_line``
        is where ``data`` starts in its file (an NDJSON line): issues are located in the file."""
        loaded = load_bytes(name, data, self.options.limits, fmt=fmt, first_line=first_line)  # type: ignore[arg-type]
        document = loaded.document
        result = Result(name, UNKNOWN, document.format if document else None, list(loaded.issues))
        if document is None:
            return result
        try:
            kind, issues = detect(document)
            result.kind = kind
            result.issues.extend(issues)
            if kind.family == "fhir":
                result.resource_id = _resource_id(document)
                result.issues.extend(self._validate_fhir(document, result))
            elif kind.family == "message":
                result.issues.extend(self._validate_message(document))
        except EnvironmentProblem:
            raise
        except Exception as exc:  # a bug must cost one file, not the run
            result.issues.append(INTERNAL.issue(
                f"samsvar failed while checking this file ({type(exc).__name__}: {exc}); "
                "please report this.", line=1, column=1))
        located_by_load = {id(issue) for issue in loaded.issues if issue.line is not None}
        locate(document, result)
        if first_line > 1:  # positions in the document are counted from its own first line
            for issue in result.issues:
                if issue.line is not None and id(issue) not in located_by_load:
                    issue.line += first_line - 1
        return result

    def _message_terminology(self) -> Any:
        """Volven code systems for messages: samsvar's own lists, without needing the FHIR core package."""
        if self._definitions is not None:
            return self._definitions.memo["terminology"]
        with self._lock:
            return self._light_message_terminology()

    def _light_message_terminology(self) -> Any:
        if self._light_terminology is None:
            from .fhir.definitions import Definitions
            from .fhir.igs import PROJECT_TERMINOLOGY, ProjectResources
            from .terminology.service import TerminologyPolicy, TerminologyService

            definitions = Definitions([ProjectResources(PROJECT_TERMINOLOGY)])
            self._light_terminology = TerminologyService(definitions, self.options.terminology or TerminologyPolicy())
        return self._light_terminology

    def _validate_message(self, document: Document) -> list[Issue]:
        """Schema layer (installed XSD packs), then the rule layer; both run whatever the other finds."""
        from .messages.schemas import default_schema_set
        from .messages.validate import validate_message

        issues = validate_message(document.tree, default_schema_set(), self._message_terminology())
        for issue in issues:  # lxml knows lines, not columns: the start of the line, or of the file
            issue.line = issue.line or 1
            issue.column = issue.column or 1
        return issues

    def _reference_targets(self, definitions: Any) -> dict[str, dict[str, Any]]:
        """The resources of ``reference_targets`` by ``Type/id``, read once (unreadable files are left out)."""
        found = self._targets
        if found is None:
            from .fhir.igs import read_resource_file

            found = {}
            for name in self.options.reference_targets:
                resource = read_resource_file(Path(name), definitions)
                if resource is not None and isinstance(resource.get("id"), str):
                    found[f"{resource.get('resourceType')}/{resource['id']}"] = resource
            self._targets = found
        return found

    def _validate_fhir(self, document: Document, result: Result) -> list[Issue]:
        from .fhir.validate import FhirOptions, profiles_walked, validate_resource
        from .fhir.xmlformat import read_fhir_xml
        from .jsontree import objects_in

        definitions = self.definitions()
        issues: list[Issue] = []
        if document.format == "xml":
            resource, xml_issues = read_fhir_xml(document.tree, definitions, document.locator)  # type: ignore[arg-type]
            issues.extend(xml_issues)
        else:
            resource = document.tree
        options = FhirOptions(
            production=self.options.production, profiles=self.options.profiles,
            must_support=self.options.must_support, allow_example_urls=self.options.allow_example_urls,
            resolve_urls=self.options.resolve_urls,
            assume_valid_rest_references=self.options.assume_valid_rest_references,
            hl7_paths=self.options.hl7_paths, security_checks=self.options.security_checks,
            html_in_markdown=self.options.html_in_markdown, reference_policy=self.options.reference_policy,
            reference_targets=self._reference_targets(definitions), as_json_parsed=document.format == "json")
        objects = objects_in(resource)  # every object of the document, listed once for the checks that ask
        result.profiles = profiles_walked(resource, definitions, options, objects)
        found = validate_resource(resource, definitions, options, objects)
        if document.format == "xml":
            found = _without_emptied(found, issues)
        if not self.options.check_contained:
            found = (issue for issue in found if not _inside_contained(issue))
            issues[:] = [issue for issue in issues if not _inside_contained(issue)]
        issues.extend(found)
        return issues

    def validate_paths(self, paths: Iterable[str], stdin: BinaryIO | None = None, jobs: int = 1) -> Iterator[Result]:
        """Results in input order, streamed as they are ready: files, folders and NDJSON lines.

        With ``jobs > 1`` artifacts are validated by that many processes, in batches, with a
        bounded number of batches in flight: memory stays flat however long the input is. A run
        of a single artifact (or of standard input) stays in this process.
        """
        paths = list(paths)
        if self.options.inputs_as_definitions and self.input_definitions is None:
            run = self.with_input_definitions(paths)
            self.last_input_definitions = run.input_definitions
            if run is not self:
                yield from run.validate_paths(paths, stdin, jobs)
                return
        items = iter_items(paths, self.options.limits.max_bytes)
        if jobs <= 1 or "-" in paths:
            for item in items:
                yield self.validate_item(item, stdin)
            return
        first = next(items, None)
        second = next(items, None)
        if first is None:
            return
        if second is None:
            yield self.validate_item(first)
            return
        if isinstance(first, Line) or first.name.lower().endswith(".json"):
            self._warm_definitions()
        import itertools

        yield from self._parallel(itertools.chain((first, second), items), jobs)

    def with_input_definitions(self, paths: Iterable[str]) -> "Validator":
        """A validator for one run over ``paths`` whose definitions also hold the canonical
        resources among those inputs; this validator when there are none (its definitions are
        shared by other runs and are not changed)."""
        from .fhir.definitions import Definitions
        from .inputs_as_definitions import UNPARSEABLE, collect

        max_bytes = self.options.limits.max_bytes

        def parses(name: str, resource: dict[str, Any]) -> bool:
            """Whether HL7's strict parser would read it: the structure walk alone (no invariants,
            terminology or resource-specific checks) finds none of the findings it throws on."""
            from .fhir.structure import StructureChecker

            try:
                walker = StructureChecker(self.load_packages())
                walker.shape_only = True  # the findings asked about are all of the JSON's shape
                walk = walker.check_resource(resource, (), resource["resourceType"])
                return not any(issue.rule in UNPARSEABLE and issue.severity >= Severity.ERROR for issue in walk)
            except RecursionError:
                return False

        named = [(item.name, (lambda item=item: item.read(max_bytes)))
                 for item in iter_inputs(p for p in paths if p != "-") if item.path is not None]
        found = collect(named, parses)
        if not found.resources:
            self.input_definitions = found
            return self
        base: Definitions = self.load_packages()
        run = Validator(self.options)
        run._packages = self._packages
        definitions = base.with_resources(found.resources)
        definitions.memo["terminology"] = self._terminology_for(definitions)
        run._definitions, run.input_definitions = definitions, found
        run._check_profiles()
        return run

    def _terminology_for(self, definitions: Any) -> Any:
        from .terminology.service import TerminologyPolicy, TerminologyService

        return TerminologyService(definitions, self.options.terminology or TerminologyPolicy())

    def _warm_definitions(self) -> None:
        """Load the definitions before the workers start, so they inherit them (fork) instead of
        each loading its own; a missing package is reported where a file needs it, not here."""
        try:
            self.definitions()
        except EnvironmentProblem:
            self._definitions = None

    def _parallel(self, items: Iterator[Item], jobs: int) -> Iterator[Result]:
        global _INHERITED
        import multiprocessing
        from concurrent.futures import Future, ProcessPoolExecutor

        context = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None
        _INHERITED = self if context is not None else None
        pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker,
                                   initargs=(self.options, self.input_definitions))
        pending: deque[tuple[Future[list[Result]], int]] = deque()
        held = 0  # bytes of NDJSON lines in the batches in flight
        try:
            for batch in _batches(items):
                size = sum(len(item.data or b"") for item in batch if isinstance(item, Line))
                pending.append((pool.submit(_validate_in_worker, batch), size))
                held += size
                while len(pending) >= jobs * WINDOW_PER_JOB or held > jobs * WINDOW_BYTES_PER_JOB \
                        or (pending and pending[0][0].done()):
                    future, size = pending.popleft()
                    held -= size
                    yield from _interned(future.result())
            while pending:
                yield from _interned(pending.popleft()[0].result())
        finally:
            _INHERITED = None
            for future, _ in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)


WINDOW_PER_JOB, WINDOW_BYTES_PER_JOB = 64, 4 << 20
"""Batches in flight per process (and bytes of NDJSON lines in them). Results leave in input
order, so while one process works on a large file the others go on only as far as the window:
64 batches (128 files) keep them busy past a file that takes seconds; the bytes bound keeps
the memory for an NDJSON stream at a few MB per process, however long the stream."""
BATCH_LINES, BATCH_BYTES, BATCH_FILES = 100, 1 << 20, 2
"""A batch is up to 100 NDJSON lines (at most ~1 MB of them) or 2 files: large enough that
passing it between processes costs little, small enough to balance the load."""
SMALL_FILE_BYTES, SMALL_FILES = 16 * 1024, 8
"""A file under 16 KB counts as 1/8 of a file (a batch holds up to 16 of them): a typical
Norwegian message is checked in well under a millisecond, about what passing a batch costs."""

_WORKER: Validator | None = None
_INHERITED: Validator | None = None
"""The parent's validator, which forked workers inherit with everything it has loaded."""


def _batches(items: Iterator[Item]) -> Iterator[list[Item]]:
    batch: list[Item] = []
    size = files = 0
    for item in items:
        batch.append(item)
        if isinstance(item, Line):
            size += len(item.data or b"")
        else:
            files += 1 if _file_size(item) > SMALL_FILE_BYTES else 1 / SMALL_FILES
        if files >= BATCH_FILES or len(batch) >= BATCH_LINES or size >= BATCH_BYTES:
            yield batch
            batch, size, files = [], 0, 0
    if batch:
        yield batch


def _file_size(item: Input) -> int:
    try:
        return item.path.stat().st_size if item.path is not None else BATCH_BYTES
    except OSError:
        return BATCH_BYTES


_KINDS: dict[Kind, Kind] = {}


def _interned(results: list[Result]) -> list[Result]:
    """Results from a worker share one Kind object per kind (100,000 NDJSON lines: 3 kinds, not 100,000)."""
    for result in results:
        result.kind = _KINDS.setdefault(result.kind, result.kind)
    return results


def _start_worker(options: Options, input_definitions: Any = None) -> None:
    """Each worker validates with the parent's validator when it was forked from it, otherwise
    with its own, which loads the definitions once, on its first FHIR file (with the run's
    input definitions, when it has some)."""
    global _WORKER
    inherited = _INHERITED
    if inherited is not None and inherited.options is options:
        _WORKER = inherited
    else:
        _WORKER = Validator(options)
        _WORKER.input_definitions = input_definitions


def _validate_in_worker(batch: list[Item]) -> list[Result]:
    assert _WORKER is not None
    return [_WORKER.validate_item(item) for item in batch]


def _resource_id(document: Document) -> str | None:
    tree = document.tree
    if isinstance(tree, dict):
        found = tree.get("id")
        return found if isinstance(found, str) else None
    element = tree.find("{http://hl7.org/fhir}id") if hasattr(tree, "find") else None
    return element.get("value") if element is not None else None


def locate(document: Document, result: Result) -> None:
    """Fill expression, line and column of every issue that points into the document."""
    root = result.kind.name if result.kind.family == "fhir" else None
    prepare = getattr(document.locator, "prepare", None)
    if prepare is not None:  # one pass for all the issues' positions
        prepare([issue.path for issue in result.issues if issue.path is not None and issue.line is None])
    for issue in result.issues:
        if issue.path is None:
            continue
        if issue.expression is None and root is not None:
            issue.expression = fhirpath_expression(root, issue.path)
        if issue.line is None:
            position = document.locator.locate(issue.path)
            if position is not None:
                issue.line, issue.column = position
