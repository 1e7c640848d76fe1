"""The adb transport on a TCP socket: CNXN, OPEN/OKAY/WRTE/CLSE streams, each service in its own thread."""

from __future__ import annotations

import queue
import socket
import threading
import time
from typing import Callable

from cmx_bench.devices.virtual.adb_wire import (A_AUTH, A_CLSE, A_CNXN, A_OKAY, A_OPEN, A_STLS, A_VERSION, A_WRTE,
                                                MAX_PAYLOAD, Message, pack, read_message)

ACK_TIMEOUT_S = 60.0


class StreamClosed(Exception):
    """The host closed the stream or the connection went away."""


class Stream:
    """One adb stream: blocking reads of what the host wrote, writes that wait for the host's OKAY."""

    def __init__(self, connection: "Connection", local_id: int, remote_id: int):
        self.connection, self.local_id, self.remote_id = connection, local_id, remote_id
        self.incoming: queue.Queue = queue.Queue()
        self._acked = threading.Event()
        self._acked.set()
        self.closed = False

    def read(self) -> bytes:
        data = self.incoming.get()
        if data is None:
            self.incoming.put(None)  # later reads see the close too
            raise StreamClosed()
        return data

    def write(self, data: bytes) -> None:
        step = self.connection.max_payload
        for offset in range(0, len(data), step):
            # Each WRTE waits for the OKAY of the previous one; the host does not do delayed acks here.
            if not self._acked.wait(ACK_TIMEOUT_S) or self.closed:
                raise StreamClosed()
            self._acked.clear()
            self.connection.send(Message(A_WRTE, self.local_id, self.remote_id, data[offset:offset + step]))

    def acknowledged(self) -> None:
        self._acked.set()

    def remote_closed(self) -> None:
        self.closed = True
        self._acked.set()
        self.incoming.put(None)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.connection.send(Message(A_CLSE, self.local_id, self.remote_id))
            self.connection.forget(self.local_id)


# A service handler gets the stream and the text after the service name's prefix.
ServiceHandler = Callable[[Stream], None]


class Connection:
    """One TCP connection from the adb server; reads messages and routes them to streams."""

    def __init__(self, sock: socket.socket, banner: bytes, open_service: Callable[[str], ServiceHandler | None]):
        self.sock, self.banner, self.open_service = sock, banner, open_service
        self.max_payload = 4096
        self.streams: dict[int, Stream] = {}
        self._next_id = 1
        self._send_lock, self._streams_lock = threading.Lock(), threading.Lock()

    def send(self, message: Message) -> None:
        with self._send_lock:
            try:
                self.sock.sendall(pack(message))
            except OSError as exc:
                raise StreamClosed() from exc

    def forget(self, local_id: int) -> None:
        with self._streams_lock:
            self.streams.pop(local_id, None)

    def serve(self) -> None:
        try:
            while True:
                self._handle(read_message(self.sock))
        except (ConnectionError, OSError, StreamClosed):
            pass
        finally:
            with self._streams_lock:
                streams = list(self.streams.values())
            for stream in streams:
                stream.remote_closed()
            try:
                self.sock.close()
            except OSError:
                pass

    def _handle(self, message: Message) -> None:
        if message.command == A_CNXN:
            self.max_payload = max(4096, min(MAX_PAYLOAD, message.arg1))
            self.send(Message(A_CNXN, A_VERSION, MAX_PAYLOAD, self.banner))
        elif message.command == A_OPEN:
            service = message.data.rstrip(b"\0").decode(errors="replace")
            handler = self.open_service(service)
            if handler is None:
                self.send(Message(A_CLSE, 0, message.arg0))
                return
            with self._streams_lock:
                local_id, self._next_id = self._next_id, self._next_id + 1
                stream = self.streams[local_id] = Stream(self, local_id, message.arg0)
            self.send(Message(A_OKAY, local_id, message.arg0))
            threading.Thread(target=self._run_service, args=(handler, stream), daemon=True,
                             name=f"adb-service-{service[:20]}").start()
        elif message.command in (A_OKAY, A_WRTE, A_CLSE):
            with self._streams_lock:
                stream = self.streams.get(message.arg1)
            if stream is None:
                return
            if message.command == A_OKAY:
                stream.acknowledged()
            elif message.command == A_WRTE:
                stream.incoming.put(message.data)
                self.send(Message(A_OKAY, stream.local_id, stream.remote_id))
            else:
                stream.remote_closed()
                self.forget(stream.local_id)
        elif message.command in (A_AUTH, A_STLS):
            pass  # this device never asks for auth or TLS, so the host has no reason to send them

    @staticmethod
    def _run_service(handler: ServiceHandler, stream: Stream) -> None:
        try:
            handler(stream)
        except StreamClosed:
            pass
        finally:
            try:
                stream.close()
            except StreamClosed:
                pass


class AdbDeviceServer:
    """Listen on 127.0.0.1 only; `drop()` cuts every connection and stays unreachable for a while (a fault)."""

    def __init__(self, port: int, banner: bytes, open_service: Callable[[str], ServiceHandler | None],
                 host: str = "127.0.0.1"):
        self.host, self.port, self.banner, self.open_service = host, port, banner, open_service
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(8)
        self.port = listener.getsockname()[1]
        self._listener = listener

    def start(self) -> "AdbDeviceServer":
        self._listen()
        threading.Thread(target=self._accept_loop, daemon=True, name="adb-device-accept").start()
        return self

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            listener = self._listener
            if listener is None:
                time.sleep(0.05)
                continue
            try:
                sock, _ = listener.accept()
            except OSError:
                continue  # the listener was closed by drop() or stop()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._connections.append(sock)
            connection = Connection(sock, self.banner, self.open_service)
            threading.Thread(target=connection.serve, daemon=True, name="adb-device-connection").start()

    def _close_all(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, []
        for sock in ([listener] if listener else []) + connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def drop(self, offline_for_s: float | None) -> None:
        """Disconnect like a pulled cable; come back after `offline_for_s` seconds (None: never)."""
        self._close_all()
        if offline_for_s is not None:
            timer = threading.Timer(offline_for_s, self._listen)
            timer.daemon = True
            timer.start()

    def stop(self) -> None:
        self._stopped.set()
        self._close_all()
