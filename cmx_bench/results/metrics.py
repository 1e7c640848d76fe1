"""The one place that reads a run record's figures; compare, the Table 5 view, plots and writers all read them here."""

# Standard library only: report/ imports this module (tests/test_layering.py holds it to that), so that a record is
# read the same way wherever it is read without report/ pulling in the rest of results/.
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

# Figure name -> its reader, in RecordFigures' field order; compare looks up its metrics (results/thresholds.py) here.
READERS: dict[str, Callable[[dict], Any]] = {}


def _figure(reader: Callable[[dict], Any]) -> Callable[[dict], Any]:
    READERS[reader.__name__] = reader
    return reader


def _get(mapping, *keys):
    """The value at a path of keys, None where any block on the way is missing or null (an error record has few)."""
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _pair(value) -> tuple | None:
    return tuple(value) if value else None


@_figure
def latency_samples_ms(record: dict) -> tuple[float, ...]:
    """Every measured latency; empty, not None, where none was measured (the one figure that is a collection)."""
    return tuple(_get(record, "latency", "samples_ms") or ())


@_figure
def latency_median_ms(record: dict) -> float | None:
    return _get(record, "latency", "stats", "median_ms")


@_figure
def latency_median_ci95_ms(record: dict) -> tuple[float, float] | None:
    """The bootstrap 95% interval of the median, (low, high)."""
    return _pair(_get(record, "latency", "stats", "median_ci95_ms"))


@_figure
def latency_p90_ms(record: dict) -> float | None:
    return _get(record, "latency", "stats", "p90_ms")


@_figure
def latency_cv(record: dict) -> float | None:
    return _get(record, "latency", "stats", "cv")


@_figure
def latency_robust_cv(record: dict) -> float | None:
    """The CV that the unstable flag is judged on (1.4826 x MAD / median)."""
    return _get(record, "latency", "stats", "robust_cv")


@_figure
def latency_unstable(record: dict) -> bool | None:
    return _get(record, "latency", "stats", "unstable")


@_figure
def load_ms(record: dict) -> float | None:
    return _get(record, "runner", "load_ms")


@_figure
def first_inference_ms(record: dict) -> float | None:
    """The first inference after the cold load (caches, lazy initialisation), apart from the steady median."""
    return _get(record, "runner", "first_inference_ms")


@_figure
def warm_load_ms(record: dict) -> float | None:
    """The second load of the artifact in the same process, after the timed phase (files and libraries cached)."""
    return _get(record, "runner", "warm_load_ms")


@_figure
def artifact_size_mb(record: dict) -> float | None:
    size_bytes = _get(record, "artifact", "size_bytes")
    return None if size_bytes is None else size_bytes / 2**20


@_figure
def cpu_device_pct(record: dict) -> float | None:
    return _get(record, "cpu", "cpu_device_pct")


@_figure
def cpu_core_pct(record: dict) -> float | None:
    return _get(record, "cpu", "cpu_core_pct")


@_figure
def cpu_ms_per_inference(record: dict) -> float | None:
    """CPU time per inference in the measured window: unlike a CPU share, it does not move with the thread count.
    The CPU is sampled in the first round only (run --rounds), so it is divided by that round's inferences."""
    rounds = _get(record, "latency", "rounds")
    inferences = rounds[0]["count"] if rounds else len(latency_samples_ms(record))
    seconds = _get(record, "cpu", "cpu_seconds")
    if seconds is None or not inferences:
        return None
    return 1e3 * seconds / inferences


@_figure
def threads_in_force(record: dict) -> int | str:
    """The thread count the runtime reported, else the configured one; "default" where neither says (the job's 0
    means the runtime's default), so never None."""
    threads = _get(record, "runner", "runtime", "threads") or _get(record, "config", "threads") or "default"
    # JSON Schema's "integer" admits 1.0, and another writer of records (a phone's JSON library) may write one.
    return int(threads) if isinstance(threads, float) else threads


@_figure
def memory_model_mb(record: dict) -> float | None:
    """The model's own memory: the rise over the runner's reading before the load. Private memory (USS) where it is
    sampled (the host), since PSS there also moves when other processes map or unmap the same torch libraries;
    else (phones, dumpsys meminfo) the PSS rise."""
    uss = _get(record, "memory", "uss_delta_mb")
    return uss if uss is not None else _get(record, "memory", "pss_delta_mb")


@_figure
def memory_pss_peak_mb(record: dict) -> float | None:
    return _get(record, "memory", "pss_peak_mb")


@_figure
def memory_rss_peak_mb(record: dict) -> float | None:
    return _get(record, "memory", "rss_peak_mb")


@_figure
def energy_per_inference_mj(record: dict) -> float | None:
    return _get(record, "energy", "energy_per_inference_mj")


@_figure
def energy_method(record: dict) -> str | None:
    """How the energy was measured or estimated (power model, RAPL, rails); two methods' figures do not compare."""
    return _get(record, "energy", "method")


@_figure
def energy_class(record: dict) -> str | None:
    """Light / Medium / Heavy, the paper's energy column, by the device profile's thresholds."""
    return _get(record, "energy", "energy_class")


@_figure
def accuracy(record: dict) -> float | None:
    return _get(record, "accuracy", "accuracy")


@_figure
def accuracy_ci95(record: dict) -> tuple[float, float] | None:
    """The bootstrap 95% interval of the accuracy, (low, high); records scored without intervals have none."""
    return _pair(_get(record, "accuracy", "ci95", "accuracy"))


@_figure
def auroc_covid_vs_rest(record: dict) -> float | None:
    return _get(record, "accuracy", "auroc", "covid_vs_rest")


@_figure
def parity_argmax_agreement(record: dict) -> float | None:
    """The share of images where the artifact's top class matched the eager network's."""
    return _get(record, "accuracy", "parity", "argmax_agreement")


@_figure
def threads_worked(record: dict) -> int | None:
    """How many of the runner's threads did at least 5 % of its CPU work in the timed window."""
    return _get(record, "placement", "threads_worked")


@_figure
def big_core_share(record: dict) -> float | None:
    """The share of the runner's CPU time off the slowest (little) cluster; None on a device with one kind of core."""
    return _get(record, "placement", "big_core_share")


@_figure
def clock_fraction(record: dict) -> float | None:
    """The clusters' mean clock over the timed window as a fraction of their maximum, weighted by CPU time there."""
    return _get(record, "placement", "clock_fraction")


@_figure
def sustained_slowdown(record: dict) -> float | None:
    """A sustained run's median latency over its last tenth of time against its first tenth (> 1: throttled)."""
    return _get(record, "sustained", "slowdown")


@_figure
def throttling_began_s(record: dict) -> float | None:
    """Seconds into a sustained run when the thermal status rose above 0 or a clock was capped; None if never."""
    return _get(record, "sustained", "throttling_began_s")


@_figure
def efficiency(record: dict) -> float | None:
    """The network's achieved MAC/s over the device's peak at its precision and threads (a .pte run; else None)."""
    return _get(record, "efficiency", "efficiency")


@_figure
def latency_floor_ms(record: dict) -> float | None:
    """The latency the network's MACs would take at the device's peak MAC/s."""
    return _get(record, "efficiency", "latency_floor_ms")


@_figure
def x_floor(record: dict) -> float | None:
    """The median latency as a multiple of that floor (1 / efficiency)."""
    return _get(record, "efficiency", "x_floor")


@_figure
def peak_macs_per_s(record: dict) -> float | None:
    """The device's peak MAC/s, measured by the calibration program at the run's precision and threads."""
    return _get(record, "efficiency", "peak_macs_per_s")


@dataclass(frozen=True)
class RecordFigures:
    """Every figure of one record, None where the record has none (latency samples: empty)."""

    latency_samples_ms: tuple[float, ...]
    latency_median_ms: float | None
    latency_median_ci95_ms: tuple[float, float] | None
    latency_p90_ms: float | None
    latency_cv: float | None
    latency_robust_cv: float | None
    latency_unstable: bool | None
    load_ms: float | None
    first_inference_ms: float | None
    warm_load_ms: float | None
    artifact_size_mb: float | None
    cpu_device_pct: float | None
    cpu_core_pct: float | None
    cpu_ms_per_inference: float | None
    threads_in_force: int | str
    memory_model_mb: float | None
    memory_pss_peak_mb: float | None
    memory_rss_peak_mb: float | None
    energy_per_inference_mj: float | None
    energy_method: str | None
    energy_class: str | None
    accuracy: float | None
    accuracy_ci95: tuple[float, float] | None
    auroc_covid_vs_rest: float | None
    parity_argmax_agreement: float | None
    threads_worked: int | None
    big_core_share: float | None
    clock_fraction: float | None
    sustained_slowdown: float | None
    throttling_began_s: float | None
    efficiency: float | None
    latency_floor_ms: float | None
    x_floor: float | None
    peak_macs_per_s: float | None


def record_figures(record: dict) -> RecordFigures:
    # A reader without its field (or a field without its reader) fails here, on the first record read.
    return RecordFigures(**{name: read(record) for name, read in READERS.items()})
