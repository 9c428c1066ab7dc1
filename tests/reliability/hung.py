"""A server on loopback that accepts connections and never answers, as a hung service does (tests only)."""

from __future__ import annotations

import socket
import threading


class HungServer:
    """Accepts every connection and reads what is sent, never answering: each client waits for its read timeout.

    ``accepted`` counts the connections (one per attempt: a timed-out connection is not reused). ``open()``
    counts those the client still holds; ``close()`` ends them all, which a waiting client reads as the server
    closing the connection.
    """

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.accepted = 0
        self.clients: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.clients.append(client)
            threading.Thread(target=self._drain, args=(client,), daemon=True).start()

    @staticmethod
    def _drain(client: socket.socket) -> None:
        try:
            while client.recv(65536):
                pass
        except OSError:
            pass
        client.close()

    def open(self) -> int:
        """Connections accepted that the client has not closed yet."""
        with self.lock:
            return sum(1 for c in self.clients if c.fileno() != -1)

    def close(self) -> None:
        self.listener.close()
        with self.lock:
            for client in self.clients:
                try:
                    client.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def __enter__(self) -> HungServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
