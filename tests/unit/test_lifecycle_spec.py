from __future__ import annotations

from pathlib import Path

import pytest

from rockbuild.build import buildenv, lifecycle
from rockbuild.build.project import parse_project
from tests.unit.rockcraft_cases import GOOD


def test_the_hidden_pebble_part_is_added_to_the_projects_parts() -> None:
    project = parse_project(GOOD["minimal"], "f.yaml")
    parts = lifecycle.parts_with_pebble(project)
    assert list(parts) == ["files", "pebble"]
    assert buildenv.PEBBLE_VERSION in parts["pebble"]["override-build"]


def test_runner_spec_carries_base_layer_and_version() -> None:
    spec = lifecycle.runner_spec(parse_project(GOOD["minimal"], "f.yaml"), "sha256:00ff")
    assert spec["base_layer_hash"] == "00ff"
    assert spec["base"] == spec["build_base"] == "ubuntu@24.04"
    assert spec["version"] == "1.0" and spec["adopt_info"] is None


def test_build_containers_get_the_ca_bundle_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("ROCKBUILD_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("GOPROXY", "https://proxy.invalid")
    env = buildenv.container_env()
    assert env["PIP_CERT"] == env["SSL_CERT_FILE"] == env["GIT_SSL_CAINFO"] == buildenv.CA_IN_CONTAINER
    assert env["GOPROXY"] == "https://proxy.invalid"


def test_a_missing_ca_bundle_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROCKBUILD_CA_BUNDLE", str(tmp_path / "nope.pem"))
    with pytest.raises(Exception, match=r"ROCKBUILD_CA_BUNDLE=.* is not a file"):
        buildenv.container_env()
