"""The one module that talks to the workload containers, through Pebble. The charm decides what
(workload.py, external.py); these functions apply it to one container each, and the pod test runs them
against the rocks' real Pebble."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, cast

import archive
import ops
import workload

logger = logging.getLogger(__name__)

MIGRATION_RECORD = "/var/lib/indico/migration.json"  # written by the rock's indico-migrate


class ActionFailedError(Exception):
    """An action's step failed; the message is what the action reports."""


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
                migration = dict(json.loads(container.pull(MIGRATION_RECORD).read()))
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


def _inactive(container: ops.Container) -> set[str]:
    return {
        name for name, info in container.get_services().items() if info.current == ops.pebble.ServiceStatus.INACTIVE
    }


def _running(container: ops.Container) -> set[str]:
    return {name for name, info in container.get_services().items() if info.is_running()}


class Unreachable(Exception):
    """Pebble cannot be reached (yet), or could not finish a change: the next event retries."""


def read_json(container: ops.Container, path: str) -> dict[str, Any] | None:
    """A JSON object the rock keeps in the container; None when it is missing or unreadable."""
    try:
        return dict(json.loads(container.pull(path).read()))
    except (ops.pebble.PathError, ValueError, TypeError):
        return None
    except ops.pebble.ConnectionError as exc:
        raise Unreachable(str(exc)) from exc


def run_as(
    container: ops.Container, command: list[str], *, user: str, environment: dict[str, str], stdin: str, timeout: float
) -> tuple[str, str]:
    """Run a rock's tool as `user`, outside any service's context, with exactly `environment`:
    (stdout, the error's last line or "")."""
    try:
        process = container.exec(command, user=user, group=user, environment=environment, stdin=stdin, timeout=timeout)
        stdout, _ = process.wait_output()
        return stdout, ""
    except ops.pebble.ExecError as exc:
        lines = str(exc.stderr or "").strip().splitlines()
        return str(exc.stdout or ""), lines[-1] if lines else str(exc)
    except ops.pebble.APIError as exc:
        return "", f"Pebble could not run {command[0]} (is the indico-image resource current?): {exc}"
    except ops.pebble.ConnectionError as exc:
        raise Unreachable(str(exc)) from exc


def restart_running(container: ops.Container, services: frozenset[str] | set[str]) -> None:
    """Restart those of `services` that run (a stopped one stays stopped)."""
    try:
        restart = _running(container) & services
        if restart:
            container.restart(*sorted(restart))
    except (ops.pebble.ConnectionError, ops.pebble.ChangeError) as exc:
        logger.warning("Pebble in %s: %s", container.name, exc)
        raise Unreachable(str(exc)) from exc


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
