"""Export one network to one format: lower, check parity on a temporary file, then publish with its manifest."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from cmx_bench import paths
from cmx_bench.data.images import decode_all, list_images
from cmx_bench.data.preprocess import generated_inputs, to_tensor
from cmx_bench.errors import ArtifactError
from cmx_bench.export import lowering as lowerings  # as: `lowering` names the chosen lowering here
from cmx_bench.export.choices import LoweringChoices, target_default
from cmx_bench.export.formats import ArtifactFormat, get_format
from cmx_bench.export.compatibility import lite_runtime_table
from cmx_bench.export.loaders import load_artifact
from cmx_bench.export.manifest import (MANIFEST_VERSION, library_versions, lowering_block, manifest_macs,
                                       manifest_path, verify_artifact)
from cmx_bench.export.parity import FP32_MAX_DELTA, check_parity
from cmx_bench.export import passes, shuffle_plan
from cmx_bench.export.passes import PASSES
from cmx_bench.export.program_facts import program_facts
from cmx_bench.export.runtime_pins import pinned_runtimes
from cmx_bench.export.targets import HOST, resolve_target
from cmx_bench.fileio import default_file_mode, ensure_writable_folder, sha256_file, write_json_atomic
from cmx_bench.nets.checkpoint import load_model, random_init_facts
from cmx_bench.nets.complexity import count_params_and_macs
from cmx_bench.nets.registry import build_model, card_for_trained, get_card


@dataclass(frozen=True)
class ParityLimits:
    fp32_max_delta: float = FP32_MAX_DELTA
    int8_max_delta: float = 0.15
    int8_min_agreement: float = 0.9


def _limits_for(fmt: ArtifactFormat, limits: ParityLimits) -> tuple[float, float]:
    if fmt.quantization == "int8":
        return limits.int8_max_delta, limits.int8_min_agreement
    return limits.fp32_max_delta, 1.0


# The rewrites' own code and where they are applied (lowering.py: which precision is planned), so that a changed
# pass or plan makes its programs again even under the same name.
_REWRITE_DIGEST = hashlib.sha256(b"".join(Path(module.__file__).read_bytes()
                                         for module in (passes, shuffle_plan, lowerings))).hexdigest()[:16]


def _lowering_of(fmt: ArtifactFormat, lowering: str, target: str, choices: LoweringChoices) -> str | list | None:
    # The lowering shapes ExecuTorch programs only: a .ptl is the same TorchScript either way; the target and the
    # choices only through the rewrites they run (not where the choices came from: a tuned choice that equals the
    # default makes the same program).
    if fmt.runtime != "executorch":
        return None
    if lowering != "cmx":
        return lowering
    return [lowering, "plan_shuffles", *PASSES, _REWRITE_DIGEST, target, list(choices.on(fmt.quantization))]


def _resolve(target: str, choices: LoweringChoices | None) -> tuple[str, LoweringChoices]:
    """The target named ('host': this machine's), and the choices given or else that target's defaults."""
    target = resolve_target(target)
    return target, choices or target_default(target)


def cache_key(card, weights: dict, fmt: ArtifactFormat, calibration_id: str, lowering: str = "cmx",
              target: str = HOST, choices: LoweringChoices | None = None) -> str:
    facts = {"model": card.as_dict(), "weights": weights.get("sha256") or f"seed{weights.get('seed')}",
             "format": fmt.name, "calibration": calibration_id, "versions": library_versions(),
             "lowering": _lowering_of(fmt, lowering, *_resolve(target, choices))}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def export_artifact(card, model: torch.nn.Module, weights: dict, fmt: ArtifactFormat, out_path: Path, *,
                    calibration: list[torch.Tensor] | None = None, calibration_source: str = "generated phantoms",
                    limits: ParityLimits = ParityLimits(), parity_inputs: int = 8, lowering: str = "cmx",
                    target: str = HOST, choices: LoweringChoices | None = None) -> dict:
    """Write out_path and its manifest; raises ArtifactError (and writes nothing) when parity fails. `lowering`
    ('cmx' or 'stock', see export/lowering.py) applies to .pte formats, for `target` (export/targets.py: the CPU
    family it runs on, 'host' for this machine's), whose defaults choose the cmx rewrites unless `choices` (tuned
    on a device, export/choices.py) are given."""
    target, choices = _resolve(target, choices)
    precision = fmt.quantization  # "fp32" or "int8"
    eager = lowerings.WithSoftmax(model).eval()
    # Counted on the network itself, before lowering: the work of one inference, whatever the format runs it as.
    complexity = count_params_and_macs(model, card.input_shape)
    example = torch.zeros(card.input_shape)
    checks = generated_inputs(card, parity_inputs, seed=12345)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    etrecord = etrecord_path(out_path) if fmt.runtime == "executorch" else None
    etrecord_tmp = f"{etrecord}.{os.getpid()}.tmp" if etrecord else None
    report = lowerings.LoweringReport(target=target)
    if fmt.name == "ptl":
        data = lowerings.to_ptl(eager)
    else:
        graph = eager
        if fmt.quantization == "int8":
            calibration = calibration or generated_inputs(card, 16)
            graph = lowerings.quantize_int8(eager, example, calibration, lowering=lowering, report=report,
                                            plan=choices.planned("int8"))
        data = lowerings.to_pte(graph, example, etrecord_tmp, lowering=lowering, report=report,
                                plan=choices.planned(precision), skip=choices.skipped(precision))

    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, default_file_mode())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        backported_from = backport_for_pinned_lite(tmp) if fmt.runtime == "pytorch_lite" else None
        max_delta, min_agreement = _limits_for(fmt, limits)
        parity = check_parity(eager, load_artifact(tmp, fmt.runtime), checks, max_delta, min_agreement)
        if not parity["passed"]:
            raise ArtifactError(
                f"{card.name} {fmt.name} failed its parity check (max |delta prob| {parity['max_abs_delta_prob']:.2e}, "
                f"argmax agreement {parity['argmax_agreement']:.2f}); nothing written")
        program = program_facts(tmp, fmt.runtime)
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "artifact": out_path.name,
            "sha256": sha256_file(tmp),
            "size_bytes": os.path.getsize(tmp),
            "format": fmt.name,
            "runtime": fmt.runtime,
            "quantization": fmt.quantization,
            "calibration": calibration_source if fmt.quantization == "int8" else None,
            "model": card.as_dict(),
            "input_shape": list(card.input_shape),
            "input_dtype": "float32",
            "output": "probabilities",
            "weights": weights,
            "versions": library_versions(),
            "program": program,
            "complexity": complexity,
            "lowering": (_manifest_lowering(report, program, choices.on(precision))
                         if fmt.runtime == "executorch" else None),
            "etrecord": etrecord.name if etrecord else None,
            "backported_from_bytecode": backported_from,
            "parity": parity,
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if etrecord:
            os.replace(etrecord_tmp, etrecord)
        write_json_atomic(manifest_path(out_path), manifest)
        os.replace(tmp, out_path)
    finally:
        for leftover in (tmp, etrecord_tmp):
            if leftover and os.path.exists(leftover):
                os.unlink(leftover)
    return manifest


def _manifest_lowering(report: "lowerings.LoweringReport", program: dict, chosen: tuple[str, ...]) -> dict:
    cmx = report.name == "cmx"
    return lowering_block(report.name, report.target if cmx else None, list(chosen) if cmx else None,
                          report.passes, program, lowerings.not_delegated(program["portable_operators"], report))


def etrecord_path(artifact: str | Path) -> Path:
    """Where a .pte's ETRecord lives: beside it, named after it (the manifest names it too)."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".etrecord")


def backport_for_pinned_lite(path: str) -> int | None:
    """Rewrite a .ptl in place at the newest bytecode version the runner app's PyTorch Lite reads, when torch wrote a
    newer one; returns the version it had, or None when nothing was needed."""
    import torch.jit.mobile as mobile

    table = lite_runtime_table(pinned_runtimes()["pytorch_lite"])
    written = int(mobile._get_model_bytecode_version(path))
    if table is None or written <= table["bytecode_versions"][1]:
        return None
    target = table["bytecode_versions"][1]
    backported = f"{path}.backport"
    try:
        if not mobile._backport_for_mobile(path, backported, target):
            raise ArtifactError(f"torch {torch.__version__} cannot back-port a .ptl from bytecode {written} to {target} "
                                f"(PyTorch Lite {pinned_runtimes()['pytorch_lite']}); export with an older torch")
        os.replace(backported, path)
    finally:
        if os.path.exists(backported):
            os.unlink(backported)
    return written


def cached_artifact(card, model, weights: dict, fmt: ArtifactFormat, *, limits: ParityLimits = ParityLimits(),
                    lowering: str = "cmx", target: str = HOST, choices: LoweringChoices | None = None) -> Path:
    """An artifact for (card, weights, format, lowering, target, choices) from the cache, exported on first use."""
    lowerings.check_lowering(lowering)
    target, choices = _resolve(target, choices)
    key = cache_key(card, weights, fmt, "generated", lowering, target, choices)
    path = paths.artifact_cache_dir() / card.name / f"{card.name}-{key}{fmt.suffix}"
    if path.is_file() and manifest_path(path).is_file():
        try:
            manifest = verify_artifact(path)
            # A .pte cached before ETRecords (or MACs) were written is exported again, so that profiles can name
            # modules and records can give an efficiency.
            if fmt.runtime != "executorch" or (manifest.get("etrecord") and etrecord_path(path).is_file()
                                               and manifest_macs(manifest)):
                return path
        except ArtifactError:
            pass  # a damaged cache entry is rebuilt, not trusted
    export_artifact(card, model, weights, fmt, path, limits=limits, lowering=lowering, target=target,
                    choices=choices)
    return path


def export_to_folder(model_name: str, format_names: list[str], out_dir: Path, *, weights_path: Path | None = None,
                     trust_pickle: bool = False, calibration_dir: Path | None = None,
                     limits: ParityLimits = ParityLimits(), seed: int = 0,
                     skip_bad: bool = False, lowering: str = "cmx", target: str = HOST) -> list[tuple[Path, dict]]:
    """`cmx-bench export`: one artifact (plus manifest) per format in out_dir; returns (path, manifest) pairs;
    `skip_bad` leaves unreadable calibration images out (counted in the manifest's calibration source)."""
    card = get_card(model_name)
    formats = [get_format(name) for name in format_names]
    lowerings.check_lowering(lowering)
    target = resolve_target(target)
    out_dir = ensure_writable_folder(out_dir, "export folder")
    if weights_path:
        model, weights = load_model(card, weights_path, trust_pickle=trust_pickle)
        card = card_for_trained(card, weights)
    else:
        torch.manual_seed(seed)
        model, weights = build_model(card), random_init_facts(seed)
    calibration, source = None, "generated phantoms"
    if calibration_dir is not None:
        _, images, skipped = decode_all(list_images(calibration_dir, card.classes), skip_bad)
        calibration = [to_tensor(image, card) for image in images]
        source = f"{len(calibration)} images from {calibration_dir}" + (
            f" ({len(skipped)} unreadable left out)" if skipped else "")
    exported = []
    for fmt in formats:
        suffix = "-int8" if fmt.quantization == "int8" else ""
        path = out_dir / f"{card.name}{suffix}{fmt.suffix}"
        exported.append((path, export_artifact(card, model, weights, fmt, path, calibration=calibration,
                                               calibration_source=source, limits=limits, lowering=lowering,
                                               target=target)))
    return exported
