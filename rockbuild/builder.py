"""Builds one rock: read rockcraft.yaml, run the parts, assemble the image, export it, load it.

Two builders produce the same artifact, `<rock dir>/<name>_<version>_<platform>.rock`, loaded into
Docker as `<name>:<version>`: real `rockcraft pack` (installed, or run in a container by
`real_rockcraft/`), and the local builder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rockbuild import base as bases
from rockbuild import buildenv, chisel, docker_engine, lifecycle, local_support, oci, prune, sbom
from rockbuild.cache import cache_root, digest_of, empty_directory
from rockbuild.errors import BuildError
from rockbuild.progress import Progress
from rockbuild.project import Project, load_project

BUILDER_SOURCES = Path(__file__).parent


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


def uses_slices(project: Project) -> bool:
    return any("_" in package for part in project.parts.values() for package in part.get("stage-packages") or [])


# What a build writes into the rock's directory: never an input of the next one.
BUILD_OUTPUTS = (".rock", ".partial", ".cdx.json")


def input_digest(rock_dir: Path, base_digest: str) -> str:
    """Everything a build depends on: the rock's files, the builder's code, the base, Pebble, and
    for rocks with chisel slices, chisel's version and the slice definitions it was given."""
    pieces: list[bytes | str] = [base_digest, buildenv.PEBBLE_VERSION, chisel.CHISEL_VERSION]
    pieces.append(chisel.release_fingerprint())
    for root in (rock_dir, BUILDER_SOURCES):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root)
            if path.name.endswith(BUILD_OUTPUTS) or "__pycache__" in rel.parts:
                continue
            pieces += [str(rel), path.read_bytes()]
    return digest_of(*pieces)


def _stamp_file(rock_dir: Path) -> Path:
    return cache_root() / "stamps" / f"{digest_of(str(rock_dir.resolve()))}.json"


def work_dir_for(rock_dir: Path, name: str) -> Path:
    """craft-parts' work directory: one per rock directory, so two checkouts never share one."""
    return cache_root() / "work" / f"{name}-{digest_of(str(rock_dir.resolve()))[:8]}"


@contextlib.contextmanager
def exclusive(work: Path) -> Iterator[None]:
    """One build at a time per work directory; a second one waits for the first."""
    work.parent.mkdir(parents=True, exist_ok=True)
    with open(work.with_name(work.name + ".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another build of {work.name} to finish", file=sys.stderr, flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def forget(rock_dir: Path) -> None:
    """Drop a rock's part work, build container and stamp, so that its next build starts cold.

    Machine-wide caches (base, build-tool image, Pebble, downloads) stay.
    """
    project = load_project(rock_dir / "rockcraft.yaml")
    with exclusive(work_dir_for(rock_dir, project.name)):
        shutil.rmtree(work_dir_for(rock_dir, project.name), ignore_errors=True)
        _stamp_file(rock_dir).unlink(missing_ok=True)
        buildenv.remove_build_containers(rock_dir)


def _up_to_date(rock_dir: Path, digest: str) -> tuple[Path, str] | None:
    stamp = _stamp_file(rock_dir)
    if not stamp.exists():
        return None
    data = json.loads(stamp.read_text())
    path = Path(data["path"])
    if data.get("inputs") == digest and path.exists():
        return path, str(data["version"])
    return None


def _load(project: Project, version: str, path: Path, progress: Progress) -> str:
    image = f"{project.name}:{version}"
    source = f"oci-archive:{path}:{version}"
    return docker_engine.ensure_image_from_oci(
        source, image, digest_of(str(path.stat().st_mtime_ns), str(path)), progress
    )


def build_local(rock_dir: Path, progress: Progress, verbose: bool = False, force: bool = False) -> BuiltRock:
    source = rock_dir / "rockcraft.yaml"
    project = load_project(source)
    local_support.ensure_supported(project, str(source))
    base = bases.ensure_base(project.base, progress)
    with exclusive(work_dir_for(rock_dir, project.name)):
        return _build_local(rock_dir, project, base, progress, verbose, force)


def _start_cold_if_the_environment_changed(work: Path, environment: str, progress: Progress) -> None:
    """Part state made on another base or build environment is not reused: staged packages and
    files craft-parts copies from the build host (targets of absolute symlinks) would be stale."""
    marker = work / ".rockbuild-environment"
    if work.exists() and (not marker.exists() or marker.read_text() != environment):
        progress.say("build environment", "changed since the last build: starting cold")
        empty_directory(work)
    work.mkdir(parents=True, exist_ok=True)
    marker.write_text(environment)


def _build_local(
    rock_dir: Path, project: Project, base: bases.BaseImage, progress: Progress, verbose: bool, force: bool
) -> BuiltRock:
    digest = input_digest(rock_dir, base.digest)
    ready = None if force else _up_to_date(rock_dir, digest)
    if ready:
        path, version = ready
        progress.say("up to date", path.name)
        image_id = _load(project, version, path, progress)
        return BuiltRock(project.name, version, path, image_id, reused=True)

    build_base = (
        base
        if project.effective_build_base == project.base
        else bases.ensure_base(project.effective_build_base, progress)
    )
    tool_image = buildenv.ensure_tool_image(build_base, progress)
    pebble_dir = buildenv.ensure_pebble(tool_image, progress)
    with_chisel, slices = None, ""
    if uses_slices(project):
        with_chisel = (chisel.ensure_chisel(tool_image, progress), chisel.release_dir(progress))
        slices = chisel.release_fingerprint()
    work = work_dir_for(rock_dir, project.name)
    environment = f"{base.digest} {tool_image} {pebble_dir} {with_chisel} {slices}"
    _start_cold_if_the_environment_changed(work, environment, progress)
    prune.record_owner(work, rock_dir)
    container = buildenv.build_container_for(project.name, rock_dir, work, tool_image, base, pebble_dir, with_chisel)
    progress.say("build container", container.name)
    container.start()
    try:
        result = lifecycle.run_parts(project, container, work, base.digest, progress, verbose)
    finally:
        container.stop()

    out = rock_path(rock_dir, project, result.version)
    image = oci.assemble(project, result.version, base, result.prime, work, progress)
    progress.say("export", out.name)
    oci.export_archive(image, out)
    shutil.rmtree(image.dir, ignore_errors=True)
    stamp = _stamp_file(rock_dir)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"inputs": digest, "path": str(out), "version": result.version}))
    image_id = _load(project, result.version, out, progress)
    return BuiltRock(project.name, result.version, out, image_id, reused=False)


def build_with_rockcraft(rock_dir: Path, progress: Progress, source: str | None = None) -> BuiltRock:
    """`rockcraft pack` itself when it is installed, else real rockcraft in a container."""
    project = load_project(rock_dir / "rockcraft.yaml")
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
        from rockbuild.real_rockcraft import pack
        from rockbuild.real_rockcraft import source as rockcraft_source

        out = pack.pack(rock_dir, rockcraft_source.resolve(source), rock_dir, progress)
    version = out.name.split("_")[1]
    image_id = _load(project, version, out, progress)
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
    chosen = choose_builder(builder)
    progress.say(f"builder: {chosen}")
    if chosen == "rockcraft":
        built = build_with_rockcraft(rock_dir, progress, rockcraft_source)
    else:
        built = build_local(rock_dir, progress, verbose=verbose, force=force)
    sbom.ensure(built.path, built.image, built.name, built.version, progress)
    progress.say("done", f"{built.path} -> docker image {built.image}")
    return built
