"""Turn an eager network into artifact bytes: torch.export + XNNPACK for .pte, TorchScript lite for .ptl."""

from __future__ import annotations

import os
import tempfile
import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from cmx_bench.errors import UnknownNameError
from cmx_bench.export.choices import SKIPPED_INT8, target_default
from cmx_bench.export.loaders import native_stderr_silenced
from cmx_bench.export.passes import rewrite_program
from cmx_bench.export.shuffle_plan import plan_shuffles
from cmx_bench.export.targets import host_target

# "stock": ExecuTorch's own lowering; "cmx": cmx_bench/export/passes.py first, so that XNNPACK delegates the whole
# network (the difference is what `--lowering` lets a user measure).
LOWERINGS = ("stock", "cmx")


def skipped_passes(target: str, precision: str) -> tuple[str, ...]:
    """The passes the cmx lowering skips by default for a target (targets.TARGETS) at a precision ('fp32', 'int8')."""
    return target_default(target).skipped(precision)


# Where the XNNPACK partitioner's configs say, at debug level, why they leave a node out (WhyNoPartition): each
# config module logs to its own logger under this one.
_PARTITIONER_LOGGER = "executorch.backends.xnnpack.partition"


@dataclass
class LoweringReport:
    """What a lowering did: sites each pass rewrote, and the partitioner's reason for each operator it left out."""
    name: str = "cmx"
    target: str | None = None  # targets.TARGETS: the CPU family the cmx passes were chosen for
    passes: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)  # operator (e.g. "aten::mean") -> reason

    def add_passes(self, rewritten: dict[str, int]) -> None:
        # An int8 program is exported twice (before quantisation and after): its sites add up.
        for name, sites in rewritten.items():
            self.passes[name] = self.passes.get(name, 0) + sites


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


def check_lowering(lowering: str) -> str:
    if lowering not in LOWERINGS:
        raise UnknownNameError(f"unknown lowering {lowering!r}; choose --lowering {' or '.join(LOWERINGS)}")
    return lowering


def _report_for(lowering: str, report: LoweringReport | None) -> LoweringReport:
    check_lowering(lowering)
    report = report if report is not None else LoweringReport()
    report.name = lowering
    return report


def _export(model: torch.nn.Module, example: torch.Tensor, report: LoweringReport,
            plan: bool = True, skip: tuple[str, ...] = ()) -> torch.export.ExportedProgram:
    """torch.export of the model, rewritten by the cmx passes when the report's lowering is 'cmx'; with `plan`,
    any ShuffleNetV2 in it is first planned without its channel shuffles (cmx_bench/export/shuffle_plan.py); the
    passes named in `skip` do not run (skipped_passes)."""
    if report.name != "cmx":
        return torch.export.export(model, (example,))
    shuffles = 0
    if plan:
        model, shuffles = plan_shuffles(model)
    exported, rewritten = rewrite_program(torch.export.export(model, (example,)), skip)
    report.add_passes({"plan_shuffles": shuffles, **rewritten})
    return exported


@contextmanager
def _parameters_frozen(model: torch.nn.Module):
    """Parameters without requires_grad while the program is made and lowered: the program holds the model's own
    parameters, and a weight the passes fold (a slice of one) or a lowering pass derives from them must be a plain
    tensor, which ExecuTorch can deep-copy. Restored after."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    for parameter in parameters:
        parameter.requires_grad_(False)
    try:
        yield
    finally:
        for parameter in parameters:
            parameter.requires_grad_(True)


def quantize_int8(model: torch.nn.Module, example: torch.Tensor, calibration: list[torch.Tensor],
                  lowering: str = "cmx", report: LoweringReport | None = None, plan: bool | None = None):
    """Post-training static int8 quantisation for XNNPACK (pt2e), calibrated on `calibration`; with the 'cmx'
    lowering the passes rewrite the graph first, so that the quantiser annotates the rewritten graph. `report`,
    when given, receives the sites rewritten. `plan`: ShuffleNetV2 planned without its shuffles first, by default
    as the report's target (this machine's when it names none) chooses (choices.target_default)."""
    report = _report_for(lowering, report)
    report.target = report.target or host_target()
    if plan is None:
        plan = target_default(report.target).planned("int8")
    _quiet_torch_notices()
    with native_stderr_silenced():
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer, get_symmetric_quantization_config)
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    with _parameters_frozen(model):
        graph = _export(model.eval(), example, report, plan=plan, skip=SKIPPED_INT8).module()
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for batch in calibration:
            prepared(batch)
    return convert_pt2e(prepared)


def _quiet_torch_notices() -> None:
    # torch re-configures its loggers on import; its pytree deprecation notice is not the user's concern.
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)


@contextmanager
def _partitioner_rejections(report: LoweringReport):
    """Collect the XNNPACK partitioner's WhyNoPartition reasons (logged at debug level) into `report.rejected`."""
    class Collect(logging.Handler):
        def emit(self, record):
            why = record.msg
            node = getattr(why, "node", None)
            if node is not None and getattr(why, "reason", None):
                report.rejected.setdefault(_edge_operator(node.target), why.reason)

    logger, handler = logging.getLogger(_PARTITIONER_LOGGER), Collect(logging.DEBUG)
    level, propagate = logger.level, logger.propagate
    # Not propagated: the reasons go to the manifest, not to the user's console.
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def _edge_operator(target) -> str:
    """'aten::mean' for aten.mean.dim: the name the program's operator table gives its out-variant."""
    schema = getattr(target, "_schema", None)
    return schema.name if schema is not None else str(target)


def to_pte(model: torch.nn.Module, example: torch.Tensor, etrecord_path: str | None = None, lowering: str = "cmx",
           report: LoweringReport | None = None, plan: bool | None = None,
           skip: tuple[str, ...] | None = None, input_in_place: bool | None = None) -> bytes:
    """The .pte program (XNNPACK-delegated); with `etrecord_path`, also its ETRecord (the edge graph with each
    node's module and debug handle, and which nodes each delegate call holds) for operator profiles. `lowering`
    'cmx' rewrites the exported graph first (cmx_bench/export/passes.py); `report`, when given, receives the sites
    rewritten and the operators the partitioner left out, with its reasons; `plan`: a ShuffleNetV2 in `model` is
    planned without its shuffles (an int8 program arrives quantised, its plan already made or not); `skip`: passes
    not to run. Both default to the fp32 choices of the report's target, this machine's when it names none
    (choices.target_default; a quantised program's weights are no parameters: the weight passes find nothing to
    rewrite). `input_in_place`: the input is left out of the program's memory plan (see _memory_plan); by default
    with the cmx lowering only."""
    report = _report_for(lowering, report)
    report.target = report.target or host_target()
    default = target_default(report.target)
    plan = default.planned("fp32") if plan is None else plan
    skip = default.skipped("fp32") if skip is None else skip
    _quiet_torch_notices()
    with warnings.catch_warnings(), native_stderr_silenced():
        # Importing ExecuTorch's native libraries prints CPU probing lines to fd 2.
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower

        warnings.simplefilter("ignore")
        with _parameters_frozen(model):
            exported = _export(model, example, report, plan=plan, skip=skip)
            with _partitioner_rejections(report):
                lowered = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()],
                                                      generate_etrecord=etrecord_path is not None)
            in_place = report.name == "cmx" if input_in_place is None else input_in_place
            program = lowered.to_executorch(_memory_plan(in_place))
        if etrecord_path is not None:
            program.get_etrecord().save(etrecord_path)
    return program.buffer


def _memory_plan(input_in_place: bool):
    """ExecuTorch's memory plan, with or without a buffer for the input. Without one, the runtime reads the caller's
    tensor where it lies: `Method::set_input` copies an input into its planned buffer on every call and shares an
    unplanned one (a 1x3x224x224 float input is 602 KB, copied per inference on a phone as on the host)."""
    from executorch.exir import ExecutorchBackendConfig
    from executorch.exir.passes import MemoryPlanningPass

    return ExecutorchBackendConfig(memory_planning_pass=MemoryPlanningPass(alloc_graph_input=not input_in_place))


def not_delegated(portable_operators: list[str], report: LoweringReport) -> dict[str, str]:
    """Why each operator the program calls outside XNNPACK is there: the partitioner's own reason when it logged
    one, else whether XNNPACK has a partitioner config for that operator at all."""
    from executorch.backends.xnnpack.partition.config import ALL_PARTITIONER_CONFIGS

    configured = {config.target_name.split(".")[0] for config in ALL_PARTITIONER_CONFIGS}
    reasons = {}
    for operator in portable_operators:
        qualified = operator.split(".")[0]  # "aten::mean" of "aten::mean.out"
        base = qualified.split("::")[-1]
        reasons[operator] = report.rejected.get(qualified) or (
            f"XNNPACK's partitioner has a config for {base} but left this use out without a reason"
            if base in configured else f"XNNPACK's partitioner has no config for {base}")
    return reasons
