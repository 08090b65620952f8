"""`build.py publish` against a real OCI registry (Debian's docker-registry) on loopback: every
rock is pushed, pulled back by the digest the manifest records, and found to be the same image.
The Charmhub half cannot run here; its charmcraft session is still set up for real below."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import yaml

from rockbuild import build_rock as builder
from rockbuild import cli
from rockbuild.build.artifact import BuiltRock
from rockbuild.cli import ROCKS_DIR
from rockbuild.progress import Progress
from rockbuild.publish.charmcraft_session import CharmcraftSession
from rockbuild.publish.store_argv import StoreError
from tests.image.services import Registry

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("docker-registry") is None:
        pytest.skip("Debian's docker-registry is not installed; `make host` installs it")
    server = Registry.start(tmp_path_factory.mktemp("registry"))
    try:
        yield server.address
    finally:
        server.stop()


def test_publish_pushes_every_rock_and_each_pulls_back_by_its_digest(
    rocks: dict[str, BuiltRock], registry: str, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    # Every rock an oci-image resource of charmcraft.yaml names (<rock>-image), the LaTeX rock too.
    declared = yaml.safe_load((REPO / "charm" / "charmcraft.yaml").read_text())["resources"]
    expected = {name.removesuffix("-image") for name, spec in declared.items() if spec["type"] == "oci-image"}
    assert expected == {"indico", "indico-nginx", "indico-latex"}
    rocks = {**rocks, "indico-latex": builder.build(ROCKS_DIR / "indico-latex", "auto")}
    manifest_file = tmp_path / "manifest.json"
    prefix = f"{registry}/indico-test"
    code = cli.main(
        ["publish", "--no-charmhub", "--registry", prefix, "--registry-insecure", "--manifest", str(manifest_file)]
    )
    assert code == 0
    manifest = json.loads(manifest_file.read_text())
    assert manifest["status"] == "complete" and manifest["channel"] is None
    assert {r["rock"] for r in manifest["resources"]} == expected
    for record in manifest["resources"]:
        built = rocks[record["rock"]]
        assert record["state"] == "pushed" and record["version"] == built.version
        assert record["image"] == f"{prefix}/{record['rock']}@{record['digest']}"
        local = subprocess.run(
            ["skopeo", "inspect", "--format", "{{.Digest}}", f"oci-archive:{record['rock_file']}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert record["digest"] == local, "the registry holds exactly the .rock's image"
        pulled = docker_client.images.pull(record["image"])
        try:
            assert f"{prefix}/{record['rock']}@{record['digest']}" in pulled.attrs["RepoDigests"]
            assert pulled.id == docker_client.images.get(built.image).id, "the same image as the local build"
        finally:
            docker_client.images.remove(record["image"], force=False)
        assert f"--resource {record['resource']}={record['image']}" in manifest["deploy"]
    # The charm was packed after the push, naming each pushed image as its resource's upstream-source.
    with zipfile.ZipFile(manifest["charm_file"]) as charm:
        resources = yaml.safe_load(charm.read("metadata.yaml"))["resources"]
    assert {name: spec.get("upstream-source") for name, spec in resources.items()} == {
        r["resource"]: r["image"] for r in manifest["resources"]
    }


def test_the_charmcraft_session_runs_the_pinned_charmcraft(docker_client: docker.DockerClient) -> None:
    with CharmcraftSession([REPO / "charm", REPO / "rocks"], Progress("test")) as charmcraft:
        assert charmcraft(["charmcraft", "version"]).strip() == "charmcraft 4.5.0"
        with pytest.raises(StoreError) as caught:  # refused by its argument parser, before any network use
            charmcraft(["charmcraft", "upload-resource", "indico"])
        assert "charmcraft upload-resource failed" in str(caught.value) and "resource" in str(caught.value).lower()
