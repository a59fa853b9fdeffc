"""Wheel build step: put the embedded default (``embedded/packages.toml``) into the wheel.

``EmbeddingBuildPy`` is setuptools' ``build_py`` plus one step: for every pinned package it
looks, in this order, in

1. ``$SAMSVAR_EMBED_FROM`` (a folder with the tarballs by their usual names, or a FHIR package
   cache layout ``ID#VERSION/package/``),
2. ``../shared/data/fhir-packages`` beside the source tree,
3. the FHIR package cache (``$SAMSVAR_FHIR_HOME``, else ``~/.fhir/packages``),
4. only when ``$SAMSVAR_EMBED_DOWNLOAD`` names a package registry (for example
   ``https://packages.fhir.org``; release pipelines, the GitHub Action, the Docker image): the
   registry, at ``REGISTRY/ID/VERSION``,

checks what it finds against the pinned SHA-256 (tarball) or resource digest (unpacked folder),
and writes ``samsvar/embedded/fhir/ID-VERSION.zip`` plus ``samsvar/embedded/manifest.json``
into the build. A package it cannot find, or that does not match its pin, is left out with a
message saying so; the build still succeeds unless ``SAMSVAR_EMBED_REQUIRE=1`` (release builds,
the Docker image). An editable install (``pip install -e``) skips this step: it finds the same
tarballs at run time by the same pins (``validators/fhir/embedded.py``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "fhir-packages"


def _embedding():
    """``validators/fhir/embedding.py`` (standard library only), loaded by path: the package is
    not importable while it is being built."""
    spec = importlib.util.spec_from_file_location("_samsvar_embedding", ROOT / "validators" / "fhir" / "embedding.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def _fhir_home() -> Path:
    configured = os.environ.get("SAMSVAR_FHIR_HOME")
    return Path(configured) if configured else Path.home() / ".fhir" / "packages"


def _candidates(pin) -> list[Path]:
    places = []
    configured = os.environ.get("SAMSVAR_EMBED_FROM")
    if configured:
        places += [Path(configured) / pin.file, Path(configured) / pin.ref / "package"]
    places.append(SHARED / pin.file)
    places.append(_fhir_home() / pin.ref / "package")
    return places


def _take(embedding, pin) -> tuple[dict[str, bytes] | None, str]:
    """The checked resource files of ``pin`` and where they came from, or None and why not."""
    rejected = []
    for place in _candidates(pin):
        if place.is_file():
            digest = embedding.file_sha256(place)
            if digest != pin.sha256:
                rejected.append(f"{place} has SHA-256 {digest}, pinned {pin.sha256}")
                continue
            return embedding.tgz_resources(place.read_bytes()), "tarball"
        if place.is_dir():
            files = embedding.folder_resources(place)
            digest = embedding.resources_digest((n, b) for n, b in files.items() if embedding.is_resource_name(n))
            if digest != pin.resources_sha256:
                rejected.append(f"{place} has resource digest {digest}, pinned {pin.resources_sha256}")
                continue
            return files, "package cache"
    registry = os.environ.get("SAMSVAR_EMBED_DOWNLOAD", "").strip()
    if registry:
        data, why = _download(registry, pin)
        if data is not None and embedding.sha256_bytes(data) == pin.sha256:
            return embedding.tgz_resources(data), "registry"
        rejected.append(why or f"{registry}/{pin.id}/{pin.version} is not the pinned tarball (SHA-256 differs)")
    looked = ", ".join(str(p) for p in _candidates(pin))
    return None, "; ".join(rejected) or f"not found (looked in {looked})"


def _download(registry: str, pin) -> tuple[bytes | None, str | None]:
    import urllib.error
    import urllib.request

    url = f"{registry.rstrip('/')}/{pin.id}/{pin.version}"
    try:
        with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - a URL the builder chose
            return response.read(), None
    except (OSError, urllib.error.URLError) as exc:
        return None, f"could not download {url}: {exc}"


def embed_into(target: Path) -> dict[str, object]:
    """Write the embedded default into ``target`` (``<build>/samsvar/embedded``); the manifest."""
    embedding = _embedding()
    pins = embedding.read_pins(ROOT / "embedded" / embedding.PINS_FILE)
    packages, missing = [], []
    for pin in pins:
        files, source = _take(embedding, pin)
        if files is None:
            missing.append({"ref": pin.ref, "why": source})
            print(f"samsvar build: NOT embedding {pin.ref}: {source}", file=sys.stderr)
            continue
        embedding.write_zip(files, target / "fhir" / pin.zip_name)
        packages.append({"id": pin.id, "version": pin.version, "sha256": pin.sha256,
                         "resources_sha256": pin.resources_sha256, "license": pin.license, "tarball": pin.file,
                         "file": f"fhir/{pin.zip_name}", "from": source})
        print(f"samsvar build: embedding {pin.ref} (from the {source}, checked against its pin)", file=sys.stderr)
    manifest = {"packages": packages, "missing": missing}
    target.mkdir(parents=True, exist_ok=True)
    (target / embedding.MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    if missing:
        print(f"samsvar build: the wheel works without {', '.join(m['ref'] for m in missing)}, but then needs "
              "`samsvar packages install` for them", file=sys.stderr)
        if os.environ.get("SAMSVAR_EMBED_REQUIRE", "").strip() not in ("", "0"):
            raise SystemExit("samsvar build: SAMSVAR_EMBED_REQUIRE is set and the embedded default is incomplete")
    return manifest


class EmbeddingBuildPy(build_py):
    """``build_py`` that also embeds the pinned FHIR packages and compiles the engine's hottest
    modules (``build_support/compiled.py``); neither in editable installs."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        embed_into(Path(self.build_lib) / "samsvar" / "embedded")
        from .compiled import compile_into

        compile_into(Path(self.build_lib))
