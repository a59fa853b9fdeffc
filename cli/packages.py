"""``samsvar packages``: install and list FHIR packages in the shared cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


@click.group()
def packages() -> None:
    """FHIR packages in the shared cache (~/.fhir/packages, as SUSHI and HL7's validator use)."""


@packages.command("install")
@click.argument("sources", nargs=-1, required=True, metavar="ID#VERSION|FILE.tgz|FOLDER...")
@click.option("--registry", envvar="SAMSVAR_PACKAGE_REGISTRY", default=None,
              help="Package registry base URL [default: https://packages.fhir.org].")
@click.option("--cache", "cache_root", type=click.Path(file_okay=False, path_type=Path),
              help="FHIR package cache [default: $SAMSVAR_FHIR_HOME or ~/.fhir/packages].")
@click.option("--no-deps", is_flag=True, help="Do not install the dependencies of packages fetched by id.")
def packages_install(sources: tuple[str, ...], registry: str | None, cache_root: Path | None, no_deps: bool) -> None:
    """Install packages from a tarball, a folder or (by id, over the network) a registry.

    \b
    Examples:
      samsvar packages install hl7.fhir.r4.core-4.0.1.tgz
      samsvar packages install hl7.fhir.no.basis#2.2.2
    """
    from ..validators.fhir.packages import PackageCache, default_registry

    cache = PackageCache(cache_root)
    for source in sources:
        with _download_progress(source) as progress:
            installed = cache.install(source, registry=registry or default_registry(),
                                      progress=progress, with_dependencies=not no_deps)
        for info in installed:
            click.echo(f"installed {info.ref} -> {info.path}")
            missing = cache.missing_dependencies(info)
            if missing:
                click.echo(f"  note: dependencies not in the cache: {', '.join(missing)}; install them too", err=True)


class _download_progress:
    """A rich progress bar on standard error, shown only while bytes arrive."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self):
        return self.update

    def update(self, done: int, total: int | None) -> None:
        if self._progress is None:
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                      TransferSpeedColumn(), console=Console(stderr=True), transient=True)
            self._progress.start()
            self._task = self._progress.add_task(f"downloading {self.label}", total=total)
        self._progress.update(self._task, completed=done, total=total)

    def __exit__(self, *_exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


@packages.command("list")
@click.option("--cache", "cache_root", type=click.Path(file_okay=False, path_type=Path),
              help="FHIR package cache [default: $SAMSVAR_FHIR_HOME or ~/.fhir/packages].")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def packages_list(cache_root: Path | None, as_json: bool) -> None:
    """List the installed packages and the embedded default (shipped with samsvar).

    A package in the cache wins over the embedded copy of the same id#version.
    """
    from ..validators.fhir.embedded import embedded_packages, embedded_pins
    from ..validators.fhir.packages import PackageCache

    cache = PackageCache(cache_root)
    infos = cache.list()
    cached = {i.ref for i in infos}
    embedded = embedded_packages()
    rows = [{"id": i.id, "version": i.version, "fhirVersions": i.fhir_versions, "source": "cache",
             "path": str(i.path)} for i in infos]
    rows += [{"id": p.id, "version": p.version, "fhirVersions": [str(v) for v in p.manifest.get("fhirVersions") or []],
              "source": "embedded", "path": str(p.path), "sha256": p.pin.sha256, "license": p.pin.license,
              "shadowed": ref in cached} for ref, p in embedded.items()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not infos:
        click.echo(f"no packages in {cache.root}")
    for row in rows:
        where = row["path"] if row["source"] == "cache" else \
            "embedded" + (" (the cache's copy is used)" if row["shadowed"] else "")
        click.echo(f"{row['id'] + '#' + row['version']:<50} FHIR {','.join(row['fhirVersions']) or '?':<8} {where}")
    missing = [pin.ref for pin in embedded_pins() if pin.ref not in embedded]
    if missing:
        click.echo(f"not embedded in this installation: {', '.join(missing)} (see embedded/packages.toml)", err=True)
