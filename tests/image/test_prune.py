"""`build.py prune` against the real Docker engine, on containers, work directories and images
this test makes (its own label, cache directory and image repository), so nothing else is touched."""

from __future__ import annotations

import contextlib
import io
import shutil
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from rockbuild import cache
from rockbuild.upkeep import prune


@pytest.fixture
def label() -> str:
    return f"rockbuild.upkeep.prune-test={uuid.uuid4().hex[:12]}"


@pytest.fixture
def made(docker_client: docker.DockerClient, label: str) -> Iterator[list[object]]:
    things: list[object] = []
    yield things
    for thing in sorted(things, key=lambda t: isinstance(t, str)):  # containers before their images
        with contextlib.suppress(docker.errors.NotFound):
            if isinstance(thing, str):
                docker_client.images.remove(thing)
            else:
                thing.remove(force=True)  # type: ignore[attr-defined]


def image_from(docker_client: docker.DockerClient, repository: str, tag: str, content: bytes) -> str:
    """A one-file image made without any registry or base."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("marker")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    docker_client.api.import_image_from_data(buffer.getvalue(), repository=repository, tag=tag)
    return f"{repository}:{tag}"


def rock_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "rockcraft.yaml").write_text("name: x\n")
    return path


def test_only_what_belongs_to_gone_rock_directories_is_removed(
    docker_client: docker.DockerClient, tmp_path: Path, label: str, made: list[object]
) -> None:
    live, gone = rock_dir(tmp_path / "live" / "rock"), rock_dir(tmp_path / "gone" / "rock")
    work_root = tmp_path / "work"
    live_work, gone_work, old_work, unknown_work = (work_root / n for n in ("x-live", "x-gone", "x-old", "x-unknown"))
    cache.record_owner(live_work, live)
    cache.record_owner(gone_work, gone)
    old_work.mkdir()  # from before owner records: matched through its container's mounts
    unknown_work.mkdir()
    (gone_work / "parts").mkdir()
    (gone_work / "parts" / "big").write_bytes(b"x" * 4096)
    # Real rockcraft's project copies: the record beside each, never inside the project.
    rockcraft_root = tmp_path / "rockcraft-work"
    packed_live, packed_gone, packed_unknown = (rockcraft_root / n for n in ("x-live", "x-gone", "x-unknown"))
    for packed, owner in ((packed_live, live), (packed_gone, gone), (packed_unknown, None)):
        (packed / "prime").mkdir(parents=True)
        (packed / "rockcraft.yaml").write_text("name: x\n")
        if owner is not None:
            cache.record_owner_beside(packed, owner)
    assert sorted(p.name for p in packed_live.iterdir()) == ["prime", "rockcraft.yaml"]

    repository = f"rockbuild-prune-test-{uuid.uuid4().hex[:8]}"
    old_image = image_from(docker_client, repository, "old", b"old")
    made.append(old_image)
    time.sleep(1.1)  # Docker orders images by their creation time, in seconds
    made.append(image_from(docker_client, repository, "new", b"new"))

    def container(project: Path, work: Path) -> object:
        created = docker_client.containers.create(
            old_image,
            ["true"],
            labels={"rockbuild": "build-container", label.split("=")[0]: label.split("=")[1]},
            volumes={str(project): {"bind": "/project", "mode": "ro"}, str(work): {"bind": "/work", "mode": "rw"}},
        )
        made.append(created)
        return created

    keep = container(live, live_work)
    drop = container(gone, old_work)
    shutil.rmtree(tmp_path / "gone")

    found = prune.find(
        docker_client,
        work_root,
        [prune.BUILD_CONTAINERS, label],
        image_repository=repository,
        rockcraft_work_root=rockcraft_root,
    )
    assert [c.id for c in found.containers] == [drop.id]  # type: ignore[attr-defined]
    assert found.work_dirs == [*sorted([gone_work, old_work]), packed_gone]
    assert found.unknown == [unknown_work, packed_unknown]
    assert found.images == [], "the older image is still used by a live build container"
    assert prune.size_of(gone_work) > 4096, "the work it would free, counted"

    assert prune.remove(docker_client, found) == []
    assert not gone_work.exists() and not old_work.exists() and live_work.exists() and unknown_work.exists()
    assert not packed_gone.exists() and not cache.record_beside(packed_gone).exists()
    assert packed_live.exists() and cache.record_beside(packed_live).exists() and packed_unknown.exists()
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(drop.id)  # type: ignore[attr-defined]
    docker_client.containers.get(keep.id)  # type: ignore[attr-defined]

    keep.remove(force=True)  # type: ignore[attr-defined]
    again = prune.find(docker_client, work_root, [prune.BUILD_CONTAINERS, label], image_repository=repository)
    assert again.images == [old_image], "unused and not the newest"


def test_build_containers_whose_image_was_force_removed_are_still_sorted(
    docker_client: docker.DockerClient, tmp_path: Path, label: str, made: list[object]
) -> None:
    """`docker rmi --force` removes an image that stopped containers were made from; prune then
    read each container's image and stopped with Docker's 404 instead of pruning."""
    live, gone = rock_dir(tmp_path / "live" / "rock"), rock_dir(tmp_path / "gone" / "rock")
    repository = f"rockbuild-prune-test-{uuid.uuid4().hex[:8]}"
    image = image_from(docker_client, repository, "removed", b"removed")
    made.append(image)
    containers = {
        project: docker_client.containers.create(
            image,
            ["true"],
            labels={"rockbuild": "build-container", label.split("=")[0]: label.split("=")[1]},
            volumes={str(project): {"bind": "/project", "mode": "ro"}},
        )
        for project in (live, gone)
    }
    made.extend(containers.values())
    docker_client.images.remove(image, force=True)
    shutil.rmtree(tmp_path / "gone")

    found = prune.find(docker_client, tmp_path / "work", [prune.BUILD_CONTAINERS, label], image_repository=repository)
    assert [c.id for c in found.containers] == [containers[gone].id]
