"""The runner app's runtime versions, read from the one place they are declared: android_runner/gradle.properties."""

from __future__ import annotations

from functools import lru_cache

from cmx_bench import paths
from cmx_bench.errors import CmxError

# gradle.properties key -> the runtime name used in jobs, results and manifests
PIN_KEYS = {"executorchAndroidVersion": "executorch", "pytorchLiteVersion": "pytorch_lite"}


def parse_gradle_properties(text: str) -> dict[str, str]:
    """key=value lines; '#' and '!' comments and blank lines skipped (the subset Gradle projects use)."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#!" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


@lru_cache(maxsize=None)
def pinned_runtimes() -> dict[str, str]:
    """{'executorch': '1.5.1', 'pytorch_lite': '1.13.1'}: the runtimes the runner app is built with."""
    path = paths.project_root() / "android_runner" / "gradle.properties"
    try:
        values = parse_gradle_properties(path.read_text())
    except OSError as exc:
        raise CmxError(f"cannot read the runtime pins in {path} ({exc.strerror}); restore it from the checkout") from exc
    missing = [key for key in PIN_KEYS if key not in values]
    if missing:
        raise CmxError(f"{path} lacks {', '.join(missing)}; restore it from the checkout")
    return {runtime: values[key] for key, runtime in PIN_KEYS.items()}

