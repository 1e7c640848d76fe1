"""`train --accelerator cuda` on a machine without CUDA: one line, exit 1, nothing written."""

import pytest
import torch

from cmx_bench.data.phantoms import write_phantom_folder


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_it_is_one_line_and_exit_1(cli, tmp_path):
    data = write_phantom_folder(tmp_path / "data", per_class=3, size=48, seed=4)
    code, out, err = cli("train", "rf", "--data", data, "--preset", "tiny", "--accelerator", "cuda",
                         "--out", tmp_path / "rf")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "--accelerator cuda" in err, err
    assert not (tmp_path / "rf").exists()
