"""Builds one rock: with the local builder (rockbuild.build) or real `rockcraft pack` (installed,
or run in a container by rockbuild.real_rockcraft); both write the same artifact
(rockbuild.build.artifact). rockcraft.yaml is read here, once, and handed to the builder chosen."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rockbuild.build import local_build, sbom
from rockbuild.build.artifact import BuiltRock, load_into_docker, platform_label
from rockbuild.build.project import Project, load_project
from rockbuild.errors import BuildError
from rockbuild.progress import Progress
from rockbuild.real_rockcraft import pack
from rockbuild.real_rockcraft import source as rockcraft_source


def build_with_rockcraft(rock_dir: Path, project: Project, progress: Progress, source: str | None = None) -> BuiltRock:
    """`rockcraft pack` itself when it is installed, else real rockcraft in a container."""
    if shutil.which("rockcraft"):
        progress.say("rockcraft pack")
        done = subprocess.run(["rockcraft", "pack"], cwd=rock_dir, check=False)
        if done.returncode != 0:
            raise BuildError(f"rockcraft pack failed in {rock_dir} (exit {done.returncode})")
        candidates = sorted(
            rock_dir.glob(f"{project.name}_*_{platform_label(project)}.rock"), key=lambda p: p.stat().st_mtime
        )
        if not candidates:
            raise BuildError(f"rockcraft pack wrote no {project.name}_*.rock in {rock_dir}")
        out = candidates[-1]
    else:
        out = pack.pack(rock_dir, project, rockcraft_source.resolve(source), rock_dir, progress)
    version = out.name.split("_")[1]
    image_id = load_into_docker(project, version, out, progress)
    return BuiltRock(project.name, version, out, image_id, reused=False)


def choose_builder(requested: str) -> str:
    """auto: rockcraft when it is installed, else the local builder. rockcraft: installed, or in a container."""
    if requested == "auto":
        return "rockcraft" if shutil.which("rockcraft") else "local"
    return requested


def build(
    rock_dir: Path, builder: str, verbose: bool = False, force: bool = False, rockcraft_source: str | None = None
) -> BuiltRock:
    progress = Progress(rock_dir.name)
    project = load_project(rock_dir / "rockcraft.yaml")
    chosen = choose_builder(builder)
    progress.say(f"builder: {chosen}")
    if chosen == "rockcraft":
        built = build_with_rockcraft(rock_dir, project, progress, rockcraft_source)
    else:
        built = local_build.build_local(rock_dir, project, progress, verbose=verbose, force=force)
    sbom.ensure(built.path, built.image, built.name, built.version, progress)
    progress.say("done", f"{built.path} -> docker image {built.image}")
    return built


def default_jobs(count: int) -> int:
    """Every rock at once, up to one more than there are cores: a build spends much of its time
    waiting for downloads, Docker and the tools it shares with the others, so one more build than
    cores keeps the cores busy (three rocks on 2 cores: see the README's fresh-machine figures)."""
    return max(1, min(count, (os.cpu_count() or 1) + 1))


def build_all(
    rock_dirs: list[Path],
    builder: str,
    jobs: int,
    verbose: bool = False,
    force: bool = False,
    rockcraft_source: str | None = None,
) -> list[BuiltRock]:
    """Build independent rocks at once, `jobs` at a time. What they share (the base, the build-tool
    image, Pebble, chisel) is made once, by whichever build needs it first; the others wait for it
    (rockbuild.cache.exclusive). Each progress line names its rock. A failing rock does not stop the
    others; every failure is reported, each naming its rock."""
    one = functools.partial(build, builder=builder, verbose=verbose, force=force, rockcraft_source=rockcraft_source)
    if jobs <= 1 or len(rock_dirs) <= 1:
        return [one(rock_dir) for rock_dir in rock_dirs]
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="build") as pool:
        futures = [(rock_dir, pool.submit(one, rock_dir)) for rock_dir in rock_dirs]
    built, failed = [], []
    for rock_dir, future in futures:
        error = future.exception()
        if error is None:
            built.append(future.result())
        elif isinstance(error, BuildError):
            failed.append(f"{rock_dir.name}: {error}")
        else:
            raise error
    if failed:
        raise BuildError("\n".join(failed))
    return built
