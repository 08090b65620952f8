"""A real git server over https on loopback: git's own `git http-backend` (smart HTTP, protocol v2)
behind a TLS server with optional Basic authentication, for the rocks to fetch customization from;
it also serves the wheels in its root (`*.whl`, no login), as a package host would.

The rocks trust it through a CA bundle that a test mounts over the container's system bundle.
"""

from __future__ import annotations

import base64
import hmac
import os
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.image.services import free_port, installed


@dataclass
class GitHttpsServer:
    root: Path  # repositories, served as https://127.0.0.1:<port>/<directory name>
    ca_bundle: Path  # the server's self-signed certificate, the only one a client need trust
    port: int
    server: ThreadingHTTPServer
    credentials: tuple[str, str] | None = None
    delay: float = 0.0  # seconds before each answer, so that a fetch lasts long enough to watch
    authorized: list[str] = field(default_factory=list)  # paths fetched with the right credentials

    def url(self, repository: str) -> str:
        return f"https://127.0.0.1:{self.port}/{repository}"

    @classmethod
    def start(
        cls, base: Path, root: Path, credentials: tuple[str, str] | None = None, delay: float = 0.0
    ) -> GitHttpsServer:
        base.mkdir(parents=True, exist_ok=True)
        certificate, key = base / "git.crt", base / "git.key"
        subprocess.run(
            [
                installed("openssl"),
                *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"),
                *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate)),
            ],
            check=True,
            capture_output=True,
        )
        certificate.chmod(0o644)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        port = free_port()
        holder: dict[str, GitHttpsServer] = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                holder["server"].answer(self)

            def do_POST(self) -> None:
                holder["server"].answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        git_server = cls(root, certificate, port, server, credentials, delay)
        holder["server"] = git_server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return git_server

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        time.sleep(self.delay)
        if request.path.endswith(".whl"):  # a public wheel, as from a package index: no login
            self._serve_file(request)
            return
        if self.credentials and not self._authorized(request.headers.get("Authorization", "")):
            request.send_response(401)
            request.send_header("WWW-Authenticate", 'Basic realm="git"')
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        path, _, query = request.path.partition("?")
        if self.credentials:
            self.authorized.append(path)
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": request.command,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": request.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": request.headers.get("Git-Protocol", ""),
            # The repositories belong to the rocks' user; this server reads them as root.
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "safe.directory",
            "GIT_CONFIG_VALUE_0": "*",
        }
        result = subprocess.run(
            [installed("git"), "http-backend"], input=body, env=env, capture_output=True, check=False, timeout=60
        )
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        request.send_response(status)
        for name, value in headers:
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def _serve_file(self, request: BaseHTTPRequestHandler) -> None:
        wanted = (self.root / request.path.lstrip("/")).resolve()
        found = wanted.is_file() and wanted.is_relative_to(self.root.resolve())
        body = wanted.read_bytes() if found else b"not found"
        request.send_response(200 if found else 404)
        request.send_header("Content-Type", "application/octet-stream")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def _authorized(self, header: str) -> bool:
        assert self.credentials is not None
        user, token = self.credentials
        expected = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        return hmac.compare_digest(header, expected)
