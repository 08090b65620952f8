"""The one module that talks to the workload containers, through Pebble. The charm decides what
(workload.py); these functions apply it to one container each, and the pod test runs them
against the rocks' real Pebble."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, cast

import archive
import ops
import workload
from actions import ActionFailedError
from state import CharmConfig

logger = logging.getLogger(__name__)


class LayerError(Exception):
    """Pebble refused the layer or the replan; the message says what it said."""


def apply_layer(container: ops.Container, layer: dict[str, Any], files: dict[str, str] | None = None) -> bool:
    """Write `files` (path -> content) where they differ, merge the charm's layer, replan only if
    the plan changed, stop what it disables. False when the container's Pebble is not reachable
    (yet); LayerError when Pebble refuses."""
    if not container.can_connect():
        return False
    try:
        for path, content in (files or {}).items():
            _write_if_changed(container, path, content)
        current = container.get_plan().to_dict()
        layer = workload.with_stale_log_targets_disabled(layer, current.get("log-targets", {}))
        container.add_layer(workload.LAYER_LABEL, ops.pebble.Layer(cast("ops.pebble.LayerDict", layer)), combine=True)
        # Juju starts Pebble with --hold: an enabled service runs only after a replan, even when
        # the charm's layer left the plan as the rock's own layer had it. (A failing service is
        # Pebble's to restart, with its backoff.)
        if container.get_plan().to_dict() != current or workload.services_to_start(layer, _inactive(container)):
            container.replan()
        stop = workload.services_to_stop(layer, _running(container))
        if stop:
            container.stop(*sorted(stop))
        checks = container.get_checks()
        running_checks = {name for name, info in checks.items() if info.status != ops.pebble.CheckStatus.INACTIVE}
        stop_checks = workload.checks_to_stop(layer, running_checks)
        if stop_checks:
            container.stop_checks(*sorted(stop_checks))
        start_checks = workload.checks_to_start(layer, set(checks) - running_checks)
        if start_checks:
            container.start_checks(*sorted(start_checks))
    except ops.pebble.ConnectionError as exc:
        logger.warning("Pebble in %s: %s", container.name, exc)
        return False
    except (ops.pebble.ChangeError, ops.pebble.APIError, ops.pebble.PathError) as exc:
        raise LayerError(f"Pebble in {container.name}: {_first_line(exc)}") from exc
    return True


def _write_if_changed(container: ops.Container, path: str, content: str) -> None:
    try:
        if container.pull(path).read() == content:
            return
    except ops.pebble.PathError:
        pass
    container.push(
        path, content, make_dirs=True, permissions=0o644, user_id=archive.WORKLOAD_UID, group_id=archive.WORKLOAD_GID
    )


def apply_layer_if_idle(container: ops.Container, layer: dict[str, Any]) -> bool:
    """apply_layer, unless Indico code runs there: a replan would restart (or, disabled, stop) it.
    For when config is invalid: nothing unconfigured starts, and nothing running is touched."""
    if not container.can_connect():
        return False
    try:
        if _running(container) & workload.INDICO_CODE_SERVICES:
            return True
    except ops.pebble.ConnectionError:
        return False
    return apply_layer(container, layer)


@dataclass(frozen=True)
class WorkloadFacts:
    """What one container's Pebble says: service -> current state, check -> status, and the rock's
    migration record (indico container only). None when Pebble is not reachable."""

    services: dict[str, str]
    checks: dict[str, str]
    migration: dict[str, Any] | None = None


def read_workload(container: ops.Container) -> WorkloadFacts | None:
    if not container.can_connect():
        return None
    try:
        services = {name: _value(info.current) for name, info in container.get_services().items()}
        checks = {name: _value(info.status) for name, info in container.get_checks().items()}
        migration = None
        if container.name == "indico":
            try:
                migration = dict(json.loads(container.pull(workload.MIGRATION_RECORD).read()))
            except (ops.pebble.PathError, ValueError, TypeError):
                migration = None
    except ops.pebble.ConnectionError:
        return None
    return WorkloadFacts(services, checks, migration)


def _value(status: object) -> str:
    """An ops enum's value, or Pebble's own word where ops has no member for it (e.g. `backoff`)."""
    return str(getattr(status, "value", status))


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "err", None) or getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass
class ExternalSync:
    """What one container's indico-external reported: `report` is empty when nothing had to run."""

    report: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def sync_external(
    container: ops.Container, config: CharmConfig, refresh: bool, environment: dict[str, str]
) -> ExternalSync | None:
    """Have the rock's indico-external install the plugins and customization that config asks for,
    only when its record differs (or on refresh); restart the services running Indico code after
    a change. None when the container's Pebble is not reachable (yet)."""
    if not container.can_connect():
        return None
    outcome = ExternalSync()
    try:
        recorded = _external_record(container)
        if refresh or workload.external_sync_needed(config, recorded):
            command = workload.external_sync_command(config, refresh)
            outcome.report = _run_external_sync(container, command, workload.external_sync_input(config), environment)
            recorded = _external_record(container)
            if outcome.report.get("error") and not workload.external_errors(recorded):
                outcome.errors["external_plugins"] = outcome.report["error"]
            if "true" in (outcome.report["plugins-changed"], outcome.report["customization-changed"]):
                restart = _running(container) & workload.INDICO_CODE_SERVICES
                if restart:
                    container.restart(*sorted(restart))
        outcome.errors.update(workload.external_errors(recorded))
        unusable = workload.enabled_plugins_error(config, recorded)
        if unusable:
            outcome.errors["enabled_plugins"] = unusable
    except (ops.pebble.ConnectionError, ops.pebble.ChangeError) as exc:
        logger.warning("Pebble in %s: %s", container.name, exc)
        return None
    return outcome


def _inactive(container: ops.Container) -> set[str]:
    return {
        name for name, info in container.get_services().items() if info.current == ops.pebble.ServiceStatus.INACTIVE
    }


def _running(container: ops.Container) -> set[str]:
    return {name for name, info in container.get_services().items() if info.is_running()}


def _external_record(container: ops.Container) -> dict[str, Any] | None:
    try:
        return dict(json.loads(container.pull(workload.EXTERNAL_STATE).read()))
    except (ops.pebble.PathError, ValueError, TypeError):
        return None


def _run_external_sync(
    container: ops.Container, command: list[str], stdin: str, environment: dict[str, str]
) -> dict[str, str]:
    """As the indico service's user, but not in its context: pip, git and any package's build
    script get the proxy settings, never the site's secrets (database password, secret key...)."""
    try:
        process = container.exec(
            command,
            user=workload.INDICO_USER,
            group=workload.INDICO_USER,
            environment=environment,
            stdin=stdin,
            timeout=900,
        )
        stdout, _ = process.wait_output()
        error = ""
    except ops.pebble.ExecError as exc:
        lines = str(exc.stderr or "").strip().splitlines()
        stdout, error = str(exc.stdout or ""), lines[-1] if lines else str(exc)
    except ops.pebble.APIError as exc:
        stdout = ""
        error = f"Pebble could not run {workload.EXTERNAL_TOOL} (is the indico-image resource current?): {exc}"
    return workload.external_report(stdout, error)


ADMIN_TOOL = "/usr/local/bin/indico-admin"


def run_admin(container: ops.Container, args: list[str], stdin: str | None = None) -> dict[str, Any]:
    """Run the rock's indico-admin in the `indico` service's context (its user and environment,
    so the same database) and return its JSON result; ActionFailedError says what went wrong."""
    if not container.can_connect():
        raise ActionFailedError("the indico container is not ready yet")
    try:
        process = container.exec([ADMIN_TOOL, *args], service_context="indico", stdin=stdin, timeout=600)
        stdout, _ = process.wait_output()
    except ops.pebble.ExecError as exc:
        lines = [line for line in str(exc.stderr or "").splitlines() if line.startswith("indico-admin:")]
        raise ActionFailedError(lines[-1] if lines else f"{ADMIN_TOOL} {args[0]} exited with {exc.exit_code}") from exc
    except ops.pebble.APIError as exc:
        raise ActionFailedError(f"Pebble refused to run {ADMIN_TOOL}: {exc}") from exc
    try:
        result = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise ActionFailedError(f"{ADMIN_TOOL} gave no result") from exc
    return dict(result)
