"""A real TLS-terminating ingress on loopback: Debian's NGINX in front of the pod's port 8080.

It does what an ingress controller does with a request (traefik, nginx-ingress): terminates TLS
for the site's host with its certificate, keeps the Host header, and reports the client's scheme,
host and address in X-Forwarded-Proto, -Host and -For. It reaches the pod from its own source
address (INGRESS_SOURCE), so the pod can trust that address alone and nothing else on loopback.
A second listener forwards plain http, as an http-only ingress would. Its endpoints are the pods'
port 8080, as a Kubernetes Service lists them; `set_endpoints` changes them as the endpoint
controller does (a pod not ready, or being deleted, leaves the list).
"""

from __future__ import annotations

import http.client
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.image.services import free_port, installed, stop_process, wait_port

INGRESS_SOURCE = "127.0.0.2"  # the ingress's address as the pod sees it
CLIENT_SOURCE = "127.0.0.3"  # a browser's address, as the ingress sees it

CONFIG = """
worker_processes 1;
pid {base}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 64; }}
http {{
    # Which endpoint answered each request, for the tests to tell units apart.
    log_format endpoints '$msec $status $upstream_addr $upstream_status $request_method $request_uri';
    access_log {base}/access.log endpoints;
    # Request bodies stay in memory: NGINX's workers cannot reach pytest's private temporary
    # directories, and uploads (to S3 behind this proxy) must not need a file.
    client_max_body_size 64m;
    client_body_buffer_size 64m;
    client_body_temp_path {base}/body;
    proxy_temp_path {base}/proxy;
    fastcgi_temp_path {base}/fastcgi;
    uwsgi_temp_path {base}/uwsgi;
    scgi_temp_path {base}/scgi;
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_bind {source};
    # A request sent to an endpoint that fails is not retried on another: a failure shows.
    proxy_next_upstream off;
    upstream pod {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{https_port} ssl;
        server_name {site};
        ssl_certificate {base}/site.crt;
        ssl_certificate_key {base}/site.key;
        location / {{ proxy_pass http://pod; }}
    }}
    server {{
        listen 127.0.0.1:{http_port};
        server_name {site};
        location / {{ proxy_pass http://pod; }}
    }}
}}
"""


def configuration(settings: dict[str, object], endpoints: tuple[str, ...]) -> str:
    # NGINX refuses an upstream without servers: with no endpoint, one that refuses connections.
    servers = [f"        server {endpoint} max_fails=0;" for endpoint in endpoints] or [
        "        server 127.0.0.1:1 down;"
    ]
    return CONFIG.format(servers="\n".join(servers), **settings)


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def cookies(self) -> list[str]:
        return self.headers.get_all("Set-Cookie") or []


@dataclass
class TlsIngress:
    site: str
    https_port: int
    http_port: int
    certificate: Path
    process: subprocess.Popen[bytes]
    config: Path
    settings: dict[str, object]
    context: ssl.SSLContext = field(init=False)

    def __post_init__(self) -> None:
        self.context = ssl.create_default_context(cafile=str(self.certificate))

    @classmethod
    def start(cls, base: Path, site: str, endpoints: tuple[str, ...] = ("127.0.0.1:8080",)) -> TlsIngress:
        base.mkdir(parents=True, exist_ok=True)
        base.chmod(0o777)  # NGINX's workers (nobody) write their temporary files here
        certificate = base / "site.crt"
        subprocess.run(
            [
                installed("openssl"),
                *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={site}"),
                *("-addext", f"subjectAltName=DNS:{site}", "-keyout", str(base / "site.key"), "-out", str(certificate)),
            ],
            check=True,
            capture_output=True,
        )
        https_port, http_port = free_port(), free_port()
        config = base / "nginx.conf"
        settings: dict[str, object] = dict(
            base=base, source=INGRESS_SOURCE, https_port=https_port, http_port=http_port, site=site
        )
        config.write_text(configuration(settings, endpoints))
        process = subprocess.Popen(
            [installed("nginx"), "-c", str(config), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_port(https_port)
            wait_port(http_port)
        except TimeoutError as exc:
            stop_process(process, 5)
            errors = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"the TLS ingress did not start: {errors}") from exc
        return cls(site, https_port, http_port, certificate, process, config, settings)

    def set_endpoints(self, endpoints: tuple[str, ...]) -> None:
        """The Service's ready endpoints change: NGINX reloads (requests under way finish on the old ones)."""
        self.config.write_text(configuration(self.settings, endpoints))
        checked = subprocess.run(
            [installed("nginx"), "-t", "-c", str(self.config)], capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stderr
        self.process.send_signal(signal.SIGHUP)
        time.sleep(1)  # the new workers take over within a few milliseconds

    def access_log(self) -> list[str]:
        """One line per request: time, status, the endpoint that answered and its status, method, path."""
        path = self.config.parent / "access.log"
        return path.read_text().splitlines() if path.exists() else []

    def stop(self) -> None:
        stop_process(self.process, 10)

    def request(
        self,
        path: str,
        tls: bool = True,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 15,
    ) -> Response:
        """A browser's request for https://<site><path> (or http://), from CLIENT_SOURCE."""
        port = self.https_port if tls else self.http_port
        connection = SiteConnection(port, self.site, self.context if tls else None, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers={"Host": self.site, **(headers or {})})
            response = connection.getresponse()
            return Response(response.status, response.headers, response.read())
        finally:
            connection.close()


class SiteConnection(http.client.HTTPConnection):
    """Connects to the ingress on loopback while speaking to the site by name (SNI, certificate)."""

    def __init__(
        self, port: int, site: str, context: ssl.SSLContext | None, source: str = CLIENT_SOURCE, timeout: float = 15
    ) -> None:
        super().__init__("127.0.0.1", port, timeout=timeout)
        self.source = (source, 0)
        self.site = site
        self.tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout, self.source)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.site) if self.tls else sock
