from __future__ import annotations

import dataclasses
import re

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ops import pebble, testing

from tests import real_providers as providers
from tests.unit.charm.conftest import (
    ACTIVE,
    ARCHIVE,
    PEER,
    REPO,
    containers,
    database_relation,
    env_of,
    full_state,
    redis_relation,
)


def test_without_relations_the_status_names_the_missing_one(ctx: testing.Context) -> None:
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True, containers=containers()))
    assert out.unit_status == testing.BlockedStatus("needs a database relation")


def test_invalid_config_blocks_and_names_the_option(ctx: testing.Context) -> None:
    out = ctx.run(ctx.on.config_changed(), full_state(config={"site_url": "not a url"}))
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "'site_url'" in out.unit_status.message


def test_leader_runs_web_worker_and_beat_with_the_environment(ctx: testing.Context) -> None:
    out = ctx.run(ctx.on.config_changed(), full_state(leader=True))
    assert out.unit_status == ACTIVE
    web = out.get_container("indico").plan.services
    assert web["indico"].command == "/usr/local/bin/indico-start web", "the rock's command is kept"
    assert web["indico"].startup == "enabled" and web["celery-beat"].startup == "disabled"
    env = web["indico"].environment
    assert re.fullmatch(rf"postgresql://relation-\d+@{providers.PG_PRIMARY}/indico", env["INDICO_DB_URI"])
    assert env["PGPASSWORD"] == providers.PG_PASSWORD
    assert env["INDICO_REDIS_URL"] == "redis://10.1.0.7:6379/0"
    assert env["INDICO_BASE_URL"] == "http://indico.local"
    assert env["INDICO_ENABLE_ROOMBOOKING"] == "false"
    assert len(env["INDICO_SECRET_KEY"]) >= 32
    celery = out.get_container("celery").plan.services
    assert celery["celery-worker"].startup == "enabled" and celery["celery-beat"].startup == "enabled"
    assert celery["indico"].startup == "disabled"
    assert out.get_container("indico-nginx").plan.services["nginx"].startup == "enabled"


def test_non_leader_runs_no_beat(ctx: testing.Context) -> None:
    leader_out = ctx.run(ctx.on.leader_elected(), full_state(leader=True))
    peer = leader_out.get_relations("indico-peers")[0]
    follower = testing.State(
        leader=False,
        storages={ARCHIVE},
        containers=containers(),
        relations={*(r for r in leader_out.relations if r.endpoint != "indico-peers"), peer},
        secrets=leader_out.secrets,
    )
    out = ctx.run(ctx.on.config_changed(), follower)
    assert out.get_container("celery").plan.services["celery-beat"].startup == "disabled"
    assert out.get_container("celery").plan.services["celery-worker"].startup == "enabled"


def test_the_secret_key_is_made_once(ctx: testing.Context) -> None:
    first = ctx.run(ctx.on.leader_elected(), full_state())
    key = first.get_container("indico").plan.services["indico"].environment["INDICO_SECRET_KEY"]
    second = ctx.run(ctx.on.config_changed(), first)
    assert second.get_container("indico").plan.services["indico"].environment["INDICO_SECRET_KEY"] == key
    assert len(second.secrets) == len(first.secrets)


def test_redis_leader_host_is_used(ctx: testing.Context) -> None:
    database, secrets = database_relation()
    state = testing.State(
        leader=True,
        storages={ARCHIVE},
        containers=containers(),
        secrets=secrets,
        relations={database, redis_relation(leader_host="redis-primary"), PEER},
    )
    out = ctx.run(ctx.on.config_changed(), state)
    env = out.get_container("indico").plan.services["indico"].environment
    assert env["INDICO_REDIS_URL"] == "redis://redis-primary:6379/0"
    assert env["INDICO_REDIS_CACHE_URL"] == "redis://redis-primary:6379/1"


def state_with_ingress() -> tuple[testing.State, testing.Relation]:
    request = {"model": '"test"', "name": '"indico"', "port": "8080"}
    answer, _ = providers.traefik_answer(request, {0: {"host": '"indico-0.indico-endpoints"'}})
    ingress = testing.Relation("ingress", "ingress", remote_app_name="traefik", remote_app_data=answer)
    database, secrets = database_relation()
    state = testing.State(
        leader=True,
        storages={ARCHIVE},
        containers=containers(),
        secrets=secrets,
        relations={database, redis_relation(), PEER, ingress},
    )
    return state, ingress


def test_ingress_url_becomes_the_base_url_and_the_request_is_published(ctx: testing.Context) -> None:
    state, ingress = state_with_ingress()
    out = ctx.run(ctx.on.relation_changed(ingress), state)
    env = out.get_container("indico").plan.services["indico"].environment
    assert env["INDICO_BASE_URL"] == "http://test-indico.ingress.example"
    sent: dict[str, str] = dict(out.get_relation(ingress.id).local_app_data)
    assert sent["port"] == "8080" and sent["name"] == '"indico"'


def test_waiting_while_pebble_is_not_up(ctx: testing.Context) -> None:
    database, secrets = database_relation()
    state = testing.State(
        leader=True,
        storages={ARCHIVE},
        containers=containers(can_connect=False),
        secrets=secrets,
        relations={database, redis_relation(), PEER},
    )
    out = ctx.run(ctx.on.config_changed(), state)
    assert isinstance(out.unit_status, testing.WaitingStatus) and "Pebble" in out.unit_status.message


@pytest.mark.parametrize("container", ["indico", "celery", "indico-nginx"])
def test_pebble_ready_of_each_container_converges(ctx: testing.Context, container: str) -> None:
    state = full_state()
    out = ctx.run(ctx.on.pebble_ready(next(c for c in state.containers if c.name == container)), state)
    assert out.unit_status == ACTIVE


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    site_url=st.one_of(st.just(""), st.text(max_size=20), st.just("https://e.example.org")),
    processes=st.integers(-2, 80),
    roombooking=st.booleans(),
)
def test_any_config_ends_in_a_valid_status(
    ctx: testing.Context,
    site_url: str,
    processes: int,
    roombooking: bool,
) -> None:
    out = ctx.run(
        ctx.on.config_changed(),
        full_state(config={"site_url": site_url, "uwsgi_processes": processes, "enable_roombooking": roombooking}),
    )
    assert isinstance(out.unit_status, (testing.ActiveStatus, testing.BlockedStatus))


def test_beat_stops_when_leadership_moves_away(ctx: testing.Context) -> None:
    leader_out = ctx.run(ctx.on.leader_elected(), full_state(leader=True))
    celery = leader_out.get_container("celery")
    assert celery.service_statuses["celery-beat"] == pebble.ServiceStatus.ACTIVE
    demoted = dataclasses.replace(leader_out, leader=False)
    out = ctx.run(ctx.on.config_changed(), demoted)
    assert out.get_container("celery").service_statuses["celery-beat"] == pebble.ServiceStatus.INACTIVE
    assert out.get_container("celery").service_statuses["celery-worker"] == pebble.ServiceStatus.ACTIVE


@pytest.mark.parametrize("endpoint", ["database", "redis"])
def test_a_broken_required_relation_blocks(ctx: testing.Context, endpoint: str) -> None:
    state = full_state()
    relation = next(r for r in state.relations if r.endpoint == endpoint)
    out = ctx.run(ctx.on.relation_broken(relation), state)
    assert out.unit_status == testing.BlockedStatus(f"needs a {endpoint} relation")


def test_a_peer_leaving_keeps_the_unit_active(ctx: testing.Context) -> None:
    state = full_state()
    peer = next(r for r in state.relations if r.endpoint == "indico-peers")
    out = ctx.run(ctx.on.relation_departed(peer, remote_unit=1), state)
    assert out.unit_status == ACTIVE


def test_a_follower_reads_a_changed_secret_again(ctx: testing.Context) -> None:
    first = ctx.run(ctx.on.leader_elected(), full_state())
    secret = next(s for s in first.secrets if s.label == "indico-secret-key")
    rotated = dataclasses.replace(secret, owner=None, latest_content={"secret-key": "r" * 48})
    others = {s for s in first.secrets if s.id != secret.id}
    follower = dataclasses.replace(first, leader=False, secrets=frozenset({rotated, *others}))
    out = ctx.run(ctx.on.secret_changed(rotated), follower)
    assert out.get_container("indico").plan.services["indico"].environment["INDICO_SECRET_KEY"] == "r" * 48


def test_replan_only_when_the_plan_changes(ctx: testing.Context) -> None:
    first = ctx.run(ctx.on.config_changed(), full_state())
    again = ctx.run(ctx.on.config_changed(), first)
    assert again.get_container("indico").plan == first.get_container("indico").plan


def test_database_credentials_arriving_complete_the_configuration(ctx: testing.Context) -> None:
    database, secrets = database_relation()
    empty = dataclasses.replace(database, remote_app_data={})
    before = testing.State(
        leader=True, storages={ARCHIVE}, containers=containers(), relations={empty, redis_relation(), PEER}
    )
    waiting = ctx.run(ctx.on.relation_changed(empty), before)
    assert isinstance(waiting.unit_status, testing.WaitingStatus) and "database" in waiting.unit_status.message
    arrived = dataclasses.replace(waiting, relations=frozenset({database, redis_relation(), PEER}), secrets=secrets)
    out = ctx.run(ctx.on.relation_changed(database), arrived)
    assert out.unit_status == ACTIVE
    env = out.get_container("indico").plan.services["indico"].environment
    assert env["INDICO_DB_URI"].startswith("postgresql://relation-")


def test_a_new_redis_primary_is_followed(ctx: testing.Context) -> None:
    first = ctx.run(ctx.on.config_changed(), full_state())
    failed_over = redis_relation(leader_host="redis-1.redis")
    others = frozenset(r for r in first.relations if r.endpoint != "redis")
    state = dataclasses.replace(first, relations=others | {failed_over})
    out = ctx.run(ctx.on.relation_changed(failed_over), state)
    assert out.get_container("celery").plan.services["celery-worker"].environment["INDICO_REDIS_URL"] == (
        "redis://redis-1.redis:6379/0"
    )


def nginx_trusts(state: testing.State) -> str:
    return str(state.get_container("indico-nginx").plan.services["nginx"].environment["NGINX_TRUSTED_PROXIES"])


def test_nginx_believes_forwarded_headers_only_from_the_ingress_units(ctx: testing.Context) -> None:
    """Juju gives each traefik unit's egress subnets; any other pod of the cluster is not believed."""
    state, ingress = state_with_ingress()
    units = {
        0: {"egress-subnets": "10.1.2.3/32", "ingress-address": "10.1.2.3"},
        1: {"egress-subnets": "10.1.2.4/32,10.1.9.0/24", "ingress-address": "10.1.2.4"},
        2: {"ingress-address": "fd00::7"},  # no egress-subnets: its ingress address
        3: {"ingress-address": "traefik-3.traefik-endpoints"},  # not an address: left out
    }
    ingress = dataclasses.replace(ingress, remote_units_data=units)
    state = dataclasses.replace(
        state, relations=frozenset({*(r for r in state.relations if r.endpoint != "ingress"), ingress})
    )
    out = ctx.run(ctx.on.relation_changed(ingress, remote_unit=1), state)
    assert nginx_trusts(out) == "10.1.2.3/32 10.1.2.4/32 10.1.9.0/24 fd00::7/128"
    # Unit 1 leaves: its addresses are no longer believed.
    left = dataclasses.replace(ingress, remote_units_data={k: v for k, v in units.items() if k != 1})
    gone = ctx.run(
        ctx.on.relation_departed(left, remote_unit=1, departing_unit=1),
        dataclasses.replace(out, relations=frozenset({*(r for r in out.relations if r.endpoint != "ingress"), left})),
    )
    assert nginx_trusts(gone) == "10.1.2.3/32 fd00::7/128"


def test_without_an_ingress_nginx_trusts_the_rocks_default_alone(ctx: testing.Context) -> None:
    out = ctx.run(ctx.on.config_changed(), full_state())
    assert nginx_trusts(out) == "", "empty: the rock's default, loopback alone"
    state, ingress = state_with_ingress()
    broken = ctx.run(ctx.on.relation_broken(ingress), state)
    assert nginx_trusts(broken) == ""


def test_removing_the_ingress_falls_back_to_the_default_url(ctx: testing.Context) -> None:
    state, ingress = state_with_ingress()
    out = ctx.run(ctx.on.relation_broken(ingress), state)
    assert out.unit_status == ACTIVE
    assert out.get_container("indico").plan.services["indico"].environment["INDICO_BASE_URL"] == "http://indico.local"


def test_an_option_set_back_to_empty_reaches_the_services(ctx: testing.Context) -> None:
    """Pebble merges a layer's environment into the previous one: a key left out would keep its value."""
    first = ctx.run(ctx.on.config_changed(), full_state(config={"indico_support_email": "help@example.org"}))
    assert (
        first.get_container("indico").plan.services["indico"].environment["INDICO_SUPPORT_EMAIL"] == "help@example.org"
    )
    again = ctx.run(ctx.on.config_changed(), dataclasses.replace(first, config={"indico_support_email": ""}))
    assert again.get_container("indico").plan.services["indico"].environment["INDICO_SUPPORT_EMAIL"] == ""


def test_a_relation_secret_the_unit_cannot_read_blocks_and_says_what_to_do(ctx: testing.Context) -> None:
    """The provider wrote its secret's id but the grant is missing: the unit says so instead of
    waiting forever for credentials it will never get, and Indico does not run."""
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(full_state(), secrets=frozenset()))
    assert isinstance(out.unit_status, testing.BlockedStatus), out.unit_status
    assert out.unit_status.message.startswith("database relation: cannot read its secret (SecretNotFoundError)")
    assert "remove and re-add the relation" in out.unit_status.message
    assert out.get_container("indico").plan.services["indico"].startup == "disabled"


def test_nginx_sends_stored_files_from_the_volume_it_shares(ctx: testing.Context) -> None:
    """The indico rock hands stored files to NGINX (X-Accel-Redirect) only where NGINX sees them:
    charmcraft.yaml mounts the archive into the indico-nginx container as into Indico's."""
    out = ctx.run(ctx.on.config_changed(), full_state())
    for container in ("indico", "celery"):
        assert env_of(out, container)["INDICO_NGINX_SENDS_FILES"] == "true"
    containers_spec = yaml.safe_load((REPO / "charm" / "charmcraft.yaml").read_text())["containers"]
    locations = {
        name: {m["location"] for m in spec.get("mounts", []) if m.get("storage") == "archive"}
        for name, spec in containers_spec.items()
    }
    assert locations == {
        **{key: {"/var/lib/indico/archive"} for key in ("indico", "celery", "indico-nginx")},
        "indico-latex": set(),  # LaTeX, run on what people type, never sees the stored files
    }
