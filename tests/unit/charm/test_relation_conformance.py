"""Each relation, both directions, against the real provider library (../shared/oracles).

The charm's databags go to the provider's own code, the provider's answer comes back to the
charm; a test here can pass only if the charm on the other end would agree.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import socket
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from ops import testing

from charm import IndicoCharm
from tests import real_providers as providers
from tests.unit.charm.conftest import ACTIVE, ARCHIVE, PEER, REPO, containers, database_relation, env_of, full_state


def charm_request(ctx: testing.Context, relation: testing.Relation, **state: object) -> testing.State:
    base = {"leader": True, "storages": {ARCHIVE}, "containers": containers(), "relations": {relation, PEER}}
    base.update(state)
    return ctx.run(ctx.on.relation_created(relation), testing.State(**base))  # type: ignore[arg-type]


def decoded_lists(databag: dict[str, str]) -> dict[str, object]:
    """The postgresql_client spec types `requested-secrets` as a list; on the wire it is JSON."""
    return {k: json.loads(v) if v.startswith("[") else v for k, v in databag.items()}


# --- database (postgresql_client v0) ------------------------------------------------------


def test_database_request_is_answered_by_postgresql_k8s(ctx: testing.Context) -> None:
    relation = testing.Relation("database", "postgresql_client", remote_app_name="postgresql-k8s")
    out = charm_request(ctx, relation)
    request: dict[str, str] = dict(out.get_relation(relation.id).local_app_data)

    answer, _secrets, requests = providers.postgresql_answer(request, requirer_app="indico")

    assert requests == [{"database": "indico", "extra_user_roles": None}], "one database, named after the app"
    assert answer["database"] == "indico"
    assert answer["endpoints"] == providers.PG_PRIMARY
    assert answer["secret-user"].startswith("secret:"), "credentials travel in a Juju secret, not the databag"
    assert "password" not in answer


def test_database_request_validates_against_the_published_spec(ctx: testing.Context) -> None:
    spec = providers.spec_module("postgresql_client", "v0")
    relation = testing.Relation("database", "postgresql_client", remote_app_name="postgresql-k8s")
    out = charm_request(ctx, relation)
    sent = out.get_relation(relation.id)
    spec.RequirerSchema.model_validate({"app": decoded_lists(dict(sent.local_app_data)), "unit": {}})


def test_postgresql_k8s_answer_configures_indico(ctx: testing.Context) -> None:
    relation = testing.Relation("database", "postgresql_client", remote_app_name="postgresql-k8s")
    out = charm_request(ctx, relation, relations={relation, PEER, providers.redis_relation()})
    answer, secrets, _ = providers.postgresql_answer(dict(out.get_relation(relation.id).local_app_data))

    answered = dataclasses.replace(out.get_relation(relation.id), remote_app_data=answer)  # type: ignore[call-arg]
    state = dataclasses.replace(
        out,
        relations=frozenset({answered, *(r for r in out.relations if r.id != relation.id)}),
        secrets=out.secrets | secrets,
    )
    final = ctx.run(ctx.on.relation_changed(answered, remote_unit=0), state)

    assert final.unit_status == ACTIVE
    uri = env_of(final, "indico")["INDICO_DB_URI"]
    assert re.fullmatch(rf"postgresql://relation-\d+@{providers.PG_PRIMARY}/indico", uri)
    assert env_of(final, "indico")["PGPASSWORD"] == providers.PG_PASSWORD, "libpq's own variable: no URL encoding"
    assert "replicas" not in uri, "Indico writes: the read-only endpoints are not used"


CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBdatabaseCA\n-----END CERTIFICATE-----"


@pytest.mark.parametrize(
    ("endpoints", "tls_ca", "tls", "query"),
    [
        (providers.PG_PRIMARY, CA_PEM, True, "?sslmode=verify-full&sslrootcert=/var/lib/indico/database-ca.pem"),
        # Certificates rarely name an IP address: the chain is checked, not the name.
        ("10.1.0.9:5432", CA_PEM, True, "?sslmode=verify-ca&sslrootcert=/var/lib/indico/database-ca.pem"),
        (providers.PG_PRIMARY, "", True, "?sslmode=require"),
        (providers.PG_PRIMARY, None, True, ""),
        # The flag decides: a CA left in the secret after TLS was turned off asks for nothing.
        (providers.PG_PRIMARY, CA_PEM, False, ""),
    ],
    ids=["host-name", "ip-address", "tls-without-ca", "no-tls", "tls-off-ca-left"],
)
def test_a_database_with_tls_is_verified_with_the_providers_ca(
    ctx: testing.Context, endpoints: str, tls_ca: str | None, tls: bool, query: str
) -> None:
    answer, secrets, _ = providers.postgresql_answer(
        {"database": "indico", "requested-secrets": '["username", "password", "tls", "tls-ca", "uris"]'},
        endpoints=endpoints,
        tls_ca=tls_ca,
        tls=tls,
    )
    database = testing.Relation(
        "database", "postgresql_client", remote_app_name="postgresql-k8s", remote_app_data=answer
    )
    out = ctx.run(
        ctx.on.relation_changed(database, remote_unit=0),
        full_state(database, providers.redis_relation(), secrets=secrets),
    )
    assert out.unit_status == ACTIVE
    for container in ("indico", "celery"):
        uri = env_of(out, container)["INDICO_DB_URI"]
        assert re.fullmatch(rf"postgresql://relation-\d+@{re.escape(endpoints)}/indico{re.escape(query)}", uri), uri
        written = out.get_container(container).get_filesystem(ctx) / "var/lib/indico/database-ca.pem"
        if tls_ca and tls:
            assert written.read_text() == tls_ca + "\n", "libpq reads the CA from the file the URI names"
        else:
            assert not written.exists()


def test_two_indico_applications_get_two_databases() -> None:
    ctx_a: testing.Context[IndicoCharm] = testing.Context(IndicoCharm, charm_root=REPO / "charm", app_name="indico-a")
    ctx_b: testing.Context[IndicoCharm] = testing.Context(IndicoCharm, charm_root=REPO / "charm", app_name="indico-b")
    names = []
    for ctx, app in ((ctx_a, "indico-a"), (ctx_b, "indico-b")):
        relation = testing.Relation("database", "postgresql_client", remote_app_name="postgresql-k8s")
        out = charm_request(ctx, relation)
        _, _, requests = providers.postgresql_answer(dict(out.get_relation(relation.id).local_app_data), app)
        names.append(requests[0]["database"])
    assert names == ["indico-a", "indico-b"]


def test_the_request_is_the_leaders_alone(ctx: testing.Context) -> None:
    relation = testing.Relation("database", "postgresql_client", remote_app_name="postgresql-k8s")
    out = charm_request(ctx, relation, leader=False)
    assert dict(out.get_relation(relation.id).local_app_data) == {}


# --- redis ---------------------------------------------------------------------------------


def test_redis_k8s_units_configure_broker_and_cache(ctx: testing.Context) -> None:
    database, secrets = database_relation()
    redis = providers.redis_relation(primary_address="10.1.0.7")
    out = ctx.run(ctx.on.relation_changed(redis, remote_unit=0), full_state(database, redis, secrets=secrets))
    env = env_of(out, "indico")
    assert out.unit_status == ACTIVE
    assert env["INDICO_CELERY_BROKER_URL"] == "redis://10.1.0.7:6379/0" == env["INDICO_REDIS_URL"]
    assert env["INDICO_REDIS_CACHE_URL"] == "redis://10.1.0.7:6379/1", "the cache never shares the broker's database"
    assert providers.redis_library_url(redis) == "redis://10.1.0.7:6379", "redis-k8s's own requirer agrees on the host"


def test_redis_leader_host_wins_as_the_library_reads_it(ctx: testing.Context) -> None:
    database, secrets = database_relation()
    redis = providers.redis_relation(primary_address="10.1.0.7", units=3, leader_host="redis-k8s-2.redis-k8s-endpoints")
    out = ctx.run(ctx.on.relation_changed(redis, remote_unit=1), full_state(database, redis, secrets=secrets))
    assert env_of(out, "celery")["INDICO_CELERY_BROKER_URL"] == "redis://redis-k8s-2.redis-k8s-endpoints:6379/0"
    assert providers.redis_library_url(redis) == "redis://redis-k8s-2.redis-k8s-endpoints:6379"


def test_the_charm_writes_nothing_to_redis(ctx: testing.Context) -> None:
    database, secrets = database_relation()
    redis = providers.redis_relation()
    out = ctx.run(ctx.on.relation_changed(redis, remote_unit=0), full_state(database, redis, secrets=secrets))
    sent = out.get_relation(redis.id)
    assert dict(sent.local_app_data) == {} and set(sent.local_unit_data) <= set(testing.Relation("x").local_unit_data)


# --- ingress v2 ----------------------------------------------------------------------------


def ingress_exchange(
    ctx: testing.Context, routing_mode: str = "subdomain", scheme: str = "http", **config: str
) -> tuple[testing.State, providers.TraefikSaw]:
    database, secrets = database_relation()
    redis = providers.redis_relation()
    ingress = testing.Relation("ingress", "ingress", remote_app_name="traefik")
    state = dataclasses.replace(
        full_state(database, redis, ingress, secrets=secrets), config=config, model=testing.Model("dev")
    )
    requested = ctx.run(ctx.on.relation_created(ingress), state)
    sent = requested.get_relation(ingress.id)
    answer, saw = providers.traefik_answer(
        sent.local_app_data, {0: sent.local_unit_data}, routing_mode=routing_mode, scheme=scheme
    )
    answered = dataclasses.replace(sent, remote_app_data=answer)  # type: ignore[call-arg]
    others = frozenset(r for r in requested.relations if r.id != ingress.id)
    return ctx.run(
        ctx.on.relation_changed(answered, remote_unit=0), dataclasses.replace(requested, relations=others | {answered})
    ), saw


def test_traefik_accepts_the_request_for_the_app_port_and_pod(ctx: testing.Context) -> None:
    out, saw = ingress_exchange(ctx)
    assert (saw.app, saw.model, saw.port) == ("indico", "dev", 8080)
    assert saw.hosts == [socket.getfqdn()], "the pod's own FQDN, not a guessed cluster domain"
    assert out.opened_ports == frozenset({testing.TCPPort(8080)})


def test_only_the_leader_writes_the_ingress_request(ctx: testing.Context) -> None:
    """Juju refuses a non-leader's write to the application databag and fails the hook."""
    database, secrets = database_relation()
    ingress = testing.Relation("ingress", "ingress", remote_app_name="traefik")
    state = dataclasses.replace(
        full_state(database, providers.redis_relation(), ingress, secrets=secrets), leader=False
    )
    out = ctx.run(ctx.on.relation_created(ingress), state)
    sent = out.get_relation(ingress.id)
    assert dict(sent.local_app_data) == {}, "the application's request is the leader's"
    unit_data: dict[str, str] = dict(sent.local_unit_data)
    assert "host" in unit_data, "every unit publishes its own address"


def test_ingress_request_validates_against_the_published_spec(ctx: testing.Context) -> None:
    spec = providers.spec_module("ingress", "v2")
    out, _ = ingress_exchange(ctx)
    sent = next(r for r in out.relations if r.endpoint == "ingress")
    spec.RequirerSchema.model_validate({"app": dict(sent.local_app_data), "unit": dict(sent.local_unit_data)})


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_host_routed_ingress_url_becomes_the_base_url(ctx: testing.Context, scheme: str) -> None:
    out, saw = ingress_exchange(ctx, routing_mode="subdomain", scheme=scheme)
    assert saw.url == f"{scheme}://dev-indico.ingress.example/"
    assert out.unit_status == ACTIVE
    assert env_of(out, "indico")["INDICO_BASE_URL"] == f"{scheme}://dev-indico.ingress.example"


def test_path_routed_ingress_blocks_and_says_what_to_do(ctx: testing.Context) -> None:
    out, saw = ingress_exchange(ctx, routing_mode="path")
    assert saw.url == "http://ingress.example/dev-indico"
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "routing_mode=subdomain" in out.unit_status.message and "site_url" in out.unit_status.message


def test_path_routed_ingress_with_a_site_url_serves_the_site_url(ctx: testing.Context) -> None:
    out, _ = ingress_exchange(ctx, routing_mode="path", site_url="https://events.example.org")
    assert out.unit_status == ACTIVE
    assert env_of(out, "indico")["INDICO_BASE_URL"] == "https://events.example.org"


def test_stale_ingress_keys_are_removed(ctx: testing.Context) -> None:
    database, secrets = database_relation()
    ingress = testing.Relation(
        "ingress",
        "ingress",
        local_app_data={"port": "8081", "healthcheck_params": '{"path": "/old"}', "model": '"old"'},
        local_unit_data={"host": '"old-host"', "ip": '"10.9.9.9"'},
    )
    state = dataclasses.replace(
        full_state(database, providers.redis_relation(), ingress, secrets=secrets),
        networks=frozenset({testing.Network("ingress", bind_addresses=[])}),
    )
    out = ctx.run(ctx.on.relation_changed(ingress, remote_unit=0), state)
    sent = out.get_relation(ingress.id)
    app_data: dict[str, str] = dict(sent.local_app_data)
    unit_data: dict[str, str] = dict(sent.local_unit_data)
    assert "healthcheck_params" not in app_data and app_data["port"] == "8080"
    assert "ip" not in unit_data, "no address known: no stale one kept"
    assert json.loads(unit_data["host"]) == socket.getfqdn()


# --- s3 v0 ---------------------------------------------------------------------------------

CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2E=\n-----END CERTIFICATE-----"
INTEGRATOR: dict[str, object] = {
    "bucket": "indico-files",
    "access-key": "AKIAEXAMPLE",
    "secret-key": "wJalr/XUtnFEMI+K7MDENG=bPxRfiCY",
    "endpoint": "https://s3.example.internal",
    "region": "eu-west-1",
    "s3-uri-style": "path",
    "path": "indico/",
    "tls-ca-chain": [base64.b64encode(CA_PEM.encode()).decode()],
}


def s3_exchange(
    ctx: testing.Context, integrator: dict[str, object]
) -> tuple[testing.State, dict[str, str], list[str | None]]:
    """The charm asks, s3-integrator's library hears it and answers, the charm reads the answer."""
    database, secrets = database_relation()
    relation = testing.Relation("s3", "s3", remote_app_name="s3-integrator")
    asked = ctx.run(
        ctx.on.relation_created(relation), full_state(database, providers.redis_relation(), relation, secrets=secrets)
    )
    sent = asked.get_relation(relation.id)
    answer, requested = providers.s3_answer(sent.local_app_data, integrator)
    answered = dataclasses.replace(sent, remote_app_data=answer)  # type: ignore[call-arg]
    others = frozenset(r for r in asked.relations if r.id != relation.id)
    out = ctx.run(
        ctx.on.relation_changed(answered, remote_unit=0), dataclasses.replace(asked, relations=others | {answered})
    )
    return out, dict(sent.local_app_data), requested


def test_s3_integrator_hears_the_bucket_request(ctx: testing.Context) -> None:
    _, sent, requested = s3_exchange(ctx, INTEGRATOR)
    assert requested == ["indico"], "S3Provider asks its charm for credentials only when `bucket` appears"
    jsonschema.validate(sent, providers.spec_json_schema("s3", "v0", "requirer"))


def test_without_a_bucket_request_s3_integrator_answers_nothing() -> None:
    """Why the charm writes `bucket`: the library's requirer contract, shown on the library itself."""
    answer, requested = providers.s3_answer({}, INTEGRATOR)
    assert requested == [] and "access-key" not in answer


def test_s3_integrator_answer_configures_indico(ctx: testing.Context) -> None:
    out, _, _ = s3_exchange(ctx, INTEGRATOR)
    assert out.unit_status == ACTIVE
    for container in ("indico", "celery"):
        env = env_of(out, container)
        assert env["INDICO_S3_BUCKET"] == "indico-files", "the integrator's bucket wins over the requested one"
        assert (env["INDICO_S3_ACCESS_KEY"], env["INDICO_S3_SECRET_KEY"]) == (
            INTEGRATOR["access-key"],
            INTEGRATOR["secret-key"],
        )
        assert env["INDICO_S3_ENDPOINT"] == "https://s3.example.internal"
        assert env["INDICO_S3_REGION"] == "eu-west-1"
        assert env["INDICO_S3_ADDRESSING_STYLE"] == "path"
        assert env["INDICO_S3_CA_BUNDLE"] == CA_PEM, "the library's JSON list of base64 certificates, as PEM"


def test_the_models_proxy_reaches_every_service_but_not_the_relations_endpoints(
    ctx: testing.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUJU_CHARM_HTTP_PROXY", "http://squid.internal:3128")
    monkeypatch.setenv("JUJU_CHARM_HTTPS_PROXY", "http://squid.internal:3129")
    monkeypatch.setenv("JUJU_CHARM_NO_PROXY", "10.0.0.0/8, intranet.example")
    out, _, _ = s3_exchange(ctx, INTEGRATOR)
    database_host = re.search(r"@([^:/]+)", env_of(out, "indico")["INDICO_DB_URI"])
    redis_host = re.search(r"//([^:/]+)", env_of(out, "indico")["INDICO_REDIS_URL"])
    assert database_host and redis_host
    services = [
        ("indico", "indico"),
        ("indico", "statsd-exporter"),
        ("celery", "celery-worker"),
        ("celery", "celery-beat"),
        ("indico-nginx", "nginx-prometheus-exporter"),
    ]
    for container, service in services:
        env = env_of(out, container, service)
        assert env["HTTPS_PROXY"] == env["https_proxy"] == "http://squid.internal:3129", service
        assert env["HTTP_PROXY"] == env["http_proxy"] == "http://squid.internal:3128", service
        direct = env["NO_PROXY"].split(",")
        assert env["no_proxy"] == env["NO_PROXY"]
        assert {"10.0.0.0/8", "intranet.example", "localhost", "127.0.0.1", ".svc"} <= set(direct), service
        if container != "indico-nginx":  # what only the Indico services reach
            assert {database_host[1], redis_host[1], "s3.example.internal"} <= set(direct), service


def test_without_a_model_proxy_the_proxy_variables_are_emptied(
    ctx: testing.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pebble merges layers: a variable left out would keep a proxy the model no longer has."""
    for name in ("JUJU_CHARM_HTTP_PROXY", "JUJU_CHARM_HTTPS_PROXY", "JUJU_CHARM_NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    out, _, _ = s3_exchange(ctx, INTEGRATOR)
    for container in ("indico", "celery"):
        env = env_of(out, container)
        assert all(env[name] == "" for name in ("HTTP_PROXY", "https_proxy", "NO_PROXY")), env


def test_a_bucket_name_s3_cannot_have_blocks_and_names_it(ctx: testing.Context) -> None:
    """S3 bucket names are at most 63 characters; Indico would fail on every upload."""
    out, _, _ = s3_exchange(ctx, {**INTEGRATOR, "bucket": "b" * 64})
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "longer than 63 characters" in out.unit_status.message
    assert env_of(out, "indico").get("INDICO_S3_BUCKET", "") == ""
    out, _, _ = s3_exchange(ctx, {**INTEGRATOR, "bucket": "b" * 63})
    assert env_of(out, "indico")["INDICO_S3_BUCKET"] == "b" * 63


def test_s3_credentials_indico_cannot_carry_block_and_name_the_key(ctx: testing.Context) -> None:
    out, _, _ = s3_exchange(ctx, {**INTEGRATOR, "secret-key": "abc,def"})
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert out.unit_status.message.startswith("s3 relation: the secret-key contains a comma")
    assert "abc" not in out.unit_status.message, "no credential in the status"
    assert env_of(out, "indico").get("INDICO_S3_BUCKET", "") == ""


# --- smtp v0 -------------------------------------------------------------------------------

SMTP = {
    "host": "smtp.example.org",
    "port": 587,
    "user": "indico",
    "password": "p@ss,wörd=1",
    "auth_type": "plain",
    "transport_security": "starttls",
    "smtp_sender": "events@example.org",
}


def smtp_exchange(
    ctx: testing.Context, settings: dict[str, object], secret: bool = True, **config: str
) -> tuple[testing.State, testing.Relation, frozenset[testing.Secret]]:
    answer, shared = providers.smtp_answer(settings, secret=secret)
    relation = testing.Relation("smtp", "smtp", remote_app_name="smtp-integrator", remote_app_data=answer)
    database, secrets = database_relation()
    state = dataclasses.replace(
        full_state(database, providers.redis_relation(), relation, secrets=secrets | shared), config=config
    )
    return ctx.run(ctx.on.relation_changed(relation, remote_unit=0), state), relation, shared


@pytest.mark.parametrize("secret", [True, False], ids=["password_id", "legacy-password"])
def test_smtp_integrator_answer_configures_mail(ctx: testing.Context, secret: bool) -> None:
    out, relation, shared = smtp_exchange(ctx, SMTP, secret=secret)
    assert ("password_id" in dict(relation.remote_app_data)) is secret
    assert out.unit_status == testing.ActiveStatus(), "mail is on"
    library = providers.smtp_library_view(relation, shared)  # smtp-integrator's own requirer
    for container in ("indico", "celery"):  # Indico sends mail from Celery
        env = env_of(out, container)
        assert (env["INDICO_SMTP_HOST"], env["INDICO_SMTP_PORT"]) == (library.host, str(library.port))
        assert (env["INDICO_SMTP_LOGIN"], env["INDICO_SMTP_PASSWORD"]) == (library.user, library.password)
        assert env["INDICO_SMTP_PASSWORD"] == SMTP["password"]
        assert (env["INDICO_SMTP_USE_TLS"], env["INDICO_SMTP_USE_SSL"]) == ("true", "false")
        assert env["INDICO_NO_REPLY_EMAIL"] == "events@example.org", "the sender the mail server requires"


def test_an_operators_sender_wins_over_the_integrators(ctx: testing.Context) -> None:
    out, _, _ = smtp_exchange(ctx, SMTP, indico_no_reply_email="noreply@events.example.org")
    assert env_of(out, "indico")["INDICO_NO_REPLY_EMAIL"] == "noreply@events.example.org"


def test_the_integrators_sender_is_the_one_allowed_sender_by_default(ctx: testing.Context) -> None:
    out, _, _ = smtp_exchange(ctx, SMTP)
    env = env_of(out, "celery")  # the worker sends the mail
    assert env["INDICO_SMTP_ALLOWED_SENDERS"] == "events@example.org"
    assert env["INDICO_SMTP_SENDER_FALLBACK"] == "", "the rock's default: the no-reply address"
    without_sender = {k: v for k, v in SMTP.items() if k != "smtp_sender"}
    out, _, _ = smtp_exchange(ctx, without_sender)
    assert env_of(out, "celery")["INDICO_SMTP_ALLOWED_SENDERS"] == "", "no restriction known: senders as they are"


def test_an_operators_allowed_senders_and_fallback_reach_indico(ctx: testing.Context) -> None:
    out, _, _ = smtp_exchange(
        ctx, SMTP, smtp_allowed_senders="example.org, board@cern.example", smtp_sender_fallback="relay@example.org"
    )
    for container in ("indico", "celery"):
        env = env_of(out, container)
        assert env["INDICO_SMTP_ALLOWED_SENDERS"] == "example.org,board@cern.example"
        assert env["INDICO_SMTP_SENDER_FALLBACK"] == "relay@example.org"


@pytest.mark.parametrize(
    ("option", "value"), [("smtp_allowed_senders", "example.org, *@evil"), ("smtp_sender_fallback", "relay")]
)
def test_a_bad_sender_option_blocks_naming_it(ctx: testing.Context, option: str, value: str) -> None:
    out, _, _ = smtp_exchange(ctx, SMTP, True, **{option: value})
    assert out.unit_status.name == "blocked" and f"'{option}'" in out.unit_status.message


def test_implicit_tls_without_authentication(ctx: testing.Context) -> None:
    settings = {"host": "mail", "port": 465, "auth_type": "none", "transport_security": "tls"}
    out, _, _ = smtp_exchange(ctx, settings)
    env = env_of(out, "indico")
    assert (env["INDICO_SMTP_USE_TLS"], env["INDICO_SMTP_USE_SSL"]) == ("false", "true")
    assert env["INDICO_SMTP_LOGIN"] == env["INDICO_SMTP_PASSWORD"] == ""


def test_skip_ssl_verify_blocks_and_says_what_to_change(ctx: testing.Context) -> None:
    out, _, _ = smtp_exchange(ctx, {**SMTP, "skip_ssl_verify": True})
    assert out.unit_status == testing.BlockedStatus(
        "smtp relation: skip_ssl_verify is not supported: Indico always verifies the mail server's certificate "
        "(set skip_ssl_verify=false on the smtp integrator)"
    )


def test_a_password_without_tls_blocks_and_says_what_to_change(ctx: testing.Context) -> None:
    out, _, _ = smtp_exchange(ctx, {**SMTP, "transport_security": "none"})
    assert out.unit_status == testing.BlockedStatus(
        "smtp relation: auth_type plain with transport_security none would send the password unencrypted: "
        "set transport_security to starttls or tls on the smtp integrator"
    )
    assert env_of(out, "indico").get("INDICO_SMTP_PASSWORD", "") == "", "the password reaches no service"


def test_the_charm_publishes_nothing_on_smtp(ctx: testing.Context) -> None:
    """The spec: "Requirer is not expected to publish anything". (Its provider schema is not used:
    under pydantic 2 it demands every optional key, which no provider writes.)"""
    out, relation, _ = smtp_exchange(ctx, SMTP)
    sent = out.get_relation(relation.id)
    assert dict(sent.local_app_data) == {}
    assert set(sent.local_unit_data) <= set(testing.Relation("x").local_unit_data)


# --- request and answer: the charm writes, the provider's library answers, the charm reads --


Answer = Callable[[dict[str, str]], tuple[dict[str, str], frozenset[testing.Secret], list[Any]]]


def exchange(
    ctx: testing.Context, relation: testing.Relation, state: testing.State, answer: Answer
) -> tuple[testing.State, dict[str, str], list[Any]]:
    """relation-created (the charm's request), the provider's answer to what it sent, then
    relation-changed with that answer and the secrets the provider shared; what the provider
    reported as requested comes back too."""
    asked = ctx.run(ctx.on.relation_created(relation), state)
    sent: dict[str, str] = dict(asked.get_relation(relation.id).local_app_data)
    databag, shared, requested = answer(sent)
    answered = dataclasses.replace(asked.get_relation(relation.id), remote_app_data=databag)  # type: ignore[call-arg]
    others = frozenset(r for r in asked.relations if r.id != relation.id)
    out = ctx.run(
        ctx.on.relation_changed(answered, remote_unit=0),
        dataclasses.replace(asked, relations=others | {answered}, secrets=asked.secrets | shared),
    )
    return out, sent, requested


# --- oauth v0 ------------------------------------------------------------------------------


def oauth_exchange(
    ctx: testing.Context, **config: str | bool
) -> tuple[testing.State, dict[str, str], list[dict[str, object]]]:
    """The charm registers its client, hydra's library hears it and answers, the charm reads it."""
    database, secrets = database_relation()
    relation = testing.Relation("oauth", "oauth", remote_app_name="hydra")
    state = dataclasses.replace(
        full_state(database, providers.redis_relation(), relation, secrets=secrets),
        config={"site_url": "https://events.example.org", **config},
    )
    return exchange(ctx, relation, state, providers.oauth_answer)


def test_hydra_registers_the_client_for_indicos_callback(ctx: testing.Context) -> None:
    _, sent, created = oauth_exchange(ctx)
    assert created == [
        {
            "redirect_uri": "https://events.example.org/multipass/authlib/oidc",
            "scope": "openid email profile",
            "grant_types": ["authorization_code"],
        }
    ]
    jsonschema.validate(
        {"application-data": decoded_lists(sent), "related-units": {}},
        providers.spec_json_schema("oauth", "v0", "requirer"),
    )


def test_hydras_client_configures_sign_in(ctx: testing.Context) -> None:
    out, _, _ = oauth_exchange(ctx, enable_local_login=False)
    for container in ("indico", "celery"):
        env = env_of(out, container)
        assert env["INDICO_OIDC_CLIENT_ID"] == "indico-client-id"
        assert env["INDICO_OIDC_CLIENT_SECRET"] == "hydra-client-secret", "read from the secret hydra shared"
        assert env["INDICO_OIDC_METADATA_URL"] == f"{providers.OIDC_ISSUER}/.well-known/openid-configuration"
        assert env["INDICO_LOCAL_IDENTITIES"] == "false"


@pytest.mark.parametrize(("option", "trusted"), [({}, "false"), ({"trust_identity_provider_emails": True}, "true")])
def test_the_providers_addresses_are_trusted_only_when_the_operator_says_so(
    ctx: testing.Context, option: dict[str, bool], trusted: str
) -> None:
    out, _, _ = oauth_exchange(ctx, **option)
    for container in ("indico", "celery"):
        env = env_of(out, container)
        assert env["INDICO_OIDC_TRUSTED_EMAIL"] == env["INDICO_SAML_TRUSTED_EMAIL"] == trusted


def test_local_login_stays_while_no_provider_answers(ctx: testing.Context) -> None:
    database, secrets = database_relation()
    pending = testing.Relation("oauth", "oauth", remote_app_name="hydra")
    state = dataclasses.replace(
        full_state(database, providers.redis_relation(), pending, secrets=secrets),
        config={"enable_local_login": False},
    )
    env = env_of(ctx.run(ctx.on.relation_created(pending), state), "indico")
    assert env["INDICO_OIDC_CLIENT_ID"] == "" and env["INDICO_LOCAL_IDENTITIES"] == "true"


# --- ldap (glauth-k8s) ---------------------------------------------------------------------


def ldap_exchange(ctx: testing.Context, answer: Answer) -> tuple[testing.State, dict[str, str], list[Any]]:
    """The charm asks for a bind account, glauth's library hears it and answers, the charm reads it."""
    database, secrets = database_relation()
    relation = testing.Relation("ldap", "ldap", remote_app_name="glauth-k8s")
    return exchange(ctx, relation, full_state(database, providers.redis_relation(), relation, secrets=secrets), answer)


def test_glauth_creates_a_bind_account_named_after_the_application(ctx: testing.Context) -> None:
    _, sent, requested = ldap_exchange(ctx, providers.ldap_answer)
    assert requested == [{"user": "indico", "group": sent["group"]}] and sent["group"]


def test_glauths_answer_configures_sign_in_with_the_bind_password_from_its_secret(ctx: testing.Context) -> None:
    out, _, _ = ldap_exchange(ctx, providers.ldap_answer)
    assert out.unit_status == ACTIVE
    for container in ("indico", "celery"):
        env = env_of(out, container)
        assert env["INDICO_LDAP_URI"] == "ldap://glauth-k8s-0.glauth-k8s-endpoints.lab.svc.cluster.local:3893"
        assert env["INDICO_LDAP_BASE_DN"] == providers.LDAP_BASE_DN
        assert env["INDICO_LDAP_BIND_DN"].startswith("cn=indico,ou=")
        assert env["INDICO_LDAP_BIND_PASSWORD"] == providers.LDAP_BIND_PASSWORD
        assert env["INDICO_LDAP_STARTTLS"] == "true"
        assert env["INDICO_LDAP_TRUSTED_EMAIL"] == "false"


def test_ldaps_urls_win_over_starttls(ctx: testing.Context) -> None:
    out, _, _ = ldap_exchange(
        ctx, lambda sent: providers.ldap_answer(sent, ldaps_urls=("ldaps://a:3894", "ldaps://b:3894"))
    )
    env = env_of(out, "indico")
    assert (env["INDICO_LDAP_URI"], env["INDICO_LDAP_STARTTLS"]) == ("ldaps://a:3894 ldaps://b:3894", "false")


def test_an_unreadable_bind_password_blocks_and_says_what_to_do(ctx: testing.Context) -> None:
    def answer_without_grant(sent: dict[str, str]) -> tuple[dict[str, str], frozenset[testing.Secret], list[Any]]:
        databag, _, requested = providers.ldap_answer(sent)
        return databag, frozenset(), requested

    out, _, _ = ldap_exchange(ctx, answer_without_grant)
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert out.unit_status.message.startswith("ldap relation: the provider's answer is unusable")


def test_until_glauth_answers_local_login_stays_and_ldap_is_off(ctx: testing.Context) -> None:
    database, secrets = database_relation()
    pending = testing.Relation("ldap", "ldap", remote_app_name="glauth-k8s")
    state = dataclasses.replace(
        full_state(database, providers.redis_relation(), pending, secrets=secrets), config={"enable_local_login": False}
    )
    env = env_of(ctx.run(ctx.on.relation_created(pending), state), "indico")
    assert env["INDICO_LDAP_URI"] == "" and env["INDICO_LOCAL_IDENTITIES"] == "true"


# --- saml v0 -------------------------------------------------------------------------------


def saml_exchange(ctx: testing.Context, answer: dict[str, str], **config: str | bool) -> testing.State:
    database, secrets = database_relation()
    relation = testing.Relation("saml", "saml", remote_app_name="saml-integrator", remote_app_data=answer)
    state = dataclasses.replace(
        full_state(database, providers.redis_relation(), relation, secrets=secrets), config=config
    )
    return ctx.run(ctx.on.relation_changed(relation, remote_unit=0), state)


def test_saml_integrator_answer_configures_sign_in(ctx: testing.Context) -> None:
    answer = providers.saml_answer(
        "https://login.example.org", "https://login.example.org/sso", ("MIIBcert1", "MIIBcert2")
    )
    out = saml_exchange(ctx, answer, enable_local_login=False)
    for container in ("indico", "celery"):
        env = env_of(out, container)
        assert env["INDICO_SAML_IDP_ENTITY_ID"] == "https://login.example.org"
        assert (env["INDICO_SAML_IDP_SSO_URL"], env["INDICO_SAML_IDP_SSO_BINDING"]) == (
            "https://login.example.org/sso",
            "Redirect",
        )
        assert env["INDICO_SAML_IDP_SLO_URL"] == "https://login.example.org/sso/logout"
        assert env["INDICO_SAML_IDP_CERTIFICATES"] == "MIIBcert1,MIIBcert2"
        assert env["INDICO_LOCAL_IDENTITIES"] == "false", "an identity provider answered, local login may go"
        assert env["INDICO_SAML_GROUPS_ATTRIBUTE"] == "urn:oasis:names:tc:SAML:2.0:profiles:attribute:DCE:groups"
    assert out.get_relation(next(r.id for r in out.relations if r.endpoint == "saml")).local_app_data == {}


def test_the_operator_names_the_attribute_that_carries_saml_groups(ctx: testing.Context) -> None:
    answer = providers.saml_answer("https://login.example.org", "https://login.example.org/sso", ("MIIBcert1",))
    out = saml_exchange(ctx, answer, saml_groups_attribute="memberOf")
    assert env_of(out, "indico")["INDICO_SAML_GROUPS_ATTRIBUTE"] == "memberOf"


def test_saml_without_certificates_blocks_and_names_the_key(ctx: testing.Context) -> None:
    answer = providers.saml_answer("https://login.example.org", "https://login.example.org/sso", ())
    out = saml_exchange(ctx, answer)
    assert out.unit_status == testing.BlockedStatus(
        "saml relation: no x509certs: Indico cannot check the identity provider's signatures without them"
    )


# --- prometheus_scrape -----------------------------------------------------------------------


def scrape_exchange(ctx: testing.Context) -> tuple[testing.State, list[dict[str, object]], dict[str, object]]:
    """Two units publish; prometheus-k8s's library reads what they wrote."""
    database, secrets = database_relation()
    relation = testing.Relation("metrics-endpoint", "prometheus_scrape", remote_app_name="prometheus")
    base = full_state(database, providers.redis_relation(), relation, secrets=secrets)
    units: dict[int, dict[str, str]] = {}
    app_data: dict[str, str] = {}
    leader_out = base
    for unit_id, address in ((0, "10.1.2.10"), (1, "10.1.2.11")):
        state = dataclasses.replace(
            base,
            leader=unit_id == 0,
            networks=frozenset({testing.Network("metrics-endpoint", ingress_addresses=[address])}),
            model=testing.Model("dev", uuid="00000000-0000-4000-8000-000000000000"),
        )
        out = testing.Context(IndicoCharm, charm_root=REPO / "charm", unit_id=unit_id).run(
            ctx.on.relation_joined(relation, remote_unit=0), state
        )
        sent = out.get_relation(relation.id)
        units[unit_id] = dict(sent.local_unit_data)
        if unit_id == 0:
            app_data, leader_out = dict(sent.local_app_data), out
    jobs, alerts = providers.prometheus_view(app_data, units)
    return leader_out, jobs, alerts


def test_prometheus_scrapes_both_exporters_of_every_unit(ctx: testing.Context) -> None:
    _, jobs, _ = scrape_exchange(ctx)
    targets = {
        (job["static_configs"][0]["labels"]["juju_unit"], target)  # type: ignore[index]
        for job in jobs
        for target in job["static_configs"][0]["targets"]  # type: ignore[index]
    }
    assert targets == {
        ("indico/0", "10.1.2.10:9113"),
        ("indico/0", "10.1.2.10:9102"),
        ("indico/1", "10.1.2.11:9113"),
        ("indico/1", "10.1.2.11:9102"),
    }
    labels = jobs[0]["static_configs"][0]["labels"]  # type: ignore[index]
    assert labels["juju_model"] == "dev" and labels["juju_application"] == "indico"  # type: ignore[index]


def test_prometheus_loads_the_charms_alert_rules(ctx: testing.Context) -> None:
    _, _, alerts = scrape_exchange(ctx)
    (groups,) = alerts.values()
    names = {rule["alert"] for group in groups["groups"] for rule in group["rules"]}  # type: ignore[index]
    assert {"IndicoNginxDown", "IndicoExporterDown", "IndicoHttpErrors", "IndicoWorkersAllBusy"} <= names
    assert {"IndicoCeleryWorkerMissing", "IndicoNotReady"} <= names


# --- grafana_dashboard -----------------------------------------------------------------------


def test_grafana_renders_the_charms_dashboard(ctx: testing.Context) -> None:
    relation = testing.Relation("grafana-dashboard", "grafana_dashboard", remote_app_name="grafana")
    state = dataclasses.replace(full_state(relation), model=testing.Model("dev"))
    sent = ctx.run(ctx.on.relation_joined(relation, remote_unit=0), state).get_relation(relation.id)
    (dashboard,) = providers.grafana_view(dict(sent.local_app_data))
    content = dashboard["content"]
    assert content["title"] == "Indico"
    exprs = [target["expr"] for panel in content["panels"] for target in panel["targets"]]
    assert any("nginx_http_requests_total" in e for e in exprs) and any("indico_http_responses_5xx" in e for e in exprs)
    assert any("indico_uwsgi_busy_workers" in e for e in exprs) and any("indico_celery_worker_up" in e for e in exprs)
    datasources = {json.dumps(panel["datasource"]) for panel in content["panels"]}
    assert all("${prometheusds}" in d for d in datasources), "Grafana substitutes its own Prometheus"
    dropdowns = {v["name"] for v in content["templating"]["list"]}
    assert {"juju_model", "juju_application", "juju_unit"} <= dropdowns, "the consumer injected topology dropdowns"


def test_an_unchanged_dashboard_is_not_published_again(ctx: testing.Context) -> None:
    relation = testing.Relation("grafana-dashboard", "grafana_dashboard", remote_app_name="grafana")
    first = ctx.run(ctx.on.relation_joined(relation, remote_unit=0), full_state(relation))
    again = ctx.run(ctx.on.config_changed(), first)
    assert dict(again.get_relation(relation.id).local_app_data) == dict(first.get_relation(relation.id).local_app_data)


# --- loki_push_api ---------------------------------------------------------------------------


def test_pebble_forwards_every_containers_logs_to_each_loki_unit(ctx: testing.Context) -> None:
    database, secrets = database_relation()
    loki = testing.Relation(
        "logging",
        "loki_push_api",
        remote_app_name="loki-k8s",
        remote_units_data={0: providers.loki_unit_data("http://loki-k8s-0.loki-k8s-endpoints:3100")},
    )
    state = dataclasses.replace(
        full_state(database, providers.redis_relation(), loki, secrets=secrets), model=testing.Model("dev")
    )
    out = ctx.run(ctx.on.relation_changed(loki, remote_unit=0), state)
    for container in ("indico", "celery", "indico-nginx"):
        target = out.get_container(container).plan.to_dict()["log-targets"]["loki-k8s-0"]
        assert target["location"] == "http://loki-k8s-0.loki-k8s-endpoints:3100/loki/api/v1/push"
        assert target["services"] == ["all"]
        assert target["labels"]["juju_unit"] == "indico/0" and target["labels"]["juju_model"] == "dev"

    gone = ctx.run(ctx.on.relation_broken(out.get_relation(loki.id)), out)
    for container in ("indico", "celery", "indico-nginx"):
        target = gone.get_container(container).plan.to_dict()["log-targets"]["loki-k8s-0"]
        assert target["services"] == ["-all"], "a removed Loki gets nothing more"
