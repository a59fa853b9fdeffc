"""``--ig`` in every form it takes: installed id, tarball, package folder, loose resources."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from samsvar.validators.fhir.igs import load_definitions
from samsvar.validators.fhir.packages import PackageCache
from samsvar.validators.issues import EnvironmentProblem

from .shared import shared_path

CORE = "hl7.fhir.r4.core#4.0.1"
NO_PATIENT = "http://hl7.no/fhir/StructureDefinition/no-basis-Patient"


@pytest.mark.parametrize("name", ["hl7.fhir.r4.core-4.0.1.tgz", "hl7.fhir.no.basis-2.2.2.tgz",
                                  "hl7.terminology.r4-7.0.1.tgz", "hl7.fhir.uv.extensions.r4-5.3.0-ballot-tc1.tgz",
                                  "hl7.fhir.r4.examples-4.0.1.tgz"])
def test_every_shared_package_installs(name: str, tmp_path: Path) -> None:
    cache = PackageCache(tmp_path)
    info = cache.install_tgz(shared_path("fhir-packages", name))
    package = cache.get(info.id, info.version)
    assert package is not None and len(package.index) > 50
    assert name.startswith(info.id) and info.version in name


def test_ig_by_installed_id(fhir_cache: Path) -> None:
    definitions, packages = load_definitions(CORE, ("hl7.fhir.no.basis#2.2.2",), fhir_cache)
    assert definitions.get(NO_PATIENT)["type"] == "Patient"
    assert [p.info.ref for p in packages] == [CORE, "hl7.fhir.no.basis#2.2.2"]


def test_ig_tarball_is_read_in_place(fhir_cache: Path, tmp_path: Path) -> None:
    empty_cache_view = {p.ref for p in PackageCache(fhir_cache).list()}
    definitions, packages = load_definitions(CORE, (str(shared_path("fhir-packages", "hl7.fhir.no.basis-2.2.2.tgz")),),
                                             fhir_cache)
    assert definitions.get(NO_PATIENT) is not None
    assert {p.ref if hasattr(p, "ref") else p.info.ref for p in packages} == {CORE, "hl7.fhir.no.basis#2.2.2"}
    assert {p.ref for p in PackageCache(fhir_cache).list()} == empty_cache_view  # nothing installed


def test_ig_package_folder_and_loose_files(fhir_cache: Path, tmp_path: Path) -> None:
    with tarfile.open(shared_path("fhir-packages", "hl7.fhir.no.basis-2.2.2.tgz")) as archive:
        archive.extractall(tmp_path / "basis", filter="data")
    definitions, _ = load_definitions(CORE, (str(tmp_path / "basis"),), fhir_cache)
    assert definitions.get(NO_PATIENT) is not None

    loose = tmp_path / "loose"
    loose.mkdir()
    profile = {"resourceType": "StructureDefinition", "url": "http://example.org/StructureDefinition/p",
               "type": "Patient", "kind": "resource", "derivation": "constraint"}
    (loose / "p.json").write_text(json.dumps(profile))
    for ig in (loose, loose / "p.json"):
        definitions, _ = load_definitions(CORE, (str(ig),), fhir_cache)
        assert definitions.get("http://example.org/StructureDefinition/p") == profile


def test_ig_errors_are_environment_problems(fhir_cache: Path, tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem):
        load_definitions(CORE, ("not a package!",), fhir_cache)
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(EnvironmentProblem):
        load_definitions(CORE, (str(bad),), fhir_cache)
    not_tgz = tmp_path / "x.tgz"
    not_tgz.write_bytes(b"not gzip")
    with pytest.raises(EnvironmentProblem):
        load_definitions(CORE, (str(not_tgz),), fhir_cache)
