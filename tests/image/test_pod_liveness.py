"""Kubernetes' probes (Pebble's /v1/health) on the rocks held as Juju holds them.

Once the charm has started a service, a hung one must fail liveness, or nothing ever restarts it;
and the pod is ready only once it serves. (A pod held before its charm starts anything:
test_held_pod.py.)
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import urllib.request
from pathlib import Path

import docker
import yaml
from ops import pebble

from rockbuild.build.artifact import BuiltRock
from tests.image.conftest import run_migration, wait_for
from tests.image.juju_pod import (
    REPO,
    PodContainer,
    charm_container,
    container_uid,
    health_status,
    start_like_juju,
)
from tests.image.services import Postgres, Redis

sys.path.insert(0, str(REPO / "charm" / "src"))

import pebble_ops
import rock_environment
import state
import workload
from config import CharmConfig


def rock_check(rock: str, name: str) -> dict[str, object]:
    project = yaml.safe_load((REPO / "rocks" / rock / "rockcraft.yaml").read_text())
    check: dict[str, object] = project["checks"][name]
    return check


def seconds(duration: object) -> float:
    text = str(duration)
    assert text.endswith("s"), f"a duration in seconds: {text}"
    return float(text[:-1])


def nginx_pids(pod: PodContainer) -> list[int]:
    return [int(pid) for pid, args in pod.container.top(ps_args="-o pid,args")["Processes"] if args.startswith("nginx")]


def test_once_the_charm_started_nginx_a_hung_nginx_fails_liveness(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock], tmp_path: Path
) -> None:
    pod = start_like_juju(docker_client, rocks["indico-nginx"].image, tmp_path / "nginx", container_uid("indico-nginx"))
    try:
        layer = workload.base_layers()["indico-nginx"]
        for service in layer["services"].values():  # this test's ports stay on loopback
            service.setdefault("environment", {})["NGINX_LISTEN_ADDRESS"] = "127.0.0.1"
        assert pebble_ops.apply_layer(charm_container("indico-nginx", pod), layer)
        wait_for(lambda: health_status(pod, "ready") == 200, 30, "NGINX to be up once the charm started it")
        check = rock_check("indico-nginx", "nginx-up")
        levels = {c.name: c.level for c in pod.client.get_checks()}
        assert levels == {"nginx-up": pebble.CheckLevel.ALIVE, "nginx-exporter-up": pebble.CheckLevel.ALIVE}

        hung = nginx_pids(pod)
        assert hung, "NGINX's processes"
        for pid in hung:
            os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        # Each failure comes a period after the last and may wait out the timeout.
        limit = (seconds(check["period"]) + seconds(check["timeout"])) * int(str(check["threshold"])) + 5
        wait_for(lambda: health_status(pod, "alive") == 502, limit, "a hung NGINX to fail liveness")
        failed_after = time.monotonic() - started
        assert failed_after >= seconds(check["period"]), f"liveness failed after {failed_after:.0f} s: not the check"

        for pid in hung:
            os.kill(pid, signal.SIGCONT)
        wait_for(lambda: health_status(pod, "alive") == 200, 30, "NGINX, running again, to pass liveness")
    finally:
        pod.container.remove(force=True)


def desired_state(backing_services: tuple[Postgres, Redis], database: str, is_leader: bool) -> state.State:
    """The charm's settings for a small pod on this host's PostgreSQL and Redis."""
    postgres, redis = backing_services
    return state.State(
        config=CharmConfig.from_options({"uwsgi_processes": 2, "celery_concurrency": 1}),
        base_url="http://localhost:8080",
        database_uri=postgres.create_database(database),
        database_password="",
        redis_broker_url=redis.url,
        redis_cache_url=redis.url,
        secret_key="k" * 64,
        is_leader=is_leader,
    )


def uwsgi_master(pod: PodContainer) -> int:
    """uWSGI's master process (its parent is not uWSGI); 0 while there is none."""
    rows = pod.container.top(ps_args="-o pid,ppid,args")["Processes"]
    uwsgi = {int(pid): int(ppid) for pid, ppid, args in rows if args.startswith("/usr/bin/uwsgi")}
    masters = [pid for pid, ppid in uwsgi.items() if ppid not in uwsgi]
    return masters[0] if len(masters) == 1 else 0


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def indico_ready_check(pod: PodContainer) -> pebble.CheckInfo:
    return next(c for c in pod.client.get_checks() if c.name == "indico-ready")


def test_the_pod_is_ready_once_uwsgi_has_loaded_indico_not_once_its_port_opens(
    docker_client: docker.DockerClient,
    rocks: dict[str, BuiltRock],
    backing_services: tuple[Postgres, Redis],
    tmp_path: Path,
) -> None:
    """uWSGI binds :8081 before it loads Indico, which takes seconds (20 s on a busy node); a pod
    ready on the open port would be sent requests that wait all that time (the refresh test's
    visitor gave up after 15 s). Here uWSGI's master is frozen (SIGSTOP) as soon as the port opens:
    the port accepts connections, yet the pod stays unready until uWSGI, let go, has loaded Indico."""
    desired = desired_state(backing_services, "indico_ready_after_load", is_leader=True)
    pod = start_like_juju(docker_client, rocks["indico"].image, tmp_path / "indico", container_uid("indico"))
    try:
        assert pebble_ops.apply_layer(charm_container("indico", pod), workload.desired_layers(desired, True)["indico"])
        # The schema is made first (indico-migrate), then uWSGI starts: poll closely for its port.
        deadline = time.monotonic() + 300
        while not port_open(8081) and time.monotonic() < deadline:
            time.sleep(0.05)
        master = uwsgi_master(pod)
        assert master, "uWSGI's master, once its port is open"
        os.kill(master, signal.SIGSTOP)
        try:
            loaded = pod.container.exec_run(["test", "-e", "/tmp/indico/uwsgi.accepting"]).exit_code == 0
            assert not loaded, "uWSGI loaded Indico before it could be frozen: nothing to tell apart"
            failures_before = indico_ready_check(pod).failures
            time.sleep(3)  # three periods of the check
            assert port_open(8081), "the frozen uWSGI's port still accepts connections"
            check = indico_ready_check(pod)
            assert check.status == pebble.CheckStatus.DOWN and check.failures >= failures_before + 2, check
            assert health_status(pod, "ready") == 502, "no traffic for a uWSGI that has not loaded Indico"
        finally:
            os.kill(master, signal.SIGCONT)
        wait_for(lambda: health_status(pod, "ready") == 200, 180, "the pod to be ready once Indico is loaded")
        # Ready means answering: the home page comes within the request's 10 s.
        home = urllib.request.Request("http://127.0.0.1:8081/", headers={"Host": "localhost:8080"})
        with urllib.request.urlopen(home, timeout=10) as answer:
            assert answer.status == 200
    finally:
        pod.container.remove(force=True)


def worker_check(pod: PodContainer) -> pebble.CheckInfo:
    return next(c for c in pod.client.get_checks() if c.name == workload.WORKER_CHECK)


def beating(pod: PodContainer) -> bool:
    """The heartbeat check's last run passed (a check that never ran also shows no failures)."""
    check = worker_check(pod)
    return bool(check.successes) and check.failures == 0


def worker_pid(pod: PodContainer) -> int:
    """The worker's main process (its event loop, where the heartbeat lives); 0 while there is none."""
    rows = pod.container.top(ps_args="-o pid,ppid,args")["Processes"]
    workers = {int(pid): int(ppid) for pid, ppid, args in rows if "indico-celery-worker" in args}
    mains = [pid for pid, ppid in workers.items() if ppid not in workers]
    return mains[0] if len(mains) == 1 else 0


def test_once_the_charm_started_the_worker_a_frozen_worker_fails_liveness_and_is_restarted(
    docker_client: docker.DockerClient,
    rocks: dict[str, BuiltRock],
    backing_services: tuple[Postgres, Redis],
    tmp_path: Path,
) -> None:
    """The celery container as the charm runs it. The worker's event loop touches a heartbeat file;
    frozen (SIGSTOP: alive, taking no work) it stops, the check fails, liveness turns 502, and
    Pebble restarts the worker. The check's period is shortened to 5 s by one more layer (as an
    operator could): the staleness rule (30 s) and the restart are the rock's."""
    desired = desired_state(backing_services, "indico_worker_liveness", is_leader=False)
    # The worker runs only on its release's schema, which a unit's web service migrates.
    code, output = run_migration(docker_client, rocks["indico"].image, rock_environment.indico(desired))
    assert code == 0, output[-2000:]
    pod = start_like_juju(docker_client, rocks["indico"].image, tmp_path / "celery", container_uid("celery"))
    try:
        container = charm_container("celery", pod)
        assert pebble_ops.apply_layer(container, workload.desired_layers(desired, is_leader=False)["celery"])
        pod.client.add_layer(
            "test-period", {"checks": {workload.WORKER_CHECK: {"override": "merge", "period": "5s"}}}, combine=True
        )
        pod.client.replan_services()
        # alive stays 200 until the threshold, so wait for the check itself to have passed.
        wait_for(lambda: beating(pod), 120, "the worker's first heartbeats")
        assert health_status(pod, "alive") == 200
        levels = {c.name: c.level for c in pod.client.get_checks() if c.name == workload.WORKER_CHECK}
        assert levels == {workload.WORKER_CHECK: pebble.CheckLevel.ALIVE}

        frozen, passed_before = worker_pid(pod), worker_check(pod).successes or 0
        assert frozen, "the worker's main process"
        os.kill(frozen, signal.SIGSTOP)
        started = time.monotonic()
        wait_for(
            lambda: health_status(pod, "alive") == 502, 30 + 5 * 3 + 5 * 3 + 10, "a frozen worker to fail liveness"
        )
        assert time.monotonic() - started >= 20, "liveness failed before the heartbeat went stale: not the check"
        wait_for(lambda: worker_pid(pod) not in (0, frozen), 60, "Pebble to restart the frozen worker")
        wait_for(
            lambda: beating(pod) and (worker_check(pod).successes or 0) > passed_before,
            120,
            "the new worker's heartbeat to pass the check",
        )
        assert health_status(pod, "alive") == 200
    finally:
        pod.container.remove(force=True)
