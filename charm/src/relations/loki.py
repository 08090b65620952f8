"""loki_push_api, requirer side, as loki-k8s answers it (charms.loki_k8s.v1.loki_push_api).

The requirer writes nothing that Loki needs; each Loki unit writes its push URL into its unit
databag as `endpoint`: JSON `{"url": "http://.../loki/api/v1/push"}`. Pebble itself forwards
every service's output there (a `log-targets` entry per Loki unit in each container's layer),
labelled with the Juju topology as loki-k8s's own LogForwarder labels it.
"""

from __future__ import annotations

import json
import re

import ops


def endpoints(relation: ops.Relation) -> dict[str, str]:
    """Loki unit name -> its push URL, for every unit that has published one."""
    found = {}
    for unit in relation.units:
        try:
            url = json.loads(relation.data[unit].get("endpoint", "{}")).get("url", "")
        except (ValueError, AttributeError):
            continue
        if url.startswith(("http://", "https://")):
            found[unit.name] = url
    return found


def target_name(unit_name: str) -> str:
    """A Pebble log-target name for a Loki unit (`loki/0` -> `loki-0`)."""
    return re.sub(r"[^a-z0-9-]", "-", unit_name.lower())


def log_targets(urls: dict[str, str], labels: dict[str, str]) -> dict[str, dict[str, object]]:
    """Pebble log-targets forwarding every service to every Loki unit."""
    return {
        target_name(unit): {
            "override": "replace",
            "type": "loki",
            "location": url,
            "services": ["all"],
            "labels": labels,
        }
        for unit, url in sorted(urls.items())
    }
