"""The charm deployed with its rocks, PostgreSQL and Redis: it answers, its exporters answer,
beat runs on one unit of two, and the actions work. Requests go from inside the pod to loopback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pytest_operator.plugin import OpsTest

from tests.integration.conftest import resource_images

APP = "indico"
SITE = "indico.local"  # the charm's base URL without site_url or ingress


async def in_container(ops_test: OpsTest, unit: str, container: str, *command: str) -> str:
    code, stdout, stderr = await ops_test.juju("ssh", "--container", container, unit, *command)
    assert code == 0, f"{command} in {unit}/{container}: {stderr}"
    return str(stdout)


async def http_get(ops_test: OpsTest, unit: str, port: int, path: str, host: str | None = None) -> str:
    """GET from inside the unit's indico container, so that only the pod's loopback is used."""
    headers = json.dumps({"Host": host} if host else {})
    script = (
        "import urllib.request; "
        f"r = urllib.request.Request('http://127.0.0.1:{port}{path}', headers={headers}); "
        "print(urllib.request.urlopen(r, timeout=30).status)"
    )
    return (await in_container(ops_test, unit, "indico", "python3", "-c", script)).strip()


@pytest.mark.abort_on_fail
async def test_deploy_with_postgresql_and_redis(ops_test: OpsTest, pytestconfig: pytest.Config) -> None:
    assert ops_test.model is not None
    charm = Path(pytestconfig.getoption("--charm-file"))
    assert charm.is_file(), f"{charm} is missing: run `make charm`"
    await asyncio.gather(
        ops_test.model.deploy(charm.resolve(), application_name=APP, resources=resource_images(pytestconfig)),
        ops_test.model.deploy(
            "postgresql-k8s",
            channel="14/stable",
            trust=True,
            config={"plugin_pg_trgm_enable": True, "plugin_unaccent_enable": True},
        ),
        ops_test.model.deploy("redis-k8s", channel="latest/edge"),
    )
    await ops_test.model.integrate(f"{APP}:database", "postgresql-k8s:database")
    await ops_test.model.integrate(f"{APP}:redis", "redis-k8s:redis")
    await ops_test.model.wait_for_idle(apps=[APP, "postgresql-k8s", "redis-k8s"], status="active", timeout=1800)


async def test_indico_answers_through_nginx(ops_test: OpsTest) -> None:
    assert await http_get(ops_test, f"{APP}/0", 8080, "/bootstrap", host=SITE) == "200"


@pytest.mark.parametrize(("port", "exporter"), [(9113, "nginx-prometheus-exporter"), (9102, "statsd-exporter")])
async def test_the_exporters_answer(ops_test: OpsTest, port: int, exporter: str) -> None:
    assert await http_get(ops_test, f"{APP}/0", port, "/metrics") == "200", exporter


async def test_beat_runs_on_exactly_one_of_two_units(ops_test: OpsTest) -> None:
    assert ops_test.model is not None
    await ops_test.model.applications[APP].scale(2)
    await ops_test.model.wait_for_idle(apps=[APP], status="active", timeout=1200, wait_for_exact_units=2)
    running = []
    for unit in ops_test.model.applications[APP].units:
        services = await in_container(ops_test, unit.name, "celery", "/charm/bin/pebble", "services")
        if any(
            line.split()[:2] == ["celery-beat", "enabled"] and "active" in line.split()
            for line in services.splitlines()
        ):
            running.append(unit.name)
        assert "celery-worker" in services
    assert len(running) == 1, running


async def test_actions_add_an_admin_and_anonymize_users(ops_test: OpsTest) -> None:
    assert ops_test.model is not None
    unit = ops_test.model.applications[APP].units[0]
    added = await (await unit.run_action("add-admin", email="admin@example.org", password="integration-pw")).wait()
    assert added.status == "completed" and added.results["admin"] in (True, "True", "true")
    gone = await (await unit.run_action("anonymize-user", email="admin@example.org")).wait()
    assert gone.status == "completed" and gone.results["anonymized"] == "admin@example.org"
    missing = await (await unit.run_action("anonymize-user", email="nobody@example.org")).wait()
    assert missing.status == "failed"
