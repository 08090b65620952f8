"""Where the indico-nginx rock listens: NGINX_LISTEN_ADDRESS, IPv6 included.

Its own module: a second NGINX in the same network namespace would find 127.0.0.1:9080
(stub_status) taken by the other modules' pods.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

import docker
import pytest

from rockbuild.build.artifact import BuiltRock
from tests.image.conftest import exec_text, wait_for


def test_nginx_and_its_exporter_listen_on_ipv6_alone(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock]
) -> None:
    if not Path("/proc/net/if_inet6").exists():
        pytest.skip("this machine has no IPv6, so ::1 cannot be tested here")
    nginx = docker_client.containers.run(
        rocks["indico-nginx"].image, detach=True, network_mode="host", environment={"NGINX_LISTEN_ADDRESS": "::1"}
    )
    try:
        opener = urllib.request.build_opener()
        wait_for(lambda: opener.open("http://[::1]:8080/health", timeout=5).status == 204, 30, "NGINX on [::1]:8080")
        assert b"nginx_up 1" in opener.open("http://[::1]:9113/metrics", timeout=5).read()
        with pytest.raises(OSError):
            opener.open("http://127.0.0.1:8080/health", timeout=5)
    finally:
        nginx.remove(force=True)


def test_the_default_listens_on_both_families_and_bad_trust_is_refused(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock]
) -> None:
    """Without a setting: one dual-stack socket on [::]. Checked with `nginx -t`, which binds nothing
    (the tests' servers stay on loopback)."""
    container = docker_client.containers.run(
        rocks["indico-nginx"].image, entrypoint=["sleep", "60"], detach=True, network_mode="host"
    )
    try:
        script = "/usr/local/bin/indico-nginx-start check && grep -h listen /tmp/nginx/nginx.conf"
        listens = exec_text(container, ["bash", "-c", script])
        assert "listen [::]:8080 default_server ipv6only=off;" in listens
        code, output = container.exec_run(
            ["/usr/local/bin/indico-nginx-start", "nginx"], environment={"NGINX_TRUSTED_PROXIES": "10.0.0.0/8 evil;"}
        )
        assert code == 64 and b"NGINX_TRUSTED_PROXIES: 'evil;'" in output
    finally:
        container.remove(force=True)
