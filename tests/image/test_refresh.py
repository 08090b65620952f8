"""`juju refresh` with new resource revisions, as Juju performs it on Kubernetes: two units on the
previous release's rocks behind the https ingress, then the StatefulSet's rolling update, one pod
at a time from the highest ordinal, each pod's containers recreated from the new rocks and the
charm's layers applied as at pebble-ready; then a refresh back to the previous release, and
forward again. A visitor loads the event page and downloads its attachment every 100 ms throughout.

The ingress is the endpoint list a Kubernetes Service keeps: a pod leaves it when it is deleted
and comes back when every container's readiness probe (Pebble's /v1/health?level=ready, as Juju
sets it) answers 200. Each unit's status is what the charm computes from its containers' real
Pebble (status.workload_status over pebble_ops.read_workload). Uploaded files are in S3, as two
units need. Both units' pods share this host's network: unit 1's listeners are on 127.0.0.4.
The pods run the site's three containers: the refresh changes the indico and indico-nginx rocks,
and the LaTeX container, which the site serves without, is the pod test's (test_juju_pod.py).

The figures (requests, failures, the migration's duration, the units' order) are written to
test-artifacts/refresh.json.
"""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import ops
import pytest
from ops import pebble, testing

from rockbuild.build import releases
from rockbuild.build.artifact import BuiltRock
from rockbuild.cli import ROCKS_DIR
from tests.image import external_sources as ext
from tests.image.charm_in_pod import (
    ARCHIVE,
    ARCHIVE_CONTAINERS,
    INDICO_CONTAINERS,
    SITE,
    SITE_IMAGE_OF,
    IngressBrowser,
    charm_layers,
    charm_root,
    database_relation,
    pod_address_layer,
    reachable,
    s3_relation,
)
from tests.image.conftest import ARTIFACTS, previous_release, release_rocks
from tests.image.git_server import GitHttpsServer
from tests.image.indico_site import CREATE_EVENT
from tests.image.ingress_proxy import TlsIngress
from tests.image.juju_pod import PodContainer, charm_container, container_uid, health_status, start_like_juju
from tests.image.services import Postgres, Redis, S3Server

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "charm" / "src"))

import external  # noqa: E402
import pebble_ops  # noqa: E402
import status  # noqa: E402
from workload import LAYER_LABEL  # noqa: E402

from charm import IndicoCharm  # noqa: E402

NEW = releases.current_version(ROCKS_DIR / "indico")
OLD = previous_release()
# Each unit's pod address on this shared host network; a pod would have its own network.
ADDRESS = {0: "127.0.0.1", 1: "127.0.0.4"}
ADMIN_EMAIL, ADMIN_PASSWORD = "refresh-admin@example.org", "refresh-admin-password"
ATTACHMENT = bytes(range(256)) * 4096 + b"the end"  # 1 MiB and a bit, not text
REGISTRANTS = ("ada@example.org", "grace@example.org", "katherine@example.org")
PLUGIN, PLUGIN_NOTE = "probe", "written before the refresh"
# Which release last migrated the schema, as indico-migrate marks it.
MARK = "SELECT obj_description('public.alembic_version'::regclass, 'pg_class')"
TIMELINE: list[tuple[float, str]] = []  # (epoch seconds, what happened), beside the ingress's access log
REPORT: dict[str, Any] = {"releases": {"from": OLD, "to": NEW}}

REGISTER = """
import sys
from indico.web.flask.app import make_app

with make_app().test_request_context():
    from indico.core.db import db
    from indico.modules.events import Event
    from indico.modules.events.features.util import set_feature_enabled
    from indico.modules.events.registration.models.forms import RegistrationForm
    from indico.modules.events.registration.util import create_personal_data_fields, create_registration

    event = Event.get(int(sys.argv[1]))
    set_feature_enabled(event, 'registration', True)
    regform = RegistrationForm(event=event, title='Refresh workshop', currency='EUR')
    create_personal_data_fields(regform)
    db.session.add(regform)
    db.session.flush()
    for email in sys.argv[2:]:
        name = email.split('@')[0]
        data = {'email': email, 'first_name': name.title(), 'last_name': 'Tester'}
        create_registration(regform, data, management=True, notify_user=False)
    db.session.commit()
    print(regform.id)
"""


@dataclasses.dataclass
class Unit:
    number: int
    ctx: testing.Context[IndicoCharm]
    state: testing.State  # after its relations arrived
    layers: dict[str, dict[str, Any]]
    pods: dict[str, PodContainer] = dataclasses.field(default_factory=dict)
    logs: list[str] = dataclasses.field(default_factory=list)  # the indico container's log of each pod it had

    @property
    def endpoint(self) -> str:
        return f"{ADDRESS[self.number]}:8080"


@dataclasses.dataclass
class Site:
    units: dict[int, Unit]
    ingress: TlsIngress
    postgres: Postgres
    database: str
    base: Path
    ca_bundle: Path  # trusted by the indico containers: the plugin host's certificate
    event_id: int = 0
    attachment_path: str = ""
    admin: IngressBrowser | None = None
    plugins: external.Request = dataclasses.field(default_factory=external.Request)

    def endpoints(self, without: int | None = None) -> tuple[str, ...]:
        return tuple(unit.endpoint for number, unit in sorted(self.units.items()) if number != without)

    def sql(self, query: str) -> str:
        return self.postgres.psql(query, self.database).strip()


def newest_release() -> str:
    if not OLD:
        pytest.skip("rocks/releases/ holds no earlier release to refresh from")
    return OLD


@pytest.fixture(scope="module")
def old_rocks(docker_client: docker.DockerClient) -> dict[str, BuiltRock]:
    """The previous release's rocks, from the same rockcraft.yaml files (rocks/releases/)."""
    return release_rocks(newest_release(), tuple(sorted(set(SITE_IMAGE_OF.values()))))


def unit_status(unit: Unit) -> tuple[ops.StatusBase, str | None]:
    """What the charm's status collector reports for the unit, from its containers' real Pebble."""
    facts = {name: pebble_ops.read_workload(charm_container(name, pod)) for name, pod in unit.pods.items()}
    return status.workload_status(facts, status.enabled_services(unit.layers)), status.indico_version(facts)


def start_pod(
    site: Site, unit: Unit, rocks: dict[str, BuiltRock], docker_client: docker.DockerClient, generation: str
) -> None:
    """Kubernetes makes the unit's pod (Juju's --hold: nothing runs), Juju sends each container's
    pebble-ready, and the charm's layers start it."""
    volume = ARCHIVE.get_filesystem(unit.ctx)
    base = site.base / f"unit-{unit.number}-{generation}"
    for name, image in SITE_IMAGE_OF.items():
        unit.pods[name] = start_like_juju(
            docker_client,
            rocks[image].image,
            base / name,
            container_uid(name),
            archive=volume if name in ARCHIVE_CONTAINERS else None,
            ca_bundle=site.ca_bundle if name in INDICO_CONTAINERS else None,
        )
    state = dataclasses.replace(unit.state, containers=reachable(SITE_IMAGE_OF))
    for name, pod in unit.pods.items():
        address: Any = pod_address_layer(ADDRESS[unit.number])[name]
        pod.client.add_layer("test-pod-address", pebble.Layer(address))
        # As the charm's reconcile: the operator's plugins first, then the layer that starts Indico.
        if name in INDICO_CONTAINERS and site.plugins.plugins:
            synced = external.sync_container(charm_container(name, pod), site.plugins, False)
            assert synced is not None and not synced.errors, synced
        out = unit.ctx.run(unit.ctx.on.pebble_ready(next(c for c in state.containers if c.name == name)), state)
        layer = dict(next(c for c in out.containers if c.name == name).layers[LAYER_LABEL].to_dict())
        assert pebble_ops.apply_layer(charm_container(name, pod), layer)


def ready(unit: Unit) -> bool:
    """Every container's readiness probe answers 200."""
    return all(health_status(pod, "ready") == 200 for pod in unit.pods.values())


def delete_pod(unit: Unit) -> None:
    """Kubernetes deletes the pod: each container gets SIGTERM (Pebble stops its services) within
    the grace period. The indico container's log is kept for the test."""
    unit.logs.append(unit.pods["indico"].container.logs().decode(errors="replace"))
    stopping = [threading.Thread(target=pod.container.stop, kwargs={"timeout": 30}) for pod in unit.pods.values()]
    for thread in stopping:
        thread.start()
    for thread in stopping:
        thread.join(timeout=60)
    for pod in unit.pods.values():
        pod.container.remove(force=True)
    unit.pods.clear()


class Visitor:
    """A signed-in person loading the event page and downloading its attachment through the
    ingress, each every 100 ms (one thread for each; a request waits for the previous answer);
    bounded in time."""

    def __init__(self, site: Site, limit: float = 1200) -> None:
        assert site.admin is not None
        self.site, self.limit = site, limit
        self.headers = site.admin.cookie_header()
        self.halt = threading.Event()
        self.results: list[tuple[float, str, int, str]] = []  # (time, path, status, what was wrong)
        paths = (f"/event/{site.event_id}/", site.attachment_path)
        self.threads = [threading.Thread(target=self.visit, args=(path,), daemon=True) for path in paths]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def visit(self, path: str) -> None:
        started = time.monotonic()
        while not self.halt.is_set() and time.monotonic() - started < self.limit:
            problem = ""
            try:
                answer = self.site.ingress.request(path, headers=self.headers)
                code = answer.status
                if code == 200 and path == self.site.attachment_path and answer.body != ATTACHMENT:
                    problem = f"attachment differs ({len(answer.body)} bytes)"
                elif code == 200 and path != self.site.attachment_path and b"Refresh conference" not in answer.body:
                    problem = "an event page without the event"
            except OSError as exc:
                code, problem = 0, f"{type(exc).__name__}: {exc}"
            self.results.append((time.monotonic(), path, code, problem))
            self.halt.wait(0.1)

    def failures(self) -> list[tuple[float, str, int, str]]:
        return [r for r in self.results if r[2] != 200 or r[3]]

    def stop(self) -> None:
        self.halt.set()
        for thread in self.threads:
            thread.join(timeout=60)


def roll(
    site: Site, rocks: dict[str, BuiltRock], docker_client: docker.DockerClient, generation: str, order: list[int]
) -> dict[int, list[tuple[float, str, str | None]]]:
    """The StatefulSet's rolling update: each unit in `order`, its pod deleted and made again from
    `rocks`; it rejoins the Service's endpoints when its readiness probe passes, and the next pod
    goes only then. Returns each unit's status as it changed."""
    seen: dict[int, list[tuple[float, str, str | None]]] = {}
    for number in order:
        unit = site.units[number]
        site.ingress.set_endpoints(site.endpoints(without=number))
        TIMELINE.append((time.time(), f"indico/{number} leaves the endpoints; its pod is deleted"))
        delete_pod(unit)
        start_pod(site, unit, rocks, docker_client, generation)
        TIMELINE.append((time.time(), f"indico/{number}'s new pod has the charm's layers"))
        changes = seen.setdefault(number, [])
        became_ready = watch(unit, changes, until=lambda u: ready(u), give_up_when_blocked=20)
        if not became_ready:
            TIMELINE.append((time.time(), f"indico/{number} never ready: the rolling update stops"))
            return seen  # Kubernetes stops the rolling update at a pod that does not become ready
        site.ingress.set_endpoints(site.endpoints())
        TIMELINE.append((time.time(), f"indico/{number} ready: back in the endpoints"))
        watch(unit, changes, until=active)
    return seen


def watch(
    unit: Unit,
    changes: list[tuple[float, str, str | None]],
    until: Callable[[Unit], bool],
    give_up_when_blocked: float = 0,
) -> bool:
    """Record the unit's status as it changes until `until` holds (bounded: 600 s, or
    `give_up_when_blocked` seconds of Blocked status)."""
    deadline, blocked_since = time.monotonic() + 600, None
    while time.monotonic() < deadline:
        current, version = unit_status(unit)
        shown = f"{current.name}: {current.message}"
        if not changes or changes[-1][1:] != (shown, version):
            changes.append((time.monotonic(), shown, version))
        if until(unit):
            return True
        blocked_since = (blocked_since or time.monotonic()) if isinstance(current, ops.BlockedStatus) else None
        if give_up_when_blocked and blocked_since and time.monotonic() - blocked_since > give_up_when_blocked:
            return False
        time.sleep(0.3)
    return False


@pytest.fixture(scope="module")
def site(docker_client: docker.DockerClient, old_rocks: dict[str, BuiltRock]) -> Iterator[Site]:
    """Two units of the previous release behind the https ingress, with an event, its
    registration form and registrations, and an uploaded attachment."""
    with tempfile.TemporaryDirectory(prefix="indico-refresh-") as tmp:
        base = Path(tmp)
        base.chmod(0o755)  # PostgreSQL's own user and the rocks' _daemon_ read in here
        yield from two_units_of_the_old_release(docker_client, old_rocks, base)


def two_units_of_the_old_release(
    docker_client: docker.DockerClient, old_rocks: dict[str, BuiltRock], base: Path
) -> Iterator[Site]:
    postgres = Postgres.start(base / "pg")
    redis = Redis.start(base)
    s3 = S3Server.start(base)
    ingress = TlsIngress.start(base / "ingress", SITE, tuple(f"{ADDRESS[n]}:8080" for n in sorted(ADDRESS)))
    sources = base / "plugin-host"
    sources.mkdir()
    wheel = ext.plugin_wheel(sources, with_schema=True)
    plugin_host = GitHttpsServer.start(base / "git", sources)
    units: dict[int, Unit] = {}
    try:
        database = database_relation(postgres)
        storage = frozenset({s3_relation(s3.endpoint)})
        leader_ctx = testing.Context(IndicoCharm, charm_root=charm_root())
        leader_layers, leader_state = charm_layers(
            leader_ctx, database, redis, True, None, frozenset(), None, others=storage, started=SITE_IMAGE_OF
        )
        units[0] = Unit(0, leader_ctx, leader_state, leader_layers)
        peer = leader_state.get_relations("indico-peers")[0]
        shared = frozenset(
            dataclasses.replace(s, owner=None) for s in leader_state.secrets if s.label == "indico-secret-key"
        )
        follower_ctx = testing.Context(IndicoCharm, charm_root=charm_root())
        follower_layers, follower_state = charm_layers(
            follower_ctx,
            database,
            redis,
            False,
            dict(peer.local_app_data),
            shared,
            None,
            others=storage,
            started=SITE_IMAGE_OF,
        )
        units[1] = Unit(1, follower_ctx, follower_state, follower_layers)
        db_uri = leader_layers["indico"]["services"]["indico"]["environment"]["INDICO_DB_URI"]
        site = Site(units, ingress, postgres, db_uri.rsplit("/", 1)[1], base, plugin_host.ca_bundle)
        for unit in units.values():
            start_pod(site, unit, old_rocks, docker_client, "old")
        for unit in units.values():
            assert watch(unit, [], until=active), f"unit {unit.number} on {OLD} did not become active"

        indico = units[0].pods["indico"]
        pebble_ops.run_admin(
            charm_container("indico", indico), ["create-admin", ADMIN_EMAIL], stdin=f"{ADMIN_PASSWORD}\n"
        )
        run = indico.client.exec(
            ["python3", "-c", CREATE_EVENT, ADMIN_EMAIL, "Refresh conference"], service_context="indico"
        )
        site.event_id = int(run.wait_output()[0].strip().splitlines()[-1])
        indico.client.exec(
            ["python3", "-c", REGISTER, str(site.event_id), *REGISTRANTS], service_context="indico"
        ).wait_output()
        site.admin = IngressBrowser(ingress)
        site.admin.log_in(ADMIN_EMAIL.split("@")[0], ADMIN_PASSWORD)
        site.attachment_path = site.admin.upload_attachment(site.event_id, "slides.bin", ATTACHMENT)
        enable_a_plugin_with_its_own_schema(site, plugin_host.url(wheel.name))
        yield site
    finally:
        for unit in units.values():
            for pod in unit.pods.values():
                pod.container.remove(force=True)
        ingress.stop()
        plugin_host.stop()
        s3.stop()
        redis.stop()
        postgres.stop()


def enable_a_plugin_with_its_own_schema(site: Site, wheel_url: str) -> None:
    """The operator sets external_plugins: each unit's charm installs the plugin in its indico and
    celery containers and restarts what runs; Indico creates the plugin's schema (its migration)."""
    site.plugins = external.Request(plugins=(wheel_url,))
    for unit in site.units.values():
        for name in INDICO_CONTAINERS:
            synced = external.sync_container(charm_container(name, unit.pods[name]), site.plugins, False)
            assert synced is not None and not synced.errors, synced
    for unit in site.units.values():
        assert watch(unit, [], until=active), f"unit {unit.number} did not come back with the plugin"
    assert site.sql(f"SELECT version_num FROM public.alembic_version_plugin_{PLUGIN}") == ext.PLUGIN_REVISION
    site.sql(f"INSERT INTO {ext.PLUGIN_SCHEMA}.notes (text) VALUES ('{PLUGIN_NOTE}')")


def active(unit: Unit) -> bool:
    return isinstance(unit_status(unit)[0], ops.ActiveStatus)


def schema_heads(rock: BuiltRock, docker_client: docker.DockerClient) -> set[str]:
    """The schema revisions a release ends at, as its rock recorded them when it was built."""
    out = docker_client.containers.run(
        rock.image, entrypoint=["head", "-n", "100", "/usr/share/indico/core-schema-heads"], remove=True
    )
    return set(bytes(out).decode().split())


def registrations(site: Site) -> list[str]:
    rows = site.sql(
        "SELECT email FROM event_registration.registrations r JOIN event_registration.forms f "
        f"ON r.registration_form_id = f.id WHERE f.event_id = {site.event_id} ORDER BY email"
    )
    return rows.splitlines()


def write_report(site: Site) -> None:
    """The figures, and for a failure, what happened when: the test's steps, the ingress's access
    log (epoch seconds) and each unit's indico logs."""
    ARTIFACTS.mkdir(exist_ok=True)
    REPORT["timeline"] = [f"{when:.3f} {what}" for when, what in TIMELINE]
    (ARTIFACTS / "refresh.json").write_text(json.dumps(REPORT, indent=2) + "\n")
    logs = ARTIFACTS / "refresh-logs"
    logs.mkdir(exist_ok=True)
    (logs / "ingress-access.log").write_text("\n".join(site.ingress.access_log()) + "\n")
    for number, unit in site.units.items():
        current = [unit.pods["indico"].container.logs().decode(errors="replace")] if unit.pods else []
        (logs / f"indico-{number}.log").write_text("\n".join(unit.logs + current))


def test_a_rolling_refresh_migrates_once_and_fails_no_request(
    site: Site, rocks: dict[str, BuiltRock], old_rocks: dict[str, BuiltRock], docker_client: docker.DockerClient
) -> None:
    old_heads, new_heads = (
        schema_heads(old_rocks["indico"], docker_client),
        schema_heads(rocks["indico"], docker_client),
    )
    assert old_heads != new_heads, f"{OLD} and {NEW} end at different schema revisions"
    assert set(site.sql("SELECT version_num FROM public.alembic_version").split()) == old_heads
    before = registrations(site)
    assert before == sorted(REGISTRANTS)

    visitor = Visitor(site)
    visitor.start()
    time.sleep(3)  # the visitor is served before the refresh starts
    started = time.monotonic()
    try:
        seen = roll(site, rocks, docker_client, "new", order=[1, 0])
        time.sleep(3)
    finally:
        visitor.stop()
    took = time.monotonic() - started

    failures = visitor.failures()
    REPORT["refresh"] = {
        "order": ["indico/1", "indico/0"],
        "seconds": round(took, 1),
        "requests": len(visitor.results),
        "failures": len(failures),
        "failed": [f"{path} {code} {problem}" for _, path, code, problem in failures[:10]],
        "failed at the ingress": [line for line in site.ingress.access_log() if line.split()[1] != "200"][:10],
        "statuses": {f"indico/{n}": [shown + f" ({version})" for _, shown, version in c] for n, c in seen.items()},
    }
    # The migration: exactly one pod ran it, the first one refreshed (unit 1), under the lock.
    migrated = {
        number: log
        for number, unit in site.units.items()
        for log in [unit.pods["indico"].container.logs().decode(errors="replace")]
        if "running /usr/bin/indico db upgrade" in log
    }
    durations = [
        float(m)
        for log in migrated.values()
        for m in re.findall(r"database is at this release's schema \(([\d.]+)s\)", log)
    ]
    REPORT["refresh"]["migration_seconds"] = durations
    write_report(site)

    assert list(migrated) == [1], f"the schema is migrated once, by the first unit refreshed: {sorted(migrated)}"
    assert set(site.sql("SELECT version_num FROM public.alembic_version").split()) == new_heads
    assert site.sql(MARK) == f"migrated by Indico {NEW}"
    assert "running /usr/bin/indico db --all-plugins upgrade" in migrated[1], "the enabled plugins' schemas too"
    # No request failed, and the visitor was served all along.
    assert len(visitor.results) >= 100, f"the visitor was served too rarely to tell: {len(visitor.results)}"
    assert not failures, REPORT["refresh"]["failed"]
    # Every registration, the attachment (byte-identical: the visitor checked each download) and
    # the plugin's data are there; the plugin's schema is at its head.
    assert registrations(site) == before
    assert site.sql(f"SELECT text FROM {ext.PLUGIN_SCHEMA}.notes") == PLUGIN_NOTE
    assert site.sql(f"SELECT version_num FROM public.alembic_version_plugin_{PLUGIN}") == ext.PLUGIN_REVISION
    # Each unit's status followed: Maintenance while migrating, then Active on the new release.
    shown_1 = [shown for _, shown, _ in seen[1]]
    assert "maintenance: migrating the database" in shown_1, shown_1
    shown_0 = [shown for _, shown, _ in seen[0]]
    assert "maintenance: migrating the database" not in shown_0, f"unit 0 found nothing to migrate: {shown_0}"
    for number in (0, 1):
        current, version = unit_status(site.units[number])
        assert isinstance(current, ops.ActiveStatus) and version == NEW, (number, current, version)


def test_a_refresh_back_is_refused_and_the_site_stays_up(
    site: Site, old_rocks: dict[str, BuiltRock], docker_client: docker.DockerClient
) -> None:
    """Old code on the newer schema: unit 1's new pod does not start uWSGI, its status names both
    releases and the way forward; the rolling update stops there, and unit 0 serves on."""
    schema = site.sql("SELECT version_num FROM public.alembic_version ORDER BY 1")
    mark = site.sql(MARK)
    visitor = Visitor(site)
    visitor.start()
    try:
        seen = roll(site, old_rocks, docker_client, "back", order=[1, 0])
    finally:
        visitor.stop()
    REPORT["refresh back"] = {
        "requests": len(visitor.results),
        "failures": len(visitor.failures()),
        "statuses": {f"indico/{n}": [shown + f" ({version})" for _, shown, version in c] for n, c in seen.items()},
    }
    write_report(site)
    assert list(seen) == [1], "the rolling update stops at the first pod that does not become ready"
    current, _ = unit_status(site.units[1])
    assert isinstance(current, ops.BlockedStatus), current
    shown = [shown for _, shown, _ in seen[1]]
    first_blocked = next(i for i, s in enumerate(shown) if s.startswith("blocked"))
    assert all(s.startswith("blocked") for s in shown[first_blocked:]), f"Blocked stays while Pebble retries: {shown}"
    assert current.message.startswith(f"database migration failed: the database schema was migrated by Indico {NEW}")
    assert f"newer than this Indico {OLD}" in current.message
    assert f"Refresh forward to Indico {NEW} again, or restore the database backup" in current.message
    # Pebble retries the service (indico-migrate refuses each time), so the service is sometimes
    # active for a moment; what must never happen is uWSGI starting or its port answering.
    log = site.units[1].pods["indico"].container.logs().decode(errors="replace")
    assert f"newer than this Indico {OLD}" in log, log[-2000:]
    assert "Starting uWSGI" not in log, "uWSGI does not run on a schema it does not know"
    with socket.socket() as probe:
        probe.settimeout(2)
        assert probe.connect_ex((ADDRESS[1], 8081)) != 0, "nothing listens on unit 1's uWSGI port"
    assert site.sql("SELECT version_num FROM public.alembic_version ORDER BY 1") == schema
    assert site.sql(MARK) == mark
    assert not visitor.failures(), visitor.failures()[:10]
    assert len(visitor.results) > 20


def test_refreshing_forward_again_recovers(
    site: Site, rocks: dict[str, BuiltRock], docker_client: docker.DockerClient
) -> None:
    visitor = Visitor(site)
    visitor.start()
    try:
        seen = roll(site, rocks, docker_client, "again", order=[1])
    finally:
        visitor.stop()
    current, version = unit_status(site.units[1])
    assert isinstance(current, ops.ActiveStatus) and version == NEW, (current, version, seen)
    assert ready(site.units[1])
    log = site.units[1].pods["indico"].container.logs().decode(errors="replace")
    assert "running /usr/bin/indico db upgrade" not in log, "nothing left to migrate"
    assert not visitor.failures(), visitor.failures()[:10]
    assert registrations(site) == sorted(REGISTRANTS)
