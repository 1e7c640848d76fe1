"""Stand-in runner APKs for the virtual phone: a zip whose manifest entry names the package and version."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

STANDIN_ENTRY = "cmx-virtual-apk.json"


def write_standin_apk(path: Path, package: str, version_code: int, version_name: str) -> Path:
    """What `pm install` on the virtual phone accepts in place of a real APK (there is no Android SDK here)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(STANDIN_ENTRY, json.dumps({"package": package, "versionCode": version_code,
                                                    "versionName": version_name}))
    return path


def read_standin_apk(path: Path) -> dict | None:
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(STANDIN_ENTRY))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
