"""The local builder: rockcraft's lifecycle for one rock with craft-parts in a build container
(buildenv), the OCI image assembled from the prime directory (oci), the result cached by a digest
of everything it depends on."""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from rockbuild.build import base as bases
from rockbuild.build import buildenv, chisel, lifecycle, local_support, oci
from rockbuild.build.artifact import BuiltRock, load_into_docker, rock_path
from rockbuild.build.project import Project, load_project
from rockbuild.cache import cache_root, digest_of, empty_directory, exclusive, record_owner
from rockbuild.progress import Progress

# The builder's own code: a change to it rebuilds the rocks.
BUILDER_SOURCES = Path(__file__).parent
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


def forget(rock_dir: Path) -> None:
    """Drop a rock's part work, build container and stamp, so that its next build starts cold.

    Machine-wide caches (base, build-tool image, Pebble, downloads) stay.
    """
    project = load_project(rock_dir / "rockcraft.yaml")
    with exclusive(work_dir_for(rock_dir, project.name)):
        shutil.rmtree(work_dir_for(rock_dir, project.name), ignore_errors=True)
        _stamp_file(rock_dir).unlink(missing_ok=True)
        buildenv.remove_build_containers(rock_dir)


def has_part_state(work: Path) -> bool:
    """Whether any part of `work` has run a step (craft-parts keeps a file per step run)."""
    return any((work / "parts").glob("*/state/*"))


def recent_cold_build(rock_dir: Path, project: Project, within: float, progress: Progress) -> BuiltRock | None:
    """The rock's current build if it started from no part state less than `within` seconds ago
    (its packages then are those of the archive of that hour), else None, saying why. Waits for a
    build of the same directory that is under way."""
    base = bases.ensure_base(project.base, progress)
    with exclusive(work_dir_for(rock_dir, project.name)):
        ready = _up_to_date(rock_dir, input_digest(rock_dir, base.digest))
        data = json.loads(_stamp_file(rock_dir).read_text()) if ready else {}
        age = time.time() - float(data.get("built", 0))
        why_not = (
            "no build of its current inputs"
            if not ready
            else "its build reused part work of earlier builds"
            if not data.get("cold")
            else f"its cold build is {age / 60:.0f} minutes old"
            if age > within
            else ""
        )
        if why_not or not ready:
            progress.say("cold build", f"not reused: {why_not}")
            return None
        return BuiltRock(project.name, ready[1], ready[0], "", reused=True)


def record_build(rock_dir: Path, digest: str, out: Path, version: str, cold: bool) -> None:
    """The stamp of a finished build. `cold` (it started from no part state) and `built` let the
    parity check reuse a recent cold build instead of making its own."""
    stamp = _stamp_file(rock_dir)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    record = {"inputs": digest, "path": str(out), "version": version, "cold": cold, "built": time.time()}
    stamp.write_text(json.dumps(record))


def _up_to_date(rock_dir: Path, digest: str) -> tuple[Path, str] | None:
    stamp = _stamp_file(rock_dir)
    if not stamp.exists():
        return None
    data = json.loads(stamp.read_text())
    path = Path(data["path"])
    if data.get("inputs") == digest and path.exists():
        return path, str(data["version"])
    return None


def build_local(
    rock_dir: Path,
    project: Project,
    progress: Progress,
    verbose: bool = False,
    force: bool = False,
    load: bool = True,
) -> BuiltRock:
    """Build (or reuse) the rock; `load=False` leaves Docker's `<name>:<version>` alone (the
    parity check's cold build, which must not retag the image other builds and tests use)."""
    local_support.ensure_supported(project, str(rock_dir / "rockcraft.yaml"))
    base = bases.ensure_base(project.base, progress)
    with exclusive(work_dir_for(rock_dir, project.name)):
        return _build_local(rock_dir, project, base, progress, verbose, force, load)


def _start_cold_if_the_environment_changed(work: Path, environment: str, progress: Progress) -> None:
    """Part state made on another base or build environment is not reused: staged packages and
    files craft-parts copies from the build host (targets of absolute symlinks) would be stale."""
    marker = work / ".rockbuild-environment"
    if work.exists() and (not marker.exists() or marker.read_text() != environment):
        progress.say("build environment", "changed since the last build: starting cold")
        empty_directory(work)
    work.mkdir(parents=True, exist_ok=True)
    marker.write_text(environment)


def _run_lifecycle(
    rock_dir: Path,
    project: Project,
    base: bases.BaseImage,
    tool_image: str,
    made_beside: list[Future[Path]],
    progress: Progress,
    verbose: bool,
) -> tuple[lifecycle.LifecycleResult, bool]:
    """The lifecycle's result, and whether it started from no part state (cold)."""
    tools: dict[str, str] = {}
    slices = ""
    if project.uses_slices:
        tools, slices = chisel.container_mounts(chisel.release_dir(progress)), chisel.release_fingerprint()
    work = work_dir_for(rock_dir, project.name)
    environment = f"{base.digest} {tool_image} {buildenv.PEBBLE_VERSION} {tools} {slices}"
    _start_cold_if_the_environment_changed(work, environment, progress)
    cold = not has_part_state(work)
    record_owner(work, rock_dir)
    container = buildenv.build_container_for(
        project.name, rock_dir, work, tool_image, base, buildenv.pebble_builds(), tools
    )
    progress.say("build container", container.name)
    container.start()

    # A tool that fails to build stops the container, so a part waiting for it ends with it.
    def stop_if_failed(made: Future[Path]) -> None:
        if made.exception() is not None:
            container.stop()

    try:
        for tool in made_beside:
            tool.add_done_callback(stop_if_failed)  # at once if the tool has failed already
        return lifecycle.run_parts(project, container, work, base.digest, progress, verbose), cold
    except Exception:
        # The container stopped under the lifecycle (its exec ended, or Docker refused to start
        # one in a stopped container): the tool's own failure is the error to report.
        for tool in made_beside:
            failure = tool.exception() if tool.done() else None
            if failure is not None:
                raise failure from None
        raise
    finally:
        container.stop()


def _build_local(
    rock_dir: Path, project: Project, base: bases.BaseImage, progress: Progress, verbose: bool, force: bool, load: bool
) -> BuiltRock:
    digest = input_digest(rock_dir, base.digest)
    ready = None if force else _up_to_date(rock_dir, digest)
    if ready:
        path, version = ready
        progress.say("up to date", path.name)
        image_id = load_into_docker(project, version, path, progress) if load else ""
        return BuiltRock(project.name, version, path, image_id, reused=True)

    build_base = (
        base
        if project.effective_build_base == project.base
        else bases.ensure_base(project.effective_build_base, progress)
    )
    tool_image = buildenv.ensure_tool_image(build_base, progress)
    # Pebble and chisel are made beside the parts, not before them: the hidden pebble part needs
    # Pebble late, the first slice needs chisel after the build packages are in, and each waits there.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"{project.name}-tools") as beside:
        made_beside = [beside.submit(buildenv.ensure_pebble, tool_image, progress)]
        if project.uses_slices:
            made_beside.append(beside.submit(chisel.ensure_chisel, tool_image, progress))
        result, cold = _run_lifecycle(rock_dir, project, base, tool_image, made_beside, progress, verbose)
    work = work_dir_for(rock_dir, project.name)
    out = rock_path(rock_dir, project, result.version)
    image = oci.assemble(project, result.version, base, result.prime, work, progress)
    progress.say("export", out.name)
    oci.export_archive(image, out)
    shutil.rmtree(image.dir, ignore_errors=True)
    record_build(rock_dir, digest, out, result.version, cold)
    image_id = load_into_docker(project, result.version, out, progress) if load else ""
    return BuiltRock(project.name, result.version, out, image_id, reused=False)
