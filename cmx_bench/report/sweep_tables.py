"""Tables 2-4 layout for sweeps: clean/snapshot accuracy pairs with up/down/equal arrows, beside the paper's."""

from __future__ import annotations

LOSS_TITLES = {"pc0.8": "PC (xi=0.8)", "pc0.995": "PC (xi=0.995)", "arcface": "ArcFace", "softmax": "SM"}


def arrow(clean: float, snapshot: float) -> str:
    """The paper's marks: snapshot accuracy above (up), below (down) or equal to (-) the clean one, at 3 decimals."""
    clean, snapshot = round(clean, 3), round(snapshot, 3)
    return "↑" if snapshot > clean else "↓" if snapshot < clean else "-"


def _pair(cells: dict, key) -> str:
    clean, snapshot = cells.get((*key, "clean")), cells.get((*key, "snapshot"))
    if clean is None and snapshot is None:
        return "not run"
    if snapshot is None:
        return f"{clean:.3f}/-"
    if clean is None:
        return f"-/{snapshot:.3f}"
    return f"{clean:.3f}/{snapshot:.3f} {arrow(clean, snapshot)}"


def _paper_pair(text: str | None) -> str:
    if not text:
        return "-"
    clean, snapshot = (float(v) for v in text.split("/"))
    return f"{text} {arrow(clean, snapshot)}"


def sweep_tables_markdown(backbone: str, records: list[dict], paper: dict, losses) -> str:
    cells = {(r["alpha"], r["temperature"], r["loss"], r["data"]): r["test_accuracy"] for r in records}
    header = "| {} | " + " | ".join(f"{LOSS_TITLES.get(l, l)} (measured) | {LOSS_TITLES.get(l, l)} (paper)"
                                     for l in losses) + " |"
    rule = "|---|" + "---|---|" * len(losses)
    lines = [f"## {backbone}: test accuracy, CXR images / snapshots", "",
             "Arrows: snapshot accuracy above (↑), below (↓) or equal to (-) the clean one. Columns marked (paper) "
             "are the paper's Tables 2-4, for reference.", ""]
    for title, key_name, rows, fixed in (("T = 5", "alpha", sorted({r["alpha"] for r in records if r["temperature"] == 5}), 5.0),
                                         ("alpha = 0.8", "t", sorted({r["temperature"] for r in records if r["alpha"] == 0.8}), 0.8)):
        if not rows:
            continue
        lines += [f"### {backbone} ({title})", "", header.format("α" if key_name == "alpha" else "T"), rule]
        for value in rows:
            key = (value, fixed) if key_name == "alpha" else (fixed, value)
            table = "by_alpha" if key_name == "alpha" else "by_t"
            paper_row = paper.get(table, {}).get(f"{value:g}", {})
            cells_text = [f"{_pair(cells, (*key, loss))} | {_paper_pair(paper_row.get(loss))}" for loss in losses]
            lines.append(f"| {value:g} | " + " | ".join(cells_text) + " |")
        lines.append("")
    if paper.get("no_teacher"):
        lines += [f"Paper, {backbone} without distillation: {_paper_pair(paper['no_teacher'])}.", ""]
    return "\n".join(lines)
