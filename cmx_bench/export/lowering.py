"""Turn an eager network into artifact bytes: torch.export + XNNPACK for .pte, TorchScript lite for .ptl."""

from __future__ import annotations

import os
import tempfile
import logging
import warnings

import torch

from cmx_bench.export.loaders import native_stderr_silenced


class WithSoftmax(torch.nn.Module):
    """The shipped graph ends in softmax so that every runtime returns class probabilities."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)


def to_ptl(model: torch.nn.Module) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(model.eval())
        # The lite-interpreter format is what the paper's PyTorch Mobile app loads; it saves to paths only.
        with tempfile.TemporaryDirectory(prefix="cmx-ptl-") as folder:
            path = os.path.join(folder, "model.ptl")
            scripted._save_for_lite_interpreter(path)
            with open(path, "rb") as handle:
                return handle.read()


def quantize_int8(model: torch.nn.Module, example: torch.Tensor, calibration: list[torch.Tensor]):
    """Post-training static int8 quantisation for XNNPACK (pt2e), calibrated on `calibration`."""
    _quiet_torch_notices()
    with native_stderr_silenced():
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer, get_symmetric_quantization_config)
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    graph = torch.export.export(model.eval(), (example,)).module()
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for batch in calibration:
            prepared(batch)
    return convert_pt2e(prepared)


def _quiet_torch_notices() -> None:
    # torch re-configures its loggers on import; its pytree deprecation notice is not the user's concern.
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)


def to_pte(model: torch.nn.Module, example: torch.Tensor, etrecord_path: str | None = None) -> bytes:
    """The .pte program (XNNPACK-delegated); with `etrecord_path`, also its ETRecord (the edge graph with each
    node's module and debug handle, and which nodes each delegate call holds) for operator profiles."""
    _quiet_torch_notices()
    with warnings.catch_warnings(), native_stderr_silenced():
        # Importing ExecuTorch's native libraries prints CPU probing lines to fd 2.
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower

        warnings.simplefilter("ignore")
        exported = torch.export.export(model, (example,))
        program = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()],
                                              generate_etrecord=etrecord_path is not None).to_executorch()
        if etrecord_path is not None:
            program.get_etrecord().save(etrecord_path)
    return program.buffer
