"""Rocks of an earlier Indico release, from the same rockcraft.yaml and build path.

`rocks/releases/<version>/<rock>/` holds only the files that pin a release (the Python lock, the
wheel pin of the static files), at the paths they have in `rocks/<rock>/`. A release's rock
directory is the current one with those files laid over it and the current version replaced by
`<version>` in rockcraft.yaml (the `version:` key and the prose that names it). It is written
under the build cache, one per release and rock, and built like any rock directory; rockcraft.yaml stays
the one file to read. rockcraft.yaml must name its release nowhere else (a `name==version` pin
there would keep the current release's hash): pins live in the files a release replaces.
"""

from __future__ import annotations

import filecmp
import re
import shutil
from pathlib import Path

import yaml

from rockbuild.build.local_build import BUILD_OUTPUTS  # kept across syncs, never copied
from rockbuild.cache import cache_root, exclusive
from rockbuild.errors import BuildError

RELEASES = "releases"


def releases_dir(rock_dir: Path) -> Path:
    return rock_dir.parent / RELEASES


def available(rock_dir: Path) -> list[str]:
    """The releases that have an overlay for this rock, oldest first."""
    root = releases_dir(rock_dir)
    found = [p.parent.name for p in root.glob(f"*/{rock_dir.name}") if p.is_dir()] if root.is_dir() else []
    return sorted(found, key=lambda v: tuple(int(n) if n.isdigit() else n for n in re.split(r"[.+~-]", v)))


def current_version(rock_dir: Path) -> str:
    return str(yaml.safe_load((rock_dir / "rockcraft.yaml").read_text())["version"])


def release_rockcraft_yaml(text: str, current: str, release: str, source: str) -> str:
    """rockcraft.yaml of the release: every mention of the current version becomes the release's.
    Refuses a file that pins a package to the current version, which no overlay could correct."""
    pinned = re.search(rf"[A-Za-z0-9_.-]+==\s*{re.escape(current)}\b", text)
    if pinned:
        raise BuildError(
            f"{source} pins '{pinned.group(0)}': a release's rock would keep this pin and its hash; "
            "move the pin into a file of the rock's directory that rocks/releases/<version>/ can replace"
        )
    return re.sub(rf"(?<![0-9.]){re.escape(current)}(?![0-9])", release, text)


def _sync(source: Path, target: Path) -> None:
    """Make `target` hold what `source` holds, rewriting only files that differ (their content
    is what the build's cache key reads) and keeping earlier build outputs."""
    target.mkdir(parents=True, exist_ok=True)
    wanted = {p.relative_to(source) for p in source.rglob("*") if "__pycache__" not in p.parts}
    for existing in sorted(target.rglob("*"), reverse=True):
        rel = existing.relative_to(target)
        if rel in wanted or existing.name.endswith(BUILD_OUTPUTS):
            continue
        if existing.is_dir() and not existing.is_symlink():
            shutil.rmtree(existing)
        else:
            existing.unlink()
    for rel in sorted(wanted):
        src, dst = source / rel, target / rel
        if src.is_symlink():
            if not (dst.is_symlink() and dst.readlink() == src.readlink()):
                dst.unlink(missing_ok=True)
                dst.symlink_to(src.readlink())
        elif src.is_dir():
            dst.mkdir(exist_ok=True)
        elif dst.is_symlink() or not (dst.is_file() and filecmp.cmp(src, dst, shallow=False)):
            dst.unlink(missing_ok=True)
            shutil.copy2(src, dst)


def materialize(rock_dir: Path, release: str) -> Path:
    """The rock directory of `release`: where its rock is built (and its lock written)."""
    rock_dir = rock_dir.resolve()
    overlay = releases_dir(rock_dir) / release / rock_dir.name
    if not overlay.is_dir():
        known = ", ".join(available(rock_dir)) or "none"
        raise BuildError(
            f"no release {release} for the rock {rock_dir.name}: expected {overlay} (releases of it here: {known})"
        )
    current = current_version(rock_dir)
    if release == current:
        raise BuildError(f"{release} is {rock_dir.name}'s own version: build rocks/{rock_dir.name} itself")
    target = materialize_root(rock_dir, release)
    # The image tests' two lanes may both ask for a release's rocks (one builds them early, the
    # refresh test uses them): one writes the directory at a time; the other then finds it written
    # and rewrites nothing (_sync leaves equal files alone, so a build reading it is undisturbed).
    with exclusive(target, f"{rock_dir.name} {release}'s rock directory"):
        staged = target.parent / f".{rock_dir.name}.staged"
        shutil.rmtree(staged, ignore_errors=True)
        ignored = shutil.ignore_patterns(*(f"*{suffix}" for suffix in BUILD_OUTPUTS), "__pycache__")
        shutil.copytree(rock_dir, staged, symlinks=True, ignore=ignored)
        shutil.copytree(overlay, staged, symlinks=True, dirs_exist_ok=True)
        yaml_path = staged / "rockcraft.yaml"
        yaml_path.write_text(
            release_rockcraft_yaml(yaml_path.read_text(), current, release, str(rock_dir / "rockcraft.yaml"))
        )
        _sync(staged, target)
        shutil.rmtree(staged, ignore_errors=True)
    return target


def keep_lock(rock_dir: Path, release: str, written: list[Path]) -> list[Path]:
    """Copy the lock files `build.py lock` wrote into a release's rock directory back into its
    overlay; returns where they now are."""
    target_root = materialize_root(rock_dir, release)
    overlay = releases_dir(rock_dir.resolve()) / release / rock_dir.name
    kept = []
    for path in written:
        destination = overlay / path.relative_to(target_root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
        kept.append(destination)
    return kept


def materialize_root(rock_dir: Path, release: str) -> Path:
    """Where a release's rock directory is written: under the build cache, one per release and rock
    on the machine, so that every checkout (CI's fresh clones too) reuses its part work; a build
    holds the work directory's lock."""
    return cache_root() / "releases" / release / rock_dir.resolve().name
