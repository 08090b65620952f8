"""external_plugins, customization_sources_url and refresh-external-resources under ops.testing.

The rock's indico-external is simulated here by its record (state.json in a mounted directory) and
by Exec results; the pod test (tests/image/test_juju_pod.py) runs the real one."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from external import url_fingerprint
from ops import testing

from tests.unit.charm.conftest import ACTIVE, ROCK_OF, full_state, rock_layer

SYNC = ["/usr/local/bin/indico-external", "sync"]
WHEEL = "https://wheels.example.org/indico_plugin_probe-1.0-py3-none-any.whl"
CONFIG = {
    "external_plugins": f"indico-plugin-piwik==3.3.1, {WHEEL}",
    "customization_sources_url": "https://git.example/c.git",
}
SPECS = ["indico-plugin-piwik==3.3.1", WHEEL]
REPORT = json.dumps(
    {
        "plugins-changed": True,
        "customization-changed": True,
        "plugins": ["piwik", "probe"],
        "customization-commit": "abc",
        "customization-ref": "v1.2",
    }
)


def record(
    directory: Path, specs: list[str], url: str, plugin_error: str | None = None, custom_error: str | None = None
) -> None:
    state = {
        "plugins": {"requested": specs, "enabled": ["piwik"], "error": plugin_error},
        "customization": {"url": url, "url-sha256": url_fingerprint(url), "commit": "abc", "error": custom_error},
    }
    directory.mkdir(exist_ok=True)
    (directory / "state.json").write_text(json.dumps(state))


def state_with(
    tmp_path: Path, execs: frozenset[testing.Exec] = frozenset(), config: dict[str, str] | None = None
) -> testing.State:
    """Every relation in place; the indico and celery containers each have their own external dir."""
    containers = set()
    for name in ROCK_OF:
        mounts = {}
        indico_code = name in ("indico", "celery")
        if indico_code:
            (tmp_path / name).mkdir(exist_ok=True)
            mounts["external"] = testing.Mount(location="/var/lib/indico/external", source=tmp_path / name)
        containers.add(
            testing.Container(
                name,
                can_connect=True,
                layers={"rock": rock_layer(name)},  # type: ignore[dict-item]
                mounts=mounts,
                execs=execs if indico_code else frozenset(),
            )
        )
    return full_state(containers=containers, config=CONFIG if config is None else config)


def test_new_inputs_run_the_rocks_tool_in_both_indico_containers(ctx: testing.Context, tmp_path: Path) -> None:
    out = ctx.run(ctx.on.config_changed(), state_with(tmp_path, frozenset({testing.Exec(SYNC, stdout=REPORT)})))
    assert out.unit_status == ACTIVE
    expected = [*SYNC, "--customization-url", "-", "--", *SPECS]
    for container in ("indico", "celery"):
        (call,) = ctx.exec_history[container]
        assert call.command == expected
        assert call.stdin == "https://git.example/c.git\n"
        # The service's user, not its context: pip and git never get the site's settings or secrets.
        assert (call.user, call.group) == ("_daemon_", "_daemon_")
        assert call.environment == {}, "no proxy configured: nothing at all"
    assert "indico-nginx" not in ctx.exec_history


def test_a_ref_is_what_the_tool_checks_out_and_a_new_ref_runs_it_again(ctx: testing.Context, tmp_path: Path) -> None:
    for name in ("indico", "celery"):
        record(tmp_path / name, SPECS, "https://git.example/c.git")
    config = {**CONFIG, "customization_sources_ref": "v1.2"}
    out = ctx.run(ctx.on.config_changed(), state_with(tmp_path, frozenset({testing.Exec(SYNC, stdout=REPORT)}), config))
    assert out.unit_status == ACTIVE
    (call,) = ctx.exec_history["indico"]
    assert call.command == [*SYNC, "--customization-url", "-", "--customization-ref", "v1.2", "--", *SPECS]


def test_recorded_inputs_mean_no_pip_or_git(ctx: testing.Context, tmp_path: Path) -> None:
    state = state_with(tmp_path)  # no Exec: running anything would fail the test
    for name in ("indico", "celery"):
        record(tmp_path / name, SPECS, "https://git.example/c.git")
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status == ACTIVE
    assert ctx.exec_history == {}


def test_default_config_runs_nothing(ctx: testing.Context, tmp_path: Path) -> None:
    out = ctx.run(ctx.on.config_changed(), state_with(tmp_path, config={}))
    assert out.unit_status == ACTIVE
    assert ctx.exec_history == {}


def test_a_recorded_failure_blocks_naming_the_option_and_is_not_retried(ctx: testing.Context, tmp_path: Path) -> None:
    for name in ("indico", "celery"):
        record(tmp_path / name, SPECS, "https://git.example/c.git", custom_error="git clone failed: not found")
    out = ctx.run(ctx.on.config_changed(), state_with(tmp_path))
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert out.unit_status.message.startswith("customization_sources_url: git clone failed: not found")
    assert "refresh-external-resources" in out.unit_status.message
    assert ctx.exec_history == {}
    # The workloads keep running with what was installed before.
    assert out.get_container("indico").plan.services["indico"].startup == "enabled"


def test_a_tool_that_fails_without_a_record_blocks_with_its_message(ctx: testing.Context, tmp_path: Path) -> None:
    failing = testing.Exec(SYNC, return_code=1, stderr="Traceback...\nindico-external: disk full\n")
    out = ctx.run(ctx.on.config_changed(), state_with(tmp_path, frozenset({failing})))
    assert out.unit_status == testing.BlockedStatus(
        "external_plugins: indico-external: disk full (fix it, or retry with refresh-external-resources)"
    )


def test_changed_inputs_run_again(ctx: testing.Context, tmp_path: Path) -> None:
    for name in ("indico", "celery"):
        record(tmp_path / name, ["indico-plugin-old"], "https://git.example/c.git")
    out = ctx.run(ctx.on.config_changed(), state_with(tmp_path, frozenset({testing.Exec(SYNC, stdout=REPORT)})))
    assert out.unit_status == ACTIVE
    assert len(ctx.exec_history["indico"]) == 1 and len(ctx.exec_history["celery"]) == 1


def test_the_models_proxy_reaches_pip_and_git(
    ctx: testing.Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUJU_CHARM_HTTPS_PROXY", "http://proxy.internal:3128")
    ctx.run(ctx.on.config_changed(), state_with(tmp_path, frozenset({testing.Exec(SYNC, stdout=REPORT)})))
    environment = ctx.exec_history["indico"][0].environment
    assert environment["HTTPS_PROXY"] == environment["https_proxy"] == "http://proxy.internal:3128"


def test_refresh_action_forces_the_work_and_reports_it(ctx: testing.Context, tmp_path: Path) -> None:
    for name in ("indico", "celery"):
        record(tmp_path / name, SPECS, "https://git.example/c.git")
    state = state_with(tmp_path, frozenset({testing.Exec(SYNC, stdout=REPORT)}))
    ctx.run(ctx.on.action("refresh-external-resources"), state)
    assert ctx.action_results is not None
    assert ctx.action_results["indico"]["plugins"] == "piwik,probe"
    assert ctx.action_results["celery"]["customization-changed"] == "true"
    assert ctx.action_results["indico"]["customization-ref"] == "v1.2"
    assert "--refresh" in ctx.exec_history["indico"][0].command


def test_refresh_action_fails_when_the_tool_fails(ctx: testing.Context, tmp_path: Path) -> None:
    failing = testing.Exec(SYNC, return_code=1, stderr="indico-external: pip install x failed: no such version\n")
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action("refresh-external-resources"), state_with(tmp_path, frozenset({failing})))
    assert "pip install x failed" in failed.value.message


def test_refresh_action_fails_while_no_container_is_up(ctx: testing.Context, tmp_path: Path) -> None:
    state = state_with(tmp_path)
    offline = dataclasses.replace(
        state, containers=frozenset(dataclasses.replace(c, can_connect=False) for c in state.containers)
    )
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action("refresh-external-resources"), offline)
    assert "no Indico container was refreshed" in failed.value.message


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("external_plugins", "good-plugin --index-url=https://evil.example"),
        ("customization_sources_url", "not a url"),
        # Customization is code the site runs: nothing that a network can change on the way.
        ("customization_sources_url", "http://git.example/c.git"),
        ("customization_sources_url", "git://git.example/c.git"),
        ("customization_sources_url", "file:///srv/c.git"),
        ("customization_sources_url", "ssh://git@git.example/c.git"),
        # Plugins too: only the index, or https.
        ("external_plugins", "/srv/wheels/plugin-1.0-py3-none-any.whl"),
        ("external_plugins", "http://wheels.example.org/plugin-1.0-py3-none-any.whl"),
        ("external_plugins", "plugin@http://wheels.example.org/plugin-1.0.tar.gz"),
        ("external_plugins", "git+https://git.example.org/plugin.git"),
        ("external_plugins", "file:///srv/plugin-1.0-py3-none-any.whl"),
        ("external_plugins", f"plugin==1.0#sha256={'a' * 64} other-plugin"),
        ("customization_sources_ref", "--upload-pack=touch /tmp/owned"),
        ("customization_sources_ref", "main..evil"),
        ("customization_sources_ref", "v1 v2"),
    ],
)
def test_bad_values_block_before_anything_runs(ctx: testing.Context, tmp_path: Path, option: str, value: str) -> None:
    out = ctx.run(ctx.on.config_changed(), state_with(tmp_path, config={option: value}))
    assert isinstance(out.unit_status, testing.BlockedStatus) and f"'{option}'" in out.unit_status.message
    assert ctx.exec_history == {}


# --- credentials for a private customization repository ------------------------------------

TOKEN = "s3cr3t-t0ken"
PRIVATE = "https://git.example/private.git"


def with_secret(tmp_path: Path, execs: frozenset[testing.Exec], content: dict[str, str]) -> testing.State:
    secret = testing.Secret(content, owner=None)
    state = state_with(tmp_path, execs, config={"customization_sources_url": PRIVATE})
    return dataclasses.replace(
        state,
        config={"customization_sources_url": PRIVATE, "customization_sources_secret": secret.id},
        secrets=state.secrets | {secret},
    )


def everything_shown(ctx: testing.Context, out: testing.State) -> str:
    """Status, action results and the charm's log lines: where an operator could see a value."""
    shown = [out.unit_status.message, json.dumps(ctx.action_results or {})]
    shown += [line.message for line in ctx.juju_log]
    return "\n".join(shown)


def test_the_secrets_credentials_reach_the_rock_only_on_stdin(ctx: testing.Context, tmp_path: Path) -> None:
    """Not the command line (every process list) nor the environment (Pebble keeps an exec's)."""
    state = with_secret(tmp_path, frozenset({testing.Exec(SYNC, stdout=REPORT)}), {"username": "bot", "token": TOKEN})
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status == ACTIVE
    call = ctx.exec_history["indico"][0]
    assert call.stdin == f"https://bot:{TOKEN}@git.example/private.git\n"
    assert TOKEN not in " ".join(call.command) + json.dumps(call.environment)
    assert TOKEN not in everything_shown(ctx, out)


def test_a_failing_clone_never_shows_the_token(ctx: testing.Context, tmp_path: Path) -> None:
    stderr = (
        f"indico-external: git clone failed: fatal: could not read from https://bot:{TOKEN}@git.example/private.git\n"
    )
    failing = testing.Exec(SYNC, return_code=1, stderr=stderr)
    state = with_secret(tmp_path, frozenset({failing}), {"username": "bot", "token": TOKEN})
    out = ctx.run(ctx.on.config_changed(), state)
    assert isinstance(out.unit_status, testing.BlockedStatus) and "git clone failed" in out.unit_status.message
    assert TOKEN not in everything_shown(ctx, out) and "***" in out.unit_status.message
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action("refresh-external-resources"), state)
    assert TOKEN not in failed.value.message and TOKEN not in json.dumps(ctx.action_results or {})


def test_a_token_written_into_the_url_is_redacted_too(ctx: testing.Context, tmp_path: Path) -> None:
    url = f"https://oauth2:{TOKEN}@git.example/private.git"
    for name in ("indico", "celery"):
        record(tmp_path / name, SPECS, url, custom_error=f"git clone failed: {TOKEN} rejected")
    out = ctx.run(ctx.on.config_changed(), state_with(tmp_path, config={**CONFIG, "customization_sources_url": url}))
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert TOKEN not in everything_shown(ctx, out)


@pytest.mark.parametrize(
    ("content", "granted", "reason"),
    [({"token": TOKEN}, False, "grant-secret"), ({"username": "bot"}, True, "no 'token'")],
)
def test_an_unusable_secret_blocks_naming_the_option(
    ctx: testing.Context, tmp_path: Path, content: dict[str, str], granted: bool, reason: str
) -> None:
    state = with_secret(tmp_path, frozenset(), content)
    if not granted:
        state = dataclasses.replace(state, secrets=frozenset(s for s in state.secrets if s.tracked_content != content))
    out = ctx.run(ctx.on.config_changed(), state)
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "customization_sources_secret" in out.unit_status.message and reason in out.unit_status.message


def test_enabled_plugins_reach_indico_and_celery(ctx: testing.Context, tmp_path: Path) -> None:
    for name in ("indico", "celery"):
        record(tmp_path / name, SPECS, "https://git.example/c.git")
    out = ctx.run(ctx.on.config_changed(), state_with(tmp_path, config={**CONFIG, "enabled_plugins": "piwik"}))
    assert out.unit_status == ACTIVE
    for container, service in (("indico", "indico"), ("celery", "celery-worker")):
        env = out.get_container(container).plan.services[service].environment
        assert env["INDICO_EXTERNAL_PLUGINS_ENABLED"] == "piwik"


def test_a_plugin_no_package_provides_blocks_listing_the_installed_ones(ctx: testing.Context, tmp_path: Path) -> None:
    for name in ("indico", "celery"):
        record(tmp_path / name, SPECS, "https://git.example/c.git")
    running = ctx.run(ctx.on.config_changed(), state_with(tmp_path))
    typo = dataclasses.replace(running, config={**CONFIG, "enabled_plugins": "piwik, paypal"})
    out = ctx.run(ctx.on.config_changed(), typo)
    assert out.unit_status == testing.BlockedStatus(
        "invalid config option 'enabled_plugins': paypal not installed (installed: piwik; "
        "external_plugins installs them)"
    )
    env = out.get_container("indico").plan.services["indico"].environment
    assert env["INDICO_EXTERNAL_PLUGINS_ENABLED"] == "", "Indico would refuse to start: what runs is kept"


def test_the_operators_index_reaches_pip_and_nothing_else(ctx: testing.Context, tmp_path: Path) -> None:
    index = "https://pypi.mirror.example.org/simple/"
    state = state_with(tmp_path, frozenset({testing.Exec(SYNC, stdout=REPORT)}), {**CONFIG, "pip_index_url": index})
    out = ctx.run(ctx.on.config_changed(), state)
    assert ctx.exec_history["indico"][0].environment["PIP_INDEX_URL"] == index
    assert "PIP_INDEX_URL" not in out.get_container("indico").plan.services["indico"].environment


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("pip_index_url", "http://pypi.mirror.example.org/simple/"),
        ("pip_index_url", "https://user:token@pypi.mirror.example.org/simple/"),
        ("enabled_plugins", "piwik, Payment-PayPal"),
    ],
)
def test_a_bad_plugin_option_blocks_naming_it(ctx: testing.Context, tmp_path: Path, option: str, value: str) -> None:
    out = ctx.run(ctx.on.config_changed(), state_with(tmp_path, config={**CONFIG, option: value}))
    assert out.unit_status.name == "blocked" and f"'{option}'" in out.unit_status.message
