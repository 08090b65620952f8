"""grafana_dashboard, provider side, as grafana-k8s reads it
(charms.grafana_k8s.v0.grafana_dashboard.GrafanaDashboardConsumer).

The leader writes `dashboards` into the app databag: JSON with `templates` (one per file of
src/grafana_dashboards: the dashboard JSON, LZMA-compressed and base64-encoded, with the charm's
name and the Juju topology) and `uuid`, whose change tells Grafana to reload. Here the uuid is a
hash of the templates, so an unchanged dashboard causes no relation-changed at all. Queries name
their datasource `${prometheusds}`, which Grafana's side replaces with its Prometheus.
"""

from __future__ import annotations

import base64
import hashlib
import json
import lzma
from pathlib import Path

import ops

DASHBOARDS = Path(__file__).resolve().parents[1] / "grafana_dashboards"


def templates(charm_name: str, topology: dict[str, str], directory: Path = DASHBOARDS) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    for path in sorted(directory.glob("*.json")):
        content = json.dumps(json.loads(path.read_text()))  # fails here, not in Grafana, on a broken file
        found[f"file:{path.name}"] = {
            "charm": charm_name,
            "content": base64.b64encode(lzma.compress(content.encode())).decode(),
            "juju_topology": topology,
            "inject_dropdowns": True,
        }
    return found


def publish(relation: ops.Relation, app: ops.Application, charm_name: str, topology: dict[str, str]) -> None:
    """Leader only."""
    found = templates(charm_name, topology)
    # lzma output is deterministic for equal input, so equal dashboards give an equal uuid.
    digest = hashlib.sha256(json.dumps(found, sort_keys=True).encode()).hexdigest()
    payload = json.dumps({"templates": found, "uuid": digest})
    if relation.data[app].get("dashboards") != payload:
        relation.data[app]["dashboards"] = payload
