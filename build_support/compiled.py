"""Wheel build step: compile the engine's hottest modules with mypyc (``validators/compiled.py``).

After ``build_py`` has copied the package into the build folder, :func:`compile_into` runs mypyc
there on the modules of ``validators/compiled.py: MODULES`` (each on its own, ``separate``, so
every extension stays inside the package) and leaves, beside each ``.py``, the C extension that
Python imports in its place; :class:`PlatformWheel` then tags the wheel for this interpreter and
platform. The build needs a C compiler and mypy (``build-system.requires``); without them it
ships the pure-Python wheel and says so, unless ``SAMSVAR_COMPILE_REQUIRE=1`` (release builds,
the wheel test), which makes it fail. ``SAMSVAR_PURE=1`` builds the pure wheel on purpose.
An editable install is never compiled.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:  # setuptools >= 70.1 has its own; before, the wheel package's
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # pragma: no cover - depends on the build environment's setuptools
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent

BUILT: list[str] = []
"""The extensions this build made (read by :class:`PlatformWheel` in the same process)."""

_SETUP = """
import sys
from setuptools import setup
from mypyc.build import mypycify
temp, *sources = sys.argv[1:]
setup(name="samsvar-compiled", script_args=["build_ext", "--build-lib", temp + "/lib", "--build-temp", temp + "/obj"],
      ext_modules=mypycify(["--follow-imports=silent", "--ignore-missing-imports", "--no-namespace-packages", *sources],
                           separate=True, opt_level="3", target_dir=temp + "/c"))
"""


def _modules() -> tuple[str, ...]:
    """``validators/compiled.py: MODULES``, read by path: the package is not importable while it is built."""
    spec = importlib.util.spec_from_file_location("_samsvar_compiled", ROOT / "validators" / "compiled.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(module.MODULES)


def _stems(source: str) -> tuple[str, str]:
    """The names of the two extensions mypyc makes of ``source``: the module and its runtime."""
    stem = Path(source).stem
    return stem, stem + "__mypyc"


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip() not in ("", "0")


def compile_into(build_lib: Path) -> list[str]:
    """Compile the modules in ``build_lib/samsvar``; the extension files made (empty when the
    build is pure, on purpose or for want of a compiler or mypy)."""
    if _flag("SAMSVAR_PURE"):
        print("samsvar build: SAMSVAR_PURE is set: a pure-Python wheel", file=sys.stderr)
        return []
    build_lib = build_lib.resolve()
    sources = [f"samsvar/{source}" for source in _modules()]
    with tempfile.TemporaryDirectory(prefix="samsvar-mypyc-") as temp:
        done = subprocess.run([sys.executable, "-c", _SETUP, temp, *sources], cwd=build_lib,
                              capture_output=True, text=True, check=False)
        for made_here in Path(temp, "lib").rglob("*"):
            if made_here.suffix in (".so", ".pyd"):
                shutil.copy2(made_here, build_lib / made_here.relative_to(Path(temp, "lib")))
    made = sorted(str(path.relative_to(build_lib)) for source in sources
                  for path in (build_lib / source).parent.iterdir()
                  if path.suffix in (".so", ".pyd") and path.name.split(".")[0] in _stems(source))
    if done.returncode != 0 or len([name for name in made if "__mypyc" not in name]) != len(sources):
        why = (done.stderr or done.stdout).strip().splitlines()[-12:]
        print("samsvar build: could not compile the engine with mypyc; the wheel is pure Python "
              "(the same verdicts, about a third more CPU time):\n  " + "\n  ".join(why), file=sys.stderr)
        for name in made:
            (build_lib / name).unlink()
        if _flag("SAMSVAR_COMPILE_REQUIRE"):
            raise SystemExit("samsvar build: SAMSVAR_COMPILE_REQUIRE is set and the engine did not compile")
        return []
    print(f"samsvar build: compiled {len(sources)} engine modules with mypyc", file=sys.stderr)
    BUILT[:] = made
    return made


class PlatformWheel(bdist_wheel):
    """``bdist_wheel`` that tags the wheel for this interpreter and platform when it carries
    compiled modules (a pure build stays ``py3-none-any``)."""

    def run(self) -> None:
        if not self.skip_build:
            self.run_command("build")  # marked as run: the base class does not build again
        if BUILT:  # installed at the wheel's root (platlib), as a wheel with extensions is
            self.root_is_pure = False
            self.distribution.has_ext_modules = lambda: True  # type: ignore[method-assign]
        super().run()
