"""The peak calibration program: one XNNPACK partition, its MACs in its manifest, cached; the efficiency arithmetic."""

import math
import statistics

import pytest

from cmx_bench.export import calibration
from cmx_bench.export.manifest import manifest_macs, verify_artifact
from cmx_bench.export.program_facts import pte_facts


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_the_calibration_program_is_one_partition_with_its_macs_in_the_manifest(precision):
    artifact = calibration.calibration_artifact(precision)
    facts = pte_facts(artifact)  # read from the program itself
    assert facts["delegate_calls"] == 1 and facts["portable_operators"] == []
    assert facts["planned_inputs"] == 0  # read in place, as the cmx lowering's networks read theirs
    manifest = verify_artifact(artifact)
    batch, channels, height, width = calibration.INPUT_SHAPE
    # 1x1 convolutions: one MAC per (output channel, input channel, pixel) each; the pool adds none.
    assert manifest_macs(manifest) == batch * channels * calibration.CHANNELS * height * width * calibration.DEPTH
    assert manifest["quantization"] == precision and manifest["format"] == calibration.FORMAT_OF_PRECISION[precision]
    assert manifest["role"] == "calibration"


def test_the_calibration_program_is_exported_once_and_then_read_from_the_cache():
    first = calibration.calibration_artifact("fp32")
    stamp = first.stat().st_mtime_ns
    again = calibration.calibration_artifact("fp32")
    assert again == first and again.stat().st_mtime_ns == stamp
    assert calibration.calibration_artifact("int8") != first


def test_a_damaged_cached_calibration_program_is_exported_again():
    artifact = calibration.calibration_artifact("fp32")
    artifact.write_bytes(artifact.read_bytes()[:-16])
    rebuilt = calibration.calibration_artifact("fp32")
    assert manifest_macs(verify_artifact(rebuilt)) > 0


def test_efficiency_is_achieved_over_peak_and_the_floor_is_the_macs_at_peak():
    peak = calibration.calibration_block({"sha256": "a" * 64, "complexity": {"macs": 4_000_000}}, [2.0, 1.0, 3.0],
                                         "fp32", 2)
    assert peak["median_ms"] == 2.0 and peak["peak_ms"] == 1.0 and peak["iterations"] == 3
    assert peak["peak_macs_per_s"] == 4_000_000 / 1e-3
    block = calibration.efficiency_block(1_000_000, 1.5, peak)
    assert block["achieved_macs_per_s"] == pytest.approx(1_000_000 / 1.5e-3)
    assert block["efficiency"] == pytest.approx(block["achieved_macs_per_s"] / block["peak_macs_per_s"])
    # At the peak the network would take a quarter of the calibration's fastest time: its MACs are a quarter.
    assert block["latency_floor_ms"] == pytest.approx(peak["peak_ms"] / 4)
    assert math.isclose(block["x_floor"] * block["efficiency"], 1.0)


def test_the_peak_is_the_fastest_quarter_so_a_burst_of_load_moves_it_little():
    quiet = [10.0 + 0.01 * i for i in range(20)]
    # Half of the inferences slowed 1.5x by another process: the median moves by a quarter, the peak not at all.
    loaded = quiet[:10] + [v * 1.5 for v in quiet[10:]]
    assert statistics.median(loaded) / statistics.median(quiet) > 1.2
    assert calibration.fastest_fraction_median(loaded) == calibration.fastest_fraction_median(quiet)
    assert calibration.fastest_fraction_median(quiet) == statistics.median(quiet[:5])
    assert calibration.fastest_fraction_median([4.0]) == 4.0


def test_the_calibration_input_is_one_tensor_of_the_program_shape(tmp_path):
    path = calibration.write_calibration_input(tmp_path)
    assert path.stat().st_size == 4 * math.prod(calibration.INPUT_SHAPE)
    assert calibration.write_calibration_input(tmp_path) == path
