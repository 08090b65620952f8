from __future__ import annotations

import dataclasses

import pytest
from ops import testing

from tests.unit.charm.conftest import containers

TOOL = "/usr/local/bin/indico-admin"


def with_execs(*execs: testing.Exec) -> testing.State:
    boxes = {dataclasses.replace(c, execs=frozenset(execs)) if c.name == "indico" else c for c in containers()}
    return testing.State(leader=True, containers=boxes)


def test_add_admin_returns_the_tools_result(ctx: testing.Context) -> None:
    state = with_execs(testing.Exec([TOOL, "create-admin"], stdout='{"user-id": 7, "created": true, "admin": true}\n'))
    ctx.run(ctx.on.action("add-admin", params={"email": "a@example.org", "password": "long-enough"}), state)
    assert ctx.action_results == {"user-id": 7, "created": True, "admin": True}
    (call,) = ctx.exec_history["indico"]
    assert call.command == [TOOL, "create-admin", "a@example.org"]
    assert call.stdin == "long-enough\n", "the password goes on stdin, never on the command line"


def test_add_admin_failure_names_the_tools_error(ctx: testing.Context) -> None:
    state = with_execs(
        testing.Exec([TOOL, "create-admin"], return_code=1, stderr="indico-admin: the password must have 8\n")
    )
    with pytest.raises(testing.ActionFailed) as caught:
        ctx.run(ctx.on.action("add-admin", params={"email": "a@example.org", "password": "short"}), state)
    assert caught.value.message == "indico-admin: the password must have 8"


def test_add_admin_waits_for_the_container(ctx: testing.Context) -> None:
    with pytest.raises(testing.ActionFailed, match="not ready"):
        ctx.run(
            ctx.on.action("add-admin", params={"email": "a@example.org", "password": "long-enough"}),
            testing.State(leader=True, containers=containers(can_connect=False)),
        )


def test_anonymize_reports_each_address_and_fails_if_any_failed(ctx: testing.Context) -> None:
    state = with_execs(
        testing.Exec([TOOL, "anonymize-user", "a@example.org"], stdout='{"user-id": 1, "anonymized": true}\n'),
        testing.Exec(
            [TOOL, "anonymize-user", "b@example.org"],
            return_code=1,
            stderr="indico-admin: no user with the e-mail address b@example.org\n",
        ),
    )
    with pytest.raises(testing.ActionFailed, match="1 of 2"):
        ctx.run(ctx.on.action("anonymize-user", params={"email": "a@example.org, b@example.org"}), state)
    assert ctx.action_results == {
        "anonymized": "a@example.org",
        "failed": "b@example.org: indico-admin: no user with the e-mail address b@example.org",
    }


def test_anonymize_refuses_more_than_fifty(ctx: testing.Context) -> None:
    many = ",".join(f"u{i}@example.org" for i in range(51))
    with pytest.raises(testing.ActionFailed, match="at most 50"):
        ctx.run(ctx.on.action("anonymize-user", params={"email": many}), with_execs())
