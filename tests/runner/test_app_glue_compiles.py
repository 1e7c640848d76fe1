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


JUNIT = "/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar"


@pytest.mark.skipif(JAVAC is None or not Path("/usr/share/java/junit4.jar").is_file(),
                    reason="the JDK and JUnit 4 are installed by .ci/run (default-jdk-headless, junit4)")
def test_the_apps_glue_hands_the_jobs_threads_to_each_runtime(tmp_path):
    """AppRuntimesTest runs the app's own Runtimes against stand-ins that record what they were handed: the job's
    threads, and one direct input buffer per model, refilled on every call."""
    folders = (ROOT / "tests/fixtures/android_api_stubs", ROOT / "android_runner/core/src/main/java",
               ROOT / "android_runner/app/src/main/java", ROOT / "tests/fixtures/android_glue_tests")
    sources = [str(p) for folder in folders for p in folder.rglob("*.java")]
    built = subprocess.run([JAVAC, "-d", str(tmp_path), "-cp", JUNIT, *sources], capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    ran = subprocess.run(["java", "-cp", f"{tmp_path}:{JUNIT}", "org.junit.runner.JUnitCore",
                          "org.cmxbench.runner.AppRuntimesTest"], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0 and "OK (4 tests)" in ran.stdout, ran.stdout[-3000:]
