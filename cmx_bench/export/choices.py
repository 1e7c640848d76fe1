"""The cmx lowering's CPU-dependent choices (which rewrites run), by target default or as tuned on a device."""

from __future__ import annotations

from dataclasses import dataclass

from cmx_bench.errors import UnknownNameError

# The two passes (passes.py) that trade one XNNPACK microkernel for another, whose gain depends on the CPU.
MICROKERNEL_PASSES = ("pad_to_gemm_width", "im2col_convolutions")
# int8 never runs them: pad_to_gemm_width, since the quantiser folds each batch norm into its convolution's weight
# under that weight's name, which a padded weight, a folded constant, already holds; im2col_convolutions, since
# XNNPACK's int8 IGEMM runs as fast as its int8 GEMM: with the padding annotated for the quantiser, SqueezeNet's int8
# program measured 1.31x slower with im2col than without (benchmarks/im2col.py --precision int8, AMD EPYC Zen 3).
SKIPPED_INT8 = MICROKERNEL_PASSES
# What may differ between devices, per precision: ShuffleNetV2 planned without its channel shuffles
# (shuffle_plan.py), and in fp32 the two microkernel passes.
KNOBS = {"fp32": ("plan_shuffles", *MICROKERNEL_PASSES), "int8": ("plan_shuffles",)}

# The defaults per target (targets.py), where no tuning says otherwise. Both microkernel passes won only where they
# were measured to: on an AMD EPYC (Zen 3, AVX2) host im2col took 0.45-0.87x the IGEMM's time and the padded widths
# about half; on an Intel Xeon with AVX-512, whose IGEMM ran at 68-126 GMAC/s (2 threads), im2col took 1.55-2.25x the
# time (SqueezeNet 1.55x) and padding 1.06-1.21x, and on an AMD EPYC Zen 4 (AVX-512) 1.21-2.20x (SqueezeNet 1.26x)
# and 1.05-1.29x (benchmarks/im2col.py, gemm_width.py --threads 2). On ARM neither was measured, and XNNPACK's arm64
# GEMMs take 8 channels at a time, not 16: both off. The shuffle plan won in fp32 on all three x86 CPUs (0.86-0.92x);
# in int8 it won on the Intel AVX-512 host (0.94-0.95x), was even on the Zen 4 (1.00) and lost there on another day
# (1.08-1.12x): off, which `cmx-bench tune` measures per device.
_DEFAULT_ON = {
    "x86-64-avx2": {"fp32": KNOBS["fp32"], "int8": ()},
    "x86-64-avx512": {"fp32": ("plan_shuffles",), "int8": ()},
    "arm": {"fp32": ("plan_shuffles",), "int8": ()},
}


@dataclass(frozen=True)
class LoweringChoices:
    """Which knobs are on, per precision ('fp32', 'int8'); `source` says where the choice comes from."""
    fp32: tuple[str, ...]
    int8: tuple[str, ...]
    source: str

    def on(self, precision: str) -> tuple[str, ...]:
        return self.int8 if precision == "int8" else self.fp32

    def planned(self, precision: str) -> bool:
        """Whether a ShuffleNetV2 is planned without its channel shuffles."""
        return "plan_shuffles" in self.on(precision)

    def skipped(self, precision: str) -> tuple[str, ...]:
        """The passes (passes.py) that do not run."""
        if precision == "int8":
            return SKIPPED_INT8
        return tuple(name for name in MICROKERNEL_PASSES if name not in self.fp32)

    def with_knob(self, precision: str, knob: str, on: bool, source: str) -> "LoweringChoices":
        """These choices with one knob set; knobs keep KNOBS' order, so that equal choices compare equal."""
        if knob not in KNOBS[precision]:
            raise UnknownNameError(f"unknown {precision} lowering knob {knob!r}: "
                                   f"use one of {', '.join(KNOBS[precision])}")
        chosen = set(self.on(precision)) - {knob} | ({knob} if on else set())
        ordered = tuple(name for name in KNOBS[precision] if name in chosen)
        return LoweringChoices(ordered if precision == "fp32" else self.fp32,
                               ordered if precision == "int8" else self.int8, source)


def target_default(target: str) -> LoweringChoices:
    """The choices for a target (targets.TARGETS) that no tuning has measured."""
    default = _DEFAULT_ON[target]
    return LoweringChoices(default["fp32"], default["int8"], f"default for {target}")


def choices_of(on: dict, source: str) -> LoweringChoices:
    """Choices from {'fp32': [...], 'int8': [...]} (as a tuning file keeps them); ValueError for an unknown knob."""
    ordered = {}
    for precision, knobs in KNOBS.items():
        named = list(on.get(precision) or ())
        unknown = [name for name in named if name not in knobs]
        if unknown:
            raise ValueError(f"unknown {precision} knob {unknown[0]!r}")
        ordered[precision] = tuple(name for name in knobs if name in named)
    return LoweringChoices(ordered["fp32"], ordered["int8"], source)
