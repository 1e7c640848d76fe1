"""Data-parallel training on the CPU (gloo): DDP's averaged gradient is the single-process one for the same global
batch, and `torchrun -m cmx_bench train` on 2 ranks writes one checkpoint and one history, from rank 0 only."""

import json
import os
import socket
import subprocess
import sys

import torch
import torch.multiprocessing as mp

from cmx_bench.data.phantoms import write_phantom_folder
from cmx_bench.nets.registry import build_model, get_card
from cmx_bench.train.engine import Engine, start_engine, stop_engine
from cmx_bench.train.loops import classification_batch_loss, compute_gradients
from cmx_bench.train.presets import preset

GLOBAL_BATCH = 8


def _network():
    torch.manual_seed(21)
    model = build_model(get_card("squeezenet1_1")).train()
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0  # dropout masks differ per process; the gradients compared must not depend on them
    return model


def _batch():
    generator = torch.Generator().manual_seed(4)
    return torch.randn(GLOBAL_BATCH, 3, 64, 64, generator=generator), torch.arange(GLOBAL_BATCH) % 3


def _gradients(model) -> dict:
    return {name: p.grad.detach().clone() for name, p in model.named_parameters()}


def _rank(rank: int, world_size: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    engine = start_engine("cpu")
    model = engine.prepare(_network())
    x, y = _batch()
    share = GLOBAL_BATCH // world_size
    mine = slice(rank * share, (rank + 1) * share)
    compute_gradients(model, x[mine], y[mine], classification_batch_loss(preset("tiny")), engine,
                      engine.grad_scaler())
    if engine.is_main:
        torch.save(_gradients(model.module), out)
    del model  # the DDP wrapper holds the process group; it goes before the group does
    stop_engine(engine)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ddp_gradient_over_2_ranks_equals_the_single_process_gradient(tmp_path):
    out = tmp_path / "rank0-grads.pt"
    mp.spawn(_rank, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    distributed = torch.load(out, weights_only=True)

    engine = Engine(torch.device("cpu"))
    model = _network()
    x, y = _batch()
    compute_gradients(model, x, y, classification_batch_loss(preset("tiny")), engine, engine.grad_scaler())
    single = _gradients(model)
    assert distributed.keys() == single.keys() and len(single) == 52
    for name, grad in single.items():
        assert grad.abs().sum() > 0, name
        torch.testing.assert_close(distributed[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_torchrun_two_ranks_writes_one_checkpoint_and_history_with_world_size_2(tmp_path):
    data = write_phantom_folder(tmp_path / "data", per_class=6, size=64, seed=3)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "cmx_bench",
         "train", "ms", "--model", "squeezenet1_1", "--data", str(data), "--preset", "tiny", "--epochs", "2",
         "--batch-size", "8", "--workers", "0", "--accelerator", "cpu", "--out", str(out)],
        capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["best.pth", "curves.png", "history.json", "last.pth",
                                                      "metrics.csv", "recipe.toml"]
    history = json.loads((out / "history.json").read_text())
    assert history["meta"]["engine"]["world_size"] == 2 and history["meta"]["engine"]["backend"] == "gloo"
    assert [row["epoch"] for row in history["history"]] == [1, 2]
    # Only rank 0 speaks: one summary line, and one line per epoch.
    assert result.stdout.count("best validation score") == 1 and result.stdout.count("epoch 2/2") == 1
    checkpoint = torch.load(out / "best.pth", weights_only=True)
    assert checkpoint["cmx_bench"]["engine"]["world_size"] == 2
    assert not any(key.startswith("module.") for key in checkpoint["state_dict"])
