"""The command line is one package: every command group a module of ``cli/``, named in
``cli.COMMANDS`` and in the ``cli-layers`` contract, and loaded only when called or listed."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from click.testing import CliRunner

from samsvar.cli import COMMANDS, cli

REPO = Path(__file__).resolve().parent.parent
MODULES = {path.stem for path in (REPO / "cli").glob("*.py")} - {"__init__", "common"}


def _contract(contract_id: str) -> dict:
    document = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return next(c for c in document["tool"]["importlinter"]["contracts"] if c["id"] == contract_id)


def test_every_command_module_is_in_the_table_and_the_contract() -> None:
    assert {module for module, _ in COMMANDS.values()} == MODULES
    listed = {part.strip() for part in _contract("cli-layers")["layers"][0].split("|")}
    assert listed == MODULES, "name every module of cli/ in the cli-layers contract"


def test_help_lists_every_command_of_the_table() -> None:
    result = CliRunner().invoke(cli, ["--help"], prog_name="samsvar")
    assert result.exit_code == 0
    commands = result.output.split("Commands:", 1)[1]
    assert {line.split()[0] for line in commands.splitlines() if line.strip()} == set(COMMANDS)


def test_a_command_loads_only_its_own_module() -> None:
    code = ("import sys; from samsvar.cli import cli; cli.get_command(None, 'rules'); "
            "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('samsvar.cli.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["['common',", "'rules']"]
