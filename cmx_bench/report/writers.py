"""Write a report folder: report.md, report.html (self-contained), table5.csv."""

from __future__ import annotations

import base64
import contextlib
import html
import os
import secrets
import shutil
from pathlib import Path

import pandas as pd

from cmx_bench.errors import OutputError
from cmx_bench.fileio import write_bytes_atomic
from cmx_bench.report import plots, time_breakdown
from cmx_bench.measure.operator_profile import XNNPACK_ROUNDING_MS
from cmx_bench.measure.stats import CI_UNSTABLE, CV_UNSTABLE
from cmx_bench.report.provenance import random_weights_note
from cmx_bench.report.round_pairs import round_pair_notes
from cmx_bench.report.run_conditions import run_condition_notes
from cmx_bench.report.table5 import display_frame, format_cell, run_label, table5_frame, table5_wide
from cmx_bench.results.metrics import energy_method, latency_unstable


def markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(format_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def html_table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(format_cell(v))}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _notes(records: list[dict]) -> list[str]:
    notes = []
    random_note = random_weights_note(records)
    if random_note:
        notes.append(random_note)
    runs = {run_label(r): r for r in records}
    if len(runs) > 1:
        notes.append("Run column: " + "; ".join(f"`{label}` = run {r['run_id']}" for label, r in sorted(runs.items())))
    methods = {energy_method(r): r["energy"].get("note") for r in records if energy_method(r) is not None}
    notes += [f"Energy method `{m}`: {n}" for m, n in methods.items()]
    rules = {r["config"]["device"]: r["energy"].get("energy_class_rule") for r in records
             if r["energy"].get("energy_class_rule")}
    notes += [f"Energy class on {device}: {rule}" for device, rule in rules.items()]
    notes.append(f"Stability: a latency is flagged unstable when its robust CV (1.4826 x MAD / median, the "
                 f"'Robust CV' column) exceeds {CV_UNSTABLE} or the bootstrap 95% CI of its median is wider than "
                 f"+/-{CI_UNSTABLE:.0%}; the plain CV (std / mean) is in table5.csv.")
    notes.append("Memory: 'Model memory' is the runner's rise over its reading before the model loaded (private "
                 "memory, USS, where it is sampled, as on the host; else the PSS rise), comparable across devices; "
                 "'App PSS' is the app's total PSS on a phone, the quantity in the paper's Table 5. On a host the "
                 "runner's total is Python plus torch, so it is kept in table5.csv only.")
    notes += [f"{r['config']['model']} {r['config']['format']} on {r['config']['device']}: latency unstable "
              f"({', '.join(r['latency']['stats']['unstable_reasons'])})"
              for r in records if latency_unstable(r)]
    notes += [f"{r['config']['model']} {r['config']['format']} on {r['config']['device']} ran with --allow-version-skew: "
              f"{r['artifact']['runtime_check']['problem']}"
              for r in records if (r["artifact"].get("runtime_check") or {}).get("skew_allowed")]
    notes += [f"{r['config']['model']} {r['config']['format']} on {r['config']['device']} failed: {'; '.join(r['errors'])}"
              for r in records if r["status"] == "error"]
    # Measured, with a caveat: a round that failed, or a checkpoint of a run that never finished.
    notes += [f"{r['config']['model']} {r['config']['format']} on {r['config']['device']}: {'; '.join(r['errors'])}"
              for r in records if r["status"] == "ok" and r["errors"]]
    notes += _skipped_notes(records)
    notes += run_condition_notes(records) + round_pair_notes(records)
    notes.append("Columns marked (paper) are the paper's Table 5 values (PyTorch Mobile, 2020), shown for reference; "
                 "they were not measured here.")
    return notes


def _skipped_notes(records: list[dict]) -> list[str]:
    """One note per run that left images out of --data (--skip-bad): how many, and the first reason."""
    skipped = {r["run_id"]: r["config"]["data_skipped"] for r in records
               if (r["config"].get("data_skipped") or {}).get("count")}
    return [f"Run {run_id}: {left['count']} image(s) of the data left out as unreadable (--skip-bad); first: "
            f"{left['first'][0]}" for run_id, left in skipped.items()]


def _time_section(records: list[dict]) -> dict | None:
    """The figure and tables of "Where the time goes", or None when no run has an operator profile."""
    figure = time_breakdown.category_figure(records)
    if figure is None:
        return None
    tables = [("At a glance: partitions, operators outside the delegate, operator time not spent computing "
               "(Layout: the network's own; I/O conversion: the program's NCHW input to NHWC and back; "
               "Timer rounding: what XNNPACK's whole-microsecond operator timers round away, estimated at "
               f"{XNNPACK_ROUNDING_MS * 1000:g} us per operator, in neither share)",
               time_breakdown.glance_frame(records))]
    tables += [(f"Top operators: {label}", table) for label, table in time_breakdown.top_operator_tables(records)]
    quantization = time_breakdown.quantization_frame(records)
    if quantization is not None:
        tables.append(("int8 beside fp32 (ms per inference by category)", quantization))
    memory = time_breakdown.memory_frame(records)
    if memory is not None:
        tables.append(("Memory plan and network size beside the measured memory", memory))
    return {"figure": figure, "tables": tables}


def _time_section_html(section: dict | None) -> str:
    if section is None:
        return ""
    parts = ["<h2>Where the time goes</h2><img alt='Where the time goes' "
             f"src='data:image/png;base64,{base64.b64encode(section['figure']).decode()}'>"]
    parts += [f"<h3>{html.escape(heading)}</h3>{html_table(table)}" for heading, table in section["tables"]]
    return "".join(parts)


def write_report(records: list[dict], out_dir: Path, title: str = "cmx-bench report") -> dict[str, Path]:
    """Write the report files into out_dir, whole or not at all, and return their paths."""
    out_dir = Path(out_dir)
    frame = table5_frame(records)
    shown = display_frame(frame)
    many_devices = len({r["config"]["device"] for r in records}) > 1
    figures = {
        "Latency": (plots.latency_by_model_and_device if many_devices else plots.latency_distributions)(records),
        "Accuracy versus latency": plots.accuracy_vs_latency(records),
        "Energy per inference": plots.energy_per_inference(records) if many_devices else None,
        "CPU and memory": None if many_devices else plots.resource_timeseries(records),
        "Sustained runs": plots.sustained_over_time(records),
    }
    figures = {name: png for name, png in figures.items() if png}
    notes = _notes(records) + time_breakdown.profile_notes(records)
    time_section = _time_section(records)

    # Figures first: whoever sees report.md appear finds the files it links to.
    files = {name.lower().replace(" ", "_") + ".png": png for name, png in figures.items()}
    wide = table5_wide(frame)
    markdown = [f"# {title}", "", "## Table 5 view (networks by devices)", "", markdown_table(wide), "",
                "## All runs", "", markdown_table(shown), "", "## Notes", ""]
    markdown += [f"- {n}" for n in notes] + [""]
    for name in figures:
        file_name = name.lower().replace(" ", "_") + ".png"
        markdown += [f"## {name}", "", f"![{name}]({file_name})", ""]
    if time_section:
        files["where_the_time_goes.png"] = time_section["figure"]
        markdown += ["## Where the time goes", "", "![Where the time goes](where_the_time_goes.png)", ""]
        for heading, table in time_section["tables"]:
            markdown += [f"### {heading}", "", markdown_table(table), ""]
    files["table5.csv"] = frame.to_csv(index=False).encode("utf-8")
    files["report.md"] = "\n".join(markdown).encode("utf-8")

    images = "".join(f"<h2>{html.escape(name)}</h2><img alt='{html.escape(name)}' "
                     f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>" for name, png in figures.items())
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:13px}"
            "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,td:nth-child(2){text-align:left}th{background:#f3f3f3}"
            "img{max-width:100%}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><h2>Table 5 view (networks by devices)</h2>{html_table(wide)}"
            f"<h2>All runs</h2>{html_table(shown)}"
            "<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"
            f"{images}{_time_section_html(time_section)}</body></html>")
    files["report.html"] = page.encode("utf-8")
    written = write_files_whole(out_dir, files)
    return {"csv": written["table5.csv"], "markdown": written["report.md"], "html": written["report.html"]}


def write_files_whole(folder: Path, files: dict[str, bytes]) -> dict[str, Path]:
    """Every file first into a hidden staging folder inside `folder`, then each renamed into place: a full disk, or an
    interrupt, leaves no file of this set (and no folder this call made)."""
    folder = Path(folder)
    made_folder = not folder.exists()
    staging = folder / f".staged-{secrets.token_hex(4)}"  # the files keep their names: an error names the file
    placed = []
    try:
        for name, data in files.items():
            write_bytes_atomic(staging / name, data)
        for name in files:
            _rename(staging / name, folder / name)
            placed.append(folder / name)  # removed too, should a later rename fail
        staging.rmdir()
    except BaseException:
        _discard(staging, placed, folder if made_folder else None)
        raise
    return {name: folder / name for name in files}


def _rename(source: Path, target: Path) -> None:
    try:
        os.replace(source, target)
    except OSError as exc:
        raise OutputError(f"cannot put {target} in place ({exc.strerror}); check that folder or choose another "
                          "output folder") from exc


def _discard(staging: Path, placed: list[Path], made_folder: Path | None) -> None:
    """Remove what one attempt wrote, then the folder it made if that is now empty."""
    shutil.rmtree(staging, ignore_errors=True)
    for path in placed:
        path.unlink(missing_ok=True)
    if made_folder is not None:
        with contextlib.suppress(OSError):  # not empty: it holds what another writer put there
            made_folder.rmdir()
