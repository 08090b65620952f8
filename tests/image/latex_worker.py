"""The indico-latex rock's container as the image tests run it: its socket on a host directory
that the indico containers mount too, on the host's network as a pod's containers share theirs."""

from __future__ import annotations

import os
from pathlib import Path

import docker
import docker.models.containers

from tests.image import lane_network
from tests.image.conftest import wait_for

DAEMON_UID = 584792  # rockcraft's _daemon_, the user of every rock
SOCKET_DIR = "/srv/indico-latex"
SOCKET = f"{SOCKET_DIR}/latex.sock"


def start(
    docker_client: docker.DockerClient, image: str, socket_dir: Path, job_timeout: int
) -> docker.models.containers.Container:
    """The worker, its socket in `socket_dir` (made the _daemon_ user's), once it takes jobs."""
    os.chown(socket_dir, DAEMON_UID, DAEMON_UID)
    container = docker_client.containers.run(
        image,
        detach=True,
        network_mode=lane_network.container_network(),  # as in a pod: the network is shared, the sandbox must hold
        environment={"LATEX_JOB_TIMEOUT": str(job_timeout)},
        volumes={str(socket_dir): {"bind": SOCKET_DIR, "mode": "rw"}},
    )
    try:
        wait_for(lambda: (socket_dir / "latex.sock").exists(), 60, "the LaTeX worker's socket")
    except BaseException:
        container.remove(force=True)
        raise
    return container


def mount(socket_dir: Path) -> dict[str, dict[str, str]]:
    """The volume an indico container mounts to reach the worker."""
    return {str(socket_dir): {"bind": SOCKET_DIR, "mode": "rw"}}
