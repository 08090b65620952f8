"""A rock's container started the way Juju starts a workload container, and what Kubernetes asks it.

Juju runs each workload container as `pebble run --create-dirs --hold --http :<port> --verbose`
with PEBBLE=/charm/container/pebble and PEBBLE_COPY_ONCE=/var/lib/pebble/default, as the uid that
charmcraft.yaml gives the container, with the Pebble socket on a volume the charm container shares
(rockcraft-contract.md, section D). Nothing starts until the charm adds its layers and replans.
"""

from __future__ import annotations

import http.client
import socket
import types
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.models.containers
import ops
import yaml
from ops import pebble

from tests.image import lane_network
from tests.image.conftest import wait_for
from tests.image.services import free_port

REPO = Path(__file__).resolve().parents[2]
# Juju mounts each unit's archive volume into these containers at this path (charmcraft.yaml).
ARCHIVE_PATH = "/var/lib/indico/archive"
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


@dataclass
class PodContainer:
    container: docker.models.containers.Container
    client: pebble.Client
    http_port: int  # Pebble's HTTP API, where Kubernetes' probes ask /v1/health
    socket_dir: Path  # Juju's /charm/container: Pebble's socket, and its state under pebble/
    own_network: bool = False  # in a network namespace of its pod's, not the machine's


def container_uid(name: str) -> str:
    """The uid charmcraft.yaml asks Juju to run the container's Pebble as (root when unset)."""
    meta = yaml.safe_load((REPO / "charm" / "charmcraft.yaml").read_text())
    return str(meta["containers"][name].get("uid", 0))


def start_like_juju(
    client: docker.DockerClient,
    image: str,
    socket_dir: Path,
    uid: str,
    archive: Path | None = None,
    ca_bundle: Path | None = None,
    pod_network: str = "",
) -> PodContainer:
    """`ca_bundle` replaces the rock's trusted certificates (a test's own servers on loopback).
    `pod_network`: unset for the test lane's network (the machine's, or the lane's own: where the
    tests reach the services; lane_network.py), "none"
    for a pod's own network namespace, loopback only, as Kubernetes gives each pod, or
    "container:<id>" to join another container's (the pod's next containers)."""
    socket_dir.mkdir(parents=True)
    socket_dir.chmod(0o777)  # Juju's shared emptyDir is writable by the container's uid
    port = free_port()
    container = client.containers.run(
        image,
        entrypoint=["/usr/bin/pebble"],
        command=["run", "--create-dirs", "--hold", "--http", f"127.0.0.1:{port}", "--verbose"],
        environment={
            "PEBBLE": "/charm/container/pebble",
            "PEBBLE_COPY_ONCE": "/var/lib/pebble/default",
            "PEBBLE_SOCKET": "/charm/container/pebble.socket",
        },
        volumes={
            str(socket_dir): {"bind": "/charm/container", "mode": "rw"},
            **({str(archive): {"bind": ARCHIVE_PATH, "mode": "rw"}} if archive else {}),
            **({str(ca_bundle): {"bind": SYSTEM_CA_BUNDLE, "mode": "ro"}} if ca_bundle else {}),
        },
        user=uid,
        detach=True,
        network_mode=pod_network or lane_network.container_network(),
    )
    api = pebble.Client(socket_path=str(socket_dir / "pebble.socket"))
    wait_for(lambda: api.get_system_info(), 30, f"Pebble in {image} to answer on its socket")
    return PodContainer(container, api, port, socket_dir, own_network=bool(pod_network))


class _PebbleSocketConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=5)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(str(self.socket_path))


def health_status(pod: PodContainer, level: str = "alive") -> int:
    """What Kubernetes' liveness (`alive`) or readiness (`ready`) probe gets from the container."""
    if pod.own_network:
        # Not reachable from the machine: the same Pebble API, and the same health handler, on its socket.
        connection = _PebbleSocketConnection(pod.socket_dir / "pebble.socket")
        try:
            connection.request("GET", f"/v1/health?level={level}")
            return connection.getresponse().status
        finally:
            connection.close()
    url = f"http://127.0.0.1:{pod.http_port}/v1/health?level={level}"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def charm_container(name: str, pod: PodContainer) -> ops.Container:
    """The ops.Container the charm would get, on this pod container's real Pebble socket."""
    backend = types.SimpleNamespace(_juju_context=types.SimpleNamespace(version=ops.JujuVersion("3.6.0")))
    return ops.Container(name, backend, pebble_client=pod.client)  # type: ignore[arg-type]


def active(pod: PodContainer) -> set[str]:
    return {svc.name for svc in pod.client.get_services() if svc.is_running()}
