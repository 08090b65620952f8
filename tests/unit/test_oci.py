from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rockbuild.build import oci
from rockbuild.build.project import parse_project
from rockbuild.errors import BuildError
from tests.unit.rockcraft_cases import GOOD


def test_config_args_set_entrypoint_env_user_labels_and_annotations() -> None:
    project = parse_project(GOOD["full"], "f.yaml")
    args = oci.config_args(project, "1.0", {"org.opencontainers.image.version": "1.0"})
    assert args[:2] == ["--clear=config.entrypoint", "--clear=config.cmd"]
    assert "--config.entrypoint=/usr/bin/pebble" in args and "--config.entrypoint=enter" in args
    assert "--config.env=A=b" in args
    assert "--config.user=584792" in args
    assert "--config.label=org.opencontainers.image.version=1.0" in args
    assert "--manifest.annotation=org.opencontainers.image.version=1.0" in args


def test_root_is_the_default_user() -> None:
    args = oci.config_args(parse_project(GOOD["minimal"], "f.yaml"), "1.0", {})
    assert not [a for a in args if a.startswith("--config.user")]


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed (`make host` installs it)")
def test_a_failed_export_leaves_no_rock(tmp_path: Path) -> None:
    out = tmp_path / "demo_1.0_amd64.rock"
    broken = oci.ImageLayout(tmp_path / "not-an-oci-layout", "1.0")
    broken.dir.mkdir()
    with pytest.raises(BuildError, match=r"export demo_1\.0_amd64\.rock failed"):
        oci.export_archive(broken, out)
    assert list(tmp_path.iterdir()) == [broken.dir]


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed (`make host` installs it)")
def test_a_failed_export_keeps_the_previous_rock(tmp_path: Path) -> None:
    out = tmp_path / "demo_1.0_amd64.rock"
    out.write_bytes(b"previous build")
    broken = oci.ImageLayout(tmp_path / "missing", "1.0")
    with pytest.raises(BuildError):
        oci.export_archive(broken, out)
    assert out.read_bytes() == b"previous build"


def test_manifest_media_type_is_added_and_the_index_follows(tmp_path: Path) -> None:
    import hashlib
    import json

    blobs = tmp_path / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    manifest = json.dumps({"schemaVersion": 2, "config": {}, "layers": []}).encode()
    old = hashlib.sha256(manifest).hexdigest()
    (blobs / old).write_bytes(manifest)
    index = {"schemaVersion": 2, "manifests": [{"digest": f"sha256:{old}", "size": len(manifest)}]}
    (tmp_path / "index.json").write_text(json.dumps(index))

    oci.add_manifest_media_type(tmp_path)

    (descriptor,) = json.loads((tmp_path / "index.json").read_text())["manifests"]
    new = descriptor["digest"].removeprefix("sha256:")
    blob = (blobs / new).read_bytes()
    assert hashlib.sha256(blob).hexdigest() == new and descriptor["size"] == len(blob)
    assert json.loads(blob)["mediaType"] == oci.MANIFEST_MEDIA_TYPE
    assert descriptor["mediaType"] == oci.MANIFEST_MEDIA_TYPE
