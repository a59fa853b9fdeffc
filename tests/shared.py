"""The one place tests and benchmarks find public material we did not write: ``../shared``, and the
FHIR packages (from ``../shared``, the user's FHIR package cache, or the copy samsvar embeds).

Whether a test skips is decided here and nowhere else, so that the reasons are the same everywhere
and ``.ci/run`` can hold them to the short list of ``.ci/allowed-skips.toml``:

- :func:`shared_path` is for material only ``../shared`` holds (Norwegian messages and XSDs, HL7's
  test cases, identifier test vectors, the published tarballs themselves);
- :func:`fhir_package_cache` and :func:`fhir_package` are for tests that need the *definitions*
  of a FHIR package: they take them from ``../shared`` when it is there, else from the FHIR package
  cache ``$SAMSVAR_FHIR_HOME`` names (the suite's isolation points it at an empty folder, so this is
  for a caller that sets one up), else from the packages samsvar itself ships (the embedded default:
  a wheel's zips, or the pinned tarballs an editable install finds), and skip only when none has them.

``$SAMSVAR_SHARED`` names the ``shared`` folder; set to an empty value (or a folder without
``data/``) it means "there is none", which is how CI checks that the tests still run without it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

_REPO = Path(__file__).resolve().parent.parent

PACKAGE_FILES = {
    "hl7.fhir.r4.core#4.0.1": "hl7.fhir.r4.core-4.0.1.tgz",
    "hl7.fhir.no.basis#2.2.2": "hl7.fhir.no.basis-2.2.2.tgz",
    "hl7.terminology.r4#7.0.1": "hl7.terminology.r4-7.0.1.tgz",
    "hl7.fhir.uv.extensions.r4#5.3.0-ballot-tc1": "hl7.fhir.uv.extensions.r4-5.3.0-ballot-tc1.tgz",
    "hl7.fhir.r4.examples#4.0.1": "hl7.fhir.r4.examples-4.0.1.tgz",
}
"""The published tarball of each package the tests use (as ``../shared/data/fhir-packages`` holds them)."""

NO_SHARED = "../shared (public reference data) is not beside the repository; set SAMSVAR_SHARED"


def shared_root() -> Path | None:
    """``$SAMSVAR_SHARED`` when it is set (empty: none), else the ``shared/`` folder beside the repository."""
    env = os.environ.get("SAMSVAR_SHARED")
    candidates = ([Path(env)] if env else []) if env is not None else [_REPO.parent / "shared",
                                                                       _REPO.parent.parent / "shared"]
    for candidate in candidates:
        if (candidate / "data").is_dir():
            return candidate
    return None


def shared_path(*parts: str) -> Path:
    """A path under ``shared/data``; skips the calling test with a clear reason when absent."""
    root = shared_root()
    if root is None:
        pytest.skip(NO_SHARED)
    path = root.joinpath("data", *parts)
    if not path.exists():
        pytest.skip(f"shared data {path} is not present in this copy of ../shared")
    return path


# --------------------------------------------------------------------------- FHIR packages

def _shared_tarball(ref: str) -> Path | None:
    root = shared_root()
    name = PACKAGE_FILES.get(ref)
    path = root / "data" / "fhir-packages" / name if root is not None and name else None
    return path if path is not None and path.is_file() else None


def _user_cache_folder(ref: str) -> Path | None:
    """The package's folder in the FHIR package cache ``samsvar packages install`` fills, when it is there."""
    from samsvar.validators.fhir.packages import PackageCache, default_cache_root

    package_id, version = ref.split("#", 1)
    package = PackageCache(default_cache_root()).get(package_id, version)
    return package.folder if package is not None else None


def _embedded(ref: str) -> Any:
    """samsvar's own copy of the package (the embedded default), when this samsvar has one."""
    try:
        from samsvar.validators.fhir import embedded  # type: ignore[attr-defined]
    except ImportError:
        return None
    finder = getattr(embedded, "embedded_packages", None)
    return finder().get(ref) if finder is not None else None


def _missing(refs: tuple[str, ...]) -> str:
    return (f"the FHIR package(s) {', '.join(refs)} are neither in ../shared/data/fhir-packages, nor in the "
            "FHIR package cache (samsvar packages install), nor embedded in this samsvar")


def fhir_package_cache(root: Path, refs: tuple[str, ...] = ("hl7.fhir.r4.core#4.0.1", "hl7.fhir.no.basis#2.2.2")) -> Path:
    """A package cache at ``root`` from which ``refs`` load (``--cache``/``cache_root``), or skip.

    From ``../shared``: installed into ``root``. From the user's package cache: linked into ``root``
    (nothing of the user's is written). Embedded in samsvar: ``root`` stays empty and samsvar's
    embedded default answers."""
    from samsvar.validators.fhir.packages import PackageCache

    root.mkdir(parents=True, exist_ok=True)
    cache = PackageCache(root)
    missing: list[str] = []
    for ref in refs:
        tarball = _shared_tarball(ref)
        if tarball is not None:
            cache.install_tgz(tarball)
            continue
        folder = _user_cache_folder(ref)
        if folder is not None:
            (root / folder.name).symlink_to(folder, target_is_directory=True)
            continue
        if _embedded(ref) is None:
            missing.append(ref)
    if missing:
        pytest.skip(_missing(tuple(missing)))
    return root


def fhir_package(ref: str) -> Any:
    """One package's definitions, for ``Definitions([...])``: from ``../shared``, the user's package
    cache or samsvar's embedded copy; skips when none has it."""
    tarball = _shared_tarball(ref)
    if tarball is not None:
        from samsvar.validators.fhir.igs import TarballPackage

        return TarballPackage(tarball)
    folder = _user_cache_folder(ref)
    if folder is not None:
        from samsvar.validators.fhir.packages import Package

        return Package(folder)
    embedded = _embedded(ref)
    if embedded is None:
        pytest.skip(_missing((ref,)))
    return embedded


def fhir_package_file(ref: str) -> Path:
    """The published tarball of a package, for tests of reading and installing tarballs: ../shared only."""
    return shared_path("fhir-packages", PACKAGE_FILES[ref])
