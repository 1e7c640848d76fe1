"""The engine: accelerators and precisions the machine lacks are one line; CPU autocast and single-rank helpers."""

import io

import pytest
import torch

from cmx_bench.errors import CmxError
from cmx_bench.train.engine import Engine, resolve_device, start_engine


def test_auto_falls_back_to_the_cpu_here():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert resolve_device("auto").type in ("cpu", "mps")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("accelerator", ["cuda", "tpu"])
def test_missing_or_unknown_accelerator_is_refused(accelerator):
    if accelerator == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(CmxError) as caught:
        start_engine(accelerator)
    assert accelerator in str(caught.value) and "\n" not in str(caught.value)


def test_fp16_on_cpu_and_sync_bn_on_cpu_are_refused():
    with pytest.raises(CmxError, match="bf16"):
        start_engine("cpu", "fp16")
    with pytest.raises(CmxError, match="SyncBatchNorm"):
        start_engine("cpu", sync_bn=True)


def test_bf16_autocast_on_cpu_computes_in_bf16_and_records_it():
    engine = start_engine("cpu", "bf16")
    layer = torch.nn.Linear(4, 2)
    with engine.autocast():
        out = layer(torch.randn(3, 4))
    assert out.dtype == torch.bfloat16
    facts = engine.facts()
    assert {k: facts[k] for k in ("accelerator", "device_name", "precision", "world_size", "backend")} == {
        "accelerator": "cpu", "device_name": "cpu", "precision": "bf16", "world_size": 1, "backend": None}
    # What decides whether the same seed gives the same weights elsewhere:
    assert facts["versions"]["torch"] == torch.__version__ and set(facts["versions"]) == {"torch", "torchvision",
                                                                                          "numpy", "pillow"}
    assert facts["threads"] == torch.get_num_threads()
    assert facts["cpu_kernels"] == torch.backends.cpu.get_cpu_capability() and facts["cpu"]
    # Checkpoints carry these facts, and untrusted checkpoints load with weights_only=True.
    saved = io.BytesIO()
    torch.save({"engine": facts}, saved)
    saved.seek(0)
    assert torch.load(saved, weights_only=True) == {"engine": facts}
    assert not engine.grad_scaler().is_enabled()


def test_single_rank_collectives_are_identities():
    engine = Engine(torch.device("cpu"))
    assert engine.sum_across_ranks(2.0, 3.0) == [2.0, 3.0]
    assert engine.gather_across_ranks("x") == ["x"] and engine.is_main and not engine.distributed


def test_unknown_recipe_choices_are_one_line(cli, tmp_path):
    for option, value in (("--optimizer", "sgd"), ("--schedule", "step"), ("--bn-refresh", "always"),
                          ("--augment", "heavy")):
        code, _, err = cli("train", "rf", "--data", tmp_path, "--preset", "tiny", option, value)
        assert code == 1 and f"'{value}'" in err and len(err.strip().splitlines()) == 1, err


def test_a_global_batch_that_does_not_divide_over_the_ranks_is_refused():
    from cmx_bench.train.loops import train_loader
    from cmx_bench.train.presets import preset

    engine = Engine(torch.device("cpu"), world_size=3)
    with pytest.raises(CmxError, match="multiple of 3"):
        train_loader(list(range(10)), preset("tiny", batch_size=16), engine, 1, 0)
