"""A `base: bare` rock of chisel slices, built by the local builder: no Ubuntu base under it, only
the slices it names, Pebble and the _daemon_ user, and it runs."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from rockbuild import build_rock as builder
from rockbuild.build.artifact import BuiltRock
from rockbuild.parity import rockfile
from tests.image.conftest import FIXTURES, exec_text, wait_for

BARE = FIXTURES / "bare-rock"


@pytest.fixture(scope="module")
def bare_rock(docker_client: docker.DockerClient, chisel_release: Path) -> BuiltRock:
    return builder.build(BARE, "local")


def test_only_the_slices_pebble_and_the_user_are_in_it(bare_rock: BuiltRock) -> None:
    rock = rockfile.read(bare_rock.path)
    assert len(rock.layers) == 4, "primed files, user, Pebble layer, control data: no base layer"
    files = {path for layer in rock.layers for path, entry in layer.items() if entry.kind != "dir"}
    assert {"usr/bin/hello", "usr/bin/dash", "usr/bin/sleep", "usr/bin/pebble", "etc/passwd"} <= files
    assert not any(path.startswith(("usr/bin/apt", "usr/bin/bash", "usr/lib/python3")) for path in files)
    assert "org.opencontainers.image.base.digest" not in rock.config["Labels"]
    assert "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in rock.config["Env"]
    total = sum(entry.size for layer in rock.layers for entry in layer.values())
    assert total < 25_000_000, f"{total} bytes: slices, not packages"


def greeting_file(container: Any) -> tuple[int, bytes] | None:
    """(owner's UID, content) of the greeter's file, or None before it is written."""
    try:
        stream, _ = container.get_archive("/tmp/greeting")
    except docker.errors.NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.getmember("greeting")
        handle = tar.extractfile(member)
        return (member.uid, handle.read()) if handle else None


def test_it_runs_its_service_as_the_daemon_user(bare_rock: BuiltRock, run_container: Any) -> None:
    """The image has no cat, ls or stat: the file is read through Docker's archive API."""
    container = run_container(bare_rock.image)
    written = wait_for(lambda: greeting_file(container), 30, "the greeter's file")
    assert isinstance(written, tuple)
    uid, content = written
    assert uid == 584792
    assert content == b"Hello, world!\n"
    shell = exec_text(container, ["/usr/bin/pebble", "exec", "/usr/bin/sh", "-c", "echo $PATH"])
    assert shell.strip() == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
