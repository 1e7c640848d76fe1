"""adb transport messages: the 24-byte header, commands and the CNXN banner (DESIGN.md section 5)."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

A_CNXN, A_OPEN, A_OKAY = 0x4E584E43, 0x4E45504F, 0x59414B4F
A_CLSE, A_WRTE, A_AUTH, A_STLS = 0x45534C43, 0x45545257, 0x48545541, 0x534C5453
A_VERSION = 0x01000001  # from this version on the payload checksum is not checked, so it is sent as 0
MAX_PAYLOAD = 256 * 1024
HEADER = struct.Struct("<6I")


@dataclass
class Message:
    command: int
    arg0: int
    arg1: int
    data: bytes = b""


def pack(message: Message) -> bytes:
    data = message.data
    return HEADER.pack(message.command, message.arg0, message.arg1, len(data), 0,
                       message.command ^ 0xFFFFFFFF) + data


def _read_exact(sock: socket.socket, size: int) -> bytes:
    chunks, missing = [], size
    while missing:
        chunk = sock.recv(missing)
        if not chunk:
            raise ConnectionError("adb host closed the connection")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def read_message(sock: socket.socket) -> Message:
    command, arg0, arg1, length, _check, magic = HEADER.unpack(_read_exact(sock, HEADER.size))
    if magic != command ^ 0xFFFFFFFF:
        raise ConnectionError(f"bad adb message magic for command {command:#x}")
    if length > 16 * MAX_PAYLOAD:
        raise ConnectionError(f"adb message payload of {length} bytes is too large")
    return Message(command, arg0, arg1, _read_exact(sock, length) if length else b"")


def device_banner(properties: dict[str, str], features: list[str]) -> bytes:
    """The device's CNXN payload; ':' and ';' would end a field early, so they are dropped from values."""
    fields = "".join(f"{key}={str(value).replace(':', '').replace(';', '')};" for key, value in properties.items())
    return f"device::{fields}features={','.join(features)}".encode()
