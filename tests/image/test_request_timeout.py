"""One request timeout for both rocks (INDICO_REQUEST_TIMEOUT, the charm's request_timeout): uWSGI
ends a request at the timeout, and NGINX, which waits 5 s longer, passes on uWSGI's answer. A
request is held by a real lock: PostgreSQL keeps Indico's users table locked while it runs."""

from __future__ import annotations

import io
import tarfile
import threading
import time
from collections.abc import Iterator

import docker
import docker.models.containers
import pytest

from rockbuild.build.artifact import BuiltRock
from tests.image import indico_site, lane_network
from tests.image.conftest import wait_for
from tests.image.services import Postgres, Redis
from tests.image.test_indico_rocks import indico_env, logs

TIMEOUT = 8  # seconds; the default is 900
DATABASE = "indico_request_timeout"


@pytest.fixture(scope="module")
def site(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock], backing_services: tuple[Postgres, Redis]
) -> Iterator[tuple[docker.models.containers.Container, docker.models.containers.Container, Postgres]]:
    postgres, redis = backing_services
    shared = {"INDICO_REQUEST_TIMEOUT": str(TIMEOUT)}  # one setting, given to both rocks
    indico = docker_client.containers.run(
        rocks["indico"].image,
        detach=True,
        network_mode=lane_network.container_network(),
        environment=indico_env(postgres, redis, DATABASE) | shared,
    )
    nginx = docker_client.containers.run(
        rocks["indico-nginx"].image,
        detach=True,
        network_mode=lane_network.container_network(),
        environment={"NGINX_LISTEN_ADDRESS": "127.0.0.1", **shared},
    )
    try:
        wait_for(lambda: indico_site.Browser().get("/bootstrap").status_code == 200, 300, "Indico through NGINX")
        yield indico, nginx, postgres
    finally:
        indico.remove(force=True)
        nginx.remove(force=True)


def test_nginx_waits_five_seconds_longer_than_uwsgi(
    site: tuple[object, docker.models.containers.Container, Postgres],
) -> None:
    _, nginx, _ = site
    stream, _ = nginx.get_archive("/tmp/nginx/nginx.conf")  # the chiselled rock has no cat
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile("nginx.conf")
        assert member is not None
        config = member.read().decode()
    assert f"proxy_read_timeout {TIMEOUT + 5}s;" in config and f"proxy_send_timeout {TIMEOUT + 5}s;" in config


def test_a_request_longer_than_the_timeout_is_ended_by_uwsgi_not_abandoned_by_nginx(
    site: tuple[docker.models.containers.Container, object, Postgres],
) -> None:
    indico, _, postgres = site
    hold = TIMEOUT + 12
    locker = threading.Thread(
        target=postgres.psql,
        args=(f"BEGIN; LOCK TABLE users.users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({hold}); COMMIT;", DATABASE),
    )
    locker.start()
    try:
        time.sleep(1)  # the lock is taken
        started = time.monotonic()
        # A visitor with a session (NGINX's page cache would give anyone else the page it kept
        # while this one is rendered again): the request reads users.users and waits on the lock.
        answer = indico_site.Browser().get("/bootstrap", headers={"Cookie": "indico_session=timeout-test"})
        took = time.monotonic() - started
    finally:
        locker.join(hold + 30)
    assert answer.status_code == 502, answer.status_code
    assert TIMEOUT - 1 <= took < TIMEOUT + 5, f"answered after {took:.1f} s: not uWSGI's harakiri"
    assert "HARAKIRI" in logs(indico), "uWSGI ended the request"


def test_a_request_under_way_when_pebble_stops_the_services_is_answered(
    site: tuple[docker.models.containers.Container, docker.models.containers.Container, Postgres],
) -> None:
    """Pebble stops a service (a pod deleted, a refresh, a restart) with SIGTERM to its process
    group. uWSGI and NGINX each finish the request they are serving before they exit."""
    indico, nginx, postgres = site
    hold = 6
    locker = threading.Thread(
        target=postgres.psql,
        args=(f"BEGIN; LOCK TABLE users.users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({hold}); COMMIT;", DATABASE),
    )
    answers: list[int] = []
    visitor = threading.Thread(
        target=lambda: answers.append(
            indico_site.Browser().get("/bootstrap", headers={"Cookie": "indico_session=stop-test"}).status_code
        )
    )
    locker.start()
    try:
        time.sleep(1)  # the lock is taken
        visitor.start()
        time.sleep(1)  # the request waits on the lock, in uWSGI behind NGINX
        stops = [
            threading.Thread(target=container.exec_run, args=(["pebble", "stop", service],))
            for container, service in ((indico, "indico"), (nginx, "nginx"))
        ]
        for stop in stops:
            stop.start()
        for stop in stops:
            stop.join(hold + 60)
        visitor.join(hold + 60)
    finally:
        locker.join(hold + 30)
    assert answers == [200], f"the request under way was answered {answers}"
    with pytest.raises(OSError):
        indico_site.Browser().get("/bootstrap")  # and nothing is served after
    for container, service in ((indico, "indico"), (nginx, "nginx")):
        container.exec_run(["pebble", "start", service])
    wait_for(lambda: indico_site.Browser().get("/bootstrap").status_code == 200, 120, "Indico to serve again")
