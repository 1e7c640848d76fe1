"""Where and how training executes: device, precision (autocast, grad scaler) and the torch.distributed ranks."""

from __future__ import annotations

import contextlib
import gc
import os
from dataclasses import dataclass

import torch

from cmx_bench.errors import CmxError
from cmx_bench.hostinfo import cpu_model, package_versions

ACCELERATORS = ("auto", "cpu", "cuda", "mps")
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def resolve_device(accelerator: str, local_rank: int = 0) -> torch.device:
    """`auto` picks CUDA, else MPS, else the CPU; naming one the machine lacks is a one-line error."""
    if accelerator not in ACCELERATORS:
        raise CmxError(f"unknown accelerator '{accelerator}'; choose one of: {', '.join(ACCELERATORS)}")
    if accelerator == "auto":
        accelerator = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if accelerator == "cuda":
        if not torch.cuda.is_available():
            raise CmxError("--accelerator cuda: this machine has no CUDA device that torch can use "
                           f"(torch {torch.__version__}); use --accelerator cpu or auto")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if accelerator == "mps":
        if not _mps_available():
            raise CmxError("--accelerator mps: this machine has no Apple MPS device; use --accelerator cpu or auto")
        return torch.device("mps")
    return torch.device("cpu")


@dataclass
class Engine:
    """One rank's view of the run. Players and loops ask it; they never test torch.cuda or ranks themselves."""

    device: torch.device
    precision: str = "fp32"
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def autocast(self):
        dtype = PRECISIONS[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        # fp16 gradients underflow without loss scaling; bf16 has fp32's exponent range and needs none.
        return torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16" and self.device.type == "cuda")

    def prepare(self, model: torch.nn.Module, *, sync_bn: bool = False) -> torch.nn.Module:
        """Move the model to the device; across ranks, wrap it in DDP (SyncBatchNorm first when asked)."""
        model = model.to(self.device)
        if not self.distributed:
            return model
        if sync_bn:
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(self.device, non_blocking=self.device.type == "cuda")

    def sum_across_ranks(self, *values: float) -> list[float]:
        if not self.distributed:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self._collective_device())
        torch.distributed.all_reduce(tensor)
        return tensor.tolist()

    def gather_across_ranks(self, obj) -> list:
        """Every rank's `obj`, in rank order, on every rank (validation outputs, to score the whole set)."""
        if not self.distributed:
            return [obj]
        gathered = [None] * self.world_size
        torch.distributed.all_gather_object(gathered, obj)
        return gathered

    def broadcast_from_main(self, obj):
        if not self.distributed:
            return obj
        holder = [obj]
        torch.distributed.broadcast_object_list(holder, src=0)
        return holder[0]

    def barrier(self) -> None:
        if self.distributed:
            torch.distributed.barrier()

    def _collective_device(self) -> torch.device:
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    def facts(self) -> dict:
        """What the run's history and checkpoint metadata record about where it ran."""
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else self.device.type
        # The same seed gives the same weights only with the same libraries (Pillow and torchvision draw and
        # resample the augmentations), CPU kernels (AVX2 and AVX-512 sum in another order) and thread count, so a
        # run records them, to tell a real difference from another machine.
        return {"accelerator": self.device.type, "device_name": name, "precision": self.precision,
                "world_size": self.world_size, "backend": torch.distributed.get_backend() if self.distributed else None,
                "versions": library_versions(), "cpu": cpu_model(),
                "cpu_kernels": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}


def library_versions() -> dict[str, str]:
    """The versions of the libraries that compute a training run's numbers (torch's with its build, e.g. +cpu)."""
    # str(): torch.__version__ is a TorchVersion, which torch.load(weights_only=True) refuses to unpickle.
    return {"torch": str(torch.__version__)} | package_versions(("torchvision", "numpy", "pillow"))


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The network inside a DDP wrapper (checkpoints hold its state dict, without 'module.' prefixes)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def start_engine(accelerator: str = "auto", precision: str = "fp32", *, sync_bn: bool = False) -> Engine:
    """The engine for this process: under torchrun (WORLD_SIZE > 1) it joins the process group, nccl on CUDA,
    gloo on the CPU."""
    if precision not in PRECISIONS:
        raise CmxError(f"unknown precision '{precision}'; choose one of: {', '.join(PRECISIONS)}")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(accelerator, local_rank)
    if precision == "fp16" and device.type == "cpu":
        raise CmxError("--precision fp16 is for CUDA and MPS (the CPU's autocast computes in bf16); "
                       "use --precision bf16 or fp32 on the CPU")
    if sync_bn and device.type != "cuda":
        raise CmxError("--sync-bn needs CUDA: torch's SyncBatchNorm only works with GPU modules; "
                       "leave it out on the CPU (each rank then keeps its own BatchNorm statistics)")
    if world_size > 1 and not torch.distributed.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Engine(device=device, precision=precision, rank=rank, world_size=world_size, local_rank=local_rank)


def stop_engine(engine: Engine) -> None:
    """Leave the process group cleanly: every rank waits for the others, then the group goes while the interpreter
    is still whole (gloo's worker threads abort the process if the group dies during interpreter shutdown)."""
    if engine.distributed and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
        gc.collect()  # DDP wrappers left in cycles still hold the group; free them now, not at exit
