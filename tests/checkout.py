"""This checkout as a plain folder (for builds and installs that must not see ../shared), and an
environment without samsvar's variables or this Python's virtual environment."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def source_copy(target: Path) -> Path:
    """The checkout's files (tracked and new, not ignored) in ``target``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment without SAMSVAR_*, PYTHON* and VIRTUAL_ENV, with an empty FHIR package cache
    and a samsvar cache of its own under ``tmp``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SAMSVAR_", "PYTHON", "VIRTUAL_ENV")) and k != "PIP_REQUIRE_VIRTUALENV"}
    empty = tmp / "empty-fhir-home"
    empty.mkdir(exist_ok=True)
    return {**env, "SAMSVAR_FHIR_HOME": str(empty), "SAMSVAR_CACHE_DIR": str(tmp / "samsvar-cache"), **extra}
