"""A real Prometheus scrapes the running rocks with the scrape jobs and alert rules the charm
publishes, as prometheus-k8s's own library (MetricsEndpointConsumer) turns them into its config.

The charm runs under ops.testing with a metrics-endpoint relation; its databags go to the real
consumer library; the jobs it returns (targets at the unit's address, rewritten to loopback here,
since the pod's ports are on the host's loopback) and the rules become Debian's prometheus's
configuration. Every target must be up, and the series the alert rules use must be there.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from ops import testing

from rockbuild.build.artifact import BuiltRock
from tests import real_providers
from tests.image import indico_site
from tests.image.charm_in_pod import charm_root, unreachable
from tests.image.conftest import wait_for
from tests.image.services import Postgres, Redis, free_port, stop_process
from tests.image.test_indico_rocks import indico_env

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "charm" / "src"))

from charm import IndicoCharm  # noqa: E402

UNIT_ADDRESS = "10.1.2.10"  # the pod's address as Juju gives it to the charm


def charm_scrape_config() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The jobs and rules prometheus-k8s would configure for this charm's unit 0."""
    relation = testing.Relation("metrics-endpoint", "prometheus_scrape", remote_app_name="prometheus")
    ctx = testing.Context(IndicoCharm, charm_root=charm_root())
    state = testing.State(
        leader=True,
        relations={relation},
        containers=unreachable(),
        networks={testing.Network("metrics-endpoint", ingress_addresses=[UNIT_ADDRESS])},
        model=testing.Model("obs", uuid="00000000-0000-4000-8000-000000000001"),
    )
    sent = ctx.run(ctx.on.relation_joined(relation, remote_unit=0), state).get_relation(relation.id)
    return real_providers.prometheus_view(dict(sent.local_app_data), {0: dict(sent.local_unit_data)})


def query(port: int, path: str, **params: str) -> Any:
    url = f"http://127.0.0.1:{port}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())["data"]


@pytest.fixture(scope="module")
def prometheus(
    docker_client: docker.DockerClient,
    rocks: dict[str, BuiltRock],
    backing_services: tuple[Postgres, Redis],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[int]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is absent (Debian's prometheus package; `make host` installs it)")
    jobs, alerts = charm_scrape_config()
    for job in jobs:
        for static in job["static_configs"]:
            static["targets"] = [t.replace(UNIT_ADDRESS, "127.0.0.1") for t in static["targets"]]
        job["scrape_interval"] = "2s"
    base = tmp_path_factory.mktemp("prometheus")
    rule_files = []
    for name, groups in alerts.items():
        path = base / f"{name}.rules.yaml"
        path.write_text(yaml.safe_dump(groups))
        rule_files.append(str(path))
    (base / "prometheus.yml").write_text(
        yaml.safe_dump({"global": {"evaluation_interval": "5s"}, "rule_files": rule_files, "scrape_configs": jobs})
    )
    postgres, redis = backing_services
    started = [
        docker_client.containers.run(
            rocks["indico"].image,
            detach=True,
            network_mode="host",
            environment=indico_env(postgres, redis, "indico_observed"),
        ),
        docker_client.containers.run(
            rocks["indico-nginx"].image,
            detach=True,
            network_mode="host",
            environment={"NGINX_LISTEN_ADDRESS": "127.0.0.1"},
        ),
    ]
    port = free_port()
    server = subprocess.Popen(
        [
            binary,
            f"--config.file={base / 'prometheus.yml'}",
            f"--storage.tsdb.path={base / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(base / "prometheus.log").open("w"),
    )
    try:
        browser = indico_site.Browser()
        wait_for(lambda: browser.get("/login/").status_code == 200, 300, "Indico to answer through NGINX")
        wait_for(lambda: query(port, "/api/v1/status/config"), 30, "Prometheus to answer")
        yield port
    finally:
        stop_process(server, 10)
        for container in started:
            container.remove(force=True)


def series(port: int, expr: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = query(port, "/api/v1/query", query=expr)["result"]
    return result


def condition_cleared(port: int, expr: str) -> bool:
    return not series(port, expr)


def test_every_exporter_of_the_unit_is_scraped(prometheus: int) -> None:
    def all_up() -> list[dict[str, Any]] | None:
        targets = query(prometheus, "/api/v1/targets")["activeTargets"]
        return targets if len(targets) == 2 and all(t["health"] == "up" for t in targets) else None

    targets: list[dict[str, Any]] = wait_for(all_up, 60, "both exporters to be scraped")  # type: ignore[assignment]
    scraped = {urllib.parse.urlsplit(t["scrapeUrl"]).netloc for t in targets}
    assert scraped == {"127.0.0.1:9113", "127.0.0.1:9102"}, "NGINX's exporter and the StatsD exporter"
    assert {t["labels"]["juju_unit"] for t in targets} == {"indico/0"}


@pytest.mark.parametrize(
    "metric",
    [
        "nginx_http_requests_total",  # NGINX's request counter
        "nginx_up",
        "indico_uwsgi_idle_workers",  # uWSGI, through its StatsD pushes
        "indico_http_responses_total",
        "indico_celery_worker_up",  # the Celery worker's heartbeat
    ],
)
def test_the_series_the_rules_and_dashboards_use_are_there(prometheus: int, metric: str) -> None:
    indico_site.Browser().get("/login/")  # some traffic through NGINX and uWSGI
    found: list[dict[str, Any]] = wait_for(lambda: series(prometheus, metric), 90, f"{metric} in Prometheus")  # type: ignore[assignment]
    assert all(s["metric"]["juju_application"] == "indico" for s in found)


def test_prometheus_loaded_the_charms_rules_and_none_fires(prometheus: int) -> None:
    groups = query(prometheus, "/api/v1/rules")["groups"]
    rules = {rule["name"]: rule for group in groups for rule in group["rules"]}
    assert {"IndicoNginxDown", "IndicoNotReady", "IndicoCeleryWorkerMissing", "IndicoHttpErrors"} <= set(rules)
    assert all(rule["health"] == "ok" for rule in rules.values()), rules
    assert [a for a in query(prometheus, "/api/v1/alerts")["alerts"] if a["state"] == "firing"] == []
    # Once both exporters reported, the "something is missing" conditions are false.
    for name in ("IndicoNotReady", "IndicoCeleryWorkerMissing", "IndicoNginxDown"):
        wait_for(functools.partial(condition_cleared, prometheus, rules[name]["query"]), 60, f"{name} to clear")
