"""`python -m cmx_bench` runs the same command line as the `cmx-bench` script."""

import subprocess
import sys


def test_python_dash_m_lists_the_models():
    done = subprocess.run([sys.executable, "-m", "cmx_bench", "models"], capture_output=True, text=True, timeout=120,
                          env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert "shufflenet_v2_x1_0" in done.stdout and "densenet121" in done.stdout.lower()


def test_python_dash_m_exits_2_on_a_usage_error():
    done = subprocess.run([sys.executable, "-m", "cmx_bench", "run", "--no-such-option"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "--no-such-option" in done.stderr
