"""Push speed of cmx-bench's artifact push against `adb push`, same file, same virtual phone, same adb server.

Run: python benchmarks/adb_push.py [--mb 20 --rounds 7]

Starts a private adb server and a virtual Pixel 2, `adb connect`s it, then alternates `adb push` (the Debian
client, timed as a whole process) and cmx-bench's PhoneLink.push (64 KiB sync chunks) of one random file, and
adbutils' own sync.push (4 KiB chunks) for reference. Prints medians and one JSON line; the target is a
cmx-bench / adb speed ratio of at least 0.5.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from cmx_bench.devices.android.adb_link import PhoneLink, adb_client
from cmx_bench.devices.virtual.launch import adb_connect, start_virtual_device


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if shutil.which("adb") is None:
        raise SystemExit("adb is not installed (Debian: apt-get install adb)")
    server_port = free_port()
    os.environ["ANDROID_ADB_SERVER_PORT"] = str(server_port)
    subprocess.run(["adb", "-P", str(server_port), "start-server"], check=True, capture_output=True)
    work = Path(tempfile.mkdtemp(prefix="cmx-push-bench-"))
    phone = start_virtual_device("pixel2", 0, work / "phone")
    try:
        adb_connect(phone.port)
        serial = f"127.0.0.1:{phone.port}"
        blob = work / "artifact.bin"
        blob.write_bytes(os.urandom(int(args.mb * 2**20)))
        link = PhoneLink(adb_client(), serial)
        times = {"adb push": [], "cmx-bench push": [], "adbutils sync.push": []}
        for round_index in range(args.rounds):
            order = list(times) if round_index % 2 == 0 else list(reversed(times))  # no position bias
            for name in order:
                target = f"/data/local/tmp/{name.replace(' ', '_')}.bin"
                tic = time.perf_counter()
                if name == "adb push":
                    subprocess.run(["adb", "-P", str(server_port), "-s", serial, "push", str(blob), target],
                                   check=True, capture_output=True)
                elif name == "cmx-bench push":
                    link.push(blob, target)
                else:
                    link.device.sync.push(str(blob), target)
                times[name].append(time.perf_counter() - tic)
        size_mb = blob.stat().st_size / 2**20
        speeds = {name: size_mb / statistics.median(values) for name, values in times.items()}
        for name, speed in speeds.items():
            print(f"{name:20s} median {statistics.median(times[name]) * 1e3:7.1f} ms  {speed:7.1f} MB/s")
        ratio = speeds["cmx-bench push"] / speeds["adb push"]
        print(f"cmx-bench / adb push speed: {ratio:.2f} (target >= 0.5: {'met' if ratio >= 0.5 else 'missed'})")
        print(json.dumps({"benchmark": "adb_push", "size_mb": size_mb, "rounds": args.rounds,
                          "median_s": {k: statistics.median(v) for k, v in times.items()},
                          "speed_mb_s": speeds, "ratio_cmx_over_adb": ratio}))
    finally:
        phone.stop()
        subprocess.run(["adb", "-P", str(server_port), "kill-server"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
