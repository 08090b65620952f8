"""Uploaded files: on a volume shared by the web and Celery containers, and in an S3 bucket.

The containers run one role each, as the charm runs them (web in `indico`, the worker in `celery`),
so a Celery task that reads stored files proves the two see the same volume. NGINX has the volume
too, as in the charm's pod, and sends stored files itself (INDICO_NGINX_SENDS_FILES). Files go in
and come out over HTTP through NGINX on 8080, as people upload and download them.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.models.volumes
import pytest
import requests
from docker.models.containers import Container

from rockbuild.build.artifact import BuiltRock
from tests.image import indico_site, lane_network
from tests.image.conftest import exec_text, wait_for
from tests.image.ingress_proxy import TlsIngress
from tests.image.services import Postgres, Redis, S3Server, s3_client
from tests.image.test_indico_rocks import indico_env

ARCHIVE = "/var/lib/indico/archive"


@dataclass
class Deployment:
    """One application: NGINX, and per unit a web and a Celery container on that unit's volume."""

    client: docker.DockerClient
    rocks: dict[str, BuiltRock]
    env: dict[str, str]
    running: dict[str, Container] = field(default_factory=dict)
    volumes: list[docker.models.volumes.Volume] = field(default_factory=list)

    def volume(self) -> str:
        volume = self.client.volumes.create(f"indico-archive-{uuid.uuid4().hex[:8]}")
        self.volumes.append(volume)
        return str(volume.name)

    def start(self, role: str, volume: str) -> Container:
        """`indico-start <role>` alone in its container, the volume at the archive path."""
        self.running[role] = self.client.containers.run(
            self.rocks["indico"].image,
            ["exec", "/usr/local/bin/indico-start", role],
            detach=True,
            network_mode=lane_network.container_network(),
            environment={**self.env, "INDICO_NGINX_SENDS_FILES": "true"},
            volumes={volume: {"bind": ARCHIVE, "mode": "rw"}},
        )
        return self.running[role]

    def start_nginx(self, volume: str) -> None:
        """NGINX with the unit's volume, read-only: it sends stored files, never writes them."""
        self.running["nginx"] = self.client.containers.run(
            self.rocks["indico-nginx"].image,
            detach=True,
            network_mode=lane_network.container_network(),
            environment={"NGINX_LISTEN_ADDRESS": "127.0.0.1"},
            volumes={volume: {"bind": ARCHIVE, "mode": "ro"}},
        )

    def remove(self, *roles: str) -> None:
        for role in roles:
            self.running.pop(role).remove(force=True)

    def wait_until_served(self) -> None:
        wait_for(lambda: indico_site.Browser().get("/login/").status_code == 200, 300, "Indico to answer through NGINX")

    def close(self) -> None:
        self.remove(*list(self.running))
        for volume in self.volumes:
            volume.remove(force=True)


@pytest.fixture
def deployment(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock]
) -> Iterator[Callable[[dict[str, str]], Deployment]]:
    made: list[Deployment] = []

    def make(env: dict[str, str]) -> Deployment:
        made.append(Deployment(docker_client, rocks, env))
        return made[-1]

    yield make
    for each in made:
        each.close()


def payload(name: str) -> bytes:
    """A file no compression or text handling could pass through unchanged by accident."""
    return name.encode() + os.urandom(256 * 1024)


def files_in(container: Container) -> list[str]:
    return exec_text(container, ["find", ARCHIVE, "-type", "f"]).split()


def test_an_upload_survives_new_containers_and_celery_reads_it(
    deployment: Callable[[dict[str, str]], Deployment], backing_services: tuple[Postgres, Redis]
) -> None:
    postgres, redis = backing_services
    app = deployment(indico_env(postgres, redis, "indico_files_volume"))
    volume = app.volume()
    web = app.start("web", volume)
    celery = app.start("celery-worker", volume)
    app.start_nginx(volume)
    app.wait_until_served()
    indico_site.create_admin(web)
    event = indico_site.create_event(web, "Files on the volume")

    browser = indico_site.Browser()
    browser.log_in()
    content = payload("slides")
    path = browser.upload_attachment(event, "slides.bin", content)
    assert browser.get(path).content == content
    stored = files_in(celery)
    assert len(stored) == 1, f"the worker's container sees the web container's upload: {stored}"
    assert exec_text(celery, ["stat", "-c", "%U %s", stored[0]]).split() == ["_daemon_", str(len(content))]
    assert_sent_by_nginx(web, path, len(content))
    internal = "/.xsf/archive/" + stored[0].removeprefix(ARCHIVE + "/")
    assert indico_site.Browser().get(internal).status_code == 404, "NGINX's internal location is not a URL"
    assert browser.get(internal).status_code == 404, "not even for a signed-in administrator"

    app.remove("web", "celery-worker")  # as a pod is recreated: new containers, the same volume
    web = app.start("web", volume)
    celery = app.start("celery-worker", volume)
    app.wait_until_served()
    assert indico_site.Browser().get("/login/").status_code == 200
    again = indico_site.Browser()
    again.log_in()
    downloaded = again.get(path)
    assert downloaded.status_code == 200
    assert hashlib.sha256(downloaded.content).hexdigest() == hashlib.sha256(content).hexdigest()

    # The material package is built by the Celery worker from the stored files and stored again;
    # the web container then serves the package the worker wrote.
    package = zipfile.ZipFile(io.BytesIO(again.material_package(event)))
    members = [name for name in package.namelist() if name.endswith("slides.bin")]
    assert len(members) == 1 and package.read(members[0]) == content
    worker_log = celery.logs().decode(errors="replace")
    assert "generate_materials_package" in worker_log and "succeeded" in worker_log


@pytest.fixture
def s3_server(tmp_path: Path) -> Iterator[str]:
    """moto's S3 server on loopback (plain http), with a bucket for Indico."""
    server = S3Server.start(tmp_path)
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture
def s3_over_tls(s3_server: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The S3 server behind TLS with a certificate of a private CA (Debian's NGINX): the https
    endpoint Indico is given, and the CA's PEM, as s3-integrator's tls-ca-chain carries it."""
    proxy = TlsIngress.start(tmp_path / "tls", "localhost", (s3_server.removeprefix("http://"),))
    try:
        yield f"https://localhost:{proxy.https_port}", proxy.certificate.read_text()
    finally:
        proxy.stop()


def assert_sent_by_nginx(web: Container, path: str, size: int) -> None:
    """uWSGI logs each request with the bytes it generated: for a download NGINX sent, a few
    hundred (headers), not the file."""
    lines = [line for line in web.logs().decode(errors="replace").splitlines() if f"GET {path} " in line]
    generated = [int(found.group(1)) for line in lines if (found := re.search(r"=> generated (\d+) bytes", line))]
    assert generated and max(generated) < size // 10, f"uWSGI sent the file itself: {lines}"


def test_a_protected_file_is_refused_before_nginx_sends_anything(
    deployment: Callable[[dict[str, str]], Deployment], backing_services: tuple[Postgres, Redis]
) -> None:
    postgres, redis = backing_services
    app = deployment(indico_env(postgres, redis, "indico_files_protected"))
    volume = app.volume()
    web = app.start("web", volume)
    app.start_nginx(volume)
    app.wait_until_served()
    indico_site.create_admin(web)
    event = indico_site.create_event(web, "Protected files")
    manager = indico_site.Browser()
    manager.log_in()
    content = payload("minutes")
    path = manager.upload_attachment(event, "minutes.bin", content)
    indico_site.protect_event(web, event)

    anonymous = indico_site.Browser().get(path, allow_redirects=False)
    assert anonymous.status_code in (302, 403), anonymous.status_code  # Indico sends a guest to log in
    assert content[:64] not in anonymous.content and "X-Accel-Redirect" not in anonymous.headers
    allowed = manager.get(path)
    assert allowed.status_code == 200 and allowed.content == content
    assert "X-Accel-Redirect" not in allowed.headers, "NGINX consumes the header"
    assert_sent_by_nginx(web, path, len(content))
    # A file Indico sends from outside the archive (its own static files, straight from uWSGI on
    # loopback) is still sent whole by uWSGI.
    logo = requests.get("http://127.0.0.1:8081/images/logo_indico.png", headers={"Host": "localhost:8080"}, timeout=30)
    assert logo.status_code == 200 and logo.content.startswith(b"\x89PNG") and "X-Accel-Redirect" not in logo.headers
    assert len(logo.content) == int(logo.headers["Content-Length"])


def test_with_s3_every_unit_serves_every_upload(
    deployment: Callable[[dict[str, str]], Deployment],
    backing_services: tuple[Postgres, Redis],
    s3_server: str,
    s3_over_tls: tuple[str, str],
) -> None:
    postgres, redis = backing_services
    endpoint, ca_pem = s3_over_tls
    env = indico_env(postgres, redis, "indico_files_s3") | {
        # What the charm sets from s3-integrator's answer (relations/s3.py): an https endpoint
        # whose certificate only the tls-ca-chain's CA vouches for.
        "INDICO_S3_BUCKET": "indico-files",
        "INDICO_S3_ENDPOINT": endpoint,
        "INDICO_S3_ACCESS_KEY": "indico-key",
        "INDICO_S3_SECRET_KEY": "indico/secret+key=",
        "INDICO_S3_ADDRESSING_STYLE": "path",
        "INDICO_S3_REGION": "eu-west-1",
        "INDICO_S3_CA_BUNDLE": ca_pem,
    }
    app = deployment(env)
    volume = app.volume()
    first_unit = app.start("web", volume)
    app.start_nginx(volume)
    app.wait_until_served()
    indico_site.create_admin(first_unit)
    event = indico_site.create_event(first_unit, "Files in a bucket")
    browser = indico_site.Browser()
    browser.log_in()
    content = payload("poster")
    path = browser.upload_attachment(event, "poster.bin", content)

    objects = s3_client(s3_server).list_objects_v2(Bucket="indico-files").get("Contents", [])
    assert len(objects) == 1, objects
    stored = s3_client(s3_server).get_object(Bucket="indico-files", Key=objects[0]["Key"])["Body"].read()
    assert stored == content
    assert files_in(first_unit) == [], "nothing is written to the unit's own volume"

    # A second unit: its own, empty volume; the same bucket. (One host network has one port 8081,
    # so the units take turns behind NGINX.)
    app.remove("web")
    app.start("web", app.volume())
    app.wait_until_served()
    second = indico_site.Browser()
    second.log_in()
    downloaded = second.get(path)
    assert downloaded.status_code == 200 and downloaded.content == content
