"""A second pod's rocks on the host's network beside the first: each pod-internal listener
(stub_status :9080, StatsD :9125) moves to another loopback address with its pod.

Its own module: the other modules' pods hold 127.0.0.1's ports while they run.
"""

from __future__ import annotations

import functools
import socket
import urllib.request

import docker
import pytest

from rockbuild.build.artifact import BuiltRock
from tests.image.conftest import wait_for

SECOND_POD = "127.0.0.4"


def metrics(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return str(answer.read().decode())


def test_two_nginx_rocks_each_read_their_own_stub_status(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock]
) -> None:
    second = {
        "NGINX_LISTEN_ADDRESS": SECOND_POD,
        "NGINX_STATUS_ADDRESS": SECOND_POD,
        "INDICO_UPSTREAM": f"{SECOND_POD}:8081",
    }
    pods = [
        docker_client.containers.run(rocks["indico-nginx"].image, detach=True, network_mode="host", environment=env)
        for env in ({"NGINX_LISTEN_ADDRESS": "127.0.0.1"}, second)
    ]
    try:
        for address in ("127.0.0.1", SECOND_POD):
            url = f"http://{address}:9113/metrics"
            wait_for(functools.partial(lambda u: "nginx_up 1" in metrics(u), url), 30, f"{address}'s exporter")
        # Requests to the second NGINX are counted by its own stub_status, not the first one's.
        before = {a: metrics(f"http://{a}:9113/metrics") for a in ("127.0.0.1", SECOND_POD)}
        for _ in range(5):
            urllib.request.urlopen(f"http://{SECOND_POD}:8080/health", timeout=5).close()
        after = {a: metrics(f"http://{a}:9113/metrics") for a in ("127.0.0.1", SECOND_POD)}

        def handled(text: str) -> float:
            line = next(line for line in text.splitlines() if line.startswith("nginx_connections_handled "))
            return float(line.split()[1])

        assert handled(after[SECOND_POD]) > handled(before[SECOND_POD])
        assert handled(after["127.0.0.1"]) - handled(before["127.0.0.1"]) <= 1, "only the first exporter's own scrape"
        code, output = pods[0].exec_run(
            ["/usr/local/bin/indico-nginx-start", "check"], environment={"NGINX_STATUS_ADDRESS": "0.0.0.0"}
        )
        assert code == 64 and b"NGINX_STATUS_ADDRESS: '0.0.0.0' is not a loopback address" in output
    finally:
        for pod in pods:
            pod.remove(force=True)


def test_the_statsd_exporter_moves_with_its_pod(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock]
) -> None:
    env = {"INDICO_STATSD_ADDRESS": SECOND_POD, "INDICO_LISTEN_ADDRESS": SECOND_POD}
    exporter = docker_client.containers.run(
        rocks["indico"].image,
        ["exec", "/usr/local/bin/indico-start", "statsd-exporter"],
        detach=True,
        network_mode="host",
        environment=env,
    )
    try:
        wait_for(lambda: metrics(f"http://{SECOND_POD}:9102/metrics"), 30, "the exporter on the second pod's address")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:

            def pushed_and_seen() -> bool:
                # As the Celery worker's heartbeat pushes it.
                sock.sendto(b"indico.celery.worker_up:1|g", (SECOND_POD, 9125))
                return "indico_celery_worker_up 1" in metrics(f"http://{SECOND_POD}:9102/metrics")

            wait_for(pushed_and_seen, 30, "the pushed gauge")
        with pytest.raises(OSError):
            urllib.request.urlopen("http://127.0.0.1:9102/metrics", timeout=5)
        refused = docker_client.containers.run(
            rocks["indico"].image,
            ["exec", "/usr/local/bin/indico-start", "statsd-exporter"],
            detach=True,
            network_mode="host",
            environment={"INDICO_STATSD_ADDRESS": "10.1.2.3"},
        )
        try:
            assert refused.wait(timeout=60)["StatusCode"] == 64
            assert b"INDICO_STATSD_ADDRESS must be a loopback address" in refused.logs()
        finally:
            refused.remove(force=True)
    finally:
        exporter.remove(force=True)
