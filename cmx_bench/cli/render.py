"""Rich renderings shared by the commands: tables from data frames, progress bars, error lines."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cmx_bench.report.table5 import format_cell

console = Console()
error_console = Console(stderr=True)


def frame_table(frame: pd.DataFrame, title: str) -> Table:
    table = Table(title=title, header_style="bold")
    for column in frame.columns:
        style = "dim" if "paper" in str(column).lower() else None
        text_column = column in ("Device", "Model", "Serial", "Profile", "ABI")
        table.add_column(str(column), style=style, justify="left" if text_column else "right", no_wrap=text_column)
    for row in frame.itertuples(index=False):
        table.add_row(*(format_cell(v) for v in row))
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
