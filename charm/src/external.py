"""Operators' plugins and customization, installed by the rock's indico-external in every
container that runs Indico code, only when what the config asks for differs from what the tool
recorded (or on the refresh-external-resources action). The protocol is here; the Pebble calls
it makes are pebble_ops'."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ops
import pebble_ops
import workload
from config import CharmConfig, redact

EXTERNAL_TOOL = "/usr/local/bin/indico-external"
INDICO_USER = "_daemon_"  # whom the indico rock's services run as (its rockcraft.yaml)
RECORD = "/var/lib/indico/external/state.json"
# Each runs Indico code from its own filesystem, so each gets the plugins and customization.
CONTAINERS = ("indico", "celery")
TIMEOUT = 900


@dataclass(frozen=True)
class Request:
    """What indico-external is asked to install. `customization_url` may carry the credentials of
    customization_sources_secret: it goes on stdin only, and is redacted from every report."""

    plugins: tuple[str, ...] = ()
    customization_url: str = ""
    customization_ref: str = ""
    enabled_plugins: tuple[str, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: CharmConfig, customization_url: str, environment: Mapping[str, str]) -> Request:
        return cls(
            plugins=config.plugin_specs,
            customization_url=customization_url,
            customization_ref=config.customization_sources_ref,
            enabled_plugins=config.enabled_plugin_names,
            environment=environment,
        )


@dataclass
class Outcome:
    """reports: container -> what its indico-external did (empty when nothing had to run);
    errors: config option -> what is wrong with it."""

    reports: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def sync(containers: Iterable[ops.Container], request: Request, refresh: bool) -> Outcome:
    """Every reachable container brought to the request; reports and errors redacted."""
    outcome = Outcome()
    for container in containers:
        one = sync_container(container, request, refresh)
        if one is None:
            continue
        outcome.errors.update(
            {option: redact(error, request.customization_url) for option, error in one.errors.items()}
        )
        if one.reports:
            report = one.reports[container.name]
            outcome.reports[container.name] = {k: redact(v, request.customization_url) for k, v in report.items()}
    return outcome


def sync_container(container: ops.Container, request: Request, refresh: bool) -> Outcome | None:
    """Run indico-external in one container if needed (or on refresh); restart the services that
    run Indico code after a change. None when the container's Pebble is not reachable (yet)."""
    outcome = Outcome()
    try:
        recorded = pebble_ops.read_json(container, RECORD)
        if refresh or sync_needed(request, recorded):
            stdout, error = pebble_ops.run_as(
                container,
                command(request, refresh),
                user=INDICO_USER,
                environment=dict(request.environment),
                stdin=request.customization_url + "\n",
                timeout=TIMEOUT,
            )
            report = outcome.reports[container.name] = parse_report(stdout, error)
            recorded = pebble_ops.read_json(container, RECORD)
            if report.get("error") and not recorded_errors(recorded):
                outcome.errors["external_plugins"] = report["error"]
            if "true" in (report["plugins-changed"], report["customization-changed"]):
                pebble_ops.restart_running(container, workload.INDICO_CODE_SERVICES)
        outcome.errors.update(recorded_errors(recorded))
        unusable = enabled_plugins_error(request, recorded)
        if unusable:
            outcome.errors["enabled_plugins"] = unusable
    except pebble_ops.Unreachable:
        return None
    return outcome


def url_fingerprint(url: str) -> str:
    """How indico-external records a customization URL it must not store (it may hold a token)."""
    return hashlib.sha256(url.encode()).hexdigest() if url else ""


def sync_needed(request: Request, recorded: dict[str, Any] | None) -> bool:
    """Whether indico-external has not yet been asked for exactly this request."""
    if recorded is None:
        return bool(request.plugins or request.customization_url)
    try:
        customization = recorded["customization"]
        asked = (recorded["plugins"]["requested"], customization["url-sha256"], customization.get("ref", ""))
    except (KeyError, TypeError):
        return True
    wanted = (list(request.plugins), url_fingerprint(request.customization_url), request.customization_ref)
    return asked != wanted


def recorded_errors(recorded: dict[str, Any] | None) -> dict[str, str]:
    """Config option -> the error indico-external recorded for it."""
    errors = {}
    for option, section in (("external_plugins", "plugins"), ("customization_sources_url", "customization")):
        error = ((recorded or {}).get(section) or {}).get("error")
        if error:
            errors[option] = str(error)
    return errors


def enabled_plugins_error(request: Request, recorded: dict[str, Any] | None) -> str:
    """Why enabled_plugins cannot be applied (names no installed package provides); empty if it can."""
    if not request.enabled_plugins:
        return ""
    installed = sorted(((recorded or {}).get("plugins") or {}).get("enabled") or [])
    unknown = [name for name in request.enabled_plugins if name not in installed]
    if not unknown:
        return ""
    return (
        f"{', '.join(unknown)} not installed (installed: {', '.join(installed) or 'none'}; "
        "external_plugins installs them)"
    )


def command(request: Request, refresh: bool) -> list[str]:
    """The command line: plugin specifiers and the ref. The customization URL, which may carry a
    token, goes on stdin: a command line is in every process list, and an exec's environment is
    kept in Pebble's state."""
    line = [EXTERNAL_TOOL, "sync", "--customization-url", "-"]
    if request.customization_ref:
        line += ["--customization-ref", request.customization_ref]
    if refresh:
        line.append("--refresh")
    return [*line, "--", *request.plugins]


def parse_report(stdout: str, error: str) -> dict[str, str]:
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
