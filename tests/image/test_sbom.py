"""Each rock's CycloneDX SBOM, as `make rocks` writes it beside the `.rock`: valid CycloneDX, and
naming what the rock really runs (checked against the rock's own pins and binaries)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import docker
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from rockbuild.build import sbom
from rockbuild.build.artifact import BuiltRock
from rockbuild.publish import release as publish
from rockbuild.upkeep import python_lock
from tests.image.conftest import probe

REPO = Path(__file__).resolve().parents[2]


def document(rock: BuiltRock) -> dict[str, Any]:
    path = sbom.sbom_path(rock.path)
    assert path.is_file(), f"no SBOM beside {rock.path}"
    assert path.stat().st_mtime >= rock.path.stat().st_mtime, "the SBOM is older than the rock"
    text = path.read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def packages(doc: dict[str, Any], kind: str) -> dict[str, str]:
    return {c["name"].lower(): c["version"] for c in doc["components"] if c.get("purl", "").startswith(f"pkg:{kind}/")}


def go_binaries(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in doc["components"] if c["type"] == "application"}


@pytest.mark.parametrize("name", ["indico", "indico-nginx"])
def test_each_rock_has_a_valid_sbom_naming_itself(rocks: dict[str, BuiltRock], name: str) -> None:
    doc = document(rocks[name])
    assert doc["metadata"]["component"]["name"] == name
    assert doc["metadata"]["component"]["version"] == rocks[name].version
    pebble = go_binaries(doc)["github.com/canonical/pebble"]
    assert {p["value"] for p in pebble["properties"]} >= {"/usr/bin/pebble"}
    assert "gopkg.in/yaml.v3" in {m["name"] for m in pebble["components"]}, "Pebble's modules, from the binary"


def test_the_indico_sbom_names_every_pinned_python_package(rocks: dict[str, BuiltRock]) -> None:
    doc = document(rocks["indico"])
    python = packages(doc, "pypi")
    pins = python_lock.pins((REPO / "rocks/indico/python/requirements.txt").read_text())
    normalise = {re.sub(r"[-_.]+", "-", k): v for k, v in python.items()}
    missing = {k: v for k, v in pins.items() if normalise.get(re.sub(r"[-_.]+", "-", k)) != v}
    assert not missing, f"pins the SBOM does not name at their version: {missing}"
    assert python["indico"] == "3.3.14"


def test_the_sboms_debian_packages_are_the_ones_installed(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock]
) -> None:
    indico = packages(document(rocks["indico"]), "deb")
    status = probe(
        docker_client,
        rocks["indico"].image,
        ["dpkg-query", "-W", "-f", "${Package} ${Version}\\n"],
        through_pebble=False,
    )
    installed = dict(line.split(" ", 1) for line in status.splitlines() if line)
    assert {k: indico.get(k) for k in installed} == installed, "every package dpkg knows, at its version"
    assert indico["libpq5"].startswith("16."), "a staged package, which dpkg does not record, at its version"
    nginx = packages(document(rocks["indico-nginx"]), "deb")
    assert nginx["nginx"].startswith("1.24.0-"), "a bare rock's packages come from chisel's manifest"
    assert {"libc6", "libssl3t64", "bash"} <= set(nginx)


def test_the_go_binaries_and_their_modules(rocks: dict[str, BuiltRock]) -> None:
    """Each Go binary with the modules compiled into it. Built from their module's own directory,
    the binaries record their main module's version as `(devel)`: the SBOM says what they say."""
    indico = go_binaries(document(rocks["indico"]))
    statsd = indico["github.com/prometheus/statsd_exporter"]
    assert {p["value"] for p in statsd["properties"]} >= {"/usr/bin/statsd_exporter"}
    nginx = go_binaries(document(rocks["indico-nginx"]))
    exporter = nginx["github.com/nginx/nginx-prometheus-exporter"]
    for binary in (statsd, exporter):
        modules = {m["name"]: m["version"] for m in binary["components"]}
        assert re.fullmatch(r"v\d+\.\d+\.\d+.*", modules["github.com/prometheus/client_golang"]), modules


def test_the_release_manifest_lists_each_rocks_sbom_and_base(rocks: dict[str, BuiltRock], tmp_path: Path) -> None:
    options = publish.Options(charm_dir=REPO / "charm", rocks_dir=REPO / "rocks", manifest=tmp_path / "m.json")
    _, records = publish.plan_resources(options)
    by_rock = {record.rock: record for record in records}
    for name in ("indico", "indico-nginx"):
        assert by_rock[name].sbom == str(sbom.sbom_path(rocks[name].path))
    assert by_rock["indico"].base_digest and re.fullmatch(r"[0-9a-f]{64}", by_rock["indico"].base_digest)
    assert by_rock["indico-nginx"].base_digest is None, "base: bare has no base image; chisel's manifest lists it"
