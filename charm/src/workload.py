"""What each container should run: Pebble layers that merge environment and startup choices onto
the rock's own layer. They never name a command; the rocks own their commands and checks."""

from __future__ import annotations

from typing import Any

from state import State

LAYER_LABEL = "indico-charm"
INDICO_SERVICES = ("indico", "statsd-exporter", "celery-worker", "celery-beat")


def indico_environment(state: State) -> dict[str, str]:
    config = state.config
    env = {
        "INDICO_DB_URI": state.database_uri,
        "INDICO_REDIS_URL": state.redis_url,
        "INDICO_SECRET_KEY": state.secret_key,
        "INDICO_BASE_URL": state.base_url,
        "INDICO_ENABLE_ROOMBOOKING": "true" if config.enable_roombooking else "false",
        "INDICO_CUSTOMIZATION_DEBUG": "true" if config.customization_debug else "false",
        "UWSGI_PROCESSES": str(config.uwsgi_processes),
        "CELERY_CONCURRENCY": str(config.celery_concurrency),
    }
    optional = {
        "INDICO_SUPPORT_EMAIL": config.support_email,
        "INDICO_PUBLIC_SUPPORT_EMAIL": config.public_support_email,
        "INDICO_NO_REPLY_EMAIL": config.no_reply_email,
    }
    env.update({key: value for key, value in optional.items() if value})
    return env


def _services(enabled: set[str], env: dict[str, str] | None) -> dict[str, Any]:
    services: dict[str, Any] = {}
    for name in INDICO_SERVICES:
        service: dict[str, Any] = {"override": "merge", "startup": "enabled" if name in enabled else "disabled"}
        if env is not None and name != "statsd-exporter":
            service["environment"] = env
        services[name] = service
    return services


def desired_layers(state: State) -> dict[str, dict[str, Any]]:
    """Container name -> the charm's layer for it."""
    env = indico_environment(state)
    celery = {"celery-worker", "celery-beat"} if state.is_leader else {"celery-worker"}
    return {
        "indico": {"summary": "Indico web (charm)", "services": _services({"indico", "statsd-exporter"}, env)},
        "celery": {"summary": "Indico Celery (charm)", "services": _services(celery, env)},
        "indico-nginx": {
            "summary": "Indico NGINX (charm)",
            "services": {
                "nginx": {"override": "merge", "startup": "enabled"},
                "nginx-prometheus-exporter": {"override": "merge", "startup": "enabled"},
            },
        },
    }


def services_to_stop(layer: dict[str, Any], running: set[str]) -> set[str]:
    """Running services the layer disables: replan starts services but never stops them."""
    disabled = {name for name, svc in layer["services"].items() if svc.get("startup") == "disabled"}
    return disabled & running
