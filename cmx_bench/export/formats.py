"""The artifact formats cmx-bench exports and runs."""

from __future__ import annotations

from dataclasses import dataclass

from cmx_bench.errors import UnknownNameError


@dataclass(frozen=True)
class ArtifactFormat:
    name: str
    suffix: str
    runtime: str
    quantization: str
    description: str


FORMATS = {
    "pte": ArtifactFormat("pte", ".pte", "executorch", "fp32", "ExecuTorch, XNNPACK delegate, float32"),
    "pte-int8": ArtifactFormat("pte-int8", ".pte", "executorch", "int8",
                               "ExecuTorch, XNNPACK delegate, int8 post-training quantisation (pt2e)"),
    "ptl": ArtifactFormat("ptl", ".ptl", "pytorch_lite", "fp32", "PyTorch Mobile lite interpreter (TorchScript)"),
}


def get_format(name: str) -> ArtifactFormat:
    if name not in FORMATS:
        raise UnknownNameError(f"unknown format '{name}'; choose one of: {', '.join(FORMATS)}")
    return FORMATS[name]


def format_of_file(path) -> ArtifactFormat:
    suffix = str(path).rsplit(".", 1)[-1].lower()
    if suffix == "ptl":
        return FORMATS["ptl"]
    if suffix == "pte":
        return FORMATS["pte"]
    raise UnknownNameError(f"unknown artifact format for {path}; expected a .pte or .ptl file")
