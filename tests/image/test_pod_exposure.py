"""What another pod of the cluster can do to this pod, performed against the rocks.

Any pod reaches any other pod's ports. Indico believes X-Forwarded-* from whoever reaches uWSGI
(USE_PROXY), so uWSGI listens on loopback alone and only the pod's NGINX talks to it; NGINX
believes X-Forwarded-* only from the hop the charm names (the ingress), loopback by default; and
every setting NGINX's start script writes into its configuration is checked first. Addresses on
127.0.0.0/8 other than 127.0.0.1 stand in for other pods' addresses.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import docker
import docker.models.containers
import pytest

from rockbuild.build.artifact import BuiltRock
from tests.image.conftest import wait_for
from tests.image.ingress_proxy import SiteConnection
from tests.image.services import Postgres, Redis
from tests.image.test_indico_rocks import NGINX, UWSGI, get, indico_env, logs

OTHER_POD = "127.0.0.5"
EXPORTER_ADDRESS = "127.0.0.2"  # where the exporter's listen setting points; uWSGI must not follow it
UWSGI_LIMIT = 65536


@dataclass
class Pod:
    indico: docker.models.containers.Container
    nginx: docker.models.containers.Container


@pytest.fixture(scope="module")
def pod(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock], backing_services: tuple[Postgres, Redis]
) -> Iterator[Pod]:
    postgres, redis = backing_services
    env = indico_env(postgres, redis, "indico_pod_exposure")
    env.update(INDICO_LISTEN_ADDRESS=EXPORTER_ADDRESS, UWSGI_PROCESSES="2", UWSGI_LIMIT_POST=str(UWSGI_LIMIT))
    indico = docker_client.containers.run(rocks["indico"].image, detach=True, network_mode="host", environment=env)
    # The rock's defaults, as the charm runs it without an ingress (only the test's listen address set).
    nginx = docker_client.containers.run(
        rocks["indico-nginx"].image, detach=True, network_mode="host", environment={"NGINX_LISTEN_ADDRESS": "127.0.0.1"}
    )
    try:
        wait_for(lambda: get(f"{NGINX}/bootstrap").status == 200, 240, "Indico to answer through NGINX")
        yield Pod(indico, nginx)
    finally:
        indico.remove(force=True)
        nginx.remove(force=True)


def refused(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_uwsgi_answers_on_loopback_alone(pod: Pod) -> None:
    """Another pod that reached :8081 could set its own client address, scheme and host."""
    assert get(f"{UWSGI}/bootstrap").status == 200
    assert refused(OTHER_POD, 8081) and refused(EXPORTER_ADDRESS, 8081)
    assert not refused(EXPORTER_ADDRESS, 9102), "the exporter keeps its own listen setting for Prometheus"


def test_a_forged_client_address_from_another_pod_is_not_believed(pod: Pod) -> None:
    connection = SiteConnection(8080, "localhost", None, source=OTHER_POD)
    try:
        connection.request(
            "GET",
            "/robots.txt",
            headers={"Host": "localhost:8080", "X-Forwarded-For": "203.0.113.9", "User-Agent": "forged-by-a-pod"},
        )
        assert connection.getresponse().status == 200
    finally:
        connection.close()

    def logged() -> list[str]:
        return [line for line in logs(pod.nginx).splitlines() if "forged-by-a-pod" in line]

    lines: list[str] = wait_for(logged, 10, "NGINX to log the request")  # type: ignore[assignment]
    assert f"[nginx] {OTHER_POD} " in lines[-1] and "203.0.113.9 -" not in lines[-1], lines[-1]


def post_to_uwsgi(size: int) -> int | None:
    """POST a body of `size` bytes straight to uWSGI; its status, or None when it closed unanswered."""
    connection = SiteConnection(8081, "localhost", None, source="127.0.0.1")
    try:
        connection.request("POST", "/login/", body=b"x" * size, headers={"Host": "localhost:8080"})
        return connection.getresponse().status
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        return None
    finally:
        connection.close()


def test_uwsgi_refuses_a_body_over_its_limit(pod: Pod) -> None:
    """uWSGI drops a request whose body is over UWSGI_LIMIT_POST before reading it (it logs why)."""
    assert post_to_uwsgi(UWSGI_LIMIT) is not None, "a body at the limit is read and answered"
    assert post_to_uwsgi(UWSGI_LIMIT + 1) is None
    wait_for(lambda: "too big" in logs(pod.indico), 10, "uWSGI to log the refused body")


def test_slow_headers_hold_nginx_connections_not_uwsgi_workers(pod: Pod) -> None:
    """Four clients that send a header line every second (uWSGI has two workers here): NGINX waits
    for each whole request before it passes it on, so a page still answers meanwhile."""
    slow = []
    try:
        for _ in range(4):
            client = socket.create_connection(("127.0.0.1", 8080), timeout=10, source_address=(OTHER_POD, 0))
            client.sendall(b"GET /bootstrap HTTP/1.1\r\nHost: localhost:8080\r\n")
            slow.append(client)
        for second in range(6):
            for client in slow:
                client.sendall(f"X-Slow-{second}: 1\r\n".encode())
            time.sleep(1)
            if second == 2:
                assert get(f"{NGINX}/bootstrap", timeout=5).status == 200, "a page answers while slow clients wait"
    finally:
        for client in slow:
            client.close()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NGINX_LISTEN_ADDRESS", "127.0.0.1 default_server; }\nserver { listen 127.0.0.1"),
        ("INDICO_UPSTREAM", "127.0.0.1:8081; }\nserver { listen 127.0.0.9:8080; autoindex on; root /; location / {"),
        ("NGINX_CLIENT_MAX_BODY_SIZE", "1g;\n    autoindex on"),
        ("NGINX_TRUSTED_PROXIES", "10.0.0.0/8;\nautoindex"),
    ],
)
def test_a_setting_that_would_add_directives_is_refused_by_name(
    rocks: dict[str, BuiltRock], docker_client: docker.DockerClient, variable: str, value: str
) -> None:
    container = docker_client.containers.run(
        rocks["indico-nginx"].image,
        ["exec", "/usr/local/bin/indico-nginx-start", "check"],
        detach=True,
        network_mode="host",
        environment={variable: value},
    )
    try:
        code = container.wait(timeout=60)["StatusCode"]
        output = logs(container)
    finally:
        container.remove(force=True)
    assert code == 64, output
    assert f"indico-nginx-start: {variable}: " in output, output
