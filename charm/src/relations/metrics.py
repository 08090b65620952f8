"""prometheus_scrape, provider side, as prometheus-k8s reads it
(charms.prometheus_k8s.v0.prometheus_scrape.MetricsEndpointConsumer).

The leader writes, in the app databag: `scrape_jobs` (a JSON list of Prometheus scrape configs
whose targets use `*` for "every unit"), `scrape_metadata` (the Juju topology) and `alert_rules`
(Prometheus rule groups). Every unit writes its own address and name; the consumer expands each
`*` target into one job per unit, labelled with the topology and `juju_unit`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ops
import yaml

ALERT_RULES = Path(__file__).resolve().parents[1] / "alert_rules"
# One job per exporter of the pod: NGINX's (indico-nginx container) and uWSGI's StatsD (indico).
SCRAPE_JOBS = [
    {"job_name": "nginx", "metrics_path": "/metrics", "static_configs": [{"targets": ["*:9113"]}]},
    {"job_name": "uwsgi", "metrics_path": "/metrics", "static_configs": [{"targets": ["*:9102"]}]},
]


@dataclass(frozen=True)
class Topology:
    model: str
    model_uuid: str
    application: str
    unit: str
    charm_name: str

    def log_labels(self) -> dict[str, str]:
        """The labels loki-k8s's own LogForwarder gives forwarded lines."""
        return {
            "product": "Juju",
            "charm": self.charm_name,
            "juju_model": self.model,
            "juju_model_uuid": self.model_uuid,
            "juju_application": self.application,
            "juju_unit": self.unit,
        }

    def metadata(self) -> dict[str, str]:
        return {
            "model": self.model,
            "model_uuid": self.model_uuid,
            "application": self.application,
            "unit": self.unit,
            "charm_name": self.charm_name,
        }


def alert_rules(directory: Path = ALERT_RULES) -> dict[str, Any]:
    """The charm's rule files as one set of groups, each group named after its file."""
    groups: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.rules.yaml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            groups.append(group)
    return {"groups": groups}


def publish(relation: ops.Relation, app: ops.Application, topology: Topology) -> None:
    """Leader only: what Prometheus scrapes and which alerts it evaluates."""
    relation.data[app].update(
        {
            "scrape_jobs": json.dumps(SCRAPE_JOBS),
            "scrape_metadata": json.dumps(topology.metadata()),
            "alert_rules": json.dumps(alert_rules()),
        }
    )


def publish_unit(relation: ops.Relation, unit: ops.Unit, address: str) -> None:
    """Where this unit's exporters answer (its pod address; the consumer adds the ports)."""
    relation.data[unit].update({"prometheus_scrape_unit_address": address, "prometheus_scrape_unit_name": unit.name})
