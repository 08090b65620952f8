"""ingress v2 (per application), requirer side, as traefik-k8s's provider library reads it.

The app databag carries the request (model, name, port, ...), each unit's databag the address
the ingress forwards to; every value is JSON-encoded. The provider answers with
`ingress: {"url": ...}` in its app databag.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import ops

# Every requirer app key of ingress v2 (traefik_k8s.v2.ingress.IngressRequirerAppData): any of them
# not in today's request is stale and removed, so the provider never acts on an old value.
REQUEST_KEYS = (
    "model",
    "name",
    "port",
    "strip-prefix",
    "redirect-https",
    "scheme",
    "healthcheck_params",
    "is_port_open",
)


class IngressUrlError(ValueError):
    """The provider's URL cannot serve Indico; the message says what to do instead."""


@dataclass(frozen=True)
class IngressRequest:
    model: str
    name: str
    port: int

    def databag(self) -> dict[str, str]:
        values = {
            "model": self.model,
            "name": self.name,
            "port": self.port,
            "strip-prefix": False,
            "redirect-https": False,
            "scheme": "http",
        }
        return {key: json.dumps(value) for key, value in values.items()}


def publish_request(relation: ops.Relation, app: ops.Application, request: IngressRequest) -> None:
    """Leader only: the app databag holds exactly today's request."""
    _replace(relation.data[app], request.databag(), REQUEST_KEYS)


def publish_unit(relation: ops.Relation, unit: ops.Unit, host: str, ip: str | None) -> None:
    """This unit's address: `host` (the pod's FQDN) and `ip` when Juju knows it."""
    wanted = {"host": json.dumps(host)}
    if ip:
        wanted["ip"] = json.dumps(ip)
    _replace(relation.data[unit], wanted, ("host", "ip"))


def url(relation: ops.Relation) -> str | None:
    """The URL the provider published, checked to be one Indico can be served at.

    Raises IngressUrlError for a URL that is not http(s) or that has a path: Indico serves only
    from the root of its base URL, so a path-routed ingress cannot front it.
    """
    if relation.app is None:
        return None
    raw = relation.data[relation.app].get("ingress")
    if not raw:
        return None
    try:
        published = json.loads(raw)
    except ValueError:
        return None
    value = published.get("url") if isinstance(published, dict) else None
    if not isinstance(value, str) or not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise IngressUrlError(f"the ingress URL {value!r} is not an http(s) URL with a host name")
    if parts.path.strip("/") or parts.query:
        raise IngressUrlError(
            f"the ingress URL {value!r} routes by path, and Indico serves only from the root of a host: "
            "use host-based routing on the ingress (traefik: routing_mode=subdomain) or set site_url"
        )
    return f"{parts.scheme}://{parts.netloc}"


def forwarders(relation: ops.Relation | None) -> str:
    """Where the ingress's units forward from, as the indico-nginx rock's NGINX_TRUSTED_PROXIES
    takes it: each unit's `egress-subnets` (Juju writes them), else its `ingress-address`.

    Only this hop may tell NGINX the client's address and scheme; empty (the rock's default,
    loopback alone) without the relation or before Juju knows its units' addresses. A value that
    is not an address or CIDR is left out rather than passed on.
    """
    if relation is None:
        return ""
    found: list[str] = []
    for unit in sorted(relation.units, key=lambda u: u.name):
        data = relation.data[unit]
        for value in (data.get("egress-subnets") or data.get("ingress-address") or "").split(","):
            try:
                network = str(ipaddress.ip_network(value.strip(), strict=False))
            except ValueError:
                continue
            if network not in found:
                found.append(network)
    return " ".join(found)


def _replace(databag: ops.RelationDataContent, wanted: dict[str, str], managed: tuple[str, ...]) -> None:
    for key in managed:
        if key not in wanted and key in databag:
            del databag[key]
    changed = {key: value for key, value in wanted.items() if databag.get(key) != value}
    if changed:
        databag.update(changed)
