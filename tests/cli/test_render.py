"""Terminal tables: they fit the terminal, values are never cut and headers never shortened."""

import pandas as pd
from rich.console import Console

from cmx_bench.cli.render import frame_table

# A Table 5 view whose ms column carries the unstable mark, as a noisy run's does: with it the table needs 79 columns.
FRAME = pd.DataFrame(
    [["shufflenet_v2_x1_0", "pte", 2, "6.70!", 46, 2.18, 24.4, 5.02, 8.39, 1.0],
     ["shufflenet_v2_x1_0", "ptl", 2, "13.52", None, None, 9.86, 5.08, 12.0, 1.0]],
    columns=["Model", "Fmt", "Thr", "ms", "Eff%", "x floor", "Load ms", "Warm ms", "Size MB", "Model MB"])


def _rendered(width: int, drop_order: tuple[str, ...] = ()) -> list[str]:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))
    console.print(frame_table(FRAME, "Table 5 view: local", drop_order, target=console))
    return console.export_text().splitlines()


def test_a_table_that_just_fits_keeps_every_header_word_and_value_whole():
    lines = _rendered(80, ("Warm ms",))
    assert max(map(len, lines)) <= 80 and "…" not in "".join(lines)
    text = "\n".join(lines)
    assert "Model" in lines[3] and "6.70!" in text and "13.52" in text and "Warm ms" in lines[-1]


def test_a_wide_terminal_gets_whole_headers_on_one_line():
    lines = _rendered(160)
    assert "Load ms" in lines[2] and "Model MB" in lines[2] and max(map(len, lines)) <= 160
