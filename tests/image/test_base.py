"""The local base looks like the registry's ubuntu:24.04 that rockcraft stacks rocks on: upgraded,
with the ubuntu user, without a CA bundle and without the build host's resolv.conf."""

from __future__ import annotations

import subprocess
from pathlib import Path

import docker
import pytest

from rockbuild.build import base
from rockbuild.progress import Progress

# noble's release pocket (April 2024); -updates has carried newer ones since.
RELEASE_POCKET = {"libc6": "2.39-0ubuntu8", "libssl3t64": "3.0.13-0ubuntu3"}


@pytest.fixture(scope="module")
def noble(docker_client: docker.DockerClient) -> base.BaseImage:
    return base.ensure_base("ubuntu@24.04", Progress("base"))


def installed_version(rootfs: Path, package: str) -> str:
    status = (rootfs / "var/lib/dpkg/status").read_text()
    for stanza in status.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line.startswith(" "))
        if fields.get("Package") == package and fields.get("Status", "").endswith(" installed"):
            return fields["Version"]
    raise AssertionError(f"{package} is not installed in {rootfs}")


@pytest.mark.parametrize("package", sorted(RELEASE_POCKET))
def test_the_base_is_upgraded_past_the_release_pocket(noble: base.BaseImage, package: str) -> None:
    version = installed_version(noble.rootfs, package)
    newer = subprocess.run(["dpkg", "--compare-versions", version, "gt", RELEASE_POCKET[package]], check=False)
    assert newer.returncode == 0, f"{package} {version} is the release pocket's"


def test_the_base_has_the_ubuntu_user_and_no_host_leftovers(noble: base.BaseImage) -> None:
    passwd = (noble.rootfs / "etc/passwd").read_text()
    assert "ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash" in passwd.splitlines()
    assert not (noble.rootfs / "etc/resolv.conf").exists()
    assert not (noble.rootfs / "etc/ssl/certs/ca-certificates.crt").exists()
    assert not list((noble.rootfs / "var/lib/apt/lists").glob("*_Packages"))
