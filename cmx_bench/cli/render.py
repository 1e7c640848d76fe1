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


def _column_widths(frame: pd.DataFrame, headers_whole: bool) -> list[int]:
    """Each column's width: its widest value, and its whole header or (headers wrapped between words) the header's
    longest word."""
    return [max([len(format_cell(v)) for v in frame[column]] + [1] +
                ([len(str(column))] if headers_whole else [len(word) for word in str(column).split()]))
            for column in frame.columns]


def _table_width(widths: list[int]) -> int:
    return sum(widths) + 3 * len(widths) + 1  # rich's padding and borders


def _build_table(frame: pd.DataFrame, title: str, width: int) -> Table:
    """Fixed column widths, so that rich neither cuts a value nor shortens a header ("Mod…") to make the table fit:
    headers whole when the table fits `width` so, else wrapped between words."""
    table = Table(title=title, header_style="bold")
    widths = _column_widths(frame, headers_whole=True)
    if _table_width(widths) > width:
        widths = _column_widths(frame, headers_whole=False)
    for column, column_width in zip(frame.columns, widths):
        style = "dim" if "paper" in str(column).lower() else None
        text_column = column in KEY_COLUMNS
        table.add_column(str(column), style=style, justify="left" if text_column else "right", no_wrap=text_column,
                         width=column_width)
    for row in frame.itertuples(index=False):
        table.add_row(*(format_cell(v) for v in row))
    return table


def _needed_width(frame: pd.DataFrame) -> int:
    """The narrowest the table can be: columns as wide as their widest value or header word."""
    return _table_width(_column_widths(frame, headers_whole=False))


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
    table = _build_table(frame, title, target.width)
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
