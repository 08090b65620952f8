"""The real other side of each relation: the provider libraries those charms run, as tiny charms.

Each provider runs in its own `ops.testing.Context` with the library from `../shared/oracles`
(pinned upstream code, never copied here). The helpers pass databags across: what the Indico
charm wrote becomes the provider's remote data, the provider's answer becomes the charm's.
What a provider charm does around its library (the database name it creates, the URL traefik
builds) follows that charm's documented behaviour and is named where it is done.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import ops
import pytest
from ops import testing

REPO = Path(__file__).resolve().parents[1]
ORACLES = Path(os.environ.get("INDICO_ORACLES") or REPO.parent / "shared" / "oracles")
CHARM_LIBS = ORACLES / "charm-libs" / "lib"
SPECS = ORACLES / "relation-interfaces" / "interfaces"

PG_PASSWORD = "p@ss:w/rd?#%"  # every character a URL gives a meaning to
PG_PRIMARY = "postgresql-k8s-primary.dev.svc.cluster.local:5432"


def oracles_absent(reason: str) -> NoReturn:
    """Skip on a machine without the oracles; fail where they must be (CI sets REQUIRE_ORACLES=1),
    so that a run without them can never be green there."""
    if os.environ.get("REQUIRE_ORACLES") == "1":
        pytest.fail(f"{reason} (REQUIRE_ORACLES=1: CI runs every relation test against them)")
    pytest.skip(reason)


def oracle_module(name: str) -> ModuleType:
    """Import a provider library as charms do (`charms.<lib>`), or skip naming the missing path."""
    if not CHARM_LIBS.is_dir():
        oracles_absent(f"{CHARM_LIBS} is absent: the relation tests run against the real provider libraries there")
    if str(CHARM_LIBS) not in sys.path:
        sys.path.insert(0, str(CHARM_LIBS))
    return importlib.import_module(name)


def spec_module(interface: str, version: str) -> ModuleType:
    """The published schema.py of an interface (charm-relation-interfaces)."""
    path = SPECS / interface / version / "schema.py"
    if not path.is_file():
        oracles_absent(f"{path} is absent: the published interface specification is read from there")
    spec = importlib.util.spec_from_file_location(f"spec_{interface}_{version}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def spec_json_schema(interface: str, version: str, side: str) -> dict[str, Any]:
    """A published JSON schema of an interface side (`requirer` or `provider`)."""
    path = SPECS / interface / version / "schemas" / f"{side}.json"
    if not path.is_file():
        oracles_absent(f"{path} is absent: the published interface specification is read from there")
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


# --- postgresql_client: postgresql-k8s -----------------------------------------------------


CreateDatabase = Callable[[str, str, str], None]


def postgresql_context(
    endpoints: str = PG_PRIMARY,
    password: str = PG_PASSWORD,
    create: CreateDatabase | None = None,
    tls_ca: str | None = None,
    tls: bool = True,
) -> tuple[testing.Context[ops.CharmBase], list[dict[str, Any]]]:
    """postgresql-k8s's side: DatabaseProvides, answering as the charm does (user relation-<id>).

    `create(database, user, password)` makes them in a real PostgreSQL, as postgresql-k8s would.
    `tls_ca`: TLS is on, with this CA ("" for TLS without a CA), as postgresql-k8s says once it
    is related to a TLS provider; with `tls` false, the flag says off while a CA stays behind.
    """
    lib = oracle_module("charms.data_platform_libs.v0.data_interfaces")
    requests: list[dict[str, Any]] = []

    class PostgresqlK8s(ops.CharmBase):
        def __init__(self, framework: ops.Framework) -> None:
            super().__init__(framework)
            self.database = lib.DatabaseProvides(self, relation_name="database")
            framework.observe(self.database.on.database_requested, self._on_database_requested)

        def _on_database_requested(self, event: Any) -> None:
            requests.append({"database": event.database, "extra_user_roles": event.extra_user_roles})
            relation_id = event.relation.id
            user = f"relation-{relation_id}"
            if create is not None:
                create(event.database, user, password)
            self.database.set_credentials(relation_id, user, password)
            self.database.set_endpoints(relation_id, endpoints)
            self.database.set_read_only_endpoints(relation_id, "postgresql-k8s-replicas:5432")
            self.database.set_version(relation_id, "16.9")
            self.database.set_database(relation_id, event.database)
            if tls_ca is not None:
                self.database.set_tls(relation_id, "true" if tls else "false")
                if tls_ca:
                    self.database.set_tls_ca(relation_id, tls_ca)

    meta = {"name": "postgresql-k8s", "provides": {"database": {"interface": "postgresql_client"}}}
    return testing.Context(PostgresqlK8s, meta=meta), requests


def postgresql_answer(
    request: Mapping[str, str],
    requirer_app: str = "indico",
    endpoints: str = PG_PRIMARY,
    password: str = PG_PASSWORD,
    create: CreateDatabase | None = None,
    tls_ca: str | None = None,
    tls: bool = True,
) -> tuple[dict[str, str], frozenset[testing.Secret], list[dict[str, Any]]]:
    """Feed the charm's app databag to postgresql-k8s; its app databag, shared secrets and what it saw."""
    ctx, requests = postgresql_context(endpoints, password, create, tls_ca, tls)
    relation = testing.Relation(
        "database", "postgresql_client", remote_app_name=requirer_app, remote_app_data=dict(request)
    )
    out = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), testing.State(leader=True, relations={relation}))
    answer: dict[str, str] = dict(out.get_relation(relation.id).local_app_data)
    return answer, shared_secrets(out.secrets), requests


def shared_secrets(owned: frozenset[testing.Secret]) -> frozenset[testing.Secret]:
    """The provider's secrets as the requirer sees them: same ids, content granted, owned remotely."""
    return frozenset(
        testing.Secret(s.latest_content or s.tracked_content, id=s.id, owner=None, label=None) for s in owned
    )


# --- redis: redis-k8s ----------------------------------------------------------------------


def redis_unit_data(primary_address: str, unit_id: int = 0, port: int = 6379) -> dict[str, str]:
    """A redis-k8s unit's databag, written by RedisProvides for a relation-changed."""
    lib = oracle_module("charms.redis_k8s.v0.redis")

    class RedisK8s(ops.CharmBase):
        current_master = primary_address  # redis-k8s: the primary's address (sentinel), resolved by the library

        def __init__(self, framework: ops.Framework) -> None:
            super().__init__(framework)
            self.redis_provides = lib.RedisProvides(self, port=port)

    meta = {"name": "redis-k8s", "provides": {"redis": {"interface": "redis"}}}
    ctx = testing.Context(RedisK8s, meta=meta)
    relation = testing.Relation("redis", "redis", remote_app_name="indico")
    out = ctx.run(
        ctx.on.relation_changed(relation, remote_unit=0), testing.State(leader=unit_id == 0, relations={relation})
    )
    return dict(out.get_relation(relation.id).local_unit_data)


def redis_relation(
    primary_address: str = "10.1.0.7", units: int = 1, leader_host: str | None = None, port: int = 6379
) -> testing.Relation:
    """The charm's redis relation as redis-k8s units fill it.

    `leader-host` in the app databag is read by the library's requirer (RedisRequires.url) and is
    written by redis-k8s itself when set: the library defines the key, the charm around it sets it.
    """
    return testing.Relation(
        "redis",
        "redis",
        remote_app_name="redis-k8s",
        remote_app_data={"leader-host": leader_host} if leader_host else {},
        remote_units_data={i: redis_unit_data(primary_address, unit_id=i, port=port) for i in range(units)},
    )


def redis_library_url(relation: testing.Relation) -> str | None:
    """What redis-k8s's own requirer (RedisRequires.url) makes of the same relation data."""
    lib = oracle_module("charms.redis_k8s.v0.redis")
    seen: list[str | None] = []

    class Requirer(ops.CharmBase):
        on = lib.RedisRelationCharmEvents()

        def __init__(self, framework: ops.Framework) -> None:
            super().__init__(framework)
            self.redis = lib.RedisRequires(self, "redis")
            framework.observe(self.on.update_status, self._on_update_status)

        def _on_update_status(self, _event: ops.EventBase) -> None:
            seen.append(self.redis.url)

    ctx = testing.Context(Requirer, meta={"name": "requirer", "requires": {"redis": {"interface": "redis"}}})
    ctx.run(ctx.on.update_status(), testing.State(relations={relation}))
    return seen[0]


# --- ingress v2: traefik-k8s ---------------------------------------------------------------


@dataclasses.dataclass
class TraefikSaw:
    app: str = ""
    model: str = ""
    hosts: list[str] = dataclasses.field(default_factory=list)
    port: int = 0
    url: str = ""


def traefik_answer(
    requirer_app_data: Mapping[str, str],
    requirer_units_data: Mapping[int, Mapping[str, str]],
    routing_mode: str = "subdomain",
    external_host: str = "ingress.example",
    scheme: str = "http",
) -> tuple[dict[str, str], TraefikSaw]:
    """traefik-k8s's side: IngressPerAppProvider validates the request; the URL is built as traefik does.

    traefik-k8s (routing_mode config): `path` serves `<scheme>://<external_host>/<model>-<app>`,
    `subdomain` serves `<scheme>://<model>-<app>.<external_host>/`; https once it has a certificate.
    """
    lib = oracle_module("charms.traefik_k8s.v2.ingress")
    saw = TraefikSaw()

    class TraefikK8s(ops.CharmBase):
        def __init__(self, framework: ops.Framework) -> None:
            super().__init__(framework)
            self.ingress = lib.IngressPerAppProvider(self, relation_name="ingress")
            framework.observe(self.ingress.on.data_provided, self._on_data_provided)

        def _on_data_provided(self, event: Any) -> None:
            data = self.ingress.get_data(event.relation)
            prefix = f"{data.app.model}-{data.app.name}"
            url = (
                f"{scheme}://{external_host}/{prefix}"
                if routing_mode == "path"
                else f"{scheme}://{prefix}.{external_host}/"
            )
            saw.app, saw.model, saw.port, saw.url = data.app.name, data.app.model, data.app.port, url
            saw.hosts = [unit.host for unit in data.units]
            self.ingress.publish_url(event.relation, url)

    meta = {"name": "traefik", "provides": {"ingress": {"interface": "ingress"}}}
    ctx = testing.Context(TraefikK8s, meta=meta)
    relation = testing.Relation(
        "ingress",
        "ingress",
        remote_app_name=json.loads(requirer_app_data.get("name", '"indico"')),
        remote_app_data=dict(requirer_app_data),
        remote_units_data={k: dict(v) for k, v in requirer_units_data.items()},
    )
    out = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), testing.State(leader=True, relations={relation}))
    return dict(out.get_relation(relation.id).local_app_data), saw


# --- s3 v0: s3-integrator ------------------------------------------------------------------


def s3_answer(
    requirer_app_data: Mapping[str, str], integrator_config: Mapping[str, Any], requirer_app: str = "indico"
) -> tuple[dict[str, str], list[str | None]]:
    """s3-integrator's side: S3Provider emits credentials_requested only when the requirer's
    databag gains `bucket`; the charm around it then publishes its config (its bucket wins over
    the requested one, as s3-integrator's `bucket` option does) with the keys it holds.

    Returns the provider's app databag and the bucket names the library reported as requested.
    """
    lib = oracle_module("charms.data_platform_libs.v0.s3")
    requested: list[str | None] = []

    class S3Integrator(ops.CharmBase):
        def __init__(self, framework: ops.Framework) -> None:
            super().__init__(framework)
            self.s3 = lib.S3Provider(self, "s3-credentials")
            framework.observe(self.s3.on.credentials_requested, self._on_credentials_requested)

        def _on_credentials_requested(self, event: Any) -> None:
            requested.append(event.bucket)
            answer = {"bucket": integrator_config.get("bucket") or event.bucket}
            answer.update({k: v for k, v in integrator_config.items() if k != "bucket"})
            self.s3.update_connection_info(event.relation.id, answer)

    meta = {"name": "s3-integrator", "provides": {"s3-credentials": {"interface": "s3"}}}
    ctx = testing.Context(S3Integrator, meta=meta)
    relation = testing.Relation(
        "s3-credentials", "s3", remote_app_name=requirer_app, remote_app_data=dict(requirer_app_data)
    )
    out = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), testing.State(leader=True, relations={relation}))
    return dict(out.get_relation(relation.id).local_app_data), requested


# --- smtp v0: smtp-integrator --------------------------------------------------------------


def smtp_answer(settings: Mapping[str, Any], secret: bool = True) -> tuple[dict[str, str], frozenset[testing.Secret]]:
    """smtp-integrator's side: SmtpProvides publishes an SmtpRelationData (the library's model
    validates it). With `secret`, the password goes in a Juju secret granted to the relation and
    the databag carries its id (`password_id`), as smtp-integrator does on its `smtp` endpoint;
    without, in plain text, as on `smtp-legacy`."""
    lib = oracle_module("charms.smtp_integrator.v0.smtp")

    class SmtpIntegrator(ops.CharmBase):
        def __init__(self, framework: ops.Framework) -> None:
            super().__init__(framework)
            self.smtp = lib.SmtpProvides(self)
            framework.observe(self.on.smtp_relation_joined, self._on_joined)

        def _on_joined(self, event: ops.RelationJoinedEvent) -> None:
            values = dict(settings)
            if secret and values.get("password"):
                stored = self.app.add_secret({"password": values.pop("password")})
                stored.grant(event.relation)
                values["password_id"] = stored.id
            self.smtp.update_relation_data(event.relation, lib.SmtpRelationData(**values))

    meta = {"name": "smtp-integrator", "provides": {"smtp": {"interface": "smtp"}}}
    ctx = testing.Context(SmtpIntegrator, meta=meta)
    relation = testing.Relation("smtp", "smtp", remote_app_name="indico")
    out = ctx.run(ctx.on.relation_joined(relation, remote_unit=0), testing.State(leader=True, relations={relation}))
    return dict(out.get_relation(relation.id).local_app_data), shared_secrets(out.secrets)


def smtp_library_view(relation: testing.Relation, secrets: frozenset[testing.Secret]) -> Any:
    """What smtp-integrator's own requirer (SmtpRequires) reads from the same relation."""
    lib = oracle_module("charms.smtp_integrator.v0.smtp")
    seen: list[Any] = []

    class Requirer(ops.CharmBase):
        def __init__(self, framework: ops.Framework) -> None:
            super().__init__(framework)
            self.smtp = lib.SmtpRequires(self)
            framework.observe(self.on.update_status, self._on_update_status)

        def _on_update_status(self, _event: ops.EventBase) -> None:
            seen.append(self.smtp.get_relation_data())

    ctx = testing.Context(Requirer, meta={"name": "requirer", "requires": {"smtp": {"interface": "smtp"}}})
    ctx.run(ctx.on.update_status(), testing.State(relations={relation}, secrets=secrets))
    return seen[0]


# --- oauth v0: identity-platform's hydra ---------------------------------------------------

OIDC_ISSUER = "https://iam.example.org"


def oauth_answer(
    requirer_app_data: Mapping[str, str], issuer: str = OIDC_ISSUER, client_id: str = "indico-client-id"
) -> tuple[dict[str, str], frozenset[testing.Secret], list[dict[str, Any]]]:
    """hydra's side, with charmlibs-interfaces-oauth's OAuthProvider (the PyPI library hydra
    uses): it publishes its endpoints when the relation is created, and when the requirer's
    client registration arrives it emits client_created; hydra then creates the client and
    shares its id and secret (the library puts the secret in a Juju secret).

    Returns the provider's app databag, the secrets shared with the requirer, and the clients
    the library reported as requested."""
    from charmlibs.interfaces.oauth import OAuthProvider

    created: list[dict[str, Any]] = []

    class Hydra(ops.CharmBase):
        def __init__(self, framework: ops.Framework) -> None:
            super().__init__(framework)
            self.oauth = OAuthProvider(self, relation_name="oauth")
            framework.observe(self.on.oauth_relation_created, self._on_created)
            framework.observe(self.oauth.on.client_created, self._on_client_created)

        def _on_created(self, _event: ops.RelationCreatedEvent) -> None:
            self.oauth.set_provider_info_in_relation_data(
                issuer_url=issuer,
                authorization_endpoint=f"{issuer}/oauth2/auth",
                token_endpoint=f"{issuer}/oauth2/token",
                introspection_endpoint=f"{issuer}/admin/oauth2/introspect",
                userinfo_endpoint=f"{issuer}/userinfo",
                jwks_endpoint=f"{issuer}/.well-known/jwks.json",
                scope="openid profile email phone",
            )

        def _on_client_created(self, event: Any) -> None:
            created.append({"redirect_uri": event.redirect_uri, "scope": event.scope, "grant_types": event.grant_types})
            self.oauth.set_client_credentials_in_relation_data(event.relation_id, client_id, "hydra-client-secret")

    meta = {"name": "hydra", "provides": {"oauth": {"interface": "oauth"}}}
    ctx = testing.Context(Hydra, meta=meta)
    relation = testing.Relation("oauth", "oauth", remote_app_name="indico")
    state = ctx.run(ctx.on.relation_created(relation), testing.State(leader=True, relations={relation}))
    published = dataclasses.replace(
        state.get_relation(relation.id),
        remote_app_data=dict(requirer_app_data),  # type: ignore[call-arg]
    )
    out = ctx.run(
        ctx.on.relation_changed(published, remote_unit=0), dataclasses.replace(state, relations=frozenset({published}))
    )
    return dict(out.get_relation(relation.id).local_app_data), shared_secrets(out.secrets), created


# --- ldap: glauth-k8s ---------------------------------------------------------------------

LDAP_BASE_DN = "dc=glauth,dc=com"
LDAP_BIND_PASSWORD = "glauth-bind-password"


def ldap_answer(
    requirer_app_data: Mapping[str, str],
    urls: tuple[str, ...] = ("ldap://glauth-k8s-0.glauth-k8s-endpoints.lab.svc.cluster.local:3893",),
    ldaps_urls: tuple[str, ...] = (),
    starttls: bool = True,
) -> tuple[dict[str, str], frozenset[testing.Secret], list[dict[str, str]]]:
    """glauth-k8s's side, with charmlibs-interfaces-ldap's LdapProvider (the PyPI library glauth
    uses): when the requirer's databag arrives it emits ldap_requested with the bind account the
    requirer asked for; glauth creates that account and answers with its directory's URLs and base
    DN, the account's DN, and its password in a Juju secret the library shares.

    Returns the provider's app databag, the secrets shared with the requirer, and the accounts the
    library reported as requested."""
    from charmlibs.interfaces.ldap import LdapProvider, LdapProviderData

    requested: list[dict[str, str]] = []

    class Glauth(ops.CharmBase):
        def __init__(self, framework: ops.Framework) -> None:
            super().__init__(framework)
            self.ldap = LdapProvider(self, relation_name="ldap")
            framework.observe(self.ldap.on.ldap_requested, self._on_requested)

        def _on_requested(self, event: Any) -> None:
            account = event.data
            requested.append({"user": account.user, "group": account.group})
            answer = LdapProviderData(
                urls=list(urls),
                ldaps_urls=list(ldaps_urls),
                base_dn=LDAP_BASE_DN,
                starttls=starttls,
                bind_dn=f"cn={account.user},ou={account.group},{LDAP_BASE_DN}",
                bind_password=LDAP_BIND_PASSWORD,
                auth_method="simple",
            )
            self.ldap.update_relations_app_data(answer, relation_id=event.relation.id)

    ctx = testing.Context(Glauth, meta={"name": "glauth-k8s", "provides": {"ldap": {"interface": "ldap"}}})
    relation = testing.Relation("ldap", "ldap", remote_app_name="indico", remote_app_data=dict(requirer_app_data))
    out = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), testing.State(leader=True, relations={relation}))
    return dict(out.get_relation(relation.id).local_app_data), shared_secrets(out.secrets), requested


# --- saml v0: saml-integrator --------------------------------------------------------------

SAML_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"


def saml_answer(entity_id: str, sign_on_url: str, certificates: tuple[str, ...]) -> dict[str, str]:
    """saml-integrator's side: SamlProvides publishes a SamlRelationData (the library's model
    validates it), as saml-integrator builds it from the identity provider's metadata."""
    lib = oracle_module("charms.saml_integrator.v0.saml")

    class SamlIntegrator(ops.CharmBase):
        def __init__(self, framework: ops.Framework) -> None:
            super().__init__(framework)
            self.saml = lib.SamlProvides(self)
            framework.observe(self.on.saml_relation_joined, self._on_joined)

        def _on_joined(self, event: ops.RelationJoinedEvent) -> None:
            endpoints = (
                lib.SamlEndpoint(name="SingleSignOnService", url=sign_on_url, binding=SAML_REDIRECT),
                lib.SamlEndpoint(name="SingleLogoutService", url=f"{sign_on_url}/logout", binding=SAML_REDIRECT),
            )
            data = lib.SamlRelationData(
                entity_id=entity_id, metadata_url=None, certificates=certificates, endpoints=endpoints
            )
            self.saml.update_relation_data(event.relation, data)

    meta = {"name": "saml-integrator", "provides": {"saml": {"interface": "saml"}}}
    ctx = testing.Context(SamlIntegrator, meta=meta)
    relation = testing.Relation("saml", "saml", remote_app_name="indico")
    out = ctx.run(ctx.on.relation_joined(relation, remote_unit=0), testing.State(leader=True, relations={relation}))
    return dict(out.get_relation(relation.id).local_app_data)


# --- prometheus_scrape: prometheus-k8s -----------------------------------------------------


def prometheus_view(
    provider_app_data: Mapping[str, str], provider_units_data: Mapping[int, Mapping[str, str]]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """What prometheus-k8s's MetricsEndpointConsumer makes of the charm's databags: the scrape
    jobs it would configure and the alert rule groups it would load (without cos-tool, which
    only adds label matchers to the expressions)."""
    lib = oracle_module("charms.prometheus_k8s.v0.prometheus_scrape")
    seen: list[tuple[list[dict[str, Any]], dict[str, Any]]] = []

    class PrometheusK8s(ops.CharmBase):
        def __init__(self, framework: ops.Framework) -> None:
            super().__init__(framework)
            self.consumer = lib.MetricsEndpointConsumer(self, relation_name="metrics-endpoint")
            framework.observe(self.on.update_status, self._on_update_status)

        def _on_update_status(self, _event: ops.EventBase) -> None:
            seen.append((self.consumer.jobs(), self.consumer.alerts))

    meta = {"name": "prometheus-k8s", "requires": {"metrics-endpoint": {"interface": "prometheus_scrape"}}}
    ctx = testing.Context(PrometheusK8s, meta=meta)
    relation = testing.Relation(
        "metrics-endpoint",
        "prometheus_scrape",
        remote_app_name="indico",
        remote_app_data=dict(provider_app_data),
        remote_units_data={k: dict(v) for k, v in provider_units_data.items()},
    )
    ctx.run(ctx.on.update_status(), testing.State(leader=True, relations={relation}))
    return seen[0]


# --- grafana_dashboard: grafana-k8s --------------------------------------------------------


def grafana_view(provider_app_data: Mapping[str, str]) -> list[dict[str, Any]]:
    """The dashboards grafana-k8s's GrafanaDashboardConsumer renders from the charm's databag
    (with the datasource variables and topology dropdowns it substitutes), as JSON."""
    lib = oracle_module("charms.grafana_k8s.v0.grafana_dashboard")
    seen: list[list[dict[str, Any]]] = []

    class GrafanaK8s(ops.CharmBase):
        def __init__(self, framework: ops.Framework) -> None:
            super().__init__(framework)
            self.consumer = lib.GrafanaDashboardConsumer(self, relation_name="grafana-dashboard")
            framework.observe(self.on["grafana-dashboard"].relation_changed, self._after_consumer)

        @property
        def peers(self) -> ops.Relation | None:  # grafana-k8s keeps rendered dashboards in its peer data
            return self.model.get_relation(lib.DEFAULT_PEER_NAME)

        def _after_consumer(self, event: ops.RelationChangedEvent) -> None:
            rendered = self.consumer.get_dashboards_from_relation(event.relation.id)
            seen.append([dict(d, content=json.loads(d["content"])) for d in rendered])

    meta = {
        "name": "grafana-k8s",
        "requires": {"grafana-dashboard": {"interface": "grafana_dashboard"}},
        "peers": {lib.DEFAULT_PEER_NAME: {"interface": "grafana_peers"}},  # the consumer watches it too
    }
    ctx = testing.Context(GrafanaK8s, meta=meta)
    relation = testing.Relation(
        "grafana-dashboard", "grafana_dashboard", remote_app_name="indico", remote_app_data=dict(provider_app_data)
    )
    peer = testing.PeerRelation(lib.DEFAULT_PEER_NAME)
    ctx.run(ctx.on.relation_changed(relation, remote_unit=0), testing.State(leader=True, relations={relation, peer}))
    return seen[0]


# --- loki_push_api: loki-k8s ---------------------------------------------------------------


def loki_unit_data(url: str) -> dict[str, str]:
    """A loki-k8s unit's databag, as LokiPushApiProvider writes it when a client relates
    (`url`: the unit's base URL, e.g. http://loki-k8s-0.loki-k8s-endpoints:3100)."""
    lib = oracle_module("charms.loki_k8s.v1.loki_push_api")

    class LokiK8s(ops.CharmBase):
        def __init__(self, framework: ops.Framework) -> None:
            super().__init__(framework)
            self.loki = lib.LokiPushApiProvider(self, relation_name="logging")
            framework.observe(self.on.logging_relation_joined, self._on_joined)

        def _on_joined(self, event: ops.RelationJoinedEvent) -> None:
            self.loki.update_endpoint(url=url, relation=event.relation)

    meta = {"name": "loki-k8s", "provides": {"logging": {"interface": "loki_push_api"}}}
    ctx = testing.Context(LokiK8s, meta=meta)
    relation = testing.Relation("logging", "loki_push_api", remote_app_name="indico")
    out = ctx.run(ctx.on.relation_joined(relation, remote_unit=0), testing.State(leader=True, relations={relation}))
    return dict(out.get_relation(relation.id).local_unit_data)
