#!/usr/bin/env python3
"""The thin Indico charm: relations and config in, environment for the rocks' services out.

Every event runs the same reconcile: build the desired state (state.py), turn it into one merge
layer per container (workload.py), and apply those in one place (pebble_ops.py). Operators'
plugins and customization are installed by the rock's indico-external, only when they change.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import secrets
from pathlib import Path
from typing import Any

import actions
import archive
import ops
import outbound
import pebble_ops
import state as desired
import status
import workload
from charmlibs.interfaces.oauth import ClientConfigError, DataValidationError, OAuthRequirer
from relations import database, ingress, oauth, redis, s3, saml, smtp

logger = logging.getLogger(__name__)

PEER = "indico-peers"
SECRET_LABEL = "indico-secret-key"
SECRET_ID_KEY = "secret-id"
KEY_GENERATION = "secret-key-generation"  # bumped by rotate-secret-key


class IndicoCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        # The library publishes the client registration when the relation is created.
        self._oauth = OAuthRequirer(self, relation_name="oauth")
        events = [
            self.on.config_changed,
            self.on.upgrade_charm,
            self.on.leader_elected,
            self.on.secret_changed,
            self.on.database_relation_created,
            self.on.database_relation_changed,
            self.on.database_relation_broken,
            self.on.redis_relation_created,
            self.on.redis_relation_changed,
            self.on.redis_relation_broken,
            self.on.ingress_relation_created,
            self.on.ingress_relation_changed,
            self.on.ingress_relation_departed,  # a unit of the ingress left: NGINX stops trusting it
            self.on.ingress_relation_broken,
            self.on.s3_relation_created,
            self.on.s3_relation_changed,
            self.on.s3_relation_broken,
            self.on.smtp_relation_created,
            self.on.smtp_relation_changed,
            self.on.smtp_relation_broken,
            self.on.oauth_relation_changed,
            self.on.saml_relation_changed,
            self.on.saml_relation_broken,
            self.on.metrics_endpoint_relation_joined,
            self.on.metrics_endpoint_relation_changed,
            self.on.grafana_dashboard_relation_joined,
            self.on.logging_relation_changed,
            self.on.logging_relation_departed,
            self.on.logging_relation_broken,
            self.on.oauth_relation_broken,
            self.on[archive.STORAGE].storage_attached,
            self.on[PEER].relation_changed,
            self.on[PEER].relation_departed,
            # A unit that lost leadership hears nothing else; this is when it stops Celery beat.
            self.on.update_status,
        ]
        for name in self.meta.containers:
            events += [
                self.on[name].pebble_ready,
                self.on[name].pebble_check_failed,
                self.on[name].pebble_check_recovered,
            ]
        for event in events:
            framework.observe(event, self._reconcile)
        framework.observe(self.on[archive.STORAGE].storage_detaching, self._on_archive_detaching)
        framework.observe(self.on.collect_unit_status, self._on_collect_unit_status)
        framework.observe(self.on.add_admin_action, self._on_add_admin)
        framework.observe(self.on.anonymize_user_action, self._on_anonymize_user)
        framework.observe(self.on.refresh_external_resources_action, self._on_refresh_external_resources)
        framework.observe(self.on.rotate_secret_key_action, self._on_rotate_secret_key)
        self._external_report: dict[str, dict[str, str]] = {}
        self._status: ops.StatusBase | None = None
        self._archive_detaching = False

    # --- inputs -------------------------------------------------------------------------

    def _database(self) -> database.DatabaseCredentials | None:
        relation = self.model.get_relation("database")
        return database.credentials(relation, self.model) if relation is not None else None

    def _redis(self) -> redis.RedisEndpoint | None:
        relation = self.model.get_relation("redis")
        return redis.endpoint(relation) if relation is not None else None

    def _s3_bucket(self) -> s3.S3Bucket | None:
        relation = self.model.get_relation("s3")
        return s3.bucket(relation) if relation is not None else None

    def _smtp_server(self) -> smtp.SmtpServer | None:
        relation = self.model.get_relation("smtp")
        return smtp.server(relation, self.model) if relation is not None else None

    def _oidc_client(self, base_url: str) -> oauth.OidcClient | None:
        """Register (leader) the client for this site URL; the provider's client once it exists."""
        if self.model.get_relation("oauth") is None:
            return None
        if self.unit.is_leader():
            self._oauth.update_client_config(oauth.client_config(base_url))
        return oauth.client(self._oauth)

    def _saml_identity_provider(self) -> saml.SamlIdentityProvider | None:
        relation = self.model.get_relation("saml")
        return saml.identity_provider(relation) if relation is not None else None

    def _archive_location(self) -> Path | None:
        """Where the charm container sees the archive volume; None when it is not (or no longer) there."""
        attached = self.model.storages[archive.STORAGE]
        if not attached or self._archive_detaching:
            return None
        return Path(attached[0].location)

    def _secret_key(self) -> str | None:
        """Created once by the leader, shared with every unit through a Juju secret."""
        peer = self.model.get_relation(PEER)
        if peer is None:
            return None
        secret_id = peer.data[self.app].get(SECRET_ID_KEY)
        if secret_id is None and self.unit.is_leader():
            secret = self.app.add_secret({"secret-key": secrets.token_urlsafe(48)}, label=SECRET_LABEL)
            secret_id = secret.id
            peer.data[self.app][SECRET_ID_KEY] = str(secret_id)
        if secret_id is None:
            return None
        return self.model.get_secret(id=secret_id).get_content(refresh=True)["secret-key"]

    def _forwarders(self) -> str:
        """The ingress's units, the only hop whose X-Forwarded-* headers NGINX believes."""
        return ingress.forwarders(self.model.get_relation("ingress"))

    def _ingress_url(self, config: desired.CharmConfig) -> str | None:
        """The provider's URL; IngressUrlError if Indico cannot be served at it and site_url is unset."""
        relation = self.model.get_relation("ingress")
        if relation is None:
            return None
        try:
            return ingress.url(relation)
        except ingress.IngressUrlError:
            if config.site_url:
                return None  # site_url names the public URL; the ingress's own does not matter
            raise

    # --- actions -----------------------------------------------------------------------

    def _on_add_admin(self, event: ops.ActionEvent) -> None:
        container = self.unit.get_container("indico")
        try:
            result = pebble_ops.run_admin(
                container, ["create-admin", str(event.params["email"])], stdin=f"{event.params['password']}\n"
            )
        except actions.ActionFailedError as exc:
            event.fail(str(exc))
            return
        event.set_results(result)

    def _on_anonymize_user(self, event: ops.ActionEvent) -> None:
        container = self.unit.get_container("indico")
        try:
            addresses = actions.emails(str(event.params["email"]))
        except actions.ActionFailedError as exc:
            event.fail(str(exc))
            return
        done, failed = [], []
        for address in addresses:
            try:
                pebble_ops.run_admin(container, ["anonymize-user", address])
                done.append(address)
            except actions.ActionFailedError as exc:
                failed.append(f"{address}: {exc}")
        event.set_results({"anonymized": ",".join(done), "failed": "; ".join(failed)})
        if failed:
            event.fail(f"{len(failed)} of {len(addresses)} could not be anonymized")

    def _on_rotate_secret_key(self, event: ops.ActionEvent) -> None:
        """A new key in the shared secret (the other units hear secret-changed), applied here at
        once; then every session, kept in the shared Redis, is ended."""
        if not self.unit.is_leader():
            event.fail(f"only the leader holds the key: juju run {self.app.name}/leader rotate-secret-key")
            return
        peer = self.model.get_relation(PEER)
        secret_id = peer.data[self.app].get(SECRET_ID_KEY) if peer is not None else None
        if secret_id is None:
            event.fail("there is no secret key yet: the leader makes one once the unit is set up")
            return
        self.model.get_secret(id=secret_id).set_content({"secret-key": secrets.token_urlsafe(48)})
        # The other units belong to the secret's owner, so they hear no secret-changed: a new
        # generation in the peer data wakes them (peer relation-changed), and they read the key again.
        assert peer is not None
        generation = int(peer.data[self.app].get(KEY_GENERATION, "0") or "0") + 1
        peer.data[self.app][KEY_GENERATION] = str(generation)
        self._status = status = self._converge()
        if isinstance(status, ops.BlockedStatus):
            event.fail(f"the key was replaced, but this unit could not apply it: {status.message}")
            return
        try:
            ended = pebble_ops.run_admin(self.unit.get_container("indico"), ["end-sessions"])
        except actions.ActionFailedError as exc:
            event.fail(f"the key was replaced, but sessions could not be ended: {exc}")
            return
        event.set_results({"rotated": "true", **{k: str(v) for k, v in ended.items()}})

    def _on_refresh_external_resources(self, event: ops.ActionEvent) -> None:
        self._status = status = self._converge(refresh_external=True)
        if not self._external_report:
            event.fail(f"no Indico container was refreshed: {status.message or 'none is reachable yet'}")
            return
        event.set_results(self._external_report)
        if any(report.get("error") for report in self._external_report.values()):
            event.fail(status.message)

    # --- reconcile ----------------------------------------------------------------------

    def _reconcile(self, _event: ops.EventBase) -> None:
        self._status = self._converge()

    def _on_archive_detaching(self, event: ops.StorageDetachingEvent) -> None:
        """The unit is going away with its volume: Indico and Celery stop writing to it first."""
        self._archive_detaching = True
        self._reconcile(event)

    def _on_collect_unit_status(self, event: ops.CollectStatusEvent) -> None:
        event.add_status(self._status if self._status is not None else self._converge())
        # ops reports the most severe of the statuses added.
        relation = self.model.get_relation("s3")
        try:
            ready = relation is not None and s3.bucket(relation) is not None
        except s3.S3DataError:
            ready = True  # _converge already reports it
        event.add_status(status.file_storage_status(self.app.planned_units(), relation is not None, ready))

    def _converge(self, refresh_external: bool = False) -> ops.StatusBase:
        outbound.publish(self)  # before anything can return early
        try:
            config = self._with_customization_credentials(desired.CharmConfig.from_options(dict(self.config)))
            ingress_url = self._ingress_url(config)
            bucket = self._s3_bucket()
            mail = self._smtp_server()
            sign_in = self._oidc_client(desired.base_url(config, ingress_url, self.app.name))
            saml_idp = self._saml_identity_provider()
        except s3.S3DataError as exc:
            return self._keep_running(ops.BlockedStatus(f"s3 relation: {exc}"))
        except smtp.SmtpDataError as exc:
            return self._keep_running(ops.BlockedStatus(f"smtp relation: {exc}"))
        except (ClientConfigError, DataValidationError) as exc:
            return self._keep_running(ops.BlockedStatus(f"oauth relation: {exc}"))
        except saml.SamlDataError as exc:
            return self._keep_running(ops.BlockedStatus(f"saml relation: {exc}"))
        except (desired.InvalidConfigError, ingress.IngressUrlError) as exc:
            return self._keep_running(ops.BlockedStatus(str(exc)))
        external_errors = {
            option: desired.redact(error, config.customization_sources_url)
            for option, error in self._sync_external(config, refresh_external).items()
        }
        if "enabled_plugins" in external_errors:
            # Indico would refuse to start on it: what runs stays as it is.
            return self._keep_running(
                ops.BlockedStatus(f"invalid config option 'enabled_plugins': {external_errors['enabled_plugins']}")
            )
        state, missing = self._desired_state(config, ingress_url, bucket, mail, sign_in, saml_idp)
        layers = workload.desired_layers(
            state,
            self.unit.is_leader(),
            outbound.log_targets(self),
            self._forwarders(),
            self._model_proxy(),
            str(config.request_timeout),
        )
        try:
            unreachable = self._apply(layers, workload.desired_files(state))
        except pebble_ops.LayerError as exc:
            return ops.BlockedStatus(f"Pebble refused the charm's layer: {exc}")
        if missing is not None:
            return missing
        if unreachable:
            return ops.WaitingStatus(f"waiting for Pebble in {', '.join(unreachable)}")
        if external_errors:
            option, error = sorted(external_errors.items())[0]
            return ops.BlockedStatus(f"{option}: {error[:200]} (fix it, or retry with refresh-external-resources)")
        facts = {name: pebble_ops.read_workload(self.unit.get_container(name)) for name in layers}
        version = status.indico_version(facts)
        if version:
            self.unit.set_workload_version(version)
        result = status.workload_status(facts, status.enabled_services(layers))
        if isinstance(result, ops.ActiveStatus) and mail is None:
            return ops.ActiveStatus(status.MAIL_OFF)
        return result

    def _keep_running(self, blocked: ops.StatusBase) -> ops.StatusBase:
        """An operator's mistake must not take the site down: what runs stays untouched; an idle
        pod gets the services that need no config, so that its alive checks pass."""
        idle = workload.desired_layers(
            None, self.unit.is_leader(), outbound.log_targets(self), self._forwarders(), self._model_proxy()
        )
        for name, layer in idle.items():
            with contextlib.suppress(pebble_ops.LayerError):
                pebble_ops.apply_layer_if_idle(self.unit.get_container(name), layer)
        return blocked

    def _desired_state(
        self,
        config: desired.CharmConfig,
        ingress_url: str | None,
        bucket: s3.S3Bucket | None,
        mail: smtp.SmtpServer | None,
        sign_in: oauth.OidcClient | None,
        saml_idp: saml.SamlIdentityProvider | None,
    ) -> tuple[desired.State | None, ops.StatusBase | None]:
        """The workloads' settings, or None and the status that says what is missing."""
        for endpoint in ("database", "redis"):
            if self.model.get_relation(endpoint) is None:
                return None, ops.BlockedStatus(f"needs a {endpoint} relation")
        credentials, redis_endpoint = self._database(), self._redis()
        if credentials is None:
            return None, ops.WaitingStatus("waiting for the database relation to provide credentials")
        if redis_endpoint is None:
            return None, ops.WaitingStatus("waiting for the redis relation to provide a host and port")
        secret_key = self._secret_key()
        if secret_key is None:
            return None, ops.WaitingStatus("waiting for the leader to share the secret key")
        location = self._archive_location()
        if location is None:
            return None, ops.WaitingStatus("waiting for the archive storage")
        try:
            archive.prepare(location)
        except archive.ArchiveError as exc:
            return None, ops.BlockedStatus(str(exc))
        state = desired.State(
            config=config,
            base_url=desired.base_url(config, ingress_url, self.app.name),
            database_uri=desired.database_uri(
                credentials.database,
                credentials.username,
                credentials.host_port,
                credentials.tls,
                ca=bool(credentials.tls and credentials.tls_ca),
            ),
            database_ca=credentials.tls_ca if credentials.tls else "",
            database_password=credentials.password,
            redis_broker_url=redis_endpoint.url(redis.BROKER_DB),
            redis_cache_url=redis_endpoint.url(redis.CACHE_DB),
            secret_key=secret_key,
            is_leader=self.unit.is_leader(),
            s3=bucket,
            smtp=mail,
            oidc=sign_in,
            saml=saml_idp,
        )
        return state, None

    @staticmethod
    def _model_proxy() -> desired.ModelProxy:
        return desired.ModelProxy.from_environ(dict(os.environ))

    def _apply(self, layers: dict[str, dict[str, Any]], files: dict[str, dict[str, str]]) -> list[str]:
        """Each container's files, then its layer; the containers whose Pebble is not reachable yet."""
        return sorted(
            name
            for name, layer in layers.items()
            if not pebble_ops.apply_layer(self.unit.get_container(name), layer, files.get(name))
        )

    def _with_customization_credentials(self, config: desired.CharmConfig) -> desired.CharmConfig:
        """The customization URL with the credentials of customization_sources_secret, if set."""
        if not config.customization_sources_secret:
            return config
        try:
            content = self.model.get_secret(id=config.customization_sources_secret).get_content(refresh=True)
        except (ops.SecretNotFoundError, ops.ModelError) as exc:
            raise desired.InvalidConfigError(
                "customization_sources_secret",
                f"cannot read the secret ({type(exc).__name__}); grant it: juju grant-secret <secret> {self.app.name}",
            ) from exc
        url = desired.with_credentials(config.customization_sources_url, content)
        return dataclasses.replace(config, customization_sources_url=url)

    def _sync_external(self, config: desired.CharmConfig, refresh: bool) -> dict[str, str]:
        """Plugins and customization in every Indico container; returns config option -> error."""
        errors: dict[str, str] = {}
        self._external_report = {}
        environment = workload.external_environment(self._model_proxy(), config)
        for name in workload.EXTERNAL_CONTAINERS:
            synced = pebble_ops.sync_external(self.unit.get_container(name), config, refresh, environment)
            if synced is not None:
                errors.update(synced.errors)
                if synced.report:
                    url = config.customization_sources_url
                    self._external_report[name] = {k: desired.redact(v, url) for k, v in synced.report.items()}
        return errors


if __name__ == "__main__":  # pragma: nocover
    ops.main(IndicoCharm)
