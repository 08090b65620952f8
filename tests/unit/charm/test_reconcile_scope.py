"""Which dispatches converge, and that those which should not change the pod do not: every
declared relation's events reconcile; actions, update-status and the status collector on a
converged unit neither replan, restart, stop, push nor exec anything beyond their own work."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ops
import pytest
import yaml
from ops import pebble, testing
from workload import LAYER_LABEL, WORKER_CHECK

from tests.unit.charm.conftest import ACTIVE, REPO, containers, full_state

Calls = list[tuple[str, str, tuple[Any, ...]]]
WATCHED = ("replan", "restart", "stop", "start", "push", "exec", "stop_checks", "start_checks")
ADMIN = ["/usr/local/bin/indico-admin"]


@pytest.fixture
def pebble_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    """Every call of the ops.Container methods that change a workload, with its container; the
    calls still reach ops.testing's Pebble."""
    calls: Calls = []
    for name in WATCHED:
        original = getattr(ops.Container, name)

        def spy(self: ops.Container, *args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            calls.append((self.name, _name, args))
            return _original(self, *args, **kw)

        monkeypatch.setattr(ops.Container, name, spy)
    yield calls


def declared_endpoints() -> list[tuple[str, str]]:
    meta = yaml.safe_load((REPO / "charm" / "charmcraft.yaml").read_text())
    return [(name, kind) for kind in ("requires", "provides", "peers") for name in meta.get(kind, {})]


@pytest.mark.parametrize(("endpoint", "kind"), declared_endpoints())
@pytest.mark.parametrize("hook", ["created", "joined", "changed", "departed", "broken"])
def test_every_declared_relations_events_converge(ctx: testing.Context, endpoint: str, kind: str, hook: str) -> None:
    """Derived from charmcraft.yaml: a relation added there reconciles without another line."""
    relation: testing.RelationBase = (
        testing.PeerRelation(endpoint) if kind == "peers" else testing.Relation(endpoint, remote_app_name="other")
    )
    state = testing.State(leader=True, containers=containers(), relations={relation})
    event = {
        "created": lambda: ctx.on.relation_created(relation),
        "joined": lambda: ctx.on.relation_joined(relation, remote_unit=0),
        "changed": lambda: ctx.on.relation_changed(relation, remote_unit=0),
        "departed": lambda: ctx.on.relation_departed(relation, remote_unit=0, departing_unit=0),
        "broken": lambda: ctx.on.relation_broken(relation),
    }[hook]()
    out = ctx.run(event, state)
    assert LAYER_LABEL in out.get_container("indico-nginx").layers, f"{endpoint} relation-{hook} did not reconcile"
    assert out.unit_status.name != "unknown"


def converged(ctx: testing.Context, **fields: Any) -> testing.State:
    out = ctx.run(ctx.on.config_changed(), full_state(**fields))
    assert out.unit_status == ACTIVE
    return out


def test_an_action_runs_its_tool_and_touches_nothing_else(ctx: testing.Context, pebble_calls: Calls) -> None:
    before = converged(ctx)
    admin = testing.Exec(ADMIN, stdout=json.dumps({"user-id": 7}))
    state = dataclasses.replace(
        before,
        containers=frozenset(
            dataclasses.replace(c, execs=frozenset({admin})) if c.name == "indico" else c for c in before.containers
        ),
    )
    pebble_calls.clear()
    out = ctx.run(ctx.on.action("add-admin", params={"email": "a@example.org", "password": "s3cret-pass"}), state)
    assert ctx.action_results == {"user-id": 7}
    assert [(container, call) for container, call, _ in pebble_calls] == [("indico", "exec")]
    assert pebble_calls[0][2][0][:2] == [*ADMIN, "create-admin"]
    for container in ("indico", "celery", "indico-nginx"):
        assert out.get_container(container).plan == before.get_container(container).plan
    assert out.unit_status == before.unit_status, "the status collector added nothing of its own"


def test_a_non_converging_event_leaves_the_status_as_the_last_reconcile_set_it(
    ctx: testing.Context, pebble_calls: Calls
) -> None:
    before = dataclasses.replace(converged(ctx), unit_status=testing.WaitingStatus("set by the last reconcile"))
    pebble_calls.clear()
    out = ctx.run(ctx.on.stop(), before)
    assert pebble_calls == [] and out.unit_status == testing.WaitingStatus("set by the last reconcile")


def test_update_status_on_a_converged_unit_changes_nothing(ctx: testing.Context, pebble_calls: Calls) -> None:
    before = converged(ctx)
    pebble_calls.clear()
    out = ctx.run(ctx.on.update_status(), before)
    assert pebble_calls == [], "nothing changed: no replan, restart, stop, push or exec"
    assert out.unit_status == ACTIVE


def test_update_status_restarts_what_a_crash_left_stopped(ctx: testing.Context, pebble_calls: Calls) -> None:
    """The other side of the one above: when something did change, the same event converges."""
    before = converged(ctx)
    nginx = before.get_container("indico-nginx")
    stopped = dataclasses.replace(
        nginx, service_statuses={**nginx.service_statuses, "nginx": pebble.ServiceStatus.INACTIVE}
    )
    state = dataclasses.replace(
        before, containers=frozenset({*(c for c in before.containers if c.name != "indico-nginx"), stopped})
    )
    pebble_calls.clear()
    ctx.run(ctx.on.update_status(), state)
    assert ("indico-nginx", "replan", ()) in pebble_calls


REPORT = {"plugins-changed": True, "customization-changed": False, "plugins": ["piwik"]}


def with_plugin_record(tmp_path: Path, changed: bool) -> testing.State:
    """The indico and celery containers running Indico, their indico-external reporting a change
    (or none) of the plugin the config asks for."""
    spec = "indico-plugin-piwik==3.3.1"
    report = json.dumps({**REPORT, "plugins-changed": changed})
    sync = testing.Exec(["/usr/local/bin/indico-external", "sync"], stdout=report)
    running = pebble.ServiceStatus.ACTIVE
    built = []
    for container in containers():
        if container.name == "indico-nginx":
            built.append(container)
            continue
        directory = tmp_path / container.name
        directory.mkdir()
        services = (
            {"indico": running} if container.name == "indico" else {"celery-worker": running, "celery-beat": running}
        )
        built.append(
            dataclasses.replace(
                container,
                execs=frozenset({sync}),
                service_statuses=services,
                mounts={"external": testing.Mount(location="/var/lib/indico/external", source=directory)},
            )
        )
    return full_state(containers=frozenset(built), config={"external_plugins": spec})


@pytest.mark.parametrize("changed", [True, False])
def test_a_plugin_change_restarts_the_indico_code_that_runs(
    ctx: testing.Context, pebble_calls: Calls, tmp_path: Path, changed: bool
) -> None:
    ctx.run(ctx.on.config_changed(), with_plugin_record(tmp_path, changed))
    restarts = {(container, args) for container, call, args in pebble_calls if call == "restart"}
    if changed:
        assert restarts == {("indico", ("indico",)), ("celery", ("celery-beat", "celery-worker"))}
    else:
        assert restarts == set(), "nothing changed, nothing restarts"


def test_a_check_the_layer_disables_is_stopped(ctx: testing.Context) -> None:
    """Pebble does not stop a running check whose startup a layer changes to disabled: the charm
    does. The worker's heartbeat check runs in the indico container (the rock starts it) until
    the charm's layer turns it off there."""
    running = testing.CheckInfo(WORKER_CHECK, level=pebble.CheckLevel.READY, status=pebble.CheckStatus.UP)
    state = full_state(
        containers=frozenset(
            dataclasses.replace(c, check_infos=frozenset({running})) if c.name == "indico" else c for c in containers()
        )
    )
    out = ctx.run(ctx.on.config_changed(), state)
    check = next(info for info in out.get_container("indico").check_infos if info.name == WORKER_CHECK)
    assert check.status == pebble.CheckStatus.INACTIVE
