"""A TCP proxy on loopback that can reset connections, as a flaky network does (tests only)."""

from __future__ import annotations

import socket
import struct
import threading


class ResettingProxy:
    """Relays HTTP requests to ``target``, one per connection: each is forwarded with ``Connection: close``
    (the sandboxes keep HTTP/1.1 connections open otherwise), so the server closes once it has answered
    and its answer, which says so, tells the client not to reuse the connection either.

    ``reset_before(method, n)``: the next n requests of ``method`` are reset before reaching the server.
    ``reset_after(method, n)``: the next n are forwarded, answered by the server, then reset on the client.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.rules: list[list] = []  # [method, when, count]
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def reset_before(self, method: str, count: int) -> None:
        self.rules.append([method, "before", count])

    def reset_after(self, method: str, count: int) -> None:
        self.rules.append([method, "after", count])

    def close(self) -> None:
        self.listener.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _rule(self, method: str) -> str | None:
        with self.lock:
            for rule in self.rules:
                if rule[0] == method and rule[2] > 0:
                    rule[2] -= 1
                    return rule[1]
        return None

    @staticmethod
    def _read_request(sock: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        lines = [line for line in head.split(b"\r\n")
                 if not line.lower().startswith((b"connection:", b"keep-alive:"))]
        return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body

    @staticmethod
    def _reset(sock: socket.socket) -> None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

    def _handle(self, client: socket.socket) -> None:
        request = self._read_request(client)
        method = request.split(b" ", 1)[0].decode()
        rule = self._rule(method)
        if rule == "before":
            return self._reset(client)
        with socket.create_connection(("127.0.0.1", self.target_port)) as server:
            server.sendall(request)
            answer = b""
            while chunk := server.recv(65536):
                answer += chunk
        if rule == "after":
            return self._reset(client)
        client.sendall(answer)
        client.close()
