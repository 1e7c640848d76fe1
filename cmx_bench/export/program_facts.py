"""What an artifact needs from the runtime that loads it: .pte header, delegates and operators; .ptl bytecode
version and operators. Recorded in the manifest at export and checked against the device's runtime before a run."""

from __future__ import annotations

import zipfile
from pathlib import Path

from cmx_bench.errors import ArtifactError


def _operator_name(op) -> str:
    return f"{op.name}.{op.overload}" if op.overload else op.name


def _instructions(plan) -> list:
    return [instruction.instr_args for chain in plan.chains for instruction in chain.instructions]


def _delegate_calls(plans) -> int:
    """Delegate calls in the plans' chains: one per partition the backend compiled."""
    from executorch.exir.schema import DelegateCall

    return sum(isinstance(args, DelegateCall) for plan in plans for args in _instructions(plan))


def _portable_operators(plans) -> list[str]:
    """The operators the plans call as kernels of their own, outside any delegate."""
    from executorch.exir.schema import KernelCall

    return sorted({_operator_name(plan.operators[args.op_index]) for plan in plans for args in _instructions(plan)
                   if isinstance(args, KernelCall)})


def _planned_inputs(plans) -> int:
    """Inputs the memory plan gives a buffer of their own, which the runtime copies each call's input into; an
    unplanned input is read in place (export/lowering.py's _memory_plan)."""
    return sum(getattr(plan.values[index].val, "allocation_info", None) is not None
               for plan in plans for index in plan.inputs)


def pte_facts(path: str | Path) -> dict:
    """The flatbuffer's identifiers, the program version, its delegates and the operators it runs outside them;
    `delegate_calls` (the partitions) and `portable_operators` are read from the execution plans' instructions,
    `planned_inputs` (0: the input is read in place) from their values."""
    from executorch.exir._serialize._program import deserialize_pte_binary

    data = Path(path).read_bytes()
    try:
        pte = deserialize_pte_binary(data)
    except Exception as exc:  # any flatbuffer damage
        raise ArtifactError(f"artifact {path} is not a readable ExecuTorch program ({exc}); export it again") from exc
    program = pte.program
    plans = program.execution_plan
    named = pte.named_data.buffers if pte.named_data is not None else []
    return {
        # Memory the runtime plans for activations (buffer 0 is reserved), the weights the program carries
        # (XNNPACK keeps them as named data), and the delegates' own payload (their compiled graphs).
        "planned_activation_bytes": sum(sum(plan.non_const_buffer_sizes[1:]) for plan in plans),
        "constant_bytes": sum(len(buffer) for buffer in named) + sum(len(getattr(t, "storage", b"")) for t in
                                                                     program.constant_buffer),
        "delegate_payload_bytes": sum(len(blob.data) for blob in program.backend_delegate_data),
        "file_identifier": data[4:8].decode("ascii", "replace"),
        "extended_header": data[8:12].decode("ascii", "replace") if data[8:12] == b"eh00" else None,
        "program_version": program.version,
        "methods": [plan.name for plan in plans],
        "delegates": sorted({delegate.id for plan in plans for delegate in plan.delegates}),
        "operators": sorted({_operator_name(op) for plan in plans for op in plan.operators}),
        "delegate_calls": _delegate_calls(plans),
        "portable_operators": _portable_operators(plans),
        "planned_inputs": _planned_inputs(plans),
    }


def ptl_facts(path: str | Path) -> dict:
    """The lite-interpreter bytecode version and every operator with its number of schema arguments."""
    import torch.jit.mobile as mobile

    try:
        version = int(mobile._get_model_bytecode_version(str(path)))
        operators = {name: int(info.num_schema_args) for name, info in mobile._get_model_ops_and_info(str(path)).items()}
    except (RuntimeError, ValueError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"artifact {path} is not a readable .ptl ({str(exc).splitlines()[0][:120]}); "
                            "export it again") from exc
    return {"bytecode_version": version, "operators": dict(sorted(operators.items()))}


def program_facts(path: str | Path, runtime: str) -> dict:
    return pte_facts(path) if runtime == "executorch" else ptl_facts(path)
