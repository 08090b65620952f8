"""What this unit tells the applications it is related to, on every event: the requests its
providers answer (database, s3, ingress) and what it offers to observers (scrape jobs and alert
rules, dashboards). None of it depends on config, so a bad option never holds it back."""

from __future__ import annotations

import socket
from typing import Any

import ops
from relations import dashboards, database, ingress, loki, metrics, s3

NGINX_PORT = 8080


def topology(charm: ops.CharmBase) -> metrics.Topology:
    model = charm.model
    return metrics.Topology(model.name, model.uuid, charm.app.name, charm.unit.name, charm.meta.name)


def publish(charm: ops.CharmBase) -> None:
    model, app, unit = charm.model, charm.app, charm.unit
    leader = unit.is_leader()
    unit.set_ports(NGINX_PORT)
    db = model.get_relation("database")
    if db is not None and leader:
        # One database per application: two Indico applications on one PostgreSQL never share a schema.
        database.publish_request(db, app, app.name)
    bucket = model.get_relation("s3")
    if bucket is not None and leader:
        s3.publish_request(bucket, app, app.name)
    here = topology(charm)
    for scraper in model.relations["metrics-endpoint"]:
        if leader:
            metrics.publish(scraper, app, here)
        binding = model.get_binding(scraper)
        if binding is not None and binding.network.ingress_address is not None:
            metrics.publish_unit(scraper, unit, str(binding.network.ingress_address))
    if leader:
        labels = {k: v for k, v in here.metadata().items() if k != "charm_name"}
        for grafana in model.relations["grafana-dashboard"]:
            dashboards.publish(grafana, app, charm.meta.name, labels)
    relation = model.get_relation("ingress")
    if relation is not None:
        if leader:
            ingress.publish_request(relation, app, ingress.IngressRequest(model.name, app.name, NGINX_PORT))
        binding = model.get_binding(relation)
        address = binding.network.bind_address if binding else None
        # The pod's own FQDN, as Kubernetes' DNS gives it, whatever the cluster domain is.
        ingress.publish_unit(relation, unit, socket.getfqdn(), str(address) if address else None)


def log_targets(charm: ops.CharmBase) -> dict[str, dict[str, Any]]:
    """Pebble log-targets for every Loki unit related over `logging`."""
    urls: dict[str, str] = {}
    for relation in charm.model.relations["logging"]:
        urls.update(loki.endpoints(relation))
    return loki.log_targets(urls, topology(charm).log_labels())
