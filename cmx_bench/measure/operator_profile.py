"""Where each inference spends its time: ExecuTorch ETDump events as operator rows, categories and coverage."""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from pathlib import Path

from cmx_bench.errors import ParseError

# XNNPACK runs 1x1 convolutions as GEMMs and names them "Fully Connected": one category for both.
CATEGORIES = ("convolution", "depthwise convolution", "GEMM (1x1 conv, fully connected)", "pooling", "elementwise", "layout",
              "quantize/dequantize", "portable ops", "other delegated", "runtime overhead")
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


def operator_profile(etdump_path: str, median_latency_ms: float, iterations: int,
                     etrecord_path: str | None = None, reference_latencies_ms: list[float] | None = None,
                     profiled_latencies_ms: list[float] | None = None) -> dict:
    """The record's profile block from an ETDump file. One row per operator instance, in execution order: name,
    backend or 'portable', delegated, the delegate partition it ran in, occurrences (profiled inferences that ran
    it), median and p90 ms per inference, share of the inference (taken as coverage is, below), category, and with
    the artifact's ETRecord the network module it comes from (measure/module_map.py). The time a delegate call or
    operator call takes beyond its operators is a row of its own ('runtime overhead').

    Coverage and shares are taken against the median of the runner's reference latencies (unprofiled inferences
    interleaved with the profiled ones) when it sent them, else against the timed median `median_latency_ms`; the
    profiled inferences' own latencies, timed the same way, give what recording the events costs."""
    from executorch.devtools import Inspector

    try:
        frame = Inspector(etdump_path=str(etdump_path)).to_dataframe()
    except Exception as exc:  # a truncated or foreign file: say so in the record, keep the run's other figures
        raise ParseError(f"ETDump {etdump_path} cannot be read ({(str(exc).splitlines() or [type(exc).__name__])[0][:120]})"
                         ) from exc
    frame = frame.rename(columns={"p50 (ms)": "p50_ms", "p90 (ms)": "p90_ms"})
    execute = frame[frame.event_name == "Method::execute"]
    operators, pending, partition, seen = [], [], 0, defaultdict(int)
    for event in frame.itertuples(index=False):
        if event.event_block_name != "Execute" or event.event_name in ("Method::execute", "Program::load_method"):
            continue
        if event.event_name in ("DELEGATE_CALL", "OPERATOR_CALL"):
            inside = sum(row["median_ms"] for row in pending)
            overhead = max(float(event.p50_ms) - inside, 0.0)
            kind = "delegate call" if event.event_name == "DELEGATE_CALL" else "operator call"
            operators += pending + [_row(f"{kind} overhead", False, "runtime", "runtime overhead", partition, overhead,
                                         max(float(event.p90_ms) - inside, 0.0), len(event.raw))]
            partition += event.event_name == "DELEGATE_CALL"
            pending = []
            continue
        delegated = bool(event.is_delegated_op)
        seen[(partition, event.event_name)] += 1
        pending.append(_row(event.event_name, delegated, (event.delegate_backend_name or "XnnpackBackend") if delegated
                            else "portable", categorise(event.event_name, delegated), partition if delegated else None,
                            float(event.p50_ms), float(event.p90_ms), len(event.raw)))
    operators += pending
    modules = _map_modules(operators, etrecord_path)
    total = sum(r["median_ms"] for r in operators)
    reference_ms = statistics.median(reference_latencies_ms) if reference_latencies_ms else None
    basis_ms = reference_ms or median_latency_ms
    for row in operators:
        row["share"] = row["median_ms"] / basis_ms if basis_ms else None
    by_category = defaultdict(float)
    for row in operators:
        by_category[row["category"]] += row["median_ms"]
    execute_ms = float(execute.p50_ms.iloc[0]) if len(execute) else None
    return {
        "source": "ExecuTorch ETDump (executorch.devtools.Inspector)", "iterations": iterations,
        "profiled_execute_median_ms": execute_ms,
        "measured_median_ms": median_latency_ms,
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
        "operators": operators,
        "categories": {name: by_category[name] for name in CATEGORIES if name in by_category},
        "modules": modules,
    }


def _map_modules(operators: list[dict], etrecord_path: str | None) -> dict:
    """Fill each delegated row's module from the ETRecord; say how many rows were matched and how."""
    from cmx_bench.measure.module_map import align, delegate_nodes

    delegated = [row for row in operators if row["delegated"]]
    if not etrecord_path:
        return {"status": "unavailable", "source": None,
                "reason": "the artifact has no ETRecord (export it again with this version): operator names only"}
    try:
        calls = delegate_nodes(etrecord_path)
    except ParseError as exc:  # the operator rows stand without modules
        return {"status": "unavailable", "source": None, "reason": str(exc)}
    for partition, nodes in enumerate(calls):
        rows = [row for row in delegated if row["partition"] == partition]
        for row, (module, how) in zip(rows, align([row["name"] for row in rows], nodes)):
            row["module"], row["module_match"] = module or None, how
    matched = sum(1 for row in delegated if row.get("module_match") == "operator")
    inserted = sum(1 for row in delegated if row.get("module_match") == "inserted")
    return {"status": "mapped", "source": f"ETRecord {Path(etrecord_path).name}", "delegated_rows": len(delegated),
            "matched": matched, "inserted": inserted,
            "unmapped": sum(1 for row in delegated if not row.get("module")),
            "note": "'inserted': an operator XNNPACK adds itself (layout transpose or copy), attributed to the "
                    "module of the node it precedes"}


def _row(name, delegated, backend, category, partition, median_ms, p90_ms, occurrences) -> dict:
    return {"name": name, "backend": backend, "delegated": delegated, "partition": partition, "category": category,
            "occurrences": occurrences, "median_ms": median_ms, "p90_ms": p90_ms, "module": None}


def top_operators(profile: dict, count: int = 10) -> list[dict]:
    """The operator rows that cost the most time per inference (overhead rows included: they are time too)."""
    return sorted(profile.get("operators", []), key=lambda row: row["median_ms"], reverse=True)[:count]
