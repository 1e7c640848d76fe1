"""The adb sync service (STAT, LIST, SEND, RECV, QUIT) over a virtual phone's file system."""

from __future__ import annotations

import os
import stat as stat_module
import struct
import time

from cmx_bench.devices.virtual.server import Stream

SYNC_DATA_MAX = 64 * 1024


class StreamReader:
    """Sync requests arrive split or merged across WRTE payloads, so bytes are buffered per stream."""

    def __init__(self, stream: Stream):
        self.stream, self.buffer = stream, bytearray()

    def read_exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self.buffer += self.stream.read()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def request(self) -> tuple[bytes, int]:
        header = self.read_exact(8)
        return header[:4], struct.unpack("<I", header[4:])[0]


def _fail(message: str) -> bytes:
    data = message.encode()
    return b"FAIL" + struct.pack("<I", len(data)) + data


def _stat_reply(path) -> bytes:
    try:
        info = os.stat(path)
        return b"STAT" + struct.pack("<III", info.st_mode, info.st_size & 0xFFFFFFFF, int(info.st_mtime))
    except OSError:
        return b"STAT" + struct.pack("<III", 0, 0, 0)


def serve_sync(stream: Stream, phone) -> None:
    reader = StreamReader(stream)
    while True:
        request, length = reader.request()
        if request == b"QUIT":
            return
        argument = reader.read_exact(length).decode(errors="replace")
        if request == b"STAT":
            stream.write(_stat_reply(phone.fs_path(argument)))
        elif request == b"LIST":
            stream.write(_list_reply(phone.fs_path(argument)))
        elif request == b"RECV":
            _send_file_to_host(stream, phone.fs_path(argument))
        elif request == b"SEND":
            _receive_file_from_host(stream, reader, phone, argument)
        else:
            stream.write(_fail(f"unknown sync request {request!r}"))
            return


def _list_reply(folder) -> bytes:
    out = bytearray()
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        names = []
    for name in [".", ".."] + names:
        try:
            info = os.stat(os.path.join(folder, name))
        except OSError:
            continue
        encoded = name.encode()
        out += b"DENT" + struct.pack("<IIII", info.st_mode, info.st_size & 0xFFFFFFFF, int(info.st_mtime),
                                     len(encoded)) + encoded
    return bytes(out + b"DONE" + struct.pack("<IIII", 0, 0, 0, 0))


def _send_file_to_host(stream: Stream, path) -> None:
    try:
        handle = open(path, "rb")
    except OSError as exc:
        stream.write(_fail(f"remote object '{path.name}' does not exist ({exc.strerror})"))
        return
    with handle:
        while chunk := handle.read(SYNC_DATA_MAX):
            stream.write(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
    stream.write(b"DONE" + struct.pack("<I", 0))


def _receive_file_from_host(stream: Stream, reader: StreamReader, phone, argument: str) -> None:
    device_path, _, mode_text = argument.rpartition(",")
    mode = int(mode_text) if mode_text.isdigit() else 0o644
    target = phone.fs_path(device_path)
    temporary = target.with_name(f".{target.name}.sync-tmp")
    error = None
    written = 0
    started = time.monotonic()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = open(temporary, "wb")
    except OSError as exc:
        handle, error = None, f"couldn't create file: {exc.strerror}"
    try:
        while True:
            request, length = reader.request()
            if request == b"DONE":
                mtime = length
                break
            if request != b"DATA":
                error = error or f"expected DATA or DONE, got {request!r}"
                break
            data = reader.read_exact(length)
            written += len(data)
            if error is None and not phone.storage_allows(written):
                error = "write failed: No space left on device"
            if error is None and handle is not None:
                handle.write(data)
            phone.throttle_transfer(written, started)
    finally:
        if handle is not None:
            handle.close()
    if error is None:
        os.replace(temporary, target)
        os.chmod(target, stat_module.S_IMODE(mode) or 0o644)
        os.utime(target, (mtime, mtime))
        phone.storage_used(written)
        stream.write(b"OKAY" + struct.pack("<I", 0))
    else:
        temporary.unlink(missing_ok=True)
        stream.write(_fail(error))
