"""The local builder's output, started with Docker: does it behave like a rock rockcraft packed?"""

from __future__ import annotations

import json
import re
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

import docker
import docker.models.containers
import pytest
import yaml

from rockbuild import build_rock as builder
from rockbuild.build import buildenv, lifecycle, local_build
from rockbuild.build.artifact import BuiltRock
from rockbuild.build.buildenv import tool_image
from rockbuild.errors import BuildError
from tests.image.conftest import FIXTURES, exec_text, wait_for
from tests.unit.conftest import MINIMAL

FIXTURE = FIXTURES / "fixture-rock"
DAEMON_UID = "584792"
WEB = "http://127.0.0.1:18765"


@pytest.fixture(scope="session")
def fixture_rock(docker_client: docker.DockerClient) -> BuiltRock:
    return builder.build(FIXTURE, "local")


@pytest.fixture
def running(fixture_rock: BuiltRock, run_container: Any) -> docker.models.containers.Container:
    container = run_container(fixture_rock.image)
    wait_for(lambda: urllib.request.urlopen(f"{WEB}/health", timeout=2).status == 200, 30, "the web service")
    return container


def test_pid_1_is_pebble_and_services_run_as_the_daemon_user(running: docker.models.containers.Container) -> None:
    assert exec_text(running, ["cat", "/proc/1/cmdline"]).split("\0")[:2] == ["/usr/bin/pebble", "enter"]
    processes = running.top(ps_args="-o pid,uid,args")["Processes"]
    commands = {args: uid for _pid, uid, args in processes}
    assert any("fixture-web" in args for args in commands)
    assert any("/usr/local/bin/ticker" in args for args in commands)
    assert set(commands.values()) == {DAEMON_UID}, processes


def test_the_check_is_up(running: docker.models.containers.Container) -> None:
    def check_up() -> bool:
        lines = exec_text(running, ["pebble", "checks"]).splitlines()
        return any(line.split()[:4] == ["web-alive", "alive", "enabled", "up"] for line in lines)

    wait_for(check_up, 30, "check web-alive to be up")


def test_python_part_runs_with_the_payload_interpreter(running: docker.models.containers.Container) -> None:
    with urllib.request.urlopen(f"{WEB}/", timeout=5) as response:
        info = json.load(response)
    assert info == {"uid": int(DAEMON_UID), "python": "/bin/python3", "prefix": "/usr"}
    # sitecustomize.py: a bare `python3` finds the part's packages.
    found = exec_text(running, ["python3", "-c", "import fixture_web; print(fixture_web.__file__)"])
    assert found.strip() == "/lib/python3.12/site-packages/fixture_web/__init__.py"


def test_staged_package_dump_part_and_environment(running: docker.models.containers.Container) -> None:
    greeting = wait_for(lambda: exec_text(running, ["cat", "/tmp/ticker.out"]), 15, "the ticker's output")
    assert str(greeting).strip() == "hello-from-the-image-env"


def test_usrmerge_symlinks_of_the_base_are_intact(running: docker.models.containers.Container) -> None:
    for link in ("bin", "lib", "sbin"):
        assert exec_text(running, ["readlink", f"/{link}"]).strip() == f"usr/{link}"


def test_layer_file_is_where_and_as_rockcraft_writes_it(running: docker.models.containers.Container) -> None:
    path = "/var/lib/pebble/default/layers/001-rockcraft-fixture-rock.yaml"
    layer = yaml.safe_load(exec_text(running, ["cat", path]))
    assert list(layer) == ["summary", "description", "services", "checks"]
    assert layer["services"]["web"]["on-failure"] == "restart"
    assert layer["services"]["ticker"]["environment"] == {"TICKER_FILE": "/tmp/ticker.out"}
    assert layer["checks"]["web-alive"]["http"] == {"url": f"{WEB}/health"}
    assert exec_text(running, ["stat", "-c", "%a", path, "/var/lib/pebble/default"]).split() == ["777", "777"]


def test_docker_sees_the_entrypoint_user_environment_and_labels(
    docker_client: docker.DockerClient, fixture_rock: BuiltRock
) -> None:
    config = docker_client.images.get(fixture_rock.image).attrs["Config"]
    assert config["Entrypoint"] == ["/usr/bin/pebble", "enter"]
    assert not config["Cmd"]
    assert config["User"] == DAEMON_UID
    assert "FIXTURE_GREETING=hello-from-the-image-env" in config["Env"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == "0.1"
    assert labels["org.opencontainers.image.title"] == "Fixture rock"
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert re.fullmatch("[0-9a-f]{64}", labels["org.opencontainers.image.base.digest"]), "bare hex, as rockcraft"


def read_blob(archive: tarfile.TarFile, digest: str) -> bytes:
    member = archive.extractfile("blobs/" + digest.replace(":", "/"))
    assert member is not None
    return member.read()


def test_the_rock_is_an_oci_archive_with_rockcrafts_annotations(fixture_rock: BuiltRock) -> None:
    assert fixture_rock.path == FIXTURE / "fixture-rock_0.1_amd64.rock"
    with tarfile.open(fixture_rock.path) as archive:
        layout = json.loads(read_blob_named(archive, "oci-layout"))
        assert layout["imageLayoutVersion"] == "1.0.0"
        index = json.loads(read_blob_named(archive, "index.json"))
        (entry,) = index["manifests"]
        assert entry["annotations"]["org.opencontainers.image.ref.name"] == "0.1"
        manifest = json.loads(read_blob(archive, entry["digest"]))
        assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
        annotations = manifest["annotations"]
        for key in ("version", "title", "created", "description", "licenses", "base.digest"):
            assert f"org.opencontainers.image.{key}" in annotations
        config = json.loads(read_blob(archive, manifest["config"]["digest"]))
        assert config["config"]["Labels"] == annotations
        history = [h.get("created_by", "") for h in config["history"]]
        assert "Add user _daemon_:584792 with group _daemon_:584792" in history
        control = last_layer_files(archive, manifest)
        metadata = yaml.safe_load(control[".rock/metadata.yaml"])
        assert metadata["name"] == "fixture-rock" and metadata["architecture"] == "amd64"
        assert metadata["base"] == "ubuntu@24.04"
        assert metadata["base-digest"] == annotations["org.opencontainers.image.base.digest"]
        assert re.fullmatch("[0-9a-f]{64}", metadata["base-digest"])


def read_blob_named(archive: tarfile.TarFile, name: str) -> bytes:
    member = archive.extractfile(name)
    assert member is not None
    return member.read()


def last_layer_files(archive: tarfile.TarFile, manifest: dict[str, Any]) -> dict[str, bytes]:
    import gzip
    import io

    blob = read_blob(archive, manifest["layers"][-1]["digest"])
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as layer:
        return {m.name: layer.extractfile(m).read() for m in layer.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_the_build_time_ca_bundle_never_enters_the_image(fixture_rock: BuiltRock) -> None:
    bundle = buildenv.ca_bundle()
    if bundle is None:
        pytest.skip("this host has no CA bundle to pass into builds")
    secret = bundle.read_bytes()
    import gzip
    import io

    with tarfile.open(fixture_rock.path) as archive:
        index = json.loads(read_blob_named(archive, "index.json"))
        manifest = json.loads(read_blob(archive, index["manifests"][0]["digest"]))
        for layer_desc in manifest["layers"][1:]:  # every layer the build added on top of the base
            with tarfile.open(fileobj=io.BytesIO(gzip.decompress(read_blob(archive, layer_desc["digest"])))) as layer:
                for member in layer.getmembers():
                    assert not member.name.startswith("rockbuild"), member.name
                    assert member.name != "etc/pip.conf"
                    if member.isfile() and member.size == len(secret):
                        assert layer.extractfile(member).read() != secret, member.name  # type: ignore[union-attr]


def test_no_layer_carries_the_build_hosts_resolv_conf(fixture_rock: BuiltRock) -> None:
    """The real ubuntu:24.04 has no /etc/resolv.conf; runtimes provide their own."""
    import gzip
    import io

    with tarfile.open(fixture_rock.path) as archive:
        index = json.loads(read_blob_named(archive, "index.json"))
        manifest = json.loads(read_blob(archive, index["manifests"][0]["digest"]))
        for layer_desc in manifest["layers"]:
            with tarfile.open(fileobj=io.BytesIO(gzip.decompress(read_blob(archive, layer_desc["digest"])))) as layer:
                names = {member.name.lstrip("./") for member in layer.getmembers()}
                assert "etc/resolv.conf" not in names, layer_desc["digest"]


def test_an_unchanged_rock_is_reused_not_rebuilt(fixture_rock: BuiltRock) -> None:
    again = builder.build(FIXTURE, "local")
    assert again.reused
    assert again.path == fixture_rock.path and again.image_id == fixture_rock.image_id


def failed_build(tmp_path: Path, name: str, parts: dict[str, Any]) -> str:
    """Build a rock of these parts in a temporary directory, which must fail and leave no rock
    behind; its error message."""
    rock_dir = tmp_path / name
    rock_dir.mkdir()
    (rock_dir / "rockcraft.yaml").write_text(yaml.safe_dump({**MINIMAL, "name": name, "parts": parts}))
    try:
        with pytest.raises(BuildError) as caught:
            builder.build(rock_dir, "local")
    finally:
        local_build.forget(rock_dir)  # its work directory and container are keyed by this temporary path
    assert not list(rock_dir.glob("*.rock*"))
    return str(caught.value)


def test_a_failing_part_stops_the_build_and_leaves_no_rock(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    parts = {"broken": {"plugin": "nil", "override-build": "echo about to fail; exit 3"}}
    message = failed_build(tmp_path, "failing-fixture", parts)
    assert "parts lifecycle failed" in message and "broken" in message


def test_a_part_gets_only_the_tools_it_declares(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """As in rockcraft's build instance, which has none of them: a rock that builds here builds there."""
    # Succeeds (and so fails the test) as soon as one undeclared tool is there.
    probe = "for t in go git pip3; do command -v $t && exit 0; done; exit 7"
    message = failed_build(tmp_path, "undeclared-tool", {"probe": {"plugin": "nil", "override-build": probe}})
    assert "parts lifecycle failed" in message


def test_a_pebble_that_cannot_be_built_fails_the_build_with_its_own_error(
    tmp_path: Path, docker_client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pebble is made beside the parts while the hidden part waits for it: its failure must stop
    that wait and be the error reported, not a wait until the part's time limit."""
    missing = "v0.0.0-rockbuild-test"  # no such Pebble version on the Go module proxy
    monkeypatch.setattr(tool_image, "PEBBLE_VERSION", missing)
    monkeypatch.setattr(lifecycle, "PEBBLE_VERSION", missing)
    message = failed_build(tmp_path, "no-pebble", {"slow": {"plugin": "nil", "override-build": "sleep 2"}})
    assert f"github.com/canonical/pebble@{missing}" in message, message
    assert "was not built within" not in message
    assert not (buildenv.pebble_builds() / missing / "pebble").exists()


def test_a_pebble_build_that_failed_before_the_container_started_is_the_error_reported(
    tmp_path: Path, docker_client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other order of the same race: the tool has failed before the lifecycle starts, so the
    container is stopped before the runner's exec (which Docker then refuses)."""

    def fails_at_once(tool_image: str, progress: object) -> Path:
        raise BuildError("building Pebble failed: made to fail by the test")

    monkeypatch.setattr(buildenv, "ensure_pebble", fails_at_once)
    message = failed_build(tmp_path, "no-pebble-at-all", {"slow": {"plugin": "nil", "override-build": "sleep 2"}})
    assert message == "building Pebble failed: made to fail by the test"


def test_two_parts_staging_one_path_differently_fail_with_craft_parts_error(
    tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """The runner checks stage collisions once after the builds instead of before every stage
    action: a collision must still stop the build, with craft-parts' own error."""
    writes = 'mkdir -p "$CRAFT_PART_INSTALL/etc" && echo {} > "$CRAFT_PART_INSTALL/etc/shared.conf"'
    parts = {
        "first": {"plugin": "nil", "override-build": writes.format("one")},
        "second": {"plugin": "nil", "override-build": writes.format("two")},
        "third": {"plugin": "nil", "override-build": "true"},
    }
    message = failed_build(tmp_path, "colliding-fixture", parts)
    assert "etc/shared.conf" in message and "first" in message and "second" in message, message
