"""The certifier's HTML report and the FHIR TestReport, built from a real run over fixtures.

The TestReport is checked by samsvar's own validator; the HTML is parsed with lxml, checked for
anything external or executable, and, when Chromium is installed, rendered to a screenshot and
printed to PDF (one page per section).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from samsvar.conformance.report import Report
from samsvar.conformance.reports import FORMATS, html, render, testreport
from samsvar.conformance.session import ValidateRequest, run_validate
from samsvar.validators.detect import Kind
from samsvar.validators.issues import Severity, Waiver
from samsvar.validators.national_ids import ID_CHECKSUM
from samsvar.validators.runner import Options, Result, Validator

from .conftest import FIXTURES, REPO

BAD = FIXTURES / "fhir" / "identifiers" / "fnr-wrong-checksum.json"
GOOD = FIXTURES / "fhir" / "identifiers" / "valid-fnr.json"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)

VERDICTS: list[dict[str, Any]] = [
    {"id": "NO-REQ-ID-001", "title": "Fødselsnummer har gyldige kontrollsiffer <K1/K2>", "level": "SHALL",
     "principle": "P-IDENT", "verdict": "fail",
     "evidence": [{"rule": "NO-ID-003", "severity": "error", "path": str(BAD), "line": 7}],
     "artefacts": [str(BAD)]},
    {"id": "NO-REQ-ID-002", "title": "Syntetiske identiteter er merket", "level": "SHOULD", "principle": "P-IDENT",
     "verdict": "pass", "evidence": ["no NO-ID-005 raised"], "artefacts": [str(GOOD)]},
    {"id": "NO-REQ-DOC-001", "level": "SHALL",
     "title": {"nb": "Leverandøren dokumenterer testdata", "en": "The vendor documents test data"}, "principle": "P-DOC",
     "verdict": "manual", "evidence": [], "artefacts": []},
    {"id": "NO-REQ-MSG-001", "title": "AppRec returneres", "level": "MAY", "principle": None,
     "verdict": "not-tested", "evidence": [], "artefacts": []},
]


def css(element: lxml.html.HtmlElement, selector: str) -> list[lxml.html.HtmlElement]:
    """A tiny subset of CSS selectors (``tag``, ``.class``, ``#id``, ``[attr]``, descendants), without cssselect."""
    path = "."
    for step in selector.split():
        match = re.fullmatch(r"([a-z0-9]*)((?:[.#][\w-]+)*)(?:\[([\w-]+)\])?", step)
        assert match, step
        tag, qualifiers, attribute = match.groups()
        tests = [f"@{attribute}"] if attribute else []
        for kind, name in re.findall(r"([.#])([\w-]+)", qualifiers):
            tests.append(f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')" if kind == "."
                         else f"@id='{name}'")
        path += f"//{tag or '*'}" + "".join(f"[{t}]" for t in tests)
    return element.xpath(path)


def _run(fhir_cache: Path, *paths: Path) -> Report:
    return run_validate(ValidateRequest(paths=tuple(str(p) for p in paths), use_config=False, cache_root=fhir_cache))


@pytest.fixture(scope="module")
def real_report(fhir_cache: Path) -> Report:
    report = _run(fhir_cache, BAD, GOOD)
    report.verdicts = [dict(v) for v in VERDICTS]
    return report


@pytest.fixture(scope="module")
def page(real_report: Report) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(html.render(real_report, lang="nb"))


# -- HTML -----------------------------------------------------------------------------------
def test_html_parses_with_title_and_verdict(page: lxml.html.HtmlElement, real_report: Report) -> None:
    assert page.get("lang") == "nb"
    assert page.findtext(".//title") == "Samsvarsrapport: Ikke bestått"
    banner = css(page, ".banner")[0]
    assert "fail" in banner.get("class").split() and "Ikke bestått" in banner.text_content()
    assert "«feil»" in banner.text_content()  # the fail level, in Bokmål
    assert real_report.passed is False


def test_html_summary_counts(page: lxml.html.HtmlElement, real_report: Report) -> None:
    counts = real_report.summary()["issues"]
    shown = {td.get("data-severity"): int(td.text) for td in css(page, "td[data-severity]")}
    assert shown == counts
    facts = css(page, "#summary dl.facts dd")
    assert [dd.text for dd in facts[:2]] == ["2", "1"]
    verdicts = {td.get("data-verdict"): int(td.text) for td in css(page, "td[data-verdict]")}
    assert verdicts == {"pass": 1, "fail": 1, "not-tested": 1, "manual": 1}


def test_html_findings_carry_rule_location_and_source(page: lxml.html.HtmlElement) -> None:
    articles = css(page, "article.artifact")
    assert [a.findtext("h3") for a in articles] == [str(BAD), str(GOOD)]
    assert "failing" in articles[0].get("class") and "passing" in articles[1].get("class")
    rules = [code.text for code in css(page, "code.rule")]
    assert "NO-ID-003" in rules and "FHIR-INV-003" in rules
    issue = next(i for i in css(articles[0], ".issue") if css(i, "code.rule")[0].text == "NO-ID-003")
    assert css(issue, "code.expression")[0].text == "Patient.identifier[0].value"
    assert css(issue, ".position")[0].text == "7:7"
    assert "13097248032 has wrong control digits" in css(issue, ".message")[0].text
    focus = css(issue, "table.excerpt tr.focus")[0]
    line_7 = BAD.read_text(encoding="utf-8").splitlines()[6]
    assert css(focus, "td.ln")[0].text == "7"
    assert css(focus, "td")[1].text_content() == line_7
    assert css(focus, "mark")[0].text == '"'  # column 7
    numbers = [int(td.text) for td in css(issue, "table.excerpt td.ln")]
    assert numbers == [5, 6, 7, 8, 9]


def test_html_source_excerpt_is_escaped(real_report: Report) -> None:
    text = html.render(real_report)
    assert "<mark>&#34;</mark>value&#34;: &#34;13097248032&#34;</td>" in text
    assert '"value": "13097248032"' not in text


def test_html_requirement_table(page: lxml.html.HtmlElement) -> None:
    rows = css(page, "table.verdicts tbody tr")
    assert [r.get("data-requirement") for r in rows] == [v["id"] for v in VERDICTS]
    first = rows[0]
    assert css(first, "td")[1].text == "Fødselsnummer har gyldige kontrollsiffer <K1/K2>"
    assert css(first, ".badge")[0].text == "ikke bestått"
    assert "NO-ID-003" in first.text_content()
    links = {a.get("href") for a in css(first, "a")}
    assert links == {"#artifact-1"}  # the evidence and the artefact point at the artifact's findings
    assert css(rows[2], ".badge")[0].text == "manuell vurdering"
    assert css(rows[2], "td")[1].text == "Leverandøren dokumenterer testdata"  # a catalogue text, in Bokmål
    assert css(rows[3], ".badge")[0].text == "ikke testet"


def test_html_notices_and_reproducibility(page: lxml.html.HtmlElement, real_report: Report) -> None:
    notices = [li.text_content() for li in css(page, "#notices li")]
    assert notices == real_report.notices and notices
    repro = css(page, "#reproducibility")[0]
    packages = [[td.text_content() for td in css(tr, "td")] for tr in css(repro, "table.packages tbody tr")]
    assert packages == [[p.id, p.version, p.sha256, "pakkebufferen"] for p in real_report.reproducibility.packages]
    assert real_report.reproducibility.config_sha256 in repro.text_content()
    options = {tr.findtext("th"): tr.findtext("td") for tr in css(repro, "table.options tr")}
    assert options["fail_on"] == "error" and options["production"] == "false"


def test_html_nb_and_en_differ(real_report: Report) -> None:
    nb = html.render(real_report, lang="nb")
    en = render(real_report, "html", lang="en")
    assert nb != en
    english = lxml.html.document_fromstring(en)
    assert english.get("lang") == "en"
    assert english.findtext(".//title") == "Conformance report: Failed"
    assert "Requirement" in en and "Krav" not in en
    assert "The vendor documents test data" in en and "Leverandøren dokumenterer" not in en
    assert render(real_report, "html") == nb  # Bokmål by default


def test_html_texts_cover_both_languages() -> None:
    from samsvar.conformance.texts import table

    assert set(html.LANGUAGES) == {"nb", "en"}
    assert set(table("html", "nb")) == set(table("html", "en"))
    for code in [s.code for s in Severity] + list(html.VERDICTS):
        assert code in table("html", "nb")
    with pytest.raises(ValueError, match="language"):
        html.render(Report(results=[]), lang="sv")


def test_html_is_self_contained(real_report: Report) -> None:
    text = html.render(real_report)
    document = lxml.html.document_fromstring(text)
    assert document.xpath("//script") == []
    assert document.xpath("//link | //img | //iframe | //object | //embed") == []
    for element in document.iter():
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name)
            if name.lower() in {"src", "href", "action", "srcset"}:
                assert not value.strip().lower().startswith(("http:", "https:", "//", "javascript:")), value
    style = document.findtext(".//style")
    assert "@import" not in style and "url(" not in style
    assert "@media print" in style and "break-before: page" in style


def test_html_is_deterministic(real_report: Report) -> None:
    assert html.render(real_report) == html.render(real_report)


def test_html_escapes_hostile_text() -> None:
    issue = ID_CHECKSUM.issue('<script>alert("x")</script> \x00\x1b end', expression="Patient.x", line=3, column=2)
    issue.waiver = Waiver("NO-ID-003", "<b>owner</b>", "legacy", "2999-01-01")
    report = Report(results=[Result("-", Kind("fhir", "Patient"), "json", [issue]),
                             Result("/no/such/file.json", Kind("fhir", "Patient"), "json", [issue])],
                    verdicts=[{"id": "R<1>", "title": "<img src=https://x.example/a.png>", "verdict": "odd",
                               "evidence": [{"nested": {"a": [1, 2]}}, 42], "artefacts": ["-"]}])
    text = html.render(report, lang="en")
    document = lxml.html.document_fromstring(text)
    assert document.xpath("//script | //img | //b") == []
    assert "&lt;script&gt;" in text and "\\u0000\\u001b end" in text
    assert css(document, "table.excerpt") == []  # stdin and a missing file: no excerpt
    assert css(document, "article h3")[0].text == "standard input"
    assert css(document, "table.verdicts .badge")[0].text == "not tested"  # an unknown verdict
    assert '{"a": [1, 2]}' in css(document, "table.verdicts")[0].text_content()


def test_html_empty_report() -> None:
    document = lxml.html.document_fromstring(html.render(Report(results=[]), lang="en"))
    assert document.findtext(".//title") == "Conformance report: Passed"
    assert "No artifacts were checked." in document.text_content()
    assert "The requirements catalogue was not judged in this run." in document.text_content()


def test_excerpt_of_a_long_line_is_a_window_around_the_column() -> None:
    line = "x" * 1000 + "BAD" + "y" * 1000
    [only] = html.excerpt([line], 1, 1001)
    assert only.mark == "B" and only.before.startswith("…") and only.after.endswith("…")
    assert len(only.before + only.mark + only.after) <= html.MAX_EXCERPT_WIDTH + 2
    assert html.excerpt([line], 2, 1) == () and html.excerpt(None, 1, 1) == ()


def test_read_lines(tmp_path: Path) -> None:
    file = tmp_path / "a.json"
    file.write_bytes(b"\xef\xbb\xbf{\r\n  \"a\": \"\xff\"\r\n}\n")
    assert html.read_lines(str(file), 10) == ["{", '  "a": "\ufffd"', "}"]
    assert html.read_lines(str(file), 1) == ["{"]
    assert html.read_lines(str(tmp_path), 5) is None and html.read_lines("-", 5) is None


def test_template_ships_with_the_package() -> None:
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "conformance/reports/templates/*" in package_data["samsvar"]
    assert (REPO / "conformance" / "reports" / "templates" / "report.html.j2").is_file()


def test_formats_registered() -> None:
    assert FORMATS["html"].suffix == ".html"
    assert FORMATS["testreport"].suffix == ".json"


# -- rendering in a browser -----------------------------------------------------------------
def _chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    assert CHROMIUM is not None
    return subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
                           f"--user-data-dir={cwd / 'profile'}", *args], cwd=cwd, capture_output=True,
                          timeout=120, check=False)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_html_renders_in_chromium(real_report: Report, tmp_path: Path) -> None:
    page_file = tmp_path / "report.html"
    page_file.write_text(html.render(real_report), encoding="utf-8")
    shot = tmp_path / "report.png"
    _chromium("--window-size=1200,2400", f"--screenshot={shot}", page_file.as_uri(), cwd=tmp_path)
    data = shot.read_bytes() if shot.exists() else b""
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_html_prints_one_page_per_section(real_report: Report, tmp_path: Path) -> None:
    page_file = tmp_path / "report.html"
    page_file.write_text(html.render(real_report), encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    _chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf}", page_file.as_uri(), cwd=tmp_path)
    data = pdf.read_bytes() if pdf.exists() else b""
    assert data.startswith(b"%PDF")
    pages = re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data)
    assert len(pages) >= 5  # summary, requirements, findings, notices, reproducibility: a page break before each


_MEASURE = """<script>
window.addEventListener("load", () => {
  const wide = [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > innerWidth + 1);
  document.body.setAttribute("data-overflow", JSON.stringify({page: document.documentElement.scrollWidth,
    view: innerWidth, wide: wide.slice(0, 5).map(e => e.tagName + "." + e.className)}));
});
</script>"""


def _long_path_report() -> Report:
    folder = "/".join(["eksport-fra-journalsystemet-" + "x" * 40 + f"-{n}" for n in range(4)])
    name = folder + "/Pasient_" + "0123456789" * 12 + ".json"
    issue = ID_CHECKSUM.issue("Invalid fødselsnummer " + "9" * 200, line=1, column=1,
                              expression="Patient.identifier[0].value")
    return Report(results=[Result(name, Kind("fhir", "Patient"), "json", [issue]),
                           Result("kort.json", Kind("fhir", "Patient"), "json", [])], clean=0)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
@pytest.mark.parametrize("lang", ["nb", "en"])
def test_long_paths_do_not_overflow_a_1280px_page(lang: str, tmp_path: Path) -> None:
    """The artefact table, headings and findings wrap long paths instead of widening the page:
    measured in headless Chromium at 1280 px (a script added to a copy of the page for the test;
    the report itself has none), and a screenshot kept beside it."""
    page = html.render(_long_path_report(), lang=lang)
    page_file = tmp_path / "report.html"
    page_file.write_text(page.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    shot = tmp_path / "report.png"
    _chromium("--window-size=1280,1600", f"--screenshot={shot}", page_file.as_uri(), cwd=tmp_path)
    assert shot.read_bytes().startswith(b"\x89PNG") if shot.exists() else False
    dumped = _chromium("--window-size=1280,1600", "--virtual-time-budget=2000", "--dump-dom", page_file.as_uri(),
                       cwd=tmp_path).stdout.decode("utf-8")
    measured = json.loads(lxml.html.fromstring(dumped).body.get("data-overflow"))
    assert measured["view"] == 1280 and measured["page"] <= 1280 and measured["wide"] == [], measured


# -- TestReport -----------------------------------------------------------------------------
def _asserts(test: dict[str, Any]) -> list[dict[str, Any]]:
    return [action["assert"] for action in test["action"]]


def test_testreport_per_artifact(fhir_cache: Path) -> None:
    report = _run(fhir_cache, BAD, GOOD)
    document = json.loads(render(report, "testreport"))
    assert document["resourceType"] == "TestReport"
    assert document["status"] == "completed" and document["result"] == "fail"
    assert document["tester"] == f"samsvar {report.reproducibility.samsvar}"
    assert document["testScript"]["display"].startswith("samsvar")
    assert [t["name"] for t in document["test"]] == [str(BAD), str(GOOD)]
    bad, good = (_asserts(t) for t in document["test"])
    checksum = next(a for a in bad if "NO-ID-003" in a["message"])
    assert checksum["result"] == "fail" and checksum["detail"] == f"{BAD}:7:7 at Patient.identifier[0].value"
    assert {a["result"] for a in good} <= {"pass", "warning"}
    assert document["score"] == 50.0
    setup = [a["operation"]["message"] for a in document["setup"]["action"]]
    assert any(m.startswith("package hl7.fhir.r4.core#4.0.1 sha256:") for m in setup)
    assert f"configuration sha256:{report.reproducibility.config_sha256}" in setup
    assert render(report, "testreport") == render(report, "testreport")  # deterministic


def test_testreport_per_requirement(real_report: Report) -> None:
    document = testreport.build(real_report)
    assert [t["name"] for t in document["test"]] == [v["id"] for v in VERDICTS]
    results = [_asserts(t)[0]["result"] for t in document["test"]]
    assert results == ["fail", "pass", "skip", "skip"]
    first = _asserts(document["test"][0])
    assert first[0]["detail"] == f"artefacts: {BAD}"
    assert first[1]["result"] == "fail" and "NO-ID-003" in first[1]["message"]  # from the evidence's severity
    assert document["test"][1]["description"].startswith("Syntetiske identiteter")
    assert document["test"][2]["description"] == "The vendor documents test data · SHALL · P-DOC"


def test_testreport_waived_and_below_fail_level() -> None:
    waived = ID_CHECKSUM.issue("bad", line=1, column=1)
    waived.waiver = Waiver("NO-ID-003", "owner", "legacy", "2999-01-01")
    report = Report(results=[Result("a.json", Kind("fhir", "Patient"), "json",
                                    [waived, ID_CHECKSUM.issue("also bad").with_severity(Severity.INFORMATION)])],
                    fail_on=Severity.ERROR)
    document = testreport.build(report)
    assert [a["result"] for a in _asserts(document["test"][0])] == ["pass", "warning"]  # by line
    assert document["result"] == "pass"


REPORT_SHAPES = {
    "per-artifact": lambda r: Report(results=r.results, reproducibility=r.reproducibility, notices=r.notices),
    "per-requirement": lambda r: r,
    "empty": lambda r: Report(results=[], reproducibility=r.reproducibility),
    "hostile": lambda r: Report(results=[Result("-", Kind("unknown", "unknown"), None, [
        ID_CHECKSUM.issue("  \x00<b>&</b>\x1f ", expression="", line=1, column=1)])],
        verdicts=[{"id": " ", "title": "", "verdict": "odd", "evidence": [" ", {"k": None}], "artefacts": [""]}]),
}


@pytest.mark.parametrize("shape", REPORT_SHAPES)
def test_testreport_is_valid_r4(shape: str, real_report: Report, fhir_cache: Path) -> None:
    data = render(REPORT_SHAPES[shape](real_report), "testreport").encode()
    result = Validator(Options(cache_root=fhir_cache)).validate_bytes("testreport.json", data)
    assert result.kind == Kind("fhir", "TestReport")
    structural = [i for i in result.issues if i.rule.startswith("FHIR-STRUCT")]
    assert structural == []
    problems = [(i.rule, i.message, i.expression) for i in result.issues if i.severity >= Severity.WARNING]
    assert problems == []
