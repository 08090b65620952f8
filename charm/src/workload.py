"""What each container should run: Pebble layers that merge environment and startup choices onto
the rock's own layer. They never name a command; the rocks own their commands and checks."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

from relations import oauth, s3, saml, smtp
from state import DATABASE_CA_PATH, CharmConfig, ModelProxy, State

LAYER_LABEL = "indico-charm"
INDICO_SERVICES = ("indico", "statsd-exporter", "celery-worker", "celery-beat")
INDICO_CODE_SERVICES = {"indico", "celery-worker", "celery-beat"}
WORKER_CHECK = "celery-worker-alive"  # the rock's check of the worker's heartbeat


def indico_environment(state: State) -> dict[str, str]:
    config = state.config
    env = {
        "INDICO_DB_URI": state.database_uri,
        "PGPASSWORD": state.database_password,
        "INDICO_REDIS_URL": state.redis_broker_url,
        "INDICO_CELERY_BROKER_URL": state.redis_broker_url,
        "INDICO_REDIS_CACHE_URL": state.redis_cache_url,
        "INDICO_SECRET_KEY": state.secret_key,
        "INDICO_BASE_URL": state.base_url,
        "INDICO_ENABLE_ROOMBOOKING": "true" if config.enable_roombooking else "false",
        "INDICO_CUSTOMIZATION_DEBUG": "true" if config.customization_debug else "false",
        "UWSGI_PROCESSES": str(config.uwsgi_processes),
        "INDICO_REQUEST_TIMEOUT": str(config.request_timeout),
        "CELERY_CONCURRENCY": str(config.celery_concurrency),
    }
    optional = {
        "INDICO_SUPPORT_EMAIL": config.support_email,
        "INDICO_PUBLIC_SUPPORT_EMAIL": config.public_support_email,
        # The sender the mail server requires, unless the operator names one.
        "INDICO_NO_REPLY_EMAIL": config.no_reply_email or (state.smtp.sender if state.smtp else ""),
        "INDICO_SMTP_ALLOWED_SENDERS": ",".join(allowed_senders(state)),
        "INDICO_SMTP_SENDER_FALLBACK": config.smtp_sender_fallback,
        # Indico reads this after its config file: the operator's indico_config.
        "INDICO_CONF_OVERRIDE": config.site_settings,
        # Of the plugins indico-external installed, these (empty: all).
        "INDICO_EXTERNAL_PLUGINS_ENABLED": ",".join(config.enabled_plugins),
    }
    # Empty means "the rock's default"; a key is never left out, since Pebble would keep its old value.
    env.update(optional)
    env.update(s3.environment(state.s3))
    env.update(smtp.environment(state.smtp))
    env.update(oauth.environment(state.oidc))
    env.update(saml.environment(state.saml))
    # Local accounts go only when another way to sign in exists: nobody is locked out.
    external = state.oidc is not None or state.saml is not None
    env["INDICO_LOCAL_IDENTITIES"] = "false" if external and not config.local_login else "true"
    trusted = "true" if config.trust_identity_provider_emails else "false"
    env["INDICO_OIDC_TRUSTED_EMAIL"] = env["INDICO_SAML_TRUSTED_EMAIL"] = trusted
    return env


# Reached without the model's proxy whatever Juju's no-proxy says: the pod itself and the
# cluster's service names.
ALWAYS_DIRECT = ("localhost", "127.0.0.1", "::1", ".svc", ".cluster.local")


def _host(url: str) -> str:
    return urlsplit(url).hostname or "" if "://" in url else ""


def workload_proxy(proxy: ModelProxy, state: State | None) -> dict[str, str]:
    """The model's proxy for Indico, Celery and the exporters (OIDC discovery, webhooks, Indico's
    version check), bypassed for the pod, the cluster and every relation's endpoint: the database,
    Redis and the S3 endpoint are reached directly. Every variable is always set (empty without a
    proxy): Pebble merges layers, so one left out would keep its old value."""
    if not (proxy.http or proxy.https):
        return dict.fromkeys(("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"), "")
    direct = [entry.strip() for entry in proxy.no_proxy.split(",") if entry.strip()]
    if state is not None:
        direct += [_host(state.database_uri), _host(state.redis_broker_url), _host(state.redis_cache_url)]
        if state.s3 and state.s3.endpoint:
            direct.append(_host(state.s3.endpoint))
    no_proxy = ",".join(dict.fromkeys(entry for entry in (*direct, *ALWAYS_DIRECT) if entry))
    return {
        "HTTP_PROXY": proxy.http,
        "http_proxy": proxy.http,
        "HTTPS_PROXY": proxy.https,
        "https_proxy": proxy.https,
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
    }


def allowed_senders(state: State) -> tuple[str, ...]:
    """The operator's list, else the one sender the mail server is known to accept."""
    if state.config.smtp_allowed_senders:
        return state.config.smtp_allowed_senders
    return (state.smtp.sender,) if state.smtp and state.smtp.sender else ()


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
    """What needs neither relations nor config: NGINX (with /health) and both exporters.

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
            # The pod's one StatsD exporter runs in the indico container; this container's copy of
            # the rock's check would only watch another container's service.
            "checks": {"statsd-exporter-up": {"override": "merge", "startup": "disabled"}},
        },
        "indico-nginx": {
            "summary": "Indico NGINX (charm)",
            "services": {
                "nginx": {
                    "override": "merge",
                    "startup": "enabled",
                    "environment": {
                        "NGINX_TRUSTED_PROXIES": trusted_proxies,
                        "INDICO_REQUEST_TIMEOUT": request_timeout,
                    },
                },
                "nginx-prometheus-exporter": {"override": "merge", "startup": "enabled", "environment": proxy},
            },
            "checks": {"nginx-up": _made_alive(), "nginx-exporter-up": _made_alive()},
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
    env = indico_environment(state) if state is not None else None
    web = {"statsd-exporter", "indico"} if state is not None else {"statsd-exporter"}
    celery = set() if state is None else {"celery-worker", "celery-beat"} if is_leader else {"celery-worker"}
    proxy = workload_proxy(model_proxy or ModelProxy(), state)
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


# --- plugins and customization: the rock's indico-external does the work ----------------------

MIGRATION_RECORD = "/var/lib/indico/migration.json"  # written by the rock's indico-migrate
EXTERNAL_TOOL = "/usr/local/bin/indico-external"
INDICO_USER = "_daemon_"  # whom the indico rock's services run as (its rockcraft.yaml)
EXTERNAL_STATE = "/var/lib/indico/external/state.json"
# Each runs Indico code from its own filesystem, so each gets the plugins and customization.
EXTERNAL_CONTAINERS = ("indico", "celery")


def url_fingerprint(url: str) -> str:
    """How indico-external records a customization URL it must not store (it may hold a token)."""
    return hashlib.sha256(url.encode()).hexdigest() if url else ""


def external_sync_needed(config: CharmConfig, recorded: dict[str, Any] | None) -> bool:
    """Whether indico-external has not yet been asked for exactly these inputs."""
    if recorded is None:
        return bool(config.external_plugins or config.customization_sources_url)
    try:
        customization = recorded["customization"]
        asked = (recorded["plugins"]["requested"], customization["url-sha256"], customization.get("ref", ""))
    except (KeyError, TypeError):
        return True
    wanted = (config.customization_sources_url, config.customization_sources_ref)
    return asked != (list(config.external_plugins), url_fingerprint(wanted[0]), wanted[1])


def external_errors(recorded: dict[str, Any] | None) -> dict[str, str]:
    """Config option -> the error indico-external recorded for it."""
    errors = {}
    for option, section in (("external_plugins", "plugins"), ("customization_sources_url", "customization")):
        error = ((recorded or {}).get(section) or {}).get("error")
        if error:
            errors[option] = str(error)
    return errors


def enabled_plugins_error(config: CharmConfig, recorded: dict[str, Any] | None) -> str:
    """Why enabled_plugins cannot be applied (names no installed package provides); empty if it can."""
    if not config.enabled_plugins:
        return ""
    installed = sorted(((recorded or {}).get("plugins") or {}).get("enabled") or [])
    unknown = [name for name in config.enabled_plugins if name not in installed]
    if not unknown:
        return ""
    return (
        f"{', '.join(unknown)} not installed (installed: {', '.join(installed) or 'none'}; "
        "external_plugins installs them)"
    )


def external_environment(proxy: ModelProxy, config: CharmConfig) -> dict[str, str]:
    """indico-external's whole environment: the model's proxy and the operator's package index."""
    return {**proxy_environment(proxy), **({"PIP_INDEX_URL": config.pip_index_url} if config.pip_index_url else {})}


def external_sync_command(config: CharmConfig, refresh: bool) -> list[str]:
    """The command line: plugin specifiers and the ref. The customization URL, which may carry a
    token, goes on stdin (external_sync_input): a command line is in every process list, and an
    exec's environment is kept in Pebble's state."""
    command = [EXTERNAL_TOOL, "sync", "--customization-url", "-"]
    if config.customization_sources_ref:
        command += ["--customization-ref", config.customization_sources_ref]
    if refresh:
        command.append("--refresh")
    return [*command, "--", *config.external_plugins]


def external_sync_input(config: CharmConfig) -> str:
    return config.customization_sources_url + "\n"


def proxy_environment(proxy: ModelProxy) -> dict[str, str]:
    """The model's proxy settings as Juju gives them, for pip and git in indico-external."""
    env = {}
    for name, value in (("HTTP_PROXY", proxy.http), ("HTTPS_PROXY", proxy.https), ("NO_PROXY", proxy.no_proxy)):
        if value:
            env[name] = env[name.lower()] = value
    return env


def external_report(stdout: str, error: str) -> dict[str, str]:
    """indico-external's JSON line as action results (strings, Juju's result keys)."""
    try:
        result = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {}
    report = {
        "plugins-changed": "true" if result.get("plugins-changed") else "false",
        "customization-changed": "true" if result.get("customization-changed") else "false",
        "plugins": ",".join(result.get("plugins") or []),
        "customization-commit": str(result.get("customization-commit") or ""),
        "customization-ref": str(result.get("customization-ref") or ""),
    }
    if error:
        report["error"] = error
    return report
