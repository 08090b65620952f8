"""Requirer sides of the redis and ingress (v2) interfaces, read and written from relation data.

The Charmhub libraries for these (charms.redis_k8s.v0.redis, charms.traefik_k8s.v2.ingress) have no
PyPI package and Charmhub is out of reach of this project's machines, so the few databag keys each
interface defines are handled here, following their published schemas.
"""

from __future__ import annotations

import json

import ops


def redis_data(relation: ops.Relation) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Remote units' data (`hostname`, `port`) and the remote app's data (`leader-host`)."""
    units = [dict(relation.data[unit]) for unit in sorted(relation.units, key=lambda u: u.name)]
    app = dict(relation.data[relation.app]) if relation.app else {}
    return units, app


def publish_ingress_request(relation: ops.Relation, app: ops.Application, model_name: str, port: int) -> None:
    """Ingress v2 requirer app data (leader only); every value is JSON-encoded, as the interface requires."""
    request = {"model": model_name, "name": app.name, "port": port, "strip-prefix": False, "redirect-https": False}
    encoded = {key: json.dumps(value) for key, value in request.items()}
    databag = relation.data[app]
    if any(databag.get(key) != value for key, value in encoded.items()):
        databag.update(encoded)


def publish_ingress_unit(relation: ops.Relation, unit: ops.Unit, host: str, ip: str | None) -> None:
    """Ingress v2 requirer unit data: `host` (and `ip` when known), JSON-encoded."""
    encoded = {"host": json.dumps(host)}
    if ip:
        encoded["ip"] = json.dumps(ip)
    databag = relation.data[unit]
    if any(databag.get(key) != value for key, value in encoded.items()):
        databag.update(encoded)


def ingress_url(relation: ops.Relation) -> str | None:
    """The URL the ingress provider publishes in its app data (`ingress: {"url": ...}`)."""
    if relation.app is None:
        return None
    raw = relation.data[relation.app].get("ingress")
    if not raw:
        return None
    try:
        url = json.loads(raw).get("url")
    except (ValueError, AttributeError):
        return None
    return url if isinstance(url, str) and url else None
