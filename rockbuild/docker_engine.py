"""The local Docker engine: the connection, and loading OCI images into it with skopeo."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import docker
import docker.errors

from rockbuild import host_tools as commands
from rockbuild.cache import cache_root, exclusive
from rockbuild.errors import BuildError
from rockbuild.progress import Progress


@cache
def client() -> docker.DockerClient:
    try:
        engine = docker.from_env()
        engine.ping()
    except docker.errors.DockerException as exc:
        raise BuildError(
            f"cannot reach a Docker engine ({exc}). Start one (`make host` starts dockerd) or set DOCKER_HOST."
        ) from exc
    return engine


def image_id(ref: str) -> str | None:
    try:
        return str(client().images.get(ref).id)
    except docker.errors.ImageNotFound:
        return None


def load_oci(source: str, ref: str) -> str:
    """Copy an image (`oci:DIR:TAG` or `oci-archive:FILE:TAG`) into Docker as `ref`; return its id.

    Docker engines before 25 cannot `docker load` an OCI archive, so skopeo does the copy, as
    rockcraft's own documentation does (`rockcraft.skopeo copy oci-archive:... docker-daemon:...`).
    """
    commands.require_tool("skopeo", "Run `make host` to install it.")
    commands.run(
        ["skopeo", "--insecure-policy", "copy", "--quiet", source, f"docker-daemon:{ref}"],
        what=f"load {ref} into Docker",
    )
    loaded = image_id(ref)
    if loaded is None:
        raise BuildError(f"skopeo reported success but Docker has no image {ref}")
    return loaded


CPU_SHARES_SETTING = "ROCKBUILD_CPU_SHARES"


def build_priority() -> dict[str, int]:
    """Docker's CPU weight for build containers: $ROCKBUILD_CPU_SHARES (Docker's default is 1024),
    so that builds running beside something that must stay responsive (the image tests' site lane)
    yield the cores to it when both want them."""
    setting = os.environ.get(CPU_SHARES_SETTING, "")
    if not setting:
        return {}
    if not setting.isdigit() or not 2 <= int(setting) <= 262144:
        raise BuildError(
            f"{CPU_SHARES_SETTING}={setting!r}: give a whole number from 2 to 262144 (Docker's default: 1024)"
        )
    return {"cpu_shares": int(setting)}


def ensure_image_from_oci(source: str, ref: str, source_digest: str, progress: Progress) -> str:
    """Load `source` as `ref` unless Docker already has that exact image under that name."""
    marker = cache_root() / "docker-loaded" / ref.replace("/", "_").replace(":", "_")
    with exclusive(marker, f"loading {ref}"):
        current = image_id(ref)
        if current and marker.exists() and marker.read_text().split() == [source_digest, current]:
            return current
        progress.say("docker", f"load {ref}")
        loaded = load_oci(source, ref)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{source_digest} {loaded}\n")
        return loaded


def host_ca_bundle() -> Path | None:
    for candidate in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"):
        if Path(candidate).is_file():
            return Path(candidate)
    return None
