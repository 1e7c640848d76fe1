"""The Android app's glue compiles with the core against stand-ins of the Android and runtime APIs it calls."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JAVAC = shutil.which("javac")


@pytest.mark.skipif(JAVAC is None, reason="the JDK is installed by .ci/run (default-jdk-headless)")
def test_app_sources_compile_against_the_documented_apis(tmp_path):
    sources = [str(p) for folder in (ROOT / "tests/fixtures/android_api_stubs", ROOT / "android_runner/core/src/main/java",
                                     ROOT / "android_runner/app/src/main/java") for p in folder.rglob("*.java")]
    assert any(p.endswith("BenchActivity.java") for p in sources)
    done = subprocess.run([JAVAC, "-Xlint:all", "-Werror", "-d", str(tmp_path), *sources], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "org/cmxbench/runner/BenchActivity.class").is_file()
