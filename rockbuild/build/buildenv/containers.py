"""Throw-away containers of the build environment: run a script once, or commit one's result as
an image; their output streamed to a log, their failure a BuildError with the log's tail."""

from __future__ import annotations

import contextlib
import io
import tarfile
from collections.abc import Callable
from pathlib import Path

import docker.errors

from rockbuild import docker_engine
from rockbuild.build.base import BaseImage
from rockbuild.build.buildenv.host_settings import ca_bundle, ca_volume, container_env, setup_env_script
from rockbuild.errors import BuildError


def _stream_and_wait(
    container: docker.models.containers.Container, log: Path, on_line: Callable[[str], None] | None = None
) -> int:
    pending = b""
    with log.open("wb") as out:
        for chunk in container.logs(stream=True, follow=True):
            out.write(chunk)
            if on_line is not None:
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    on_line(line.decode(errors="replace").rstrip())
    if on_line is not None and pending:
        on_line(pending.decode(errors="replace").rstrip())
    return int(container.wait()["StatusCode"])


def fuse_access() -> dict[str, list[str]]:
    """What a container needs to mount fuse-overlayfs (craft-parts' overlay steps), without --privileged."""
    return {"cap_add": ["SYS_ADMIN"], "devices": ["/dev/fuse:/dev/fuse"] if Path("/dev/fuse").exists() else []}


def run_once(
    image: str,
    script: str,
    volumes: dict[str, dict[str, str]],
    log: Path,
    what: str,
    *,
    fuse: bool = False,
    on_line: Callable[[str], None] | None = None,
) -> None:
    """Run `script` in a throw-away container of `image`; fail with the log's tail.
    `on_line` sees each line of output as it comes (for progress)."""
    engine = docker_engine.client()
    log.parent.mkdir(parents=True, exist_ok=True)
    container = engine.containers.run(
        image,
        ["bash", "-c", script],
        detach=True,
        network_mode="host",
        volumes={**ca_volume(), **volumes},
        environment=container_env(),
        **(fuse_access() if fuse else {}),
        **docker_engine.build_priority(),
    )
    try:
        code = _stream_and_wait(container, log, on_line)
        if code != 0:
            raise BuildError(f"{what} failed (exit {code}); last lines of {log}:\n{_tail(log)}")
    finally:
        container.remove(force=True)


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(content), 0o755
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def commit_image(from_image: str, ref: str, files: dict[str, bytes], script: str, log: Path, what: str) -> None:
    """Run `script` in a container of `from_image` with `files` in /rockbuild-setup, and commit it as `ref`.

    The user's proxy, index and CA settings reach the script through a file that is removed before
    the commit, so that none of them is kept in the image.
    """
    bundle = ca_bundle()
    files = dict(files)
    if bundle:
        files["ca.crt"] = bundle.read_bytes()
    files["env.sh"] = setup_env_script("/rockbuild-setup/ca.crt" if bundle else None)
    full = f"set -e; . /rockbuild-setup/env.sh; ( {script} ); rm -rf /rockbuild-setup"
    # No volumes and no environment: `docker commit` would keep both in the image's config.
    container = docker_engine.client().containers.create(
        from_image, ["bash", "-c", full], network_mode="host", **docker_engine.build_priority()
    )
    try:
        container.put_archive("/", _archive({f"rockbuild-setup/{name}": data for name, data in files.items()}))
        container.start()
        log.parent.mkdir(parents=True, exist_ok=True)
        code = _stream_and_wait(container, log)
        if code != 0:
            raise BuildError(f"{what} failed (exit {code}); last lines of {log}:\n{_tail(log)}")
        repository, tag = ref.split(":")
        container.commit(repository=repository, tag=tag, changes=['CMD ["bash"]'])
    finally:
        container.remove(force=True)


def remove_older_images(base: BaseImage, keep: str) -> None:
    """Older images of `keep`'s repository for the same base (build-tool or rockcraft images, several
    hundred MB each). One still used by a container stays (Docker refuses to remove it)."""
    repository = keep.split(":", 1)[0]
    engine = docker_engine.client()
    for image in engine.images.list(name=repository):
        for tag in image.tags:
            if tag != keep and tag.startswith(f"{repository}:{base.tag}-"):
                with contextlib.suppress(docker.errors.APIError):
                    engine.images.remove(tag)
