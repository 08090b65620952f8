"""Pack one rock with both builders from the same base, and compare the two `.rock`s."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from rockbuild.build import local_build
from rockbuild.build.project import load_project
from rockbuild.parity import compare, rockfile
from rockbuild.progress import Progress
from rockbuild.real_rockcraft import pack
from rockbuild.real_rockcraft.source import RockcraftSource


@dataclass
class Parity:
    rock: str
    rockcraft_rock: Path
    local_rock: Path
    found: list[compare.Difference]
    unexpected: list[compare.Difference]

    @property
    def allowed(self) -> list[compare.Difference]:
        return [d for d in self.found if d not in self.unexpected]


# A cold local build this recent stands for a new one: both builders staged the archive's packages
# of about the same hour. Older, or warm (part state kept from earlier builds), it does not.
REUSE_COLD_BUILD_WITHIN = 3600.0


def check(rock_dir: Path, source: RockcraftSource, out_dir: Path, progress: Progress, cold: bool = False) -> Parity:
    """Both `.rock`s end up in `out_dir/{rockcraft,local}/`. `cold`: both builders start from no
    part state, minutes apart, so that both stage the archive's packages of the same hour (a local
    build cached this morning would differ from rockcraft's fresh pack by every package updated
    since). The local side of a cold check is the rock's own build when that build was cold and
    recent (`make rocks` on a fresh machine, or the site tests' build of a new checkout); if that
    comparison finds a difference the allow-list does not explain, the local builder builds cold
    again and that comparison decides (an archive update between the two builds is then ruled out)."""
    local_out, rockcraft_out = out_dir / "local", out_dir / "rockcraft"
    for directory in (local_out, rockcraft_out):
        directory.mkdir(parents=True, exist_ok=True)
    project = load_project(rock_dir / "rockcraft.yaml")
    if not cold:
        progress.say("parity", "local builder")
        built = local_build.build_local(rock_dir, project, progress)
        local_rock = Path(shutil.copyfile(built.path, local_out / built.path.name))
        progress.say("parity", "real rockcraft")
        return _compare(rock_dir, pack.pack(rock_dir, project, source, rockcraft_out, progress), local_rock)
    progress.say("parity", "real rockcraft, cold")
    rockcraft_rock = pack.pack(rock_dir, project, source, rockcraft_out, progress, cold=True)
    recent = local_build.recent_cold_build(rock_dir, project, REUSE_COLD_BUILD_WITHIN, progress)
    if recent is not None:
        progress.say("parity", f"local builder: its cold build of this hour, {recent.path.name}")
        reused = _compare(rock_dir, rockcraft_rock, Path(shutil.copyfile(recent.path, local_out / recent.path.name)))
        if not reused.unexpected:
            return reused
        progress.say("parity", f"{len(reused.unexpected)} unexplained differences: building cold again to decide")
    progress.say("parity", "local builder, cold")
    return _compare(rock_dir, rockcraft_rock, _cold_local_build(rock_dir, out_dir / "project", local_out, progress))


def _compare(rock_dir: Path, rockcraft_rock: Path, local_rock: Path) -> Parity:
    real, ours = rockfile.read(rockcraft_rock), rockfile.read(local_rock)
    found = compare.differences(real, ours)
    unexpected = compare.unexpected(found, compare.load_allowlist(), real)
    return Parity(rock_dir.name, rockcraft_rock, local_rock, found, unexpected)


def _cold_local_build(rock_dir: Path, copy_root: Path, local_out: Path, progress: Progress) -> Path:
    """The local builder on a copy of the rock's directory: its own work directory, started cold
    and removed afterwards, and no Docker tag touched, so the rock's own cached build and image
    (which other builds and tests use meanwhile) stay as they are."""
    copy = copy_root / rock_dir.name
    shutil.rmtree(copy, ignore_errors=True)
    outputs = shutil.ignore_patterns(*(f"*{suffix}" for suffix in local_build.BUILD_OUTPUTS))
    shutil.copytree(rock_dir, copy, ignore=outputs)
    try:
        built = local_build.build_local(copy, load_project(copy / "rockcraft.yaml"), progress, load=False)
        return Path(shutil.move(built.path, local_out / built.path.name))
    finally:
        local_build.forget(copy)
        shutil.rmtree(copy, ignore_errors=True)
