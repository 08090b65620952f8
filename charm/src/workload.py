"""What each container should run: Pebble layers that merge environment and startup choices onto
the rock's own layer. They never name a command; the rocks own their commands and checks."""

from __future__ import annotations

from typing import Any

import rock_environment
from state import DATABASE_CA_PATH, ModelProxy, State

LAYER_LABEL = "indico-charm"
# The container that makes Indico's PDFs with LaTeX: the site serves without it (PDFs unavailable).
LATEX_CONTAINER = "indico-latex"
INDICO_SERVICES = ("indico", "statsd-exporter", "celery-worker", "celery-beat")
INDICO_CODE_SERVICES = frozenset({"indico", "celery-worker", "celery-beat"})
WORKER_CHECK = "celery-worker-alive"  # the rock's check of the worker's heartbeat


def _services(enabled: set[str], env: dict[str, str] | None, proxy: dict[str, str]) -> dict[str, Any]:
    services: dict[str, Any] = {}
    for name in INDICO_SERVICES:
        service: dict[str, Any] = {"override": "merge", "startup": "enabled" if name in enabled else "disabled"}
        if name == "statsd-exporter":  # Indico's settings are not the exporter's business
            service["environment"] = proxy
        elif env is not None:
            service["environment"] = {**env, **proxy}
        services[name] = service
    return services


def _made_alive() -> dict[str, str]:
    """A rock's `ready` check, made `alive` in the layer that starts its service."""
    return {"override": "merge", "level": "alive"}


def base_layers(
    trusted_proxies: str = "", proxy: dict[str, str] | None = None, request_timeout: str = ""
) -> dict[str, dict[str, Any]]:
    """What needs neither relations nor config: NGINX (with /health), both exporters and the LaTeX
    worker.

    Part of every layer the charm applies (desired_layers). The rocks' checks are all `ready`
    (under Juju's --hold nothing runs before this layer, and an `alive` check would have
    Kubernetes restart the waiting pod); this layer starts the services and, with them, makes
    their checks `alive`, so a hung NGINX or exporter restarts the pod from then on.
    NGINX believes X-Forwarded-* only from `trusted_proxies` (the ingress's units; empty: the
    rock's default, loopback alone). `proxy`: the model's proxy settings (workload_proxy).
    `request_timeout`: the request_timeout option, which NGINX follows (empty: the rock's default).
    """
    proxy = proxy or {}
    return {
        "indico": {
            "summary": "Indico web (charm)",
            "services": {"statsd-exporter": {"override": "merge", "startup": "enabled", "environment": proxy}},
            "checks": {"statsd-exporter-up": _made_alive()},
        },
        "celery": {
            "summary": "Indico Celery (charm)",
            "services": {},
            # The pod's one StatsD exporter and uWSGI run in the indico container; this container's
            # copies of the rock's checks would only watch (or, for indico-ready, never see: it reads a
            # mark uWSGI writes in its own container) another container's services.
            "checks": {
                "statsd-exporter-up": {"override": "merge", "startup": "disabled"},
                "indico-ready": {"override": "merge", "startup": "disabled"},
            },
        },
        "indico-nginx": {
            "summary": "Indico NGINX (charm)",
            "services": {
                "nginx": {
                    "override": "merge",
                    "startup": "enabled",
                    "environment": rock_environment.nginx(trusted_proxies, request_timeout),
                },
                "nginx-prometheus-exporter": {"override": "merge", "startup": "enabled", "environment": proxy},
            },
            "checks": {"nginx-up": _made_alive(), "nginx-exporter-up": _made_alive()},
        },
        LATEX_CONTAINER: {
            "summary": "Indico LaTeX (charm)",
            "services": {"latex": {"override": "merge", "startup": "enabled", "environment": rock_environment.latex()}},
            "checks": {"latex-up": _made_alive()},
        },
    }


def desired_layers(
    state: State | None,
    is_leader: bool,
    log_targets: dict[str, dict[str, Any]] | None = None,
    trusted_proxies: str = "",
    model_proxy: ModelProxy | None = None,
    request_timeout: str = "",
) -> dict[str, dict[str, Any]]:
    """Container name -> the charm's layer for it: the base layer, plus Indico and Celery.

    Indico and Celery run only with complete settings (`state`); without them they are disabled,
    which also stops them when a required relation goes away (no Indico on revoked credentials).
    """
    env = rock_environment.indico(state) if state is not None else None
    web = {"statsd-exporter", "indico"} if state is not None else {"statsd-exporter"}
    celery = set() if state is None else {"celery-worker", "celery-beat"} if is_leader else {"celery-worker"}
    proxy = rock_environment.workload_proxy(model_proxy or ModelProxy(), state)
    layers = base_layers(trusted_proxies, proxy, request_timeout)
    layers["indico"]["services"] = _services(web, env, proxy)
    layers["celery"]["services"] = _services(celery, env, proxy)
    # The worker's heartbeat check: never in the indico container (no worker there under Juju);
    # in the celery container `alive` while the worker runs, so a hung worker is restarted.
    layers["indico"]["checks"][WORKER_CHECK] = {"override": "merge", "startup": "disabled"}
    layers["celery"]["checks"][WORKER_CHECK] = (
        {**_made_alive(), "startup": "enabled"}
        if "celery-worker" in celery
        else {"override": "merge", "startup": "disabled"}
    )
    if log_targets:
        for layer in layers.values():
            layer["log-targets"] = log_targets
    return layers


def desired_files(state: State | None) -> dict[str, dict[str, str]]:
    """Container name -> path -> content: files the charm writes before it applies the layer."""
    if state is None or not state.database_ca:
        return {}
    return {name: {DATABASE_CA_PATH: state.database_ca + "\n"} for name in ("indico", "celery")}


def with_stale_log_targets_disabled(layer: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The layer, plus "forward nothing" for targets the plan has and the layer no longer names:
    Pebble merges layers, so a target that is simply left out keeps forwarding."""
    wanted = layer.get("log-targets", {})
    stale = {
        name: {
            "override": "replace",
            "type": target.get("type", "loki"),
            "location": target["location"],
            "services": ["-all"],
        }
        for name, target in current.items()
        if name not in wanted and "-all" not in target.get("services", [])
    }
    return {**layer, "log-targets": {**wanted, **stale}} if stale else layer


def checks_to_stop(layer: dict[str, Any], running: set[str]) -> set[str]:
    """Running checks the layer disables: Pebble does not stop a check whose startup changes."""
    disabled = {name for name, check in layer.get("checks", {}).items() if check.get("startup") == "disabled"}
    return disabled & running


def checks_to_start(layer: dict[str, Any], inactive: set[str]) -> set[str]:
    """Stopped checks the layer enables: a replan does not start a check that was stopped."""
    enabled = {name for name, check in layer.get("checks", {}).items() if check.get("startup") == "enabled"}
    return enabled & inactive


def services_to_start(layer: dict[str, Any], inactive: set[str]) -> set[str]:
    """Services the layer enables that were never started (or were stopped)."""
    enabled = {name for name, svc in layer["services"].items() if svc.get("startup") == "enabled"}
    return enabled & inactive


def services_to_stop(layer: dict[str, Any], running: set[str]) -> set[str]:
    """Running services the layer disables: replan starts services but never stops them."""
    disabled = {name for name, svc in layer["services"].items() if svc.get("startup") == "disabled"}
    return disabled & running
