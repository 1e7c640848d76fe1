"""The CPU family an ExecuTorch artifact is lowered for: named, resolved from the host or from a phone's ABI."""

from __future__ import annotations

from cmx_bench.errors import UnknownNameError

# XNNPACK picks its microkernels by instruction set when the program loads, so a rewrite that trades one kernel for
# another (im2col's GEMM for an IGEMM, a GEMM padded to its tile) wins on one family and loses on another: the cmx
# lowering's passes are chosen per target (choices.target_default), or tuned on the device.
TARGETS = ("x86-64-avx2", "x86-64-avx512", "arm")
HOST = "host"  # the machine that exports: what the local device runs on


def host_target() -> str:
    """This machine's target, from the instruction set torch's own CPU dispatch detected."""
    import platform

    import torch

    if platform.machine().lower().startswith(("aarch64", "arm")):  # Linux says aarch64, macOS arm64
        return "arm"
    return "x86-64-avx512" if torch.backends.cpu.get_cpu_capability().startswith("AVX512") else "x86-64-avx2"


def target_of_abi(abi: str | None) -> str:
    """The target of an Android ABI (ro.product.cpu.abi): ARM unless it says x86. An x86 ABI is an emulator, whose
    host CPU the ABI does not say: it is taken as AVX2, which every x86-64 CPU of the last decade has."""
    return "x86-64-avx2" if abi and abi.startswith("x86") else "arm"


def resolve_target(name: str) -> str:
    """A target name, or 'host' for this machine's; an unknown name is a one-line error."""
    if name == HOST:
        return host_target()
    if name not in TARGETS:
        raise UnknownNameError(f"unknown lowering target {name!r}: use {HOST} or one of {', '.join(TARGETS)}")
    return name


def device_target(facts: dict) -> str:
    """The target of a device from its facts: the host's for the local device, its ABI's for a phone."""
    return host_target() if facts.get("kind") == "local" else target_of_abi(facts.get("abi"))
