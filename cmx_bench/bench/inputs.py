"""Pre-process the benchmark's inputs once on the host and write them as runner input files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from cmx_bench.data.images import LabelledImage
from cmx_bench.data.preprocess import generated_inputs, to_tensor, write_raw_float32


@dataclass
class PreparedInputs:
    tensors: list[torch.Tensor]
    files: list[Path]
    labels: list[int] | None
    sources: list[str] | None
    description: str


def prepare_inputs(card, workdir: Path, images: list[LabelledImage] | None, decoded: list | None) -> PreparedInputs:
    """Labelled image tensors when `images` is given, else one generated phantom (cost runs only)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if images:
        tensors = [to_tensor(image, card) for image in decoded]
        labels = [card.classes.index(item.label) for item in images]
        sources = [item.source for item in images]
        description = f"{len(images)} labelled images"
    else:
        tensors, labels, sources = generated_inputs(card, 1), None, None
        description = "1 generated phantom image"
    files = []
    for index, tensor in enumerate(tensors):
        path = workdir / f"input_{index:05d}.f32"
        write_raw_float32(tensor, path)
        files.append(path)
    return PreparedInputs(tensors, files, labels, sources, description)
