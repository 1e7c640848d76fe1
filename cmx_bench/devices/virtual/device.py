"""Put a virtual phone behind the adb device server: shell (v1, v2), exec and sync services, the drop fault."""

from __future__ import annotations

import struct
import threading
from pathlib import Path

from cmx_bench.devices.virtual.adb_wire import device_banner
from cmx_bench.devices.virtual.phone import Faults, VirtualPhone
from cmx_bench.devices.virtual.server import AdbDeviceServer, Stream
from cmx_bench.devices.virtual.sync_service import serve_sync

FEATURES = ["shell_v2"]  # no stat_v2, cmd or delayed_ack: adb then uses the services implemented here


def _shell_v2_packet(kind: int, data: bytes) -> bytes:
    return bytes([kind]) + struct.pack("<I", len(data)) + data


class VirtualDevice:
    """`start()` listens on 127.0.0.1:port; `adb connect 127.0.0.1:port` then lists the phone."""

    def __init__(self, profile: dict, port: int, state_dir: Path, faults: Faults | None = None,
                 runtimes: dict[str, str] | None = None, profiling: bool = True):
        self.phone = VirtualPhone(profile, state_dir, serial=f"virtual-{profile['name']}-{port}", faults=faults,
                                  runtimes=runtimes, profiling=profiling)
        self.server = AdbDeviceServer(port, device_banner(self._banner_properties(), FEATURES), self._open)
        self.phone.on_runner_start = self._runner_started
        self._drop_timer: threading.Timer | None = None
        self._runner_starts = 0

    def _banner_properties(self) -> dict:
        props = self.phone.properties()
        return {key: props[key] for key in ("ro.product.name", "ro.product.model", "ro.product.device")}

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> "VirtualDevice":
        self.server.start()
        return self

    def stop(self) -> None:
        if self._drop_timer:
            self._drop_timer.cancel()
        self.server.stop()
        self.phone.stop()

    def _runner_started(self) -> None:
        faults = self.phone.faults
        self._runner_starts += 1
        if faults.drop_after_s is not None and self._runner_starts == faults.drop_on_run:
            self._drop_timer = threading.Timer(faults.drop_after_s, self.server.drop, args=(faults.offline_for_s,))
            self._drop_timer.daemon = True
            self._drop_timer.start()

    def _open(self, service: str):
        if service.startswith("shell"):
            options, _, command = service.partition(":")
            v2 = "v2" in options.split(",")[1:]
            return lambda stream: self._shell(stream, command, v2)
        if service.startswith("exec:"):
            return lambda stream: self._exec(stream, service[len("exec:"):])
        if service == "sync:":
            return lambda stream: serve_sync(stream, self.phone)
        return None

    def _shell(self, stream: Stream, command: str, v2: bool) -> None:
        if not command.strip():
            message = b"the virtual phone has no interactive shell; pass a command\n"
            stream.write(_shell_v2_packet(2, message) + _shell_v2_packet(3, b"\x01") if v2 else message)
            return
        outcome = self.phone.run_shell(command)
        if v2:
            packets = b""
            if outcome.stdout:
                packets += _shell_v2_packet(1, outcome.stdout)
            if outcome.stderr:
                packets += _shell_v2_packet(2, outcome.stderr)
            stream.write(packets + _shell_v2_packet(3, bytes([outcome.code & 0xFF])))
        else:
            stream.write(outcome.combined)  # v1 has one pty-like stream and no exit code

    def _exec(self, stream: Stream, command: str) -> None:
        stream.write(self.phone.run_shell(command).stdout)
