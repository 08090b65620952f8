"""The artifact of a build, whichever builder made it: `<rock dir>/<name>_<version>_<platform>.rock`
(an OCI archive, as `rockcraft pack` writes it), loaded into Docker as `<name>:<version>`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rockbuild import docker_engine
from rockbuild.build import local_support
from rockbuild.build.project import Project
from rockbuild.cache import digest_of
from rockbuild.errors import BuildError
from rockbuild.progress import Progress


@dataclass
class BuiltRock:
    name: str
    version: str
    path: Path
    image_id: str
    reused: bool

    @property
    def image(self) -> str:
        """The Docker image reference it is loaded as."""
        return f"{self.name}:{self.version}"


def platform_label(project: Project) -> str:
    host = local_support.host_architecture()
    for label, spec in project.platforms.items():
        if (spec.build_for if spec else [label]) == [host]:
            return label
    raise BuildError(f"no platform in {project.name}'s rockcraft.yaml builds for {host}")


def rock_path(rock_dir: Path, project: Project, version: str) -> Path:
    return rock_dir / f"{project.name}_{version}_{platform_label(project)}.rock"


def load_into_docker(project: Project, version: str, path: Path, progress: Progress) -> str:
    image = f"{project.name}:{version}"
    source = f"oci-archive:{path}:{version}"
    return docker_engine.ensure_image_from_oci(
        source, image, digest_of(str(path.stat().st_mtime_ns), str(path)), progress
    )
