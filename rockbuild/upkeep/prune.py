"""`build.py prune`: drop what the builders kept for rock directories that no longer exist
(deleted checkouts, earlier CI clones): their build containers, their craft-parts work
directories and real rockcraft's project copies, and build-tool images that no remaining
container uses (the newest always stays); and bases made by an older base recipe, which no build
uses any more.

A work directory names its rock directory in OWNER_FILE (real rockcraft's, beside it); older ones
are matched through the build container that mounts them. One whose owner cannot be found is
listed, never removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import docker.models.containers

from rockbuild import docker_engine
from rockbuild.build.base import BASE_RECIPE
from rockbuild.cache import OWNER_FILE, cache_root, record_beside

BUILD_CONTAINERS = "rockbuild=build-container"
TOOL_IMAGES = "rockbuild-tools"


@dataclass
class Findings:
    containers: list[docker.models.containers.Container] = field(default_factory=list)
    work_dirs: list[Path] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    unknown: list[Path] = field(default_factory=list)
    bases: list[Path] = field(default_factory=list)


def _is_rock_dir(path: Path | None) -> bool:
    return path is not None and (path / "rockcraft.yaml").is_file()


def find(
    engine: docker.DockerClient,
    work_root: Path,
    labels: list[str],
    image_repository: str = TOOL_IMAGES,
    bases_root: Path | None = None,
    rockcraft_work_root: Path | None = None,
) -> Findings:
    """What belongs to rock directories that are gone (`labels` select the build containers; real
    rockcraft's project copies are under `rockcraft_work_root`), and the bases under `bases_root`
    that an older base recipe made."""
    found = Findings()
    if bases_root is not None:
        found.bases = stale_bases(bases_root, BASE_RECIPE)
    owner_of_work: dict[Path, Path] = {}
    in_use: set[str] = set()
    for container in engine.containers.list(all=True, filters={"label": labels}):
        mounts = {m["Destination"]: Path(m["Source"]) for m in container.attrs.get("Mounts", [])}
        if "/work" in mounts and "/project" in mounts:
            owner_of_work[mounts["/work"]] = mounts["/project"]
        if _is_rock_dir(mounts.get("/project")):
            # The name it was made from, not `container.image`: that image may be gone (removed
            # with `docker rmi --force`, which bench-fresh does), and Docker then answers 404.
            in_use.add(container.attrs["Config"]["Image"])
        else:
            found.containers.append(container)
    for root, record_of in ((work_root, lambda work: work / OWNER_FILE), (rockcraft_work_root, record_beside)):
        for work in sorted(root.iterdir()) if root is not None and root.is_dir() else []:
            if not work.is_dir():
                continue
            record = record_of(work)
            owner = Path(record.read_text().strip()) if record.is_file() else owner_of_work.get(work)
            if owner is None:
                found.unknown.append(work)
            elif not _is_rock_dir(owner):
                found.work_dirs.append(work)
    images = sorted(engine.images.list(name=image_repository), key=lambda image: image.attrs["Created"])
    for image in images[:-1]:  # the newest stays: the next build most likely wants it
        found.images += [tag for tag in image.tags if tag.startswith(f"{image_repository}:") and tag not in in_use]
    return found


def stale_bases(bases_root: Path, recipe: int) -> list[Path]:
    """Base directories this builder no longer uses: another recipe's, or a make that never finished."""
    current = f"-r{recipe}"
    return sorted(
        base
        for base in (bases_root.iterdir() if bases_root.is_dir() else [])
        if base.is_dir() and not base.name.endswith(current)
    )


def size_of(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def remove(engine: docker.DockerClient, found: Findings) -> list[Path]:
    """Remove what `find` found; returns the work directories skipped because a build holds them."""
    busy = []
    for container in found.containers:
        container.remove(force=True)
    for work in found.work_dirs:
        lock_path = work.with_name(work.name + ".lock")
        with open(lock_path, "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                busy.append(work)
                continue
            shutil.rmtree(work, ignore_errors=True)
            record_beside(work).unlink(missing_ok=True)
        lock_path.unlink(missing_ok=True)
    for tag in found.images:
        # Docker refuses an image a container outside the build containers still uses (a publish).
        with contextlib.suppress(docker.errors.APIError):
            engine.images.remove(tag)
    for base in found.bases:
        shutil.rmtree(base, ignore_errors=True)
    return busy


def run(dry_run: bool) -> int:
    """`build.py prune`: find what no checkout uses any more, say it, and remove it (unless dry_run)."""
    engine = docker_engine.client()
    found = find(
        engine,
        cache_root() / "work",
        [BUILD_CONTAINERS],
        bases_root=cache_root() / "bases",
        rockcraft_work_root=cache_root() / "rockcraft-work",
    )
    sizes = {work: size_of(work) for work in found.work_dirs}
    verb = "would remove" if dry_run else "removing"
    for container in found.containers:
        print(f"{verb} build container {container.name} (its rock directory is gone)")
    for work in found.work_dirs:
        print(f"{verb} work directory {work} (its rock directory is gone)")
    for tag in found.images:
        print(f"{verb} image {tag} (no build container uses it, and a newer one exists)")
    for work in found.unknown:
        print(f"kept {work}: no record of its rock directory (remove it by hand if no checkout uses it)")
    for base in found.bases:
        sizes[base] = size_of(base)
        print(f"{verb} base {base} (made by an older base recipe)")
    if not dry_run:
        for work in remove(engine, found):
            print(f"kept {work}: a build is using it")
            del sizes[work]
    freed = sum(sizes.values()) / 1e9
    print(f"{'would free' if dry_run else 'freed'} {freed:.1f} GB of work directories and bases, plus the images")
    return 0
