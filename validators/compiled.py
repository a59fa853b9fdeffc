"""The engine modules a wheel build compiles with mypyc, and which of them run compiled here.

The structure walk and what it runs for every element are plain, typed Python in the source
tree. A wheel build (``build_support/compiled.py``) turns each module named in ``MODULES`` into
a C extension placed beside its ``.py``, which Python imports in its place: the same code, the
same verdicts (every issue of the 5,306 official examples identical, and the wheel test judges
every fixture both ways), about a third less CPU time. An editable install, a build with
``SAMSVAR_PURE=1`` or one on a machine without a C compiler runs the ``.py`` files.

Standard library only: the build reads this file by path, before the package is importable.
"""

from __future__ import annotations

import importlib
import importlib.machinery

MODULES: tuple[str, ...] = (
    "validators/fhir/structure.py",
    "validators/fhir/visit.py",
    "validators/fhir/invariants.py",
    "validators/fhir/fhirpath_fast.py",
    "validators/jsontree.py",
)
"""Source files, relative to the package root. A module listed here must pass mypy: mypyc
enforces its annotations at run time (a value of another type than declared is a TypeError)."""


def module_name(source: str) -> str:
    """``validators/jsontree.py`` -> ``samsvar.validators.jsontree``."""
    return "samsvar." + source.removesuffix(".py").replace("/", ".")


def compiled_modules() -> list[str]:
    """The modules of ``MODULES`` that this installation imports from a C extension."""
    found = []
    for source in MODULES:
        name = module_name(source)
        origin = getattr(importlib.import_module(name), "__file__", None) or ""
        if origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            found.append(name)
    return found


def describe() -> str:
    """One line for ``samsvar --version``."""
    compiled = compiled_modules()
    if not compiled:
        return "engine: pure Python (an editable install, SAMSVAR_PURE=1, or built without a C compiler)"
    return f"engine: compiled with mypyc ({len(compiled)} of {len(MODULES)} modules)"
