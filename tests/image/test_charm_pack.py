"""`make charm`: real charmcraft packs the charm in a container; the .charm holds what Juju needs."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docker
import yaml

from rockbuild.progress import Progress
from rockbuild.publish import charm_pack as charmpack

CHARM_DIR = Path(__file__).resolve().parents[2] / "charm"


def test_charmcraft_packs_the_charm(docker_client: docker.DockerClient) -> None:
    image = "registry.test/indico@sha256:" + "0" * 64
    built = charmpack.pack(CHARM_DIR, Progress("charm"), upstream_sources={"indico-image": image})
    assert built == CHARM_DIR / "indico_amd64.charm"
    assert not list(CHARM_DIR.glob("*.partial"))
    with zipfile.ZipFile(built) as charm:
        names = set(charm.namelist())
        metadata = yaml.safe_load(charm.read("metadata.yaml"))
    assert {"src/charm.py", "src/state.py", "src/workload.py", "src/relations/database.py", "dispatch"} <= names
    assert any(name.startswith("venv/ops/") for name in names)
    archive_mount = [{"storage": "archive", "location": "/var/lib/indico/archive"}]
    assert metadata["containers"]["celery"] == {
        "resource": "indico-image",
        "uid": 584792,
        "gid": 584792,
        "mounts": archive_mount,
    }
    assert metadata["containers"]["indico"]["mounts"] == archive_mount
    assert metadata["storage"]["archive"]["type"] == "filesystem"
    assert metadata["requires"]["s3"] == {"interface": "s3", "limit": 1, "optional": True}
    assert metadata["requires"]["smtp"] == {"interface": "smtp", "limit": 1, "optional": True}
    assert metadata["requires"]["oauth"] == {"interface": "oauth", "limit": 1, "optional": True}
    assert metadata["requires"]["saml"] == {"interface": "saml", "limit": 1, "optional": True}
    assert metadata["requires"]["logging"] == {"interface": "loki_push_api", "optional": True}
    assert metadata["provides"]["metrics-endpoint"] == {"interface": "prometheus_scrape"}
    assert metadata["provides"]["grafana-dashboard"] == {"interface": "grafana_dashboard"}
    assert {"src/alert_rules/indico.rules.yaml", "src/grafana_dashboards/indico.json"} <= names
    assert any(name.startswith("venv/charmlibs/interfaces/oauth/") for name in names)
    assert any(name.startswith("venv/rpds/") for name in names), "the oauth library's jsonschema needs rpds-py"
    assert metadata["resources"]["indico-nginx-image"]["type"] == "oci-image"
    assert metadata["requires"]["database"]["interface"] == "postgresql_client"
    assert metadata["assumes"] == ["juju >= 3.5", "k8s-api"]
    assert metadata["resources"]["indico-image"]["upstream-source"] == image, "the pushed image, as publish passes it"
    assert "upstream-source" not in metadata["resources"]["indico-nginx-image"]
