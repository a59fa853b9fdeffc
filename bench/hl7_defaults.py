"""What HL7's validator loads by itself for R4, for benches that compare with it or with corpora
it judged: the FHIR extensions pack and HL7 terminology (from ../shared), as package folders."""

from __future__ import annotations

import json
import tarfile
import tempfile
from pathlib import Path


def _as_folder(tgz: Path) -> Path:
    """A package as a folder whose only dependency is the core (the extensions and terminology
    packs in ../shared name versions of each other that are not there)."""
    folder = Path(tempfile.mkdtemp(prefix="samsvar-bench-pack-"))
    with tarfile.open(tgz) as archive:
        archive.extractall(folder, filter="data")
    manifest = folder / "package" / "package.json"
    info = json.loads(manifest.read_text(encoding="utf-8"))
    info["dependencies"] = {"hl7.fhir.r4.core": "4.0.1"}
    manifest.write_text(json.dumps(info), encoding="utf-8")
    return folder


def hl7_defaults(root: Path) -> list[str]:
    """What HL7's validator loads by itself for R4 besides the core: the FHIR extensions pack and
    HL7 terminology. samsvar loads only what it is given, so the bench gives it these (``--ig``)
    to compare like with like."""
    packages = root / "data" / "fhir-packages"
    return [str(_as_folder(packages / "hl7.terminology.r4-7.0.1.tgz")),
            str(_as_folder(packages / "hl7.fhir.uv.extensions.r4-5.3.0-ballot-tc1.tgz"))]
