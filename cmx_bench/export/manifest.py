"""The manifest that travels beside every artifact, and the sha256 check that guards runs."""

from __future__ import annotations

import json
from pathlib import Path

from cmx_bench.errors import ArtifactError
from cmx_bench.fileio import sha256_file
from cmx_bench.hostinfo import package_versions

MANIFEST_VERSION = 1


def manifest_path(artifact: str | Path) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".manifest.json")


def library_versions() -> dict:
    return package_versions(("torch", "torchvision", "executorch", "cmx-bench"))


def read_manifest(artifact: str | Path) -> dict:
    path = manifest_path(artifact)
    if not Path(artifact).is_file():
        raise ArtifactError(f"artifact {artifact} does not exist; export one with 'cmx-bench export'")
    if not path.is_file():
        raise ArtifactError(f"artifact {artifact} has no manifest {path.name}; export it with 'cmx-bench export'")
    try:
        manifest = json.loads(path.read_text())
        manifest["sha256"], manifest["format"], manifest["model"]["name"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"manifest {path} is unreadable; export the artifact again") from exc
    return manifest


def verify_artifact(artifact: str | Path) -> dict:
    """The manifest, after checking that the file's sha256 still matches it."""
    manifest = read_manifest(artifact)
    actual = sha256_file(artifact)
    if actual != manifest["sha256"]:
        raise ArtifactError(f"artifact {artifact} changed since export (sha256 {actual[:12]} != manifest "
                            f"{manifest['sha256'][:12]}); export it again")
    return manifest


def lowering_block(name: str, target: str | None, choices: list[str] | None, passes: dict[str, int], program: dict,
                   not_delegated: dict[str, str]) -> dict:
    """The manifest's `lowering`: which lowering ran for which target (export/targets.py) with which of its
    CPU-dependent rewrites on (export/choices.py; both None for the stock lowering, which is the same for all), the
    sites each pass rewrote, and what the program itself says came of it (`program` is program_facts.pte_facts:
    partitions are its delegate calls; the input is read in place when the memory plan holds no buffer for it)."""
    return {"name": name, "target": target, "choices": choices, "passes": dict(passes),
            "partitions": program["delegate_calls"], "input_in_place": program["planned_inputs"] == 0,
            "portable_operators": list(program["portable_operators"]), "not_delegated": dict(not_delegated)}


def manifest_macs(manifest: dict) -> int | None:
    """The multiply-accumulates of one inference counted at export; None for an artifact exported before they were."""
    return (manifest.get("complexity") or {}).get("macs") or None
