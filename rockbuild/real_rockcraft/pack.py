"""`rockcraft pack --destructive-mode` in a container of the build base, one work directory per rock."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import NamedTuple

from rockbuild import atomic
from rockbuild.build import base as bases
from rockbuild.build import buildenv, chisel
from rockbuild.build.project import Project
from rockbuild.cache import cache_root, digest_of, empty_directory, exclusive, record_owner_beside
from rockbuild.errors import BuildError
from rockbuild.progress import Progress
from rockbuild.real_rockcraft import base_registry, toolimage
from rockbuild.real_rockcraft.source import RockcraftSource

# Where the work directory is mounted. The local builder's craft-parts work directory has the same
# path, so that paths baked into built files (venv scripts, RECORD files) agree between the two.
WORK_IN_CONTAINER = "/work"
# What rockcraft keeps in its project directory between packs in destructive mode.
ROCKCRAFT_STATE = {"parts", "stage", "prime", "overlay"}
REGISTRIES_CONF = "/etc/containers/registries.conf.d/rockbuild-base.conf"


def work_dir_for(rock_dir: Path, name: str) -> Path:
    return cache_root() / "rockcraft-work" / f"{name}-{digest_of(str(rock_dir.resolve()))[:8]}"


def _sync_project(rock_dir: Path, work: Path) -> None:
    """Make `work` hold the rock directory's files (mtimes kept, so unchanged sources stay clean)
    next to rockcraft's own state from the previous pack."""
    work.mkdir(parents=True, exist_ok=True)
    empty_directory(work, keep=ROCKCRAFT_STATE)
    ignore = shutil.ignore_patterns("*.rock", "*.cdx.json", "*.partial", "__pycache__", *ROCKCRAFT_STATE)
    shutil.copytree(rock_dir, work, ignore=ignore, dirs_exist_ok=True, symlinks=True)


class Prepared(NamedTuple):
    image: str  # the image rockcraft runs in
    image_base: bases.BaseImage  # the base it stacks the rock on
    tool_image: str  # the local build-tool image of the build base (it builds Pebble and chisel)


def prepare(project: Project, source: RockcraftSource, progress: Progress) -> Prepared:
    """What a pack needs, each made once per machine."""
    build_base = bases.ensure_base(project.effective_build_base, progress)
    image_base = build_base if project.base in ("bare", build_base.name) else bases.ensure_base(project.base, progress)
    tool_image = buildenv.ensure_tool_image(build_base, progress)
    pebble_dir = buildenv.ensure_pebble(tool_image, progress)
    return Prepared(toolimage.ensure_image(build_base, source, pebble_dir, progress), image_base, tool_image)


def pack(
    rock_dir: Path, project: Project, source: RockcraftSource, out_dir: Path, progress: Progress, *, cold: bool = False
) -> Path:
    """Pack `rock_dir` with real rockcraft into `out_dir` (the file written atomically, named as
    rockcraft names it); return its path. `cold` drops the parts state of the previous pack first."""
    image, image_base, tool_image = prepare(project, source, progress)
    work = work_dir_for(rock_dir, project.name)
    with exclusive(work):
        record_owner_beside(work, rock_dir)
        if cold:
            shutil.rmtree(work, ignore_errors=True)
        _sync_project(rock_dir, work)
        for stale in work.glob("*.rock"):
            stale.unlink()
        log = cache_root() / "logs" / f"rockcraft-{project.name}.log"
        # The local builder's download caches and Go's compile cache: a cold pack re-runs every
        # part, not every download, nor the compiles of the Go standard library and shared modules
        # (Go's cache is keyed by toolchain and inputs; -trimpath keeps its path out of binaries).
        volumes = {
            str(work): {"bind": WORK_IN_CONTAINER, "mode": "rw"},
            **buildenv.pip_cache_volume(),
            **buildenv.go_module_cache_volume(),
        }
        if project.uses_slices:
            # The same chisel, wrapper and slice definitions as the local builder's containers.
            chisel.ensure_chisel(tool_image, progress)
            for host, inside in chisel.container_mounts(chisel.release_dir(progress)).items():
                volumes[host] = {"bind": inside, "mode": "ro"}
        go_cache = " ".join(f"{key}={value}" for key, value in buildenv.GO_BUILD_CACHE.items())
        with base_registry.serve(image_base) as served:
            progress.say("rockcraft", f"pack --destructive-mode in {image} (base from {served.address})")
            volumes[str(served.registries_conf)] = {"bind": REGISTRIES_CONF, "mode": "ro"}
            buildenv.run_once(
                image,
                f"cd {WORK_IN_CONTAINER} && {go_cache} rockcraft pack --destructive-mode --verbosity=brief",
                volumes,
                log,
                f"rockcraft pack of {rock_dir}",
                fuse=True,
                on_line=lambda line: progress.say("rockcraft", line) if line.strip() else None,
            )
        built = sorted(work.glob(f"{project.name}_*.rock"))
        if len(built) != 1:
            raise BuildError(f"rockcraft pack wrote {len(built)} {project.name}_*.rock files in {work}; expected one")
        out = atomic.copy(built[0], out_dir / built[0].name)
        built[0].unlink()
    return out
