"""Stand-in runner APKs for the virtual phone: a zip whose manifest entry names the package and version."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

STANDIN_ENTRY = "cmx-virtual-apk.json"


def write_standin_apk(path: Path, package: str, version_code: int, version_name: str) -> Path:
    """What `pm install` on the virtual phone accepts in place of a real APK (there is no Android SDK here),
    with the output-metadata.json that Gradle writes beside a built APK, where the backend reads the version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(STANDIN_ENTRY, json.dumps({"package": package, "versionCode": version_code,
                                                    "versionName": version_name}))
    (path.parent / "output-metadata.json").write_text(json.dumps({
        "version": 3, "applicationId": package, "elements": [
            {"type": "SINGLE", "versionCode": version_code, "versionName": version_name, "outputFile": path.name}]}))
    return path


def read_standin_apk(path: Path) -> dict | None:
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(STANDIN_ENTRY))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
