"""The README's "Python API", "pytest plugin" and "Hypothesis strategies" sections run as written:
every fenced ``python`` block of the first and last is executed; the plugin's ``toml`` and
``python`` blocks become a project that pytest runs with the plugin, as the ``console`` block does."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from .conftest import FIXTURES, REPO

pytest_plugins = ["pytester"]

FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _section(title: str) -> tuple[str, int]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None], text[:start].count("\n") + 1


def _blocks(title: str, language: str) -> list[tuple[int, str]]:
    body, first_line = _section(title)
    return [(first_line + body[:m.start()].count("\n"), m.group(2)) for m in FENCE.finditer(body)
            if m.group(1) == language]


@pytest.mark.parametrize("title", ["Python API", "Hypothesis strategies"])
def test_python_blocks_run(title: str, env_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _blocks(title, "python")
    assert blocks, f"no python blocks under '## {title}'"
    monkeypatch.chdir(tmp_path)
    shutil.copy(FIXTURES / "messages" / "rules" / "valid-dialogmelding.xml", tmp_path / "dialogmelding.xml")
    for line, code in blocks:
        exec(compile(code, f"README.md:{line}", "exec"), {"__name__": f"readme_{line}"})  # noqa: S102
    if title == "Python API":
        assert (tmp_path / "samsvar-report.html").is_file()


def test_pytest_plugin_section_runs(pytester: pytest.Pytester, env_cache: Path) -> None:
    (toml_line, toml), = _blocks("pytest plugin", "toml")
    (test_line, test_code), = _blocks("pytest plugin", "python")
    (_, console), = _blocks("pytest plugin", "console")
    pytester.path.joinpath("pyproject.toml").write_text(toml, encoding="utf-8")
    target = test_code.splitlines()[0].removeprefix("# ").strip()
    assert target.startswith("tests/") and target.endswith(".py")
    pytester.path.joinpath("tests").mkdir()
    pytester.path.joinpath(target).write_text(test_code, encoding="utf-8")
    arguments = console.strip().removeprefix("$ pytest").split()
    result = pytester.runpytest(*arguments, "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert pytester.path.joinpath("samsvar.html").is_file()
    failing = test_code.replace('export_patient("13097248022"), profile', 'export_patient("13097248023"), profile')
    pytester.path.joinpath(target).write_text(failing, encoding="utf-8")
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    _, shown = _blocks("pytest plugin", "text")[0]
    expected = [line.removeprefix("E").strip() for line in shown.strip().splitlines()]
    output = result.stdout.str()
    for line in expected:
        assert line in output, (line, output)
