"""The adb server and one phone's transport: quoted shell commands, 64 KiB sync pushes, errors as one line."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import stat
import struct
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import adbutils
from adbutils.errors import AdbError

from cmx_bench.errors import DeviceError

SYNC_CHUNK = 64 * 1024  # adb's own push uses 64 KiB DATA chunks; adbutils' 4 KiB ones run at half the speed
ADB_FAILURES = (AdbError, OSError, EOFError)  # AdbError covers AdbTimeout; OSError a reset or timed-out socket
RERUN_ADVICE = "reconnect it and run again: finished runs are kept"


class DeviceDisconnected(DeviceError):
    """The phone went away (cable, Wi-Fi, adb server) in the middle of something."""


def failure_cause(exc: BaseException) -> str:
    """The failure in a few words on one line; a bare EOFError or socket timeout has no text, so its type stands in."""
    return " ".join(str(exc).split()) or type(exc).__name__


@contextmanager
def adb_failures_as(error: type[DeviceError], what_happened: str, advice: str) -> Iterator[None]:
    """The one place an adb or socket failure becomes a project error, so every call site reads the same way."""
    try:
        yield
    except ADB_FAILURES as exc:
        raise error(f"{what_happened} ({failure_cause(exc)}); {advice}") from exc


def disconnect_reported(serial: str, when: str = "") -> AbstractContextManager[None]:
    """A phone lost mid-operation: its serial, what it was doing ("while pulling x"), and that earlier runs are kept."""
    what_happened = f"device {serial} disconnected" + (f" {when}" if when else "")
    return adb_failures_as(DeviceDisconnected, what_happened, RERUN_ADVICE)


def server_address() -> tuple[str, int]:
    """Where the adb server listens; ANDROID_ADB_SERVER_HOST / PORT point at a remote device lab."""
    host = os.environ.get("ANDROID_ADB_SERVER_HOST") or "127.0.0.1"
    port = os.environ.get("ANDROID_ADB_SERVER_PORT") or "5037"
    if not port.isdigit():
        raise DeviceError(f"ANDROID_ADB_SERVER_PORT='{port}' is not a port number; unset it or give a number")
    return host, int(port)


def adb_binary() -> str | None:
    configured = os.environ.get("ADB")
    return configured if configured and Path(configured).is_file() else shutil.which("adb")


def adb_client() -> adbutils.AdbClient:
    """A client for a running adb server; never starts one (adbutils would, with its own bundled adb)."""
    host, port = server_address()
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError:
        if host in ("127.0.0.1", "localhost") and adb_binary() is None:
            raise DeviceError(f"adb not found on PATH and no adb server answers at {host}:{port}; install "
                              "Android platform-tools (Debian: apt-get install adb) or set ADB=/path/to/adb")
        raise DeviceError(f"no adb server is running at {host}:{port}; start it with 'adb start-server' "
                          "(then 'adb connect HOST:PORT' for network devices) or set ANDROID_ADB_SERVER_HOST/PORT")
    return adbutils.AdbClient(host=host, port=port, socket_timeout=30)


def attached_serials(client: adbutils.AdbClient) -> list[str]:
    with adb_failures_as(DeviceError, "the adb server did not list devices", "restart it with 'adb kill-server'"):
        return [device.serial for device in client.device_list()]


class PhoneLink:
    """One phone: every command is a list of words joined with shlex quoting, so names cannot break out."""

    def __init__(self, client: adbutils.AdbClient, serial: str):
        self.client, self.serial = client, serial
        self.device = client.device(serial)
        with adb_failures_as(DeviceDisconnected, f"device {serial} does not answer", "check 'adb devices'"):
            self.v2 = "shell_v2" in self.device.get_features()

    def shell(self, words: list[str], check: bool = True, timeout: float = 60.0) -> str:
        line = shlex.join(str(word) for word in words)
        with disconnect_reported(self.serial, when=f"during '{words[0]}'"):
            result = self.device.shell2(line, timeout=timeout, v2=self.v2)
        if check and result.returncode != 0:
            first = (result.output.strip().splitlines() or ["no output"])[0][:160]
            raise DeviceError(f"'{' '.join(map(str, words[:3]))}' failed on {self.serial} (exit {result.returncode}): {first}")
        return result.output

    def push(self, local: Path, remote: str, mode: int = 0o644) -> float:
        """Push one file with adb sync (64 KiB chunks); returns the seconds it took."""
        started = time.perf_counter()
        with disconnect_reported(self.serial, when=f"while pushing {local.name}"):
            with self.device.open_transport(timeout=None) as connection:
                connection.send_command("sync:")
                connection.check_okay()
                target = f"{remote},{stat.S_IFREG | mode}".encode()
                sock = connection.conn
                sock.sendall(b"SEND" + struct.pack("<I", len(target)) + target)
                with open(local, "rb") as handle:
                    while chunk := handle.read(SYNC_CHUNK):
                        sock.sendall(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
                sock.sendall(b"DONE" + struct.pack("<I", int(time.time())))
                reply = connection.read_string(4)
                if reply != "OKAY":
                    length = struct.unpack("<I", connection.read(4))[0]
                    message = connection.read_string(length) if length else reply
                    raise DeviceError(f"push of {local.name} to {self.serial}:{remote} failed: {message}")
                connection.read(4)
        return time.perf_counter() - started

    def pull(self, remote: str, local: Path) -> Path:
        """Copy a phone file to the host with adb sync (RECV)."""
        with disconnect_reported(self.serial, when=f"while pulling {remote}"):
            self.device.sync.pull(remote, str(local))
        return Path(local)

    def read_bytes(self, words: list[str]) -> bytes | None:
        """Binary output of a command (a file read with run-as cat); None when the command fails."""
        with disconnect_reported(self.serial):
            result = self.device.shell2(shlex.join(words), timeout=120, encoding=None, v2=self.v2)
        return bytes(result.output) if result.returncode == 0 else None

    def read_text(self, words: list[str]) -> str | None:
        """Output of a command that may fail (a file that is not there yet): None then."""
        with disconnect_reported(self.serial):
            result = self.device.shell2(shlex.join(words), timeout=30, v2=self.v2)
        return result.output if result.returncode == 0 else None
