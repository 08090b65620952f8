"""One persistent build container per rock: rockcraft keeps its LXD instance between builds; the
local builder keeps this container (stopped, not removed), so that build-packages installed once
stay installed."""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors

from rockbuild import docker_engine
from rockbuild.build.base import BaseImage
from rockbuild.build.buildenv.containers import fuse_access
from rockbuild.build.buildenv.host_settings import WRITE_PIP_CONF, ca_volume, container_env
from rockbuild.cache import cache_root, digest_of
from rockbuild.errors import BuildError

SOURCE_ROOT = Path(__file__).resolve().parents[3]  # the directory that holds the rockbuild package
# Go's compile cache where the Go tools' builds keep theirs (the machine's /root/go is their /go):
# the standard library and shared modules compile once for Pebble, chisel and every Go part.
GO_BUILD_CACHE = {"GOCACHE": "/root/go/build-cache"}


def project_key(project_dir: Path) -> str:
    return digest_of(str(project_dir.resolve()))


def remove_build_containers(project_dir: Path, keep: str | None = None) -> None:
    """Remove the build containers of one rock directory (except `keep`)."""
    engine = docker_engine.client()
    label = f"rockbuild.build.project={project_key(project_dir)}"
    for container in engine.containers.list(all=True, filters={"label": label}):
        if container.name != keep:
            container.remove(force=True)


@dataclass
class BuildContainer:
    """A long-lived container in which the parts of one rock are built."""

    name: str
    rock: str
    project_dir: Path
    tool_image: str
    mounts: dict[str, str]  # host path -> container path
    read_only: set[str] = field(default_factory=set)

    def _volumes(self) -> dict[str, dict[str, str]]:
        volumes = ca_volume()
        for host, inside in self.mounts.items():
            volumes[host] = {"bind": inside, "mode": "ro" if inside in self.read_only else "rw"}
        return volumes

    def remove_stale(self) -> None:
        """Remove this rock directory's build containers made for other tool images or mounts."""
        remove_build_containers(self.project_dir, keep=self.name)

    def start(self) -> None:
        engine = docker_engine.client()
        self.remove_stale()
        try:
            container = engine.containers.get(self.name)
        except docker.errors.NotFound:
            for host in self.mounts:
                if not Path(host).is_file():
                    Path(host).mkdir(parents=True, exist_ok=True)
            container = engine.containers.create(
                self.tool_image,
                ["bash", "-c", f"{WRITE_PIP_CONF}; exec sleep infinity"],
                name=self.name,
                network_mode="host",
                volumes=self._volumes(),
                environment=container_env(),
                **fuse_access(),
                **docker_engine.build_priority(),
                labels={
                    "rockbuild": "build-container",
                    "rockbuild.rock": self.rock,
                    "rockbuild.build.project": project_key(self.project_dir),
                },
            )
        if container.status != "running":
            container.start()

    def exec(self, argv: list[str]) -> Iterator[bytes]:
        """Run `argv` in the container, yielding its output; raise BuildError on a non-zero exit."""
        api = docker_engine.client().api
        exec_id = api.exec_create(self.name, argv, environment={**GO_BUILD_CACHE, **container_env()})["Id"]
        yield from api.exec_start(exec_id, stream=True)
        code = api.exec_inspect(exec_id)["ExitCode"]
        if code != 0:
            raise BuildError(f"`{shlex.join(argv)}` failed in build container {self.name} (exit {code})")

    def stop(self) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            docker_engine.client().containers.get(self.name).stop(timeout=2)


def build_container_for(
    rock: str,
    project_dir: Path,
    work: Path,
    tool_image: str,
    base: BaseImage,
    pebble_builds: Path,
    tools: dict[str, str] | None = None,
) -> BuildContainer:
    """`pebble_builds`: the machine's Pebble builds, each version's directory appearing whole when
    it is made; `tools`: more read-only mounts, host path -> container path (chisel, for rocks with
    slices)."""
    root = cache_root()
    mounts = {
        str(project_dir.resolve()): "/project",
        str(work): "/work",
        str(root / "craft-parts"): "/cache",
        str(root / "pip"): "/root/.cache/pip",
        str(root / "go"): "/root/go",
        str(pebble_builds): "/rockbuild/pebble",
        str(SOURCE_ROOT / "rockbuild"): "/rockbuild/src/rockbuild",
        str(base.rootfs): "/rockbuild/base",
        **(tools or {}),
    }
    read_only = {"/rockbuild/pebble", "/rockbuild/src/rockbuild", "/rockbuild/base", *(tools or {}).values()}
    key = digest_of(tool_image, repr(sorted(mounts.items())), repr(sorted(ca_volume())))
    return BuildContainer(
        name=f"rockbuild-{rock}-{key}",
        rock=rock,
        project_dir=project_dir,
        tool_image=tool_image,
        mounts=mounts,
        read_only=read_only,
    )
