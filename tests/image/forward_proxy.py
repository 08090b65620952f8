"""A forward proxy on loopback, as a model's juju-http-proxy is to a pod: it serves absolute-URL
requests (http://) and CONNECT tunnels (https://), records each request's host and port, and
reaches every host name at 127.0.0.1, so a name that nothing on this machine resolves is reached
only through it (what a cluster's proxy does for names only it can resolve)."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from tests.image.services import free_port


class ForwardProxy(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []  # "METHOD host:port path" of each request

    def do_CONNECT(self) -> None:
        host, _, port = self.path.rpartition(":")
        ForwardProxy.seen.append(f"CONNECT {host}:{port}")
        with socket.create_connection(("127.0.0.1", int(port)), timeout=30) as upstream:
            self.send_response(200, "Connection established")
            self.end_headers()
            self._relay(self.connection, upstream)

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _forward(self) -> None:
        target = urllib.parse.urlsplit(self.path)
        port = target.port or 80
        ForwardProxy.seen.append(f"{self.command} {target.hostname}:{port} {target.path}")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = target.path + (f"?{target.query}" if target.query else "")
        headers = "".join(
            f"{k}: {v}\r\n" for k, v in self.headers.items() if k.lower() not in {"proxy-connection", "connection"}
        )
        request = f"{self.command} {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n".encode() + body
        with socket.create_connection(("127.0.0.1", port), timeout=30) as upstream:
            upstream.sendall(request)
            while chunk := upstream.recv(65536):
                self.wfile.write(chunk)
        self.close_connection = True

    @staticmethod
    def _relay(client: socket.socket, upstream: socket.socket) -> None:
        for _ in range(100_000):  # bounded: a tunnel carries one short exchange in these tests
            ready, _, _ = select.select([client, upstream], [], [], 30)
            if not ready:
                return
            for source in ready:
                data = source.recv(65536)
                if not data:
                    return
                (upstream if source is client else client).sendall(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def forward_proxy() -> Iterator[str]:
    """The proxy's URL (http://127.0.0.1:<port>) while it runs."""
    ForwardProxy.seen.clear()
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), ForwardProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
