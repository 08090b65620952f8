"""The charm under Juju's lifecycle: what runs before relations, what the status says, leadership.

Relation data comes from the real providers (conftest); the rock's migration record is a file in a
mounted directory, as indico-migrate writes it; the pod test runs the same code on real Pebble.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import workload  # charm/src is on sys.path: pytest loads the conftest first
from ops import pebble, testing
from status import MAIL_OFF

from charm import IndicoCharm
from tests import real_providers as providers
from tests.unit.charm.conftest import (
    ACTIVE,
    ARCHIVE,
    PEER,
    REPO,
    ROCK_OF,
    containers,
    database_relation,
    env_of,
    full_state,
    redis_relation,
    rock_layer,
)


def with_container(state: testing.State, name: str, **changes: object) -> testing.State:
    changed = next(c for c in state.containers if c.name == name)
    others = frozenset(c for c in state.containers if c.name != name)
    return dataclasses.replace(state, containers=others | {dataclasses.replace(changed, **changes)})  # type: ignore[arg-type]


def with_indico(state: testing.State, **changes: object) -> testing.State:
    return with_container(state, "indico", **changes)


def migration_record(tmp_path: Path, state: str, message: str = "") -> dict[str, testing.Mount]:
    (tmp_path / "migration.json").write_text(
        json.dumps({"state": state, "message": message, "indico-version": "3.3.14", "time": 0})
    )
    return {"indico-state": testing.Mount(location="/var/lib/indico", source=tmp_path)}


def enabled(out: testing.State, container: str) -> set[str]:
    return {name for name, svc in out.get_container(container).plan.services.items() if svc.startup == "enabled"}


# --- 1. what needs no relation runs from the start ----------------------------------------


@pytest.mark.parametrize("container", sorted(ROCK_OF))
def test_before_any_relation_what_needs_none_runs(ctx: testing.Context, container: str) -> None:
    state = testing.State(leader=True, containers=containers())
    out = ctx.run(ctx.on.pebble_ready(next(c for c in state.containers if c.name == container)), state)
    assert out.unit_status == testing.BlockedStatus("needs a database relation")
    assert enabled(out, "indico-nginx") == {"nginx", "nginx-prometheus-exporter"}
    assert enabled(out, "indico") == {"statsd-exporter"}
    assert enabled(out, "celery") == set()
    # The celery container runs neither the exporter nor uWSGI: the rock's checks of them are off there
    # (indico-ready reads a mark uWSGI leaves in its own container, so it would keep the pod unready).
    for check in ("statsd-exporter-up", "indico-ready"):
        assert out.get_container("celery").plan.checks[check].startup == pebble.CheckStartup.DISABLED, check
    # The services it started are watched by alive checks from now on; before, nothing was.
    levels = {(c, name): check.level for c in ROCK_OF for name, check in out.get_container(c).plan.checks.items()}
    alive = {key for key, level in levels.items() if level == pebble.CheckLevel.ALIVE}
    assert alive == {
        ("indico", "statsd-exporter-up"),
        ("indico-nginx", "nginx-up"),
        ("indico-nginx", "nginx-exporter-up"),
        ("indico-latex", "latex-up"),
    }
    assert enabled(out, "indico-latex") == {"latex"}, "the LaTeX worker needs no relation either"
    # The charm's layer leaves NGINX's plan as the rock has it; under --hold it must still be started.
    nginx = out.get_container("indico-nginx").service_statuses
    assert nginx["nginx"] == nginx["nginx-prometheus-exporter"] == pebble.ServiceStatus.ACTIVE


def test_an_invalid_option_keeps_what_runs_and_the_pod_alive(ctx: testing.Context) -> None:
    running = ctx.run(ctx.on.config_changed(), full_state())
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(running, config={"uwsgi_processes": 0}))
    assert isinstance(out.unit_status, testing.BlockedStatus) and "uwsgi_processes" in out.unit_status.message
    assert enabled(out, "indico") == {"indico", "statsd-exporter"}, "a typo does not take the site down"
    assert out.get_container("indico").service_statuses["indico"] == pebble.ServiceStatus.ACTIVE


# --- 2. a status that reads the workload ----------------------------------------------------


def test_active_only_when_indico_answers(ctx: testing.Context) -> None:
    rock_check = rock_layer("indico").checks["indico-ready"]  # type: ignore[attr-defined]
    threshold = rock_check.threshold  # ops.testing checks that the two agree
    down = testing.CheckInfo(
        "indico-ready", level=pebble.CheckLevel.READY, status=pebble.CheckStatus.DOWN, threshold=threshold
    )
    out = ctx.run(ctx.on.update_status(), with_indico(full_state(), check_infos={down}))
    assert out.unit_status == testing.WaitingStatus("waiting for Indico to answer (check indico-ready)")
    up = dataclasses.replace(down, status=pebble.CheckStatus.UP)
    recovered = with_indico(out, check_infos={up})
    out = ctx.run(ctx.on.pebble_check_recovered(recovered.get_container("indico"), up), recovered)
    assert out.unit_status == ACTIVE


LATEX_DOWN = "PDFs from LaTeX are unavailable (indico-latex"


def test_without_its_latex_container_the_site_stays_active_and_says_pdfs_are_unavailable(
    ctx: testing.Context,
) -> None:
    """Juju starts the pod's containers each on its own: the site does not wait for LaTeX's."""
    out = ctx.run(ctx.on.config_changed(), with_container(full_state(), "indico-latex", can_connect=False))
    assert out.unit_status == testing.ActiveStatus(f"{LATEX_DOWN}: waiting for Pebble); {MAIL_OFF}")
    assert enabled(out, "indico") == {"indico", "statsd-exporter"}
    rock_check = rock_layer("indico-latex").checks["latex-up"]  # type: ignore[attr-defined]
    down = testing.CheckInfo(
        "latex-up", level=pebble.CheckLevel.ALIVE, status=pebble.CheckStatus.DOWN, threshold=rock_check.threshold
    )
    running = with_container(ctx.run(ctx.on.config_changed(), full_state()), "indico-latex", check_infos={down})
    out = ctx.run(ctx.on.pebble_check_failed(running.get_container("indico-latex"), down), running)
    assert out.unit_status == testing.ActiveStatus(f"{LATEX_DOWN}: check latex-up is down); {MAIL_OFF}")


def test_a_latex_worker_that_keeps_failing_is_named_and_the_site_stays_active(ctx: testing.Context) -> None:
    running = ctx.run(ctx.on.config_changed(), full_state())
    failing = with_container(running, "indico-latex", service_statuses={"latex": pebble.ServiceStatus.ERROR})
    out = ctx.run(ctx.on.update_status(), failing)
    assert out.unit_status == testing.ActiveStatus(
        f"{LATEX_DOWN}: the latex service is error; see `juju debug-log`); {MAIL_OFF}"
    )
    assert ctx.run(ctx.on.update_status(), running).unit_status == ACTIVE, "and back when it runs again"


def test_the_latex_container_gets_where_to_listen_and_nothing_of_indicos(ctx: testing.Context) -> None:
    """LaTeX runs on what people type: no secret, no relation data reaches its container."""
    out = ctx.run(ctx.on.config_changed(), full_state())
    latex = env_of(out, "indico-latex")
    assert latex == {"LATEX_SOCKET": "127.0.0.1:8089"}
    assert (
        env_of(out, "indico")["INDICO_LATEX_SOCKET"] == env_of(out, "celery")["INDICO_LATEX_SOCKET"] == "127.0.0.1:8089"
    )
    assert not out.get_container("indico-latex").mounts, "and no volume: the archive is not LaTeX's"


def test_a_failed_migration_blocks_with_its_reason(ctx: testing.Context, tmp_path: Path) -> None:
    reason = "the database user may not create the 'pg_trgm' extension: enable it on the database"
    state = with_indico(full_state(), mounts=migration_record(tmp_path, "failed", reason))
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status == testing.BlockedStatus(f"database migration failed: {reason}")


def test_migrating_is_maintenance_and_the_version_is_indicos(ctx: testing.Context, tmp_path: Path) -> None:
    out = ctx.run(ctx.on.update_status(), with_indico(full_state(), mounts=migration_record(tmp_path, "migrating")))
    assert out.unit_status == testing.MaintenanceStatus("migrating the database")
    assert out.workload_version == "3.3.14"


def test_a_service_that_keeps_failing_is_named(ctx: testing.Context) -> None:
    first = ctx.run(ctx.on.config_changed(), full_state())
    celery = first.get_container("celery")
    failing = dataclasses.replace(
        celery, service_statuses={**celery.service_statuses, "celery-worker": pebble.ServiceStatus.ERROR}
    )
    state = dataclasses.replace(
        first, containers=frozenset({failing, *(c for c in first.containers if c.name != "celery")})
    )
    out = ctx.run(ctx.on.update_status(), state)
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "celery-worker (celery)" in out.unit_status.message


# --- 3. leadership ---------------------------------------------------------------------------


def beat_running(out: testing.State) -> bool:
    return out.get_container("celery").service_statuses.get("celery-beat") == pebble.ServiceStatus.ACTIVE


def test_exactly_one_beat_while_leadership_moves(ctx: testing.Context) -> None:
    """Two units: 0 leads, then 1. The old leader stops beat at its next update-status."""
    unit0 = ctx.run(ctx.on.leader_elected(), full_state(leader=True))
    peer = unit0.get_relations("indico-peers")[0]
    shared = frozenset(dataclasses.replace(s, owner=None) for s in unit0.secrets if s.label == "indico-secret-key")
    database, db_secrets = database_relation()
    unit1 = ctx.run(
        ctx.on.config_changed(),
        testing.State(
            leader=False,
            storages={ARCHIVE},
            containers=containers(),
            relations={database, redis_relation(), dataclasses.replace(PEER, local_app_data=dict(peer.local_app_data))},
            secrets=db_secrets | shared,
        ),
    )
    assert [beat_running(unit0), beat_running(unit1)] == [True, False]

    unit1 = ctx.run(ctx.on.leader_elected(), dataclasses.replace(unit1, leader=True))
    unit0 = ctx.run(ctx.on.update_status(), dataclasses.replace(unit0, leader=False))
    assert [beat_running(unit0), beat_running(unit1)] == [False, True]
    assert unit0.get_container("celery").service_statuses["celery-worker"] == pebble.ServiceStatus.ACTIVE


# --- 7. removing a required relation stops what used it ------------------------------------


@pytest.mark.parametrize("endpoint", ["database", "redis"])
def test_removing_a_required_relation_stops_indico_and_celery(ctx: testing.Context, endpoint: str) -> None:
    running = ctx.run(ctx.on.config_changed(), full_state())
    relation = next(r for r in running.relations if r.endpoint == endpoint)
    out = ctx.run(ctx.on.relation_broken(relation), running)
    assert out.unit_status == testing.BlockedStatus(f"needs a {endpoint} relation")
    stopped = {
        name: out.get_container(container).service_statuses[name]
        for container, name in (("indico", "indico"), ("celery", "celery-worker"), ("celery", "celery-beat"))
    }
    assert set(stopped.values()) == {pebble.ServiceStatus.INACTIVE}, stopped
    assert out.get_container("indico-nginx").service_statuses["nginx"] == pebble.ServiceStatus.ACTIVE


def test_rock_layers_define_the_checks_the_charm_reads() -> None:
    """The names the status relies on are the rock's own."""
    assert "indico-ready" in rock_layer("indico").checks  # type: ignore[attr-defined]
    assert "statsd-exporter-up" in rock_layer("celery").checks  # type: ignore[attr-defined]


def test_the_worker_heartbeat_is_alive_only_where_the_worker_runs(ctx: testing.Context) -> None:
    out = ctx.run(ctx.on.config_changed(), full_state())
    celery = out.get_container("celery").plan.checks[workload.WORKER_CHECK]
    assert (celery.level, celery.startup) == (pebble.CheckLevel.ALIVE, pebble.CheckStartup.ENABLED)
    assert out.get_container("indico").plan.checks[workload.WORKER_CHECK].startup == pebble.CheckStartup.DISABLED
    # Without settings the worker does not run, and its check would only fail.
    idle = ctx.run(ctx.on.config_changed(), full_state(relations={PEER}))
    assert idle.get_container("celery").plan.checks[workload.WORKER_CHECK].startup == pebble.CheckStartup.DISABLED
    restart = rock_layer("celery").services["celery-worker"].on_check_failure  # type: ignore[attr-defined]
    assert restart == {workload.WORKER_CHECK: "restart"}, "Pebble restarts a worker whose heartbeat stops"


@pytest.mark.parametrize("container", sorted(ROCK_OF))
def test_the_rocks_checks_cannot_restart_a_held_pod(container: str) -> None:
    """Under --hold nothing runs before the charm: a rock's alive check would fail there, and
    Kubernetes restarts a pod whose alive health fails. The charm's layer only changes the level
    of checks the rock has."""
    rock_checks = rock_layer(container).checks  # type: ignore[attr-defined]
    levels = {name: check.level for name, check in rock_checks.items()}
    assert levels == dict.fromkeys(rock_checks, pebble.CheckLevel.READY)
    charm_checks = workload.base_layers()[container].get("checks", {})
    assert set(charm_checks) <= set(rock_checks), "the charm names a check the rock does not have"


def test_an_invalid_option_on_a_new_unit_starts_only_what_needs_no_config(ctx: testing.Context) -> None:
    out = ctx.run(ctx.on.config_changed(), full_state(config={"site_url": "ftp://x"}))
    assert isinstance(out.unit_status, testing.BlockedStatus) and "site_url" in out.unit_status.message
    assert enabled(out, "indico") == {"statsd-exporter"}
    assert enabled(out, "indico-nginx") == {"nginx", "nginx-prometheus-exporter"}
    assert enabled(out, "celery") == set()


def test_an_unusable_ingress_url_blocks_without_stopping_a_running_site(ctx: testing.Context) -> None:
    running = ctx.run(ctx.on.config_changed(), full_state())
    request = {"model": '"test"', "name": '"indico"', "port": "8080"}
    answer, _ = providers.traefik_answer(request, {0: {"host": '"indico-0"'}}, routing_mode="path")
    ingress = testing.Relation("ingress", "ingress", remote_app_name="traefik", remote_app_data=answer)
    out = ctx.run(
        ctx.on.relation_changed(ingress, remote_unit=0),
        dataclasses.replace(running, relations=running.relations | {ingress}),
    )
    assert isinstance(out.unit_status, testing.BlockedStatus) and "routing_mode=subdomain" in out.unit_status.message
    assert out.get_container("indico").service_statuses["indico"] == pebble.ServiceStatus.ACTIVE
    assert enabled(out, "indico") == {"indico", "statsd-exporter"}


def test_indico_config_reaches_indico_and_celery_and_a_bad_one_blocks_naming_it(ctx: testing.Context) -> None:
    out = ctx.run(
        ctx.on.config_changed(), full_state(config={"indico_config": "SENTRY_DSN: https://k@sentry.example/1"})
    )
    for container, service in (("indico", "indico"), ("celery", "celery-worker")):
        env = out.get_container(container).plan.services[service].environment
        assert env["INDICO_CONF_OVERRIDE"] == "{'SENTRY_DSN': 'https://k@sentry.example/1'}"
    bad = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config={"indico_config": "BASE_URL: http://x"}))
    assert bad.unit_status == testing.BlockedStatus(
        "invalid config option 'indico_config': BASE_URL comes from site_url or the ingress relation; "
        "remove it from indico_config"
    )
    kept = bad.get_container("indico").plan.services["indico"].environment
    assert "SENTRY_DSN" in kept["INDICO_CONF_OVERRIDE"], "a bad value changes nothing that runs"


END_SESSIONS = testing.Exec(["/usr/local/bin/indico-admin", "end-sessions"], stdout='{"sessions-ended": 3}\n')


def with_end_sessions(state: testing.State) -> testing.State:
    boxes = frozenset(
        dataclasses.replace(c, execs=frozenset({END_SESSIONS})) if c.name == "indico" else c for c in state.containers
    )
    return dataclasses.replace(state, containers=boxes)


def key_of(out: testing.State, container: str, service: str) -> str:
    return str(out.get_container(container).plan.services[service].environment["INDICO_SECRET_KEY"])


def test_rotate_secret_key_replaces_the_key_everywhere_and_ends_sessions(ctx: testing.Context) -> None:
    running = ctx.run(ctx.on.config_changed(), full_state())
    old = key_of(running, "indico", "indico")
    out = ctx.run(ctx.on.action("rotate-secret-key"), with_end_sessions(running))
    assert ctx.action_results == {"rotated": "true", "sessions-ended": "3"}
    new = key_of(out, "indico", "indico")
    assert new != old and len(new) >= 64
    assert key_of(out, "celery", "celery-worker") == new
    secret = next(s for s in out.secrets if s.label == "indico-secret-key")
    assert secret.latest_content == {"secret-key": new}, "the shared secret carries the new key"
    assert [c.command for c in ctx.exec_history["indico"]] == [list(END_SESSIONS.command_prefix)]

    # Another unit (the secret's owner too, so no secret-changed) hears the new generation on the
    # peer relation and restarts with the new key.
    generation: dict[str, str] = dict(out.get_relation(PEER.id).local_app_data)
    assert generation["secret-key-generation"] == "1"
    unit_1 = testing.Context(IndicoCharm, charm_root=REPO / "charm", unit_id=1)
    peer = dataclasses.replace(PEER, local_app_data=generation, peers_data={0: {}})
    others = frozenset(r for r in running.relations if r.endpoint != PEER.endpoint)
    follower = dataclasses.replace(running, leader=False, secrets=out.secrets, relations=others | {peer})
    after = unit_1.run(unit_1.on.relation_changed(peer, remote_unit=0), follower)
    assert key_of(after, "indico", "indico") == key_of(after, "celery", "celery-worker") == new


def test_rotate_secret_key_only_on_the_leader(ctx: testing.Context) -> None:
    running = ctx.run(ctx.on.config_changed(), full_state())
    with pytest.raises(testing.ActionFailed, match="juju run indico/leader rotate-secret-key"):
        ctx.run(ctx.on.action("rotate-secret-key"), dataclasses.replace(running, leader=False))


def test_one_request_timeout_drives_uwsgi_and_nginx(ctx: testing.Context) -> None:
    out = ctx.run(ctx.on.config_changed(), full_state(config={"request_timeout": 1800}))
    web = out.get_container("indico").plan.services["indico"].environment
    nginx = out.get_container("indico-nginx").plan.services["nginx"].environment
    assert web["INDICO_REQUEST_TIMEOUT"] == nginx["INDICO_REQUEST_TIMEOUT"] == "1800"
