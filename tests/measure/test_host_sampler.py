import subprocess
import sys
import time

from cmx_bench.measure.host_sampler import HostProcessSampler
from cmx_bench.measure.summary import cpu_figures

BUSY = "import time\nend = time.time() + 1.5\nx = 0\nwhile time.time() < end:\n    x += 1\nbuf = bytearray(64 << 20)\ntime.sleep(0.5)\n"


def test_samples_a_busy_child_process():
    child = subprocess.Popen([sys.executable, "-c", BUSY])
    sampler = HostProcessSampler(child.pid, period_s=0.05, pss_period_s=0.5).start()
    started = time.time()
    child.wait()
    series = sampler.stop()
    assert len(series["t"]) >= 10
    assert all(b >= a for a, b in zip(series["cpu_s"], series["cpu_s"][1:]))
    cpu = cpu_figures(series, started + 0.3, started + 1.3, ncpu=2)
    assert cpu["cpu_core_pct"] > 50  # a spinning loop: near 100 % of one core on an idle machine
    assert max(series["rss_mb"]) > 60  # the 64 MB buffer
    assert any(v is not None for v in series["pss_mb"])
    assert sampler.self_cpu_s >= 0
