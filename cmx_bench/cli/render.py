"""Rich renderings shared by the commands: tables from data frames, progress bars, error lines."""

from __future__ import annotations

from contextlib import contextmanager

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cmx_bench.errors import CmxError
from cmx_bench.report.table5 import format_cell

console = Console()
error_console = Console(stderr=True)


def print_error(message: str) -> None:
    """The one way a command reports a failure: 'error:' and the message's one line, on stderr."""
    # escape: messages name paths and extras such as 'cmx-bench[tensorboard]', which rich would read as markup
    error_console.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


@contextmanager
def errors_exit_with(code: int):
    """A project error inside the block is printed and ends the command with `code` (compare: 2, as its 1 means
    a regression), instead of the usual 1."""
    try:
        yield
    except CmxError as exc:
        print_error(str(exc))
        raise typer.Exit(code) from None


def honour_columns() -> None:
    """Apply COLUMNS as it is now (rich reads it once, when the consoles are made at import)."""
    import os

    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        console.width = error_console.width = int(columns)


# Columns that are never wrapped or cut: names and verdicts must read whole.
KEY_COLUMNS = ("Run", "Device", "Model", "Serial", "Profile", "ABI", "Verdict", "Metric", "Operator")


def _build_table(frame: pd.DataFrame, title: str) -> Table:
    table = Table(title=title, header_style="bold")
    cells = [[format_cell(v) for v in row] for row in frame.itertuples(index=False)]
    for index, column in enumerate(frame.columns):
        style = "dim" if "paper" in str(column).lower() else None
        text_column = column in KEY_COLUMNS
        # Values are never cut (headers may wrap): a column is at least as wide as its widest value.
        widest = max((len(row[index]) for row in cells), default=1)
        table.add_column(str(column), style=style, justify="left" if text_column else "right", no_wrap=text_column,
                         min_width=widest)
    for row in cells:
        table.add_row(*row)
    return table


def _needed_width(frame: pd.DataFrame) -> int:
    """Columns as wide as their widest value or header word, plus rich's padding and borders."""
    widths = [max([len(format_cell(v)) for v in frame[column]] + [len(w) for w in str(column).split()] + [1])
              for column in frame.columns]
    return sum(widths) + 3 * len(widths) + 1


def frame_table(frame: pd.DataFrame, title: str, drop_order: tuple[str, ...] = (),
                target: Console | None = None) -> Table:
    """A table that fits the terminal (COLUMNS honoured): columns in `drop_order` are left out, least important
    first, until it fits; the caption names what was left out. Key columns are never cut."""
    target = target or console
    dropped = []
    for column in drop_order:
        if _needed_width(frame) <= target.width:
            break
        if column in frame.columns:
            frame = frame.drop(columns=[column])
            dropped.append(column)
    table = _build_table(frame, title)
    if dropped:
        table.caption = f"left out to fit {target.width} columns: {', '.join(dropped)} (in the report files)"
    return table


class RichProgress:
    """The bench's Progress hook as a rich progress bar."""

    def __init__(self):
        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                            TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=console,
                            transient=False)
        self.task = None

    def __enter__(self):
        self.bar.start()
        return self

    def __exit__(self, *exc):
        self.bar.stop()

    def begin(self, total: int) -> None:
        self.task = self.bar.add_task("starting", total=total)

    def step(self, label: str) -> None:
        self.bar.update(self.task, description=label)

    def advance(self) -> None:
        self.bar.advance(self.task)

    def for_device(self, name: str) -> "DeviceBar":
        return DeviceBar(self.bar, name)


class DeviceBar:
    """One device worker's bar on a shared display."""

    def __init__(self, bar: Progress, name: str):
        self.bar, self.name, self.task = bar, name, None

    def begin(self, total: int) -> None:
        self.task = self.bar.add_task(f"{self.name}: starting", total=total)

    def step(self, label: str) -> None:
        self.bar.update(self.task, description=f"{self.name}: {label}")

    def advance(self) -> None:
        self.bar.advance(self.task)
