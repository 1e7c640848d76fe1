"""The "Where the time goes" section: operator profiles by category, top operators, int8 beside fp32, memory plan."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from cmx_bench.measure.operator_profile import CATEGORIES, TIMER_ROUNDING
from cmx_bench.pngfig import figure_png
from cmx_bench.report.table5 import run_label
from cmx_bench.results.metrics import memory_model_mb

MB = 2**20


def profiled(records: list[dict]) -> list[dict]:
    return [r for r in records if (r.get("profile") or {}).get("status") == "ok"]


def _label(record: dict, with_run: bool) -> str:
    config = record["config"]
    return f"{config['model']} {config['format']} @ {config['device']}" + (f" [{run_label(record)}]" if with_run else "")


def category_figure(records: list[dict]) -> bytes | None:
    """A stacked bar per (model, format, device): ms per inference by operator category."""
    runs = profiled(records)
    if not runs:
        return None
    several = len({r["run_id"] for r in runs}) > 1
    seen = dict.fromkeys(c for r in runs for c in r["profile"]["categories"])
    categories = [c for c in CATEGORIES if c in seen] + [c for c in seen if c not in CATEGORIES]
    figure, axis = plt.subplots(figsize=(max(6.0, 1.3 * len(runs) + 3), 4.5))
    bottoms = [0.0] * len(runs)
    for index, category in enumerate(categories):
        values = [r["profile"]["categories"].get(category, 0.0) for r in runs]
        # one colour per category in every report, so that two reports can be read side by side; the eleventh,
        # timer rounding, in grey, as the operator time no category can claim
        colour = ("lightgrey" if category == TIMER_ROUNDING else f"C{CATEGORIES.index(category) % 10}"
                  if category in CATEGORIES else f"C{index % 10}")
        axis.bar(range(len(runs)), values, bottom=bottoms, label=category, color=colour)
        bottoms = [b + v for b, v in zip(bottoms, values)]
    axis.scatter(range(len(runs)), [r["profile"]["measured_median_ms"] for r in runs], marker="_", s=600,
                 color="black", zorder=3, label="timed median latency")
    reference = [(i, r["profile"].get("reference_median_ms")) for i, r in enumerate(runs)]
    reference = [(i, ms) for i, ms in reference if ms]
    if reference:
        axis.scatter(*zip(*reference), marker="x", s=60, color="black", zorder=3,
                     label="median of unprofiled inferences\nbetween the profiled ones")
    # model, format and device on lines of their own: long network names would otherwise run into each other
    axis.set_xticks(range(len(runs)), [_label(r, several).replace(" ", "\n", 1).replace(" @ ", "\n@ ") for r in runs],
                    fontsize=7)
    axis.set_ylabel("ms per inference")
    axis.set_title("Where the time goes: operator time by category (ExecuTorch ETDump)")
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axis.grid(axis="y", alpha=0.3)
    return figure_png(figure)


# Operator time that moves or converts data, or waits on the runtime, rather than computing the network.
NOT_COMPUTING = ("layout", "quantize/dequantize", "runtime overhead", "portable ops")


def _share(categories: dict, names) -> float | None:
    total = sum(categories.values())
    return sum(categories.get(name, 0.0) for name in names) / total if total else None


# Operator time XNNPACK's whole-microsecond timers round away (measure/operator_profile.py): it belongs to
# computing and non-computing operators alike, so it is counted as neither.
COUNTED_IN_NEITHER = (TIMER_ROUNDING,)
# Categories of operators that compute the network: the rest move, convert or wait.
_COMPUTING = tuple(category for category in CATEGORIES if category not in NOT_COMPUTING + COUNTED_IN_NEITHER)


def io_conversion_ms(operators: list[dict]) -> float | None:
    """Time of the layout operators XNNPACK inserts before the program's first computing operator or after its last
    (rows in execution order): the conversion of the caller's NCHW input to the NHWC its convolutions run on (and
    of an NCHW output back, where a program's last operators are convolutions; a classifier's pooled output converts
    between two computing operators and stays under layout). It is the program's interface, not the network's own
    layout (a channel shuffle's), so it is told apart. None when the rows were never mapped to modules (no ETRecord):
    which operators XNNPACK inserted is then unknown."""
    if not any("module_match" in row for row in operators):
        return None
    computing = [index for index, row in enumerate(operators) if row.get("category") in _COMPUTING]
    if not computing:
        return 0.0
    return sum(row["median_ms"] for index, row in enumerate(operators)
               if row.get("category") == "layout" and row.get("module_match") == "inserted"
               and not computing[0] < index < computing[-1])


def lowering_label(lowering: dict) -> str:
    """'cmx for arm': the lowering and, for the cmx one, the target CPU its passes were chosen for, with ', tuned'
    where `cmx-bench tune` measured the device's choices."""
    name = lowering.get("name", "stock")
    if not lowering.get("target"):
        return name
    tuned = ", tuned" if str(lowering.get("choices_source") or "").startswith("tuned") else ""
    return f"{name} for {lowering['target']}{tuned}"


def glance_frame(records: list[dict]) -> pd.DataFrame | None:
    """Per profiled run, in one row: how the program was lowered and cut, what ran outside the delegate, and the
    share of operator time not spent computing, so that two networks of similar MACs can be told apart at once.
    "Layout" is the network's own (its shuffles, splits and concatenations, and, in a program cut into several
    partitions, the conversions at their boundaries); the program's conversion of its NCHW input to NHWC is "I/O
    conversion" (empty where unknown, and then all under "Layout"); both count as not computing. "Timer rounding"
    is the operator time XNNPACK's timers round away (estimated), counted as neither; a profile recorded before it
    was told apart has none, and its delegate overhead holds it."""
    rows = []
    for record in profiled(records):
        block, lowering = record["profile"], (record.get("artifact") or {}).get("lowering") or {}
        categories, operators = block.get("categories") or {}, block.get("operators") or []
        partitions = {row["partition"] for row in operators if row.get("partition") is not None}
        outside = sorted({row["name"] for row in operators if row.get("backend") == "portable"})
        network = block.get("network") or {}
        io_conversion = io_conversion_ms(operators)
        # The network's own layout: what is left of the category without the program's input/output conversion.
        times = {**categories, "layout": categories.get("layout", 0.0) - (io_conversion or 0.0),
                 "io": io_conversion or 0.0}
        rows.append({
            "Model": record["config"]["model"], "Format": record["config"]["format"],
            "Device": record["config"]["device"], "Lowering": lowering_label(lowering),
            "MACs (M)": network["macs"] / 1e6 if network.get("macs") else None,
            "Median ms": block.get("measured_median_ms"),
            "Partitions": lowering.get("partitions", len(partitions) or None),
            "Outside the delegate": ", ".join(outside) or "none",
            "Layout": _share(times, ["layout"]),
            "I/O conversion": None if io_conversion is None else _share(times, ["io"]),
            "Quantize/dequantize": _share(categories, ["quantize/dequantize"]),
            "Delegate overhead": _share(categories, ["runtime overhead"]),
            # A profile recorded before the rounding was told apart has none: its delegate overhead holds it.
            "Timer rounding": _share(categories, COUNTED_IN_NEITHER) if TIMER_ROUNDING in categories else None,
            "Not computing": _share(categories, NOT_COMPUTING),
        })
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    for column in ("Layout", "I/O conversion", "Quantize/dequantize", "Delegate overhead", "Timer rounding",
                   "Not computing"):
        frame[column] = [None if pd.isna(v) else f"{v:.1%}" for v in frame[column]]
    return frame


def top_operator_tables(records: list[dict], count: int = 10) -> list[tuple[str, pd.DataFrame]]:
    """Per profiled run: its `count` costliest operator rows."""
    several = len({r["run_id"] for r in profiled(records)}) > 1
    tables = []
    for record in profiled(records):
        rows = sorted(record["profile"]["operators"], key=lambda row: row["median_ms"], reverse=True)[:count]
        frame = pd.DataFrame([{"Operator": row["name"], "Category": row["category"], "Backend": row["backend"],
                               "Partition": "-" if row["partition"] is None else str(row["partition"]), "ms / inference": row["median_ms"],
                               "p90 ms": row["p90_ms"], "Share": f"{row['share']:.1%}" if row["share"] else None,
                               "Module": row["module"] or "-"} for row in rows])
        tables.append((_label(record, several), frame))
    return tables


def quantization_frame(records: list[dict]) -> pd.DataFrame | None:
    """Category times of int8 beside fp32 for each (model, device) profiled in both."""
    by_key = {}
    for record in profiled(records):
        config = record["config"]
        by_key.setdefault((config["model"], config["device"]), {})[config["format"]] = record["profile"]
    rows = []
    for (model, device), formats in sorted(by_key.items()):
        if "pte" in formats and "pte-int8" in formats:
            fp32, int8 = formats["pte"]["categories"], formats["pte-int8"]["categories"]
            for category in dict.fromkeys([*fp32, *int8]):
                rows.append({"Model": model, "Device": device, "Category": category, "fp32 ms": fp32.get(category, 0.0),
                             "int8 ms": int8.get(category, 0.0)})
    return pd.DataFrame(rows) if rows else None


def memory_frame(records: list[dict]) -> pd.DataFrame | None:
    """The program's memory plan and weights beside the memory the runner measured, and the network's size."""
    rows = []
    for record in records:
        block = record.get("profile") or {}
        artifact, network = block.get("artifact") or {}, block.get("network") or {}
        if not artifact and not network:
            continue
        rows.append({
            "Model": record["config"]["model"], "Format": record["config"]["format"], "Device": record["config"]["device"],
            "Planned activations MB": artifact.get("planned_activation_bytes", 0) / MB if artifact else None,
            "Weights MB": artifact.get("constant_bytes", 0) / MB if artifact else None,
            "Delegate payload MB": artifact.get("delegate_payload_bytes", 0) / MB if artifact else None,
            "Measured model memory MB": memory_model_mb(record),
            "Params (M)": network["params"] / 1e6 if network else None, "Params (paper)": network.get("paper_params"),
            "MACs (M)": network["macs"] / 1e6 if network else None, "MACs (paper)": network.get("paper_macs"),
        })
    return pd.DataFrame(rows) if rows else None


def profile_notes(records: list[dict]) -> list[str]:
    notes = []
    for record in records:
        block = record.get("profile") or {}
        label = _label(record, False)
        if block.get("status") == "unavailable":
            notes.append(f"{label}: operator profile unavailable ({block.get('reason')})")
        elif block.get("status") == "ok":
            own, overhead = block.get("execute_coverage"), block.get("profiling_overhead")
            basis = ("the median of unprofiled inferences run between the profiled ones"
                     if block.get("coverage_basis") == "reference" else "the timed median latency")
            timed = block.get("timed_coverage") if block.get("coverage_basis") == "reference" else None
            notes.append(f"{label}: operator times cover {block['coverage']:.0%} of {basis}"
                         + (f" ({timed:.0%} of the timed median, measured seconds earlier)" if timed else "")
                         + (f" and {own:.0%} of the profiled inferences' own execute time" if own else "")
                         + (f"; recording the events cost {overhead:+.0%} an inference" if overhead is not None else "")
                         + f" ({block['iterations']} profiled inferences, run after the timed ones); "
                         f"{modules_sentence(block.get('modules'))}")
    return notes


def modules_sentence(modules) -> str:
    """What the profile says about operator -> module mapping, in one clause."""
    if not isinstance(modules, dict):  # records made before modules were mapped held a sentence
        return str(modules or "no module mapping")
    if modules.get("status") != "mapped":
        return f"modules unavailable: {modules.get('reason')}"
    return (f"modules from the {modules['source']}: {modules['matched']} of {modules['delegated_rows']} delegated "
            f"operators matched to their own node, {modules['inserted']} layout operators XNNPACK inserts itself "
            "attributed to the module they feed")
