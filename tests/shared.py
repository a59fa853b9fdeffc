"""The one place tests and benchmarks find ``../shared`` (public material we did not write)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parent.parent


def shared_root() -> Path | None:
    """``$SAMSVAR_SHARED`` or the ``shared/`` folder beside the repository, if present."""
    env = os.environ.get("SAMSVAR_SHARED")
    candidates = [Path(env)] if env else []
    candidates += [_REPO.parent / "shared", _REPO.parent.parent / "shared"]
    for candidate in candidates:
        if (candidate / "data").is_dir():
            return candidate
    return None


def shared_path(*parts: str) -> Path:
    """A path under ``shared/data``; skips the calling test with a clear reason when absent."""
    root = shared_root()
    if root is None:
        pytest.skip("../shared (public reference data) is not beside the repository; set SAMSVAR_SHARED")
    path = root.joinpath("data", *parts)
    if not path.exists():
        pytest.skip(f"shared data {path} is not present in this copy of ../shared")
    return path
