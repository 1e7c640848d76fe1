"""Where each inference spends its time: ExecuTorch ETDump events as operator rows, categories and coverage."""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from cmx_bench.errors import ParseError

# XNNPACK runs 1x1 convolutions as GEMMs and names them "Fully Connected": one category for both.
CATEGORIES = ("convolution", "depthwise convolution", "GEMM (1x1 conv, fully connected)", "pooling", "elementwise", "layout",
              "quantize/dequantize", "portable ops", "other delegated", "runtime overhead", "timer rounding")
TIMER_ROUNDING = CATEGORIES[-1]
# XNNPACK reports each operator's time in whole microseconds, rounded down, and its operators tile the invoke: a
# call of N operators is short of its invoke by about half a microsecond per operator, which would otherwise read
# as the delegate's overhead. benchmarks/timer_rounding.py timed the invoke with uprobes beside the same calls'
# ETDump: 0.47-0.71 us per operator for the three students, fp32 and int8, in two runs (AMD EPYC Zen 4, 2026-12-08).
XNNPACK_ROUNDING_MS = 0.0005
_RULES = [  # (pattern on the event name, category), first match wins
    # XNNPACK's Convert changes the data type: in these programs, float <-> int8 at the quantized region's edges.
    (r"^Convert|quantize", "quantize/dequantize"),
    (r"DWConv", "depthwise convolution"), (r"^(Convolution|Deconvolution)", "convolution"),
    (r"^Fully Connected|GEMM", "GEMM (1x1 conv, fully connected)"),
    (r"Pooling|^Mean|^native_call_(mean|avg_pool|max_pool|adaptive)", "pooling"),
    (r"^(Transpose|Copy|Static Reshape|Reshape|Concatenate|Split|Slice|Even Split|Constant Pad)|"
     r"^native_call_(split|cat|view|permute|clone|expand|slice|select|_to_copy|squeeze|unsqueeze)", "layout"),
    (r"^(Add|Subtract|Multiply|Divide|Clamp|ReLU|Softmax|Sigmoid|HardSwish|Hardswish|Negate|Sine|Cosine|Maximum|"
     r"Minimum|Square|Exp|Tanh|ELU|Leaky)", "elementwise"),
]


def categorise(name: str, delegated: bool) -> str:
    for pattern, category in _RULES:
        if re.search(pattern, name):
            return category if delegated or category in ("pooling", "layout") else "portable ops"
    return "other delegated" if delegated else "portable ops"


@dataclass
class OperatorRow:
    """One operator instance of a profile, in execution order (an ETDump event, or the time a delegate or operator
    call takes beyond its operators), as ExecuTorch's Inspector types an event block's events."""
    name: str
    backend: str  # the delegate's backend, "portable" or "runtime"
    delegated: bool
    partition: int | None  # the delegate call it ran in (overhead rows: the call they belong to)
    category: str
    occurrences: int  # profiled inferences that ran it
    median_ms: float
    p90_ms: float
    module: str | None = None  # the network module, through the artifact's ETRecord
    module_match: str | None = None  # "operator" or "inserted" once mapped (measure/module_map.py)
    share: float | None = None  # of the inference, against the coverage basis

    def as_dict(self) -> dict:
        """The record's row: module_match only where a module was mapped, as records have always held it."""
        row = {"name": self.name, "backend": self.backend, "delegated": self.delegated, "partition": self.partition,
               "category": self.category, "occurrences": self.occurrences, "median_ms": self.median_ms,
               "p90_ms": self.p90_ms, "module": self.module}
        if self.module_match is not None:
            row["module_match"] = self.module_match
        row["share"] = self.share
        return row


def operator_profile(etdump_path: str, median_latency_ms: float, iterations: int,
                     etrecord_path: str | None = None, reference_latencies_ms: list[float] | None = None,
                     profiled_latencies_ms: list[float] | None = None) -> dict:
    """The record's profile block from an ETDump file: one OperatorRow (as a dict) per operator instance, in
    execution order, with the time a delegate call or operator call takes beyond its operators as a row of its own
    ('runtime overhead', after the operator time XNNPACK's timers round away, 'timer rounding'), categories, coverage
    and, with the artifact's ETRecord, each row's network module.

    Coverage and shares are taken against the median of the runner's reference latencies (unprofiled inferences
    interleaved with the profiled ones) when it sent them, else against the timed median `median_latency_ms`; the
    profiled inferences' own latencies, timed the same way, give what recording the events costs."""
    frame = read_events(etdump_path)
    rows = operator_rows(frame)
    modules = map_modules(rows, etrecord_path)
    execute = frame[frame.event_name == "Method::execute"]
    execute_ms = float(execute.p50_ms.iloc[0]) if len(execute) else None
    block = {"source": "ExecuTorch ETDump (executorch.devtools.Inspector)", "iterations": iterations,
             "profiled_execute_median_ms": execute_ms, "measured_median_ms": median_latency_ms}
    block.update(coverage(rows, median_latency_ms, execute_ms, reference_latencies_ms, profiled_latencies_ms))
    block.update(operators=[row.as_dict() for row in rows], categories=category_totals(rows), modules=modules)
    return block


def read_events(etdump_path: str):
    """The ETDump's events as the Inspector's data frame (p50/p90 columns renamed); ParseError when unreadable."""
    from executorch.devtools import Inspector

    try:
        frame = Inspector(etdump_path=str(etdump_path)).to_dataframe()
    except Exception as exc:  # a truncated or foreign file: say so in the record, keep the run's other figures
        raise ParseError(f"ETDump {etdump_path} cannot be read ({(str(exc).splitlines() or [type(exc).__name__])[0][:120]})"
                         ) from exc
    return frame.rename(columns={"p50 (ms)": "p50_ms", "p90 (ms)": "p90_ms"})


_CALL_EVENTS = {"DELEGATE_CALL": "delegate call", "OPERATOR_CALL": "operator call"}
_SKIPPED_EVENTS = ("Method::execute", "Program::load_method")


def operator_rows(frame) -> list[OperatorRow]:
    """The Execute block's events as rows, in execution order: each call's operators, then what the call takes
    beyond them (XNNPACK's timer rounding, then the call's overhead)."""
    rows, pending, pending_times, partition = [], [], [], 0
    for event in frame.itertuples(index=False):
        if event.event_block_name != "Execute" or event.event_name in _SKIPPED_EVENTS:
            continue
        if event.event_name in _CALL_EVENTS:
            rows += pending + _beyond_operator_rows(event, pending, pending_times, partition)
            partition += event.event_name == "DELEGATE_CALL"
            pending, pending_times = [], []
            continue
        pending.append(_event_row(event, partition))
        pending_times.append(list(event.raw))
    return rows + pending


def _event_row(event, partition: int) -> OperatorRow:
    delegated = bool(event.is_delegated_op)
    return OperatorRow(name=event.event_name, delegated=delegated,
                       backend=(event.delegate_backend_name or "XnnpackBackend") if delegated else "portable",
                       category=categorise(event.event_name, delegated), partition=partition if delegated else None,
                       occurrences=len(event.raw), median_ms=float(event.p50_ms), p90_ms=float(event.p90_ms))


def _beyond_operator_rows(event, inside: list[OperatorRow], inside_times: list[list[float]],
                          partition: int) -> list[OperatorRow]:
    """What a delegate or operator call takes beyond the operator events recorded inside it, taken per inference
    (a call's time less its own operators'), so that the operators' slow moments are not counted as overhead: the
    part XNNPACK's timers rounded away (estimated, XNNPACK_ROUNDING_MS per operator, at most all of it), then the
    rest, the call's overhead (its setup and, in a profile, recording the events)."""
    import numpy as np

    calls = list(event.raw)
    if not calls:  # no inference recorded the call: nothing to say (a median of nothing is NaN)
        return []
    if all(len(times) == len(calls) for times in inside_times):
        # reshape: a call with no operator inside still sums to one zero per inference
        beyond = np.asarray(calls) - np.asarray(inside_times).reshape(len(inside_times), len(calls)).sum(axis=0)
    else:  # an operator that ran in some inferences only: the call's times less its operators' medians
        beyond = np.asarray(calls) - sum(row.median_ms for row in inside)
    median, p90 = float(np.median(beyond)), float(np.percentile(beyond, 90))
    timed_by_xnnpack = sum(1 for row in inside if row.backend == "XnnpackBackend")
    rounding = min(max(median, 0.0), XNNPACK_ROUNDING_MS * timed_by_xnnpack)
    rows = [OperatorRow(name="XNNPACK timer rounding (estimated)", delegated=False, backend="runtime",
                        category=TIMER_ROUNDING, partition=partition, occurrences=len(calls),
                        median_ms=rounding, p90_ms=rounding)] if timed_by_xnnpack else []
    return rows + [OperatorRow(name=f"{_CALL_EVENTS[event.event_name]} overhead", delegated=False, backend="runtime",
                               category="runtime overhead", partition=partition, occurrences=len(calls),
                               median_ms=max(median - rounding, 0.0), p90_ms=max(p90 - rounding, 0.0))]


def coverage(rows: list[OperatorRow], median_latency_ms: float, execute_ms: float | None,
             reference_latencies_ms: list[float] | None, profiled_latencies_ms: list[float] | None) -> dict:
    """Operator time against inference time (and each row's share of it), and what recording the events costs."""
    total = sum(row.median_ms for row in rows)
    reference_ms = statistics.median(reference_latencies_ms) if reference_latencies_ms else None
    basis_ms = reference_ms or median_latency_ms
    for row in rows:
        row.share = row.median_ms / basis_ms if basis_ms else None
    return {
        # Unprofiled inferences run one before each profiled one: the same machine state, so the comparison of
        # operator time with inference time is free of the drift a shared machine puts between the timed phase
        # and the profiled one (seen here: 15 % and more, seconds apart).
        "reference_median_ms": reference_ms,
        "coverage": total / basis_ms if basis_ms else None,
        "coverage_basis": "reference" if reference_ms else "timed",
        "timed_coverage": total / median_latency_ms if median_latency_ms else None,
        # Against the profiled inferences' own Method::execute: what the events miss.
        "execute_coverage": total / execute_ms if execute_ms else None,
        # What recording the events costs an inference: profiled over unprofiled calls, timed alike, side by side.
        "profiling_overhead": (statistics.median(profiled_latencies_ms) / reference_ms - 1
                               if profiled_latencies_ms and reference_ms else None),
    }


def category_totals(rows: list[OperatorRow]) -> dict[str, float]:
    by_category = defaultdict(float)
    for row in rows:
        by_category[row.category] += row.median_ms
    return {name: by_category[name] for name in CATEGORIES if name in by_category}


def map_modules(rows: list[OperatorRow], etrecord_path: str | None) -> dict:
    """Fill each delegated row's module from the ETRecord; say how many rows were matched and how."""
    from cmx_bench.measure.module_map import align, delegate_nodes

    delegated = [row for row in rows if row.delegated]
    if not etrecord_path:
        return {"status": "unavailable", "source": None,
                "reason": "the artifact has no ETRecord (export it again with this version): operator names only"}
    try:
        calls = delegate_nodes(etrecord_path)
    except ParseError as exc:  # the operator rows stand without modules
        return {"status": "unavailable", "source": None, "reason": str(exc)}
    for partition, nodes in enumerate(calls):
        in_call = [row for row in delegated if row.partition == partition]
        for row, (module, how) in zip(in_call, align([row.name for row in in_call], nodes)):
            row.module, row.module_match = module or None, how
    return {"status": "mapped", "source": f"ETRecord {Path(etrecord_path).name}", "delegated_rows": len(delegated),
            "matched": sum(1 for row in delegated if row.module_match == "operator"),
            "inserted": sum(1 for row in delegated if row.module_match == "inserted"),
            "unmapped": sum(1 for row in delegated if not row.module),
            "note": "'inserted': an operator XNNPACK adds itself (layout transpose or copy), attributed to the "
                    "module of the node it precedes"}
