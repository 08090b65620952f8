"""The unit's status from what the workloads report: plain functions over Pebble's facts.

Active means Indico answers (the rock's `indico-ready` check is up), not merely that a layer was
applied; a migration in progress, a failed migration and a service that keeps failing each say so.
The LaTeX container is not part of that: without it the site serves all but its PDFs, so the unit
stays Active and its message says PDFs are unavailable.
"""

from __future__ import annotations

from typing import Any

import ops
from pebble_ops import WorkloadFacts
from workload import LATEX_CONTAINER

FAILING = {"backoff", "error"}
MAIL_OFF = "mail is off: integrate with an smtp provider (e.g. smtp-integrator)"


def enabled_services(layers: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """Container -> the services the charm's layer enables there."""
    return {
        name: {svc for svc, spec in layer["services"].items() if spec.get("startup") == "enabled"}
        for name, layer in layers.items()
    }


def workload_status(facts: dict[str, WorkloadFacts | None], enabled: dict[str, set[str]]) -> ops.StatusBase:
    """The site's status, from every container but the LaTeX one (see latex_unavailable)."""
    facts = {name: fact for name, fact in facts.items() if name != LATEX_CONTAINER}
    unreachable = sorted(name for name, fact in facts.items() if fact is None)
    if unreachable:
        return ops.WaitingStatus(f"waiting for Pebble in {', '.join(unreachable)}")
    migration = _migration(facts)
    if migration.get("state") == "failed":
        return ops.BlockedStatus(f"database migration failed: {migration.get('message') or 'see the indico log'}")
    failing = sorted(
        f"{service} ({container})"
        for container, fact in facts.items()
        if fact is not None
        for service in enabled.get(container, set())
        if fact.services.get(service) in FAILING
    )
    if migration.get("state") == "migrating":
        return ops.MaintenanceStatus("migrating the database")
    if migration.get("state") == "waiting":
        return ops.MaintenanceStatus("waiting for another unit to finish migrating the database")
    if failing:
        return ops.BlockedStatus(f"keeps failing and restarting: {', '.join(failing)}; see `juju debug-log`")
    indico = facts.get("indico")
    if indico is not None and "indico" in enabled.get("indico", set()) and indico.checks.get("indico-ready") != "up":
        return ops.WaitingStatus("waiting for Indico to answer (check indico-ready)")
    return ops.ActiveStatus()


def latex_unavailable(fact: WorkloadFacts | None) -> str | None:
    """Why Indico's PDFs made with LaTeX cannot be made now (None: they can)."""
    prefix = f"PDFs from LaTeX are unavailable ({LATEX_CONTAINER}"
    if fact is None:
        return f"{prefix}: waiting for Pebble)"
    service = fact.services.get("latex", "absent")
    if service != "active":
        return f"{prefix}: the latex service is {service}; see `juju debug-log`)"
    if fact.checks.get("latex-up", "up") != "up":
        return f"{prefix}: check latex-up is down)"
    return None


def active_message(latex: str | None, mail_on: bool) -> str:
    """An Active unit's message: what works only in part."""
    return "; ".join(note for note in (latex, None if mail_on else MAIL_OFF) if note)


def indico_version(facts: dict[str, WorkloadFacts | None]) -> str | None:
    """Indico's version, as the rock's migration record reports it."""
    version = _migration(facts).get("indico-version")
    return str(version) if version else None


def _migration(facts: dict[str, WorkloadFacts | None]) -> dict[str, Any]:
    """The rock's migration record from the indico container; empty when there is none (yet)."""
    indico = facts.get("indico")
    return (indico.migration if indico is not None else None) or {}


def file_storage_status(planned_units: int, s3_related: bool, s3_ready: bool) -> ops.StatusBase:
    """Whether every unit sees the same uploaded files: one unit, or a bucket they all use."""
    if s3_related and not s3_ready:
        return ops.WaitingStatus("waiting for the s3 relation to provide a bucket and credentials")
    if planned_units > 1 and not s3_related:
        return ops.BlockedStatus(
            f"{planned_units} units would each keep their own uploaded files: integrate with s3 "
            "(e.g. s3-integrator) or scale to one unit"
        )
    return ops.ActiveStatus()
