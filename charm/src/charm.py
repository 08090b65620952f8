#!/usr/bin/env python3
"""The thin Indico charm: relations and config in, environment for the rocks' services out.

The events that can change what should run (one table: converging_events) all call the one
reconcile: read config and relations (model_inputs.py), install plugins and customization when
they changed (external.py), turn the desired state into one merge layer per container
(workload.py, rock_environment.py) and apply them in one place (pebble_ops.py). The status
collector only reports what the reconcile found; actions do their own work.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import actions
import archive
import external
import juju_secrets
import model_inputs
import ops
import outbound
import pebble_ops
import rock_environment
import state
import status
import workload
from charmlibs.interfaces.ldap import LdapRequirer
from charmlibs.interfaces.oauth import OAuthRequirer

logger = logging.getLogger(__name__)


def converging_events(charm: ops.CharmBase) -> list[ops.BoundEvent]:
    """Every event after which the pod may need to change: derived from what charmcraft.yaml
    declares (each relation, storage and container), so a new endpoint cannot be forgotten."""
    on = charm.on
    events = [on.config_changed, on.upgrade_charm, on.leader_elected, on.secret_changed, on.start]
    # A unit that lost leadership hears nothing else; this is when it stops Celery beat.
    events.append(on.update_status)
    for endpoint in charm.meta.relations:
        relation = on[endpoint]
        events += [
            relation.relation_created,
            relation.relation_joined,
            relation.relation_changed,
            relation.relation_departed,  # e.g. a unit of the ingress left: NGINX stops trusting it
            relation.relation_broken,
        ]
    for storage in charm.meta.storages:
        events.append(on[storage].storage_attached)
    for container in charm.meta.containers:
        events += [on[container].pebble_ready, on[container].pebble_check_failed, on[container].pebble_check_recovered]
    return events


@dataclass
class Converged:
    """What one reconcile found: the unit's status and what indico-external did where it ran."""

    status: ops.StatusBase
    external_reports: dict[str, dict[str, str]] = field(default_factory=dict)


class IndicoCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        # The library publishes the client registration when the relation is created.
        self._oauth = OAuthRequirer(self, relation_name="oauth")
        # The library asks for a bind account (this application's name) when the relation is created.
        self._ldap = LdapRequirer(self, relation_name="ldap")
        for event in converging_events(self):
            framework.observe(event, self._reconcile)
        framework.observe(self.on[archive.STORAGE].storage_detaching, self._on_archive_detaching)
        framework.observe(self.on.collect_unit_status, self._on_collect_unit_status)
        framework.observe(self.on.add_admin_action, self._on_add_admin)
        framework.observe(self.on.anonymize_user_action, self._on_anonymize_user)
        framework.observe(self.on.refresh_external_resources_action, self._on_refresh_external_resources)
        framework.observe(self.on.rotate_secret_key_action, self._on_rotate_secret_key)
        self._converged: Converged | None = None
        self._archive_detaching = False

    # --- observers ----------------------------------------------------------------------

    def _reconcile(self, _event: ops.EventBase) -> None:
        self._converged = self._converge()

    def _on_archive_detaching(self, event: ops.StorageDetachingEvent) -> None:
        """The unit is going away with its volume: Indico and Celery stop writing to it first."""
        self._archive_detaching = True
        self._reconcile(event)

    def _on_collect_unit_status(self, event: ops.CollectStatusEvent) -> None:
        """Reports what this dispatch's reconcile found. After an event that does not converge (an
        action, install, stop) it adds nothing, and Juju keeps the status the last reconcile set."""
        if self._converged is None:
            return
        event.add_status(self._converged.status)  # ops reports the most severe of those added
        related, answered = model_inputs.s3_ready(self.model)
        event.add_status(status.file_storage_status(self.app.planned_units(), related, answered))

    def _on_add_admin(self, event: ops.ActionEvent) -> None:
        actions.add_admin(event, self.unit.get_container("indico"))

    def _on_anonymize_user(self, event: ops.ActionEvent) -> None:
        actions.anonymize_users(event, self.unit.get_container("indico"))

    def _on_rotate_secret_key(self, event: ops.ActionEvent) -> None:
        """A new key in the shared secret, applied here at once (the other units hear the peer
        relation change); then every session, kept in the shared Redis, is ended."""
        if not self.unit.is_leader():
            event.fail(f"only the leader holds the key: juju run {self.app.name}/leader rotate-secret-key")
            return
        try:
            juju_secrets.rotate_site_key(self.model, self.app)
        except juju_secrets.SecretUnreadable as exc:
            event.fail(str(exc))
            return
        self._converged = self._converge()
        if isinstance(self._converged.status, ops.BlockedStatus):
            event.fail(f"the key was replaced, but this unit could not apply it: {self._converged.status.message}")
            return
        try:
            ended = pebble_ops.run_admin(self.unit.get_container("indico"), ["end-sessions"])
        except pebble_ops.ActionFailedError as exc:
            event.fail(f"the key was replaced, but sessions could not be ended: {exc}")
            return
        event.set_results({"rotated": "true", **{k: str(v) for k, v in ended.items()}})

    def _on_refresh_external_resources(self, event: ops.ActionEvent) -> None:
        self._converged = converged = self._converge(refresh_external=True)
        reports = converged.external_reports
        if not reports:
            event.fail(f"no Indico container was refreshed: {converged.status.message or 'none is reachable yet'}")
            return
        event.set_results(reports)
        if any(report.get("error") for report in reports.values()):
            event.fail(converged.status.message)

    # --- the one reconcile --------------------------------------------------------------

    def _converge(self, refresh_external: bool = False) -> Converged:
        outbound.publish(self)  # before anything can return early
        proxy = model_inputs.model_proxy()
        try:
            config = model_inputs.config(self)
            found = model_inputs.optional_relations(self, config, self._oauth, self._ldap)
            url = model_inputs.customization_url(self.model, config, self.app.name)
        except model_inputs.Blocked as exc:
            return Converged(self._keep_running(ops.BlockedStatus(str(exc)), proxy))
        request = external.Request.from_config(config, url, rock_environment.external_tool(proxy, config))
        containers = [self.unit.get_container(name) for name in external.CONTAINERS]
        synced = external.sync(containers, request, refresh_external)
        if "enabled_plugins" in synced.errors:  # Indico would refuse to start on it: what runs stays
            message = f"invalid config option 'enabled_plugins': {synced.errors['enabled_plugins']}"
            return Converged(self._keep_running(ops.BlockedStatus(message), proxy), synced.reports)
        location = model_inputs.archive_location(self, self._archive_detaching)
        state, missing = model_inputs.desired_state(self, config, found, location)
        layers = workload.desired_layers(
            state,
            self.unit.is_leader(),
            outbound.log_targets(self),
            model_inputs.forwarders(self.model),
            proxy,
            str(config.request_timeout),
        )
        try:
            unreachable = self._apply(layers, workload.desired_files(state))
        except pebble_ops.LayerError as exc:
            return Converged(ops.BlockedStatus(f"Pebble refused the charm's layer: {exc}"), synced.reports)
        if missing is not None:
            return Converged(missing, synced.reports)
        unreachable = [name for name in unreachable if name != workload.LATEX_CONTAINER]  # the site serves without it
        if unreachable:
            return Converged(ops.WaitingStatus(f"waiting for Pebble in {', '.join(unreachable)}"), synced.reports)
        if synced.errors:
            option, error = sorted(synced.errors.items())[0]
            message = f"{option}: {error[:200]} (fix it, or retry with refresh-external-resources)"
            return Converged(ops.BlockedStatus(message), synced.reports)
        return Converged(self._workload_status(layers, found.smtp is not None), synced.reports)

    def _workload_status(self, layers: dict[str, dict[str, Any]], mail_on: bool) -> ops.StatusBase:
        facts = {name: pebble_ops.read_workload(self.unit.get_container(name)) for name in layers}
        version = status.indico_version(facts)
        if version:
            self.unit.set_workload_version(version)
        result = status.workload_status(facts, status.enabled_services(layers))
        if isinstance(result, ops.ActiveStatus):
            latex = status.latex_unavailable(facts[workload.LATEX_CONTAINER])
            return ops.ActiveStatus(status.active_message(latex, mail_on))
        return result

    def _keep_running(self, blocked: ops.StatusBase, proxy: state.ModelProxy) -> ops.StatusBase:
        """An operator's mistake must not take the site down: what runs stays untouched; an idle
        pod gets the services that need no config, so that its alive checks pass."""
        idle = workload.desired_layers(
            None,
            self.unit.is_leader(),
            outbound.log_targets(self),
            model_inputs.forwarders(self.model),
            proxy,
        )
        for name, layer in idle.items():
            with contextlib.suppress(pebble_ops.LayerError):
                pebble_ops.apply_layer_if_idle(self.unit.get_container(name), layer)
        return blocked

    def _apply(self, layers: dict[str, dict[str, Any]], files: dict[str, dict[str, str]]) -> list[str]:
        """Each container's files, then its layer; the containers whose Pebble is not reachable yet."""
        return sorted(
            name
            for name, layer in layers.items()
            if not pebble_ops.apply_layer(self.unit.get_container(name), layer, files.get(name))
        )


if __name__ == "__main__":  # pragma: nocover
    ops.main(IndicoCharm)
