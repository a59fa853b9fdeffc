"""Hostile input: never a traceback, never a hang, never a network call, always located."""

from __future__ import annotations

import json
import socket
import threading
import tomllib
from pathlib import Path

import pytest

from .conftest import FIXTURES

HOSTILE = FIXTURES / "hostile"
MANIFEST = tomllib.loads((HOSTILE / "expected.toml").read_text())
EXPECTED: dict[str, list[str]] = MANIFEST["expected"]
IGNORED = set(MANIFEST.get("ignore", []))


@pytest.mark.timeout(120)
def test_the_whole_hostile_corpus_in_one_run(run) -> None:
    """Every hostile file through the CLI at once: exit 1, one result each, the expected rules."""
    files = sorted(str(p) for p in HOSTILE.iterdir() if p.name != "expected.toml")
    outcome = run("validate", *files, "--format", "json")
    assert outcome.exit_code == 1, outcome.stderr
    report = json.loads(outcome.stdout)
    by_path = {Path(r["path"]).name: r for r in report["results"]}
    assert set(by_path) == set(EXPECTED)
    for name, codes in EXPECTED.items():
        issues = by_path[name]["issues"]
        assert sorted({i["rule"] for i in issues} - IGNORED) == sorted(codes), (name, issues)
        for issue in issues:
            assert issue["line"] and issue["column"], (name, issue)
    assert "Traceback" not in outcome.stdout + outcome.stderr


class _Listener:
    """A real TCP server on 127.0.0.1 that records every connection it receives."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.mark.parametrize("name", ["xxe-remote-url.xml", "external-dtd.xml", "parameter-entity.xml"])
def test_xml_never_fetches(name: str, run, tmp_path: Path) -> None:
    listener = _Listener()
    try:
        text = (HOSTILE / name).read_text().replace("127.0.0.1:9", f"127.0.0.1:{listener.port}")
        target = tmp_path / name
        target.write_text(text)
        outcome = run("validate", str(target), "--format", "json")
    finally:
        listener.close()
    assert listener.connections == 0
    assert outcome.exit_code == 1
    assert [i["rule"] for i in json.loads(outcome.stdout)["results"][0]["issues"]] == ["INPUT-007"]


def test_xxe_does_not_leak_file_content(run) -> None:
    outcome = run("validate", str(HOSTILE / "xxe-local-file.xml"), "--format", "json")
    assert "root:" not in outcome.stdout


def test_size_limit_is_configurable(run, tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text('{"resourceType": "Patient", "id": "' + "a" * 2_000_000 + '"}')
    refused = run("validate", str(big), "--max-size", "1MB", "--format", "json")
    assert refused.exit_code == 1
    assert [i["rule"] for i in json.loads(refused.stdout)["results"][0]["issues"]] == ["INPUT-005"]
    accepted = run("validate", str(big), "--max-size", "4MB", "--format", "json")
    assert "INPUT-005" not in accepted.stdout


def test_depth_limit_is_configurable(run, tmp_path: Path) -> None:
    nested = tmp_path / "nested.json"
    nested.write_text('{"resourceType": "Patient", "extension": ' + "[" * 50 + "]" * 50 + "}")
    assert "INPUT-006" in run("validate", str(nested), "--max-depth", "20", "-f", "json").stdout
    assert "INPUT-006" not in run("validate", str(nested), "--max-depth", "100", "-f", "json").stdout


def test_the_depth_limit_stops_at_what_samsvar_can_parse_and_walk(run, tmp_path: Path) -> None:
    """--max-depth used to accept 10,000 while JSON deeper than ~990 could not be parsed at all."""
    refused = run("validate", "--max-depth", "501", str(tmp_path))
    assert refused.exit_code == 2 and "1<=x<=500" in refused.stderr.replace(" ", "")
    (tmp_path / "samsvar.toml").write_text("max-depth = 10000\n")
    configured = run("validate", str(tmp_path / "samsvar.toml"))
    assert configured.exit_code == 2 and "from 1 to 500" in configured.stderr
    (tmp_path / "samsvar.toml").unlink()
    # the deepest accepted limit is one samsvar can honour: a Questionnaire 500 levels deep is checked
    item: dict = {"linkId": "leaf", "type": "display", "text": "a"}
    for n in range(248):
        item = {"linkId": f"g{n}", "type": "group", "item": [item]}
    deep = tmp_path / "deep.json"
    deep.write_text(json.dumps({"resourceType": "Questionnaire", "status": "draft", "item": [item]}))
    checked = run("validate", str(deep), "--max-depth", "500", "-f", "json")
    rules = {i["rule"] for r in json.loads(checked.stdout)["results"] for i in r["issues"]}
    assert rules.isdisjoint({"INPUT-006", "SAMSVAR-001"}), rules
    # deeper than the parser reaches: the finding names the limit
    hopeless = tmp_path / "hopeless.json"
    hopeless.write_text('{"resourceType": "Patient", "extension": ' + "[" * 1_200 + "]" * 1_200 + "}")
    told = run("validate", str(hopeless), "--max-depth", "500")
    assert "INPUT-006" in told.stdout and "limit of 500 levels" in told.stdout


@pytest.mark.timeout(300)
def test_a_folder_of_ten_thousand_files(run, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    for i in range(100):
        sub = folder / f"d{i:03d}"
        sub.mkdir(parents=True)
        for j in range(100):
            (sub / f"p{j:03d}.json").write_text(
                '{"resourceType": "Patient", "identifier": [{"system": '
                '"urn:oid:2.16.578.1.12.4.1.4.1", "value": "13097248022"}]}')
    (folder / "d042" / "p042.json").write_text("{broken")
    outcome = run("validate", str(folder), "--format", "json")
    report = json.loads(outcome.stdout)
    assert report["summary"]["files"] == 10_000
    assert report["summary"]["files_failed"] == 1
    assert outcome.exit_code == 1


@pytest.mark.parametrize(("name", "rule"), [("xxe-local-file.xml", "INPUT-007"), ("malformed.xml", "INPUT-002"),
                                            ("undeclared-html-entity.xml", "INPUT-002")])
def test_xml_that_cannot_be_parsed_is_located_on_the_document_as_hl7_does(name: str, rule: str) -> None:
    """HL7's validator reports an XML document it cannot parse at the path '(xml)', with a line and column."""
    from samsvar.validators import Options, Validator

    result = Validator(Options()).validate_bytes(name, (HOSTILE / name).read_bytes())
    assert [(i.rule, i.expression) for i in result.issues] == [(rule, "(xml)")]
    assert result.issues[0].line is not None and result.issues[0].line >= 1


def test_an_undeclared_html_entity_is_explained() -> None:
    from samsvar.validators import Options, Validator

    name = "undeclared-html-entity.xml"
    message = Validator(Options()).validate_bytes(name, (HOSTILE / name).read_bytes()).issues[0].message
    assert "'reg'" in message and "not declared" in message
