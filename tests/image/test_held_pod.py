"""A pod held as Juju holds it until its charm replans (the charm may be late, blocked by a long hook
or in error): Kubernetes' liveness probe (Pebble's /v1/health) must stay healthy all that time, or
Kubernetes restarts the pod, while its readiness says it serves nothing.

The pod's three containers share a network namespace of their own, as a Kubernetes pod's do, so
that no service of another test on the machine's loopback answers the pod's checks: this module
runs in a lane of its own (the conftest's PODS_LANE) instead of holding the site's lane for two
minutes.
"""

from __future__ import annotations

import time
from pathlib import Path

import docker
from ops import pebble

from rockbuild.build.artifact import BuiltRock
from tests.image.juju_pod import PodContainer, active, container_uid, health_status, start_like_juju

IMAGE_OF = {"indico": "indico", "celery": "indico", "indico-nginx": "indico-nginx"}
# Longer than the 120 s and than any rock check needs to reach its failure threshold
# (the slowest: a 30 s period times a threshold of 3).
HELD_SECONDS = 125


def test_a_held_pod_stays_alive_and_unready_until_its_charm_starts_it(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock], tmp_path: Path
) -> None:
    pods: dict[str, PodContainer] = {}
    try:
        for name, rock in IMAGE_OF.items():
            # The pod's network: its first container's namespace, which the others join.
            network = f"container:{next(iter(pods.values())).container.id}" if pods else "none"
            pods[name] = start_like_juju(
                docker_client, rocks[rock].image, tmp_path / name, container_uid(name), pod_network=network
            )
        alive: dict[str, set[int]] = {name: set() for name in pods}
        deadline = time.monotonic() + HELD_SECONDS
        while time.monotonic() < deadline:
            for name, pod in pods.items():
                alive[name].add(health_status(pod, "alive"))
            time.sleep(1)
        assert alive == {name: {200} for name in pods}, "Kubernetes would restart a pod that waits for its charm"
        for name, pod in pods.items():
            # The checks did run, and fail (nothing runs yet), so the pod gets no traffic.
            down = {check.name for check in pod.client.get_checks() if check.status == pebble.CheckStatus.DOWN}
            assert down == {check.name for check in pod.client.get_checks()}, (name, down)
            assert health_status(pod, "ready") == 502, name
            # A failing check restarts its service only once the charm has started it.
            assert active(pod) == set(), (name, active(pod))
    finally:
        for pod in pods.values():
            pod.container.remove(force=True)
