"""Every text samsvar shows people, in Norwegian bokmål (``nb``) and English (``en``): one table.

The HTML report (its template reads a :func:`table`), the judge's evidence sentences, the
traceability matrix, the requirements catalogue's problems and the ``samsvar requirements``
command take their words from here, by key: ``text("judge.blind", lang, codes=...)``. A key is
``area.name``; its texts are ``str.format`` templates with the same ``{fields}`` in both
languages. ``tests/test_texts.py`` checks that every key has both languages, that every key the
code and the templates use exists, and that no key is left unused.

Texts that are data (the requirements catalogue's titles, the rules' titles in
``validators/rules.toml``) stay with their data; the CLI's own help and the validators' issue
messages are English only.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("nb", "en")
"""The languages of every text: Norwegian bokmål first (the default of ``--lang``), then English."""

TEXTS: dict[str, dict[str, str]] = {
    # The HTML report (conformance/reports/html.py and templates/report.html.j2: ``t``).
    "html.title": {"nb": "Samsvarsrapport", "en": "Conformance report"},
    "html.subtitle": {"nb": "Samsvarskontroll med samsvar {version}", "en": "Conformance check by samsvar {version}"},
    "html.passed": {"nb": "Bestått", "en": "Passed"},
    "html.failed": {"nb": "Ikke bestått", "en": "Failed"},
    "html.verdict_line": {
        "nb": "ved feilnivå «{level}»: {failed} av {files} artefakter har funn på eller over dette nivået.",
        "en": "at fail level “{level}”: {failed} of {files} artifacts have findings at or above it.",
    },
    "html.contents": {"nb": "Innhold", "en": "Contents"},
    "html.summary": {"nb": "Sammendrag", "en": "Summary"},
    "html.files": {"nb": "Kontrollerte artefakter", "en": "Artifacts checked"},
    "html.files_failed": {"nb": "Artefakter som ikke bestod", "en": "Artifacts failed"},
    "html.fail_on": {"nb": "Feilnivå", "en": "Fail level"},
    "html.issues_by_severity": {"nb": "Funn etter alvorlighetsgrad", "en": "Findings by severity"},
    "html.waived": {"nb": "unntatt", "en": "waived"},
    "html.requirements_summary": {"nb": "Krav etter vurdering", "en": "Requirements by verdict"},
    "html.artifact_overview": {"nb": "Artefakter", "en": "Artifacts"},
    "html.requirements": {"nb": "Krav", "en": "Requirements"},
    "html.requirement": {"nb": "Krav", "en": "Requirement"},
    "html.req_title": {"nb": "Tittel", "en": "Title"},
    "html.level": {"nb": "Nivå", "en": "Level"},
    "html.principle": {"nb": "Prinsipp", "en": "Principle"},
    "html.verdict": {"nb": "Vurdering", "en": "Verdict"},
    "html.evidence": {"nb": "Dokumentasjon", "en": "Evidence"},
    "html.artefacts": {"nb": "Artefakter", "en": "Artifacts"},
    "html.no_requirements": {
        "nb": "Kravkatalogen er ikke vurdert i denne kjøringen.",
        "en": "The requirements catalogue was not judged in this run.",
    },
    "html.findings": {"nb": "Funn per artefakt", "en": "Findings per artifact"},
    "html.file": {"nb": "Fil", "en": "File"},
    "html.kind": {"nb": "Type", "en": "Kind"},
    "html.format": {"nb": "Format", "en": "Format"},
    "html.status": {"nb": "Status", "en": "Status"},
    "html.no_issues": {"nb": "Ingen funn.", "en": "No findings."},
    "html.grouped": {"nb": "Grupperte funn", "en": "Grouped findings"},
    "html.grouped_intro": {
        "nb": "Regler med mange funn vises med de {shown} første funnene i rapporten og et antall; "
              "samsvar validate --no-group viser alle, og JSON-, SARIF- og JUnit-rapportene har dem alle.",
        "en": "Rules with many findings are shown with the first {shown} findings of the report and a "
              "count; samsvar validate --no-group lists every one, and the JSON, SARIF and JUnit reports "
              "keep them all.",
    },
    "html.grouped_here": {
        "nb": "{count} funn til av {rule} i denne artefakten er ikke listet (gruppert, se sammendraget).",
        "en": "{count} more {rule} findings in this artefact are not listed (grouped: see the summary).",
    },
    "html.rule": {"nb": "Regel", "en": "Rule"},
    "html.count": {"nb": "Antall", "en": "Count"},
    "html.most": {"nb": "Flest funn", "en": "Most findings"},
    "html.artefacts_col": {"nb": "Artefakter", "en": "Artefacts"},
    "html.no_artifacts": {"nb": "Ingen artefakter ble kontrollert.", "en": "No artifacts were checked."},
    "html.test_pass": {"nb": "Bestått", "en": "Passed"},
    "html.test_fail": {"nb": "Ikke bestått", "en": "Failed"},
    "html.test_skip": {"nb": "Hoppet over", "en": "Skipped"},
    "html.test_error": {"nb": "Brøt sammen", "en": "Broke"},
    "html.verifies": {"nb": "Verifiserer", "en": "Verifies"},
    "html.exchanges": {
        "nb": "Utvekslinger (forespørsel og svar; hemmeligheter er fjernet)",
        "en": "Exchanges (request and response; secrets redacted)",
    },
    "html.severity": {"nb": "Alvorlighetsgrad", "en": "Severity"},
    "html.location": {"nb": "Plassering", "en": "Location"},
    "html.line_column": {"nb": "Linje:kolonne", "en": "Line:column"},
    "html.source": {"nb": "Kildeutdrag", "en": "Source excerpt"},
    "html.waiver": {
        "nb": "Unntak godkjent av {owner} til {expires}: {reason}",
        "en": "Waived by {owner} until {expires}: {reason}",
    },
    "html.excerpts_capped": {
        "nb": "Kildeutdrag vises for de første {count} funnene.",
        "en": "Source excerpts are shown for the first {count} findings.",
    },
    "html.stdin": {"nb": "standard inndata", "en": "standard input"},
    "html.notices": {"nb": "Ikke kontrollert", "en": "Not checked"},
    "html.notices_intro": {
        "nb": "En ren kjøring dekker ikke følgende:",
        "en": "A clean run does not cover the following:",
    },
    "html.no_notices": {
        "nb": "Ingen merknader: alt samsvar kjenner til ble kontrollert.",
        "en": "No notices: everything samsvar knows how to check was checked.",
    },
    "html.reproducibility": {"nb": "Reproduserbarhet", "en": "Reproducibility"},
    "html.declaration": {"nb": "Samsvarserklæring", "en": "Declaration of conformity"},
    "html.declaration_intro": {
        "nb": "Denne rapporten er oppført med sin SHA-256 i en signert samsvarserklæring. Kontroller "
              "erklæringen, signaturen og at rapporten er uendret med «{command}».",
        "en": "This report is listed with its SHA-256 in a signed declaration of conformity. Check the "
              "declaration, its signature and that this report is unchanged with «{command}».",
    },
    "html.declaration_file": {"nb": "Erklæring", "en": "Declaration"},
    "html.declaration_status": {"nb": "Status", "en": "Status"},
    "html.declaration_signed": {"nb": "signert (ikke kontrollert ennå)", "en": "signed (not verified yet)"},
    "html.declaration_signer": {"nb": "Signert av", "en": "Signed by"},
    "html.declaration_system": {"nb": "System som er testet", "en": "System under test"},
    "html.declaration_issued": {"nb": "Utstedt", "en": "Issued"},
    "html.reproducibility_intro": {
        "nb": "Samme versjon, pakker og konfigurasjon gir samme resultat.",
        "en": "The same version, packages and configuration give the same result.",
    },
    "html.samsvar_version": {"nb": "samsvar-versjon", "en": "samsvar version"},
    "html.python_version": {"nb": "Python-versjon", "en": "Python version"},
    "html.packages": {"nb": "Pakker", "en": "Packages"},
    "html.package": {"nb": "Pakke", "en": "Package"},
    "html.package_source": {"nb": "Kopi", "en": "Copy"},
    "html.source_embedded": {"nb": "innebygd i samsvar", "en": "embedded in samsvar"},
    "html.source_cache": {"nb": "pakkebufferen", "en": "package cache"},
    "html.source_ig": {"nb": "--ig", "en": "--ig"},
    "html.version": {"nb": "Versjon", "en": "Version"},
    "html.no_packages": {"nb": "Ingen pakker ble lastet.", "en": "No packages were loaded."},
    "html.config_path": {"nb": "Konfigurasjonsfil", "en": "Configuration file"},
    "html.config_file_sha256": {"nb": "SHA-256 for konfigurasjonsfilen", "en": "SHA-256 of the configuration file"},
    "html.config_sha256": {
        "nb": "SHA-256 for effektiv konfigurasjon",
        "en": "SHA-256 of the effective configuration",
    },
    "html.options": {"nb": "Innstillinger", "en": "Options"},
    "html.none": {"nb": "ingen", "en": "none"},
    "html.fatal": {"nb": "fatal", "en": "fatal"},
    "html.error": {"nb": "feil", "en": "error"},
    "html.warning": {"nb": "advarsel", "en": "warning"},
    "html.information": {"nb": "informasjon", "en": "information"},
    "html.pass": {"nb": "bestått", "en": "pass"},
    "html.fail": {"nb": "ikke bestått", "en": "fail"},
    "html.not-tested": {"nb": "ikke testet", "en": "not tested"},
    "html.manual": {"nb": "manuell vurdering", "en": "manual review"},
    # The HTML report of a live run (``samsvar run``): tests, not artefacts; they replace the html.* of the same name.
    "html.live.verdict_line": {
        "nb": "ved feilnivå «{level}»: {failed} av {files} tester har funn på eller over dette nivået.",
        "en": "at fail level “{level}”: {failed} of {files} tests have findings at or above it.",
    },
    "html.live.files": {"nb": "Tester kjørt", "en": "Tests run"},
    "html.live.files_failed": {"nb": "Tester som ikke bestod", "en": "Tests failed"},
    "html.live.artifact_overview": {"nb": "Tester", "en": "Tests"},
    "html.live.findings": {"nb": "Funn og dokumentasjon per test", "en": "Findings and evidence per test"},
    "html.live.file": {"nb": "Test", "en": "Test"},
    "html.live.artefacts": {"nb": "Tester", "en": "Tests"},
    "html.live.no_artifacts": {"nb": "Ingen tester ble kjørt.", "en": "No tests were run."},
    # Labels of the judge's evidence fields in the HTML report (its JSON keeps the keys).
    "evidence.label.artefacts_checked": {"nb": "Kontrollerte artefakter", "en": "Artefacts checked"},
    "evidence.label.by_family": {"nb": "Etter type", "en": "By kind"},
    "evidence.label.rules_applied": {"nb": "Regler brukt", "en": "Rules applied"},
    "evidence.label.result": {"nb": "Resultat", "en": "Result"},
    "evidence.label.test": {"nb": "Test", "en": "Test"},
    "evidence.label.exchanges": {"nb": "Utvekslinger", "en": "Exchanges"},
    "evidence.label.message": {"nb": "Melding", "en": "Message"},
    "evidence.label.file": {"nb": "Fil", "en": "File"},
    "evidence.label.path": {"nb": "Sti", "en": "Path"},
    "evidence.label.artifact": {"nb": "Artefakt", "en": "Artefact"},
    "evidence.label.rule": {"nb": "Regel", "en": "Rule"},
    "evidence.label.severity": {"nb": "Alvorlighetsgrad", "en": "Severity"},
    "evidence.label.location": {"nb": "Plassering", "en": "Location"},
    "evidence.label.kind": {"nb": "Type", "en": "Kind"},
    # Display of the judge's coded evidence values (``result``, ``severity``).
    "evidence.value.pass": {"nb": "bestått", "en": "passed"},
    "evidence.value.fail": {"nb": "ikke bestått", "en": "failed"},
    "evidence.value.error": {"nb": "brøt sammen", "en": "broke"},
    "evidence.value.skip": {"nb": "hoppet over", "en": "skipped"},
    "evidence.value.fatal": {"nb": "fatal", "en": "fatal"},
    "evidence.value.warning": {"nb": "advarsel", "en": "warning"},
    "evidence.value.information": {"nb": "informasjon", "en": "information"},
    # The judge's evidence sentences (conformance/judge.py).
    "judge.other_command": {
        "nb": "Reglene {rules} kontrolleres med «{command}»; denne rapporten er fra «{this}».",
        "en": "Rules {rules} are checked by '{command}'; this report is of '{this}'.",
    },
    "judge.unknown_rules": {
        "nb": "Ingen av reglene {rules} er kjent for samsvar.",
        "en": "No rule of {rules} is known to samsvar.",
    },
    "judge.blind": {
        "nb": "Ikke vurdert: {codes} (som sier at en kontroll ikke kunne gjøres) er ikke valgt i denne "
              "kjøringen, så en artefakt uten funn viser ikke at kontrollen ble gjort.",
        "en": "Not judged: {codes} (which says a check could not be made) is not selected in this run, so"
              " a clean artefact does not show that the check was made.",
    },
    "judge.nothing_applies": {
        "nb": "Ingen artefakt i denne kjøringen som reglene gjelder for ({scope}).",
        "en": "No artefact in this run that these rules apply to ({scope}).",
    },
    "judge.kinds": {"nb": "typene {names}", "en": "kinds {names}"},
    "judge.artefacts": {"nb": "artefaktene {names}", "en": "artefacts {names}"},
    "judge.profile_scope": {
        "nb": "artefakter validert mot profilen {profile}",
        "en": "artefacts validated against the profile {profile}",
    },
    "judge.more_findings": {
        "nb": "… og {more} funn til ({total} i {artefacts} artefakter).",
        "en": "... and {more} more findings ({total} in {artefacts} artefacts).",
    },
    "judge.not_counted": {
        "nb": "Ikke regnet som kontrollert: {path} ({rules}: kontrollen kunne ikke gjøres)",
        "en": "Not counted as checked: {path} ({rules}: the check could not be made)",
    },
    "judge.below": {
        "nb": "Funn under feilnivået ({level}): {counts}.",
        "en": "Findings below the fail level ({level}): {counts}.",
    },
    "judge.waived": {
        "nb": "Unntatte funn (ikke regnet med): {count}.",
        "en": "Waived findings (not counted): {count}.",
    },
    "judge.deselected": {"nb": "Ikke valgt i denne kjøringen: {codes}.", "en": "Not selected in this run: {codes}."},
    "judge.tests_planned": {
        "nb": "Tester mot kjørende system (kommer): {tests}.",
        "en": "Live-suite tests (to come): {tests}.",
    },
    "judge.tests_not_run": {
        "nb": "Testene {tests} var ikke med i denne kjøringen (samsvar run {suites} --target URL).",
        "en": "Live-suite tests {tests} were not part of this run (samsvar run {suites} --target URL).",
    },
    "judge.tests_missing": {"nb": "Ikke med i denne kjøringen: {tests}.", "en": "Not part of this run: {tests}."},
    "judge.and_more": {"nb": " (og {count} til)", "en": " (and {count} more)"},
    "judge.manual": {"nb": "Manuell kontroll", "en": "Manual inspection"},
    # The traceability matrix's column headers (``samsvar requirements matrix``).
    "matrix.principle": {"nb": "Prinsipp", "en": "Principle"},
    "matrix.principle_title": {"nb": "Prinsippets tittel", "en": "Principle title"},
    "matrix.requirement": {"nb": "Krav", "en": "Requirement"},
    "matrix.level": {"nb": "Nivå", "en": "Level"},
    "matrix.title": {"nb": "Tittel", "en": "Title"},
    "matrix.artefacts": {"nb": "Gjelder", "en": "Applies to"},
    "matrix.rules": {"nb": "Regler", "en": "Rules"},
    "matrix.tests": {"nb": "Tester", "en": "Tests"},
    "matrix.manual": {"nb": "Manuell kontroll", "en": "Manual inspection"},
    "matrix.verdict": {"nb": "Vurdering", "en": "Verdict"},
    "matrix.page_title": {"nb": "Sporbarhetsmatrise", "en": "Traceability matrix"},
    # ``samsvar requirements show|coverage|matrix|check`` (conformance/requirements_text.py, cli/requirements.py).
    "requirements.principle": {"nb": "Prinsipp", "en": "Principle"},
    "requirements.applies": {"nb": "Gjelder", "en": "Applies to"},
    "requirements.standards": {"nb": "Standarder", "en": "Standards"},
    "requirements.verification": {"nb": "Verifisering", "en": "Verification"},
    "requirements.rules": {"nb": "regler", "en": "rules"},
    "requirements.tests": {"nb": "tester", "en": "tests"},
    "requirements.manual": {"nb": "manuell kontroll", "en": "manual inspection"},
    "requirements.planned": {"nb": "kommer", "en": "to come"},
    "requirements.available": {"nb": "finnes", "en": "available"},
    "requirements.on": {"nb": "på", "en": "on"},
    "requirements.run": {"nb": "kjøres med", "en": "run with"},
    "requirements.status": {"nb": "status", "en": "status"},
    "requirements.requirements": {"nb": "krav", "en": "requirements"},
    "requirements.principles": {"nb": "prinsipper", "en": "principles"},
    "requirements.under": {"nb": "under", "en": "under"},
    "requirements.by_kind": {
        "nb": "Verifisert med regler: {rule}, med tester: {test}, manuelt: {manual}",
        "en": "Verified by rules: {rule}, by tests: {test}, manually: {manual}",
    },
    "requirements.only": {
        "nb": "Bare regler: {rule}, bare tester: {test}, bare manuelt: {manual}",
        "en": "Rules only: {rule}, tests only: {test}, manual only: {manual}",
    },
    "requirements.without_rule": {"nb": "Krav uten regel ({count}):", "en": "Requirements without a rule ({count}):"},
    "requirements.not_referenced": {
        "nb": "Regler ingen krav viser til ({count}):",
        "en": "Rules no requirement refers to ({count}):",
    },
    "requirements.valid": {"nb": "gyldig", "en": "valid"},
    "requirements.wrote": {"nb": "skrev", "en": "wrote"},
    "requirements.cannot_write": {"nb": "kan ikke skrive", "en": "cannot write"},
    "requirements.inconclusive": {
        "nb": "ikke kontrollert når disse meldes",
        "en": "not checked when these are reported",
    },
    "requirements.profile": {"nb": "bare funn fra profilen", "en": "only findings of the profile"},
    "requirements.constraints": {"nb": "bare funn om regelen(e)", "en": "only findings about the constraint(s)"},
    # The requirements catalogue's problems (conformance/catalogue.py); "en" of a schema message is
    # jsonschema's own English message, passed in as {message}.
    "catalogue.head_one": {"nb": "1 feil i kravkatalogen {where}:",
                           "en": "1 problem in the requirements catalogue {where}:"},
    "catalogue.head_many": {"nb": "{count} feil i kravkatalogen {where}:",
                            "en": "{count} problems in the requirements catalogue {where}:"},
    "catalogue.only_english": {"nb": "{message} (melding på engelsk)", "en": "{message}"},
    "catalogue.unreadable": {"nb": "kan ikke leses: {reason}", "en": "cannot be read: {reason}"},
    "catalogue.not_json": {"nb": "er ikke et JSON-dokument", "en": "is not a JSON document"},
    "catalogue.in_requirement": {"nb": " (i {requirement})", "en": " (in {requirement})"},
    "catalogue.needs_one_of": {"nb": "trenger en av egenskapene {names}", "en": "needs one of the properties {names}"},
    "catalogue.schema.required": {"nb": "mangler egenskapen {name}", "en": "{message}"},
    "catalogue.schema.additionalProperties": {"nb": "ukjent egenskap {names}", "en": "{message}"},
    "catalogue.schema.enum": {"nb": "{shown} er ikke en av {wanted}", "en": "{message}"},
    "catalogue.schema.const": {"nb": "{shown} skal være {wanted}", "en": "{message}"},
    "catalogue.schema.pattern": {"nb": "{shown} passer ikke med mønsteret {wanted}", "en": "{message}"},
    "catalogue.schema.type": {"nb": "{shown} er ikke av typen {wanted}", "en": "{message}"},
    "catalogue.schema.minItems": {"nb": "{shown} har for få elementer (minst {wanted})", "en": "{message}"},
    "catalogue.schema.minLength": {"nb": "{shown} er for kort (minst {wanted})", "en": "{message}"},
    "catalogue.schema.uniqueItems": {"nb": "{shown} har elementer som gjentas", "en": "{message}"},
    "catalogue.schema.maxItems": {"nb": "{shown} har for mange elementer (høyst {wanted})", "en": "{message}"},
    "catalogue.duplicate_id": {"nb": "id-en {id!r} er brukt før, første gang i {first}",
                               "en": "duplicate id {id!r}; first used at {first}"},
    "catalogue.unknown_principle": {"nb": "{id}: ukjent prinsipp {principle!r} (prinsippene er {known})",
                                    "en": "{id}: unknown principle {principle!r} (principles: {known})"},
    "catalogue.unknown_rule": {
        "nb": "{id}: ukjent regelkode eller prefiks {pattern!r}: ingen regel i samsvar er eller begynner med den "
              "(se 'samsvar rules list')",
        "en": "{id}: unknown rule code or prefix {pattern!r}: no rule of samsvar is or starts with it "
              "(see 'samsvar rules list')",
    },
    "catalogue.kind_outside_artefacts": {
        "nb": "{id}: typen {pattern!r} hører til familien {family!r}, som ikke er blant kravets artefakter {artefacts}",
        "en": "{id}: kind {pattern!r} is of the family {family!r}, which is not among the requirement's artefacts "
              "{artefacts}",
    },
    "catalogue.profile_outside_fhir": {
        "nb": "{id}: en profil gjelder FHIR-artefakter, men kravets artefakter er {artefacts}",
        "en": "{id}: a profile is for FHIR artefacts, but the requirement's artefacts are {artefacts}",
    },
    "catalogue.without_verification": {
        "nb": "{id}: ingen verifisering; legg til en regel, test eller manuell kontroll",
        "en": "{id}: no verification; add a rule, test or manual entry",
    },
    # The command line (cli/): what it says in the run's language.
    "cli.error": {"nb": "Feil: {message}", "en": "Error: {message}"},
}

COMPUTED: dict[str, str] = {
    "html.fatal": "severity codes: t[severity] in the template, texts[fail_on.code] in html.py",
    "html.error": "severity codes", "html.warning": "severity codes", "html.information": "severity codes",
    "html.pass": "verdicts: t[v.verdict] in the template", "html.fail": "verdicts",
    "html.not-tested": "verdicts", "html.manual": "verdicts",
    "html.test_pass": "test statuses: t['test_' + status] in the template", "html.test_fail": "test statuses",
    "html.test_skip": "test statuses", "html.test_error": "test statuses",
    "html.source_embedded": "package sources: t['source_' + p.source] in the template",
    "html.source_cache": "package sources", "html.source_ig": "package sources",
    "requirements.planned": "test verification status: text('requirements.' + v.status)",
    "requirements.available": "test verification status",
}
"""Keys looked up by a name the code computes (a severity, a verdict, a status), with where. The
areas ``evidence.label``, ``evidence.value``, ``matrix`` (its columns) and ``catalogue.schema`` are
read as whole tables or by computed names too (see :data:`COMPUTED_AREAS`)."""

COMPUTED_AREAS: dict[str, str] = {
    "evidence.label": "the judge's evidence keys (html.py: table('evidence.label'))",
    "evidence.value": "the judge's coded evidence values (html.py: table('evidence.value'))",
    "matrix": "the matrix's columns (judge.py: table('matrix'))",
    "catalogue.schema": "jsonschema's keyword of an error (catalogue.py: 'catalogue.schema.' + validator)",
}
"""Areas whose keys are used by computed names: every key in them counts as used."""


def text(key: str, lang: str, /, **values: Any) -> str:
    """The text ``key`` in ``lang`` (English for a language samsvar does not have), filled with ``values``."""
    texts = TEXTS[key]
    template = texts.get(lang) or texts["en"]
    return template.format(**values) if values else template


def table(area: str, lang: str) -> dict[str, str]:
    """Every text of ``area`` in ``lang``, by the rest of its key (``table("html", "nb")["title"]``):
    what a Jinja template reads as ``t.title``. Only the keys directly under ``area``."""
    prefix = area + "."
    return {key[len(prefix):]: texts.get(lang) or texts["en"] for key, texts in TEXTS.items()
            if key.startswith(prefix) and "." not in key[len(prefix):]}


def has(key: str) -> bool:
    """Whether ``key`` is a text (for lookups by a computed name that may miss)."""
    return key in TEXTS
