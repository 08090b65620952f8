"""Parity with real rockcraft: the same rockcraft.yaml packed by real rockcraft 1.20.0 (in an Ubuntu
container, base served from the local base on loopback) and by the local builder, compared file by
file. Every difference must be one that rockbuild/parity/allowlist.yaml lists with its reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import docker
import pytest

from rockbuild.build.project import load_project
from rockbuild.cli import ROCKS_DIR
from rockbuild.parity import check, rockfile
from rockbuild.progress import Progress
from rockbuild.real_rockcraft import source
from tests.image.conftest import FIXTURES

REPO = Path(__file__).resolve().parents[2]
ROCKCRAFT_SOURCE = REPO.parent / "shared" / "oracles" / "rockcraft" / "rockcraft-1.20.0.tar.gz"


@pytest.fixture(scope="module")
def rockcraft(docker_client: docker.DockerClient) -> source.RockcraftSource:
    if not ROCKCRAFT_SOURCE.is_file():
        pytest.skip(f"rockcraft's source is absent ({ROCKCRAFT_SOURCE}); the parity check needs it")
    for tool in ("docker-registry", "skopeo"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (`make host` installs it); it serves the base to rockcraft")
    return source.resolve(str(ROCKCRAFT_SOURCE))


@pytest.mark.parametrize(
    "rock_dir",
    [FIXTURES / "fixture-rock", FIXTURES / "bare-rock", ROCKS_DIR / "indico-nginx", ROCKS_DIR / "indico"],
    ids=lambda p: p.name,
)
def test_real_rockcraft_and_the_local_builder_make_the_same_rock(
    rock_dir: Path, rockcraft: source.RockcraftSource, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    project = load_project(rock_dir / "rockcraft.yaml")
    if project.uses_slices:
        request.getfixturevalue("chisel_release")
    result = check.check(rock_dir, rockcraft, tmp_path, Progress(f"parity {rock_dir.name}"), cold=True)
    assert not result.unexpected, "differences the allow-list does not explain:\n" + "\n".join(
        map(str, result.unexpected)
    )
    real, local = rockfile.read(result.rockcraft_rock), rockfile.read(result.local_rock)
    # What the comparison stood on: both images whole, and the same base layer under both.
    assert len(real.layers) == len(local.layers) == (4 if project.base == "bare" else 5)
    if project.base != "bare":
        assert real.layers[0] == local.layers[0]
    assert real.config["Entrypoint"] == local.config["Entrypoint"] == ["/usr/bin/pebble", "enter"]
    own_layers = real.layers if project.base == "bare" else real.layers[1:]
    assert sum(len(layer) for layer in own_layers) > 20, "the rock's own files were compared"
