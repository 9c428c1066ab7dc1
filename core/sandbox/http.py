"""What the HTTP servers of sandboxes share, so they can stand in for a remote service in benchmarks.

* :class:`KeepAliveServer`, a server mixin: a thread per connection (daemon threads), the TCP
  connections accepted counted (:attr:`LoopbackServer.connections`), and the ones still open
  (idle HTTP/1.1 keep-alive connections) closed when the server closes, so a stopped sandbox
  answers nobody and stopping never waits for a client to hang up.
* :class:`KeepAliveHandler`, a ``BaseHTTPRequestHandler`` mixin: HTTP/1.1, Nagle off, one write per
  answer, quiet.
* :func:`stop_serving`: a serving loop stopped at once, so that it need not poll often.
* :class:`RequestCounter`: a sandbox's service requests in flight and the most at once, each held for the
  sandbox's latency first, in its own thread and without a lock, so requests in flight overlap as
  they do against a remote service.
"""

from __future__ import annotations

import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def stop_serving(server: socketserver.BaseServer) -> None:
    """Stop ``server.serve_forever()`` at once, whatever its ``poll_interval``: connections to itself end the
    loop's wait until it has stopped (the loop, asked to stop, leaves without taking them)."""
    stopped = threading.Event()

    def wake() -> None:
        address = server.server_address[:2]
        while not stopped.wait(0.01):  # the first a moment after the stop is asked for, so it is not served
            try:
                socket.create_connection(address, timeout=1).close()
            except OSError:  # nobody listening any more: the loop has ended, or ends on its own within a poll
                return

    threading.Thread(target=wake, name="hrsync-sandbox-stop", daemon=True).start()
    server.shutdown()
    stopped.set()


class KeepAliveServer(socketserver.ThreadingMixIn):
    """List it first among a threading server's bases: ``class Server(KeepAliveServer, ThreadingHTTPServer)``."""

    daemon_threads: bool = True  # an idle keep-alive connection never holds up the process or stop()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._closing = False
        #: TCP connections accepted so far (a keep-alive client opens one and reuses it).
        self.connections = 0
        super().__init__(*args, **kwargs)

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        with self._open_lock:
            self.connections += 1
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        self._closing = True
        with self._open_lock:
            still_open = list(self._open)
        for sock in still_open:  # their threads read end-of-file (or fail to write) and end
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        super().server_close()

    def handle_error(self, request: socket.socket, client_address: Any) -> None:
        """A client hanging up, or the server closing under a request, is not worth a traceback."""
        if self._closing or isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class KeepAliveHandler:
    """List it first among a ``BaseHTTPRequestHandler``'s bases. Each answer must carry its length
    (``Content-Length``), or set ``close_connection``."""

    protocol_version: str = "HTTP/1.1"
    disable_nagle_algorithm: bool = True
    wbufsize: int = -1  # buffered: headers and body leave in one write when the answer is flushed

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the sandbox's request log is the record
        pass

    def handle_expect_100(self) -> bool:
        ok = super().handle_expect_100()
        self.wfile.flush()  # the client waits for the 100 before it sends the body
        return ok


class RequestCounter:
    """A sandbox's service requests being answered: ``count`` now, ``peak`` the most at once since
    :meth:`reset`. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0
        self.peak = 0

    @contextmanager
    def request(self, latency_ms: float = 0) -> Iterator[float]:
        """Count one request while it is answered, after holding it ``latency_ms`` (yielded back)."""
        with self._lock:
            self.count += 1
            self.peak = max(self.peak, self.count)
        try:
            latency_ms = float(latency_ms or 0)
            if latency_ms > 0:
                time.sleep(latency_ms / 1000)  # in the request's own thread, holding no lock
            yield latency_ms
        finally:
            with self._lock:
                self.count -= 1

    def reset(self) -> None:
        """Start a new peak from the requests in flight now."""
        with self._lock:
            self.peak = self.count
