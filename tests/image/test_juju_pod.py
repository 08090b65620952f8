"""The rocks started the way Juju starts them (juju_pod.py), configured by the charm's own reconcile.

Nothing starts until the charm adds its layers and replans. Here the charm's layers come from running the
charm under ops.testing with relation data that points at this test's real PostgreSQL and Redis,
and they are applied with ops.pebble.Client on the containers' sockets.

Two units are simulated: unit 0 (the leader) has all three containers; unit 1 has its celery
container only, since the web ports of a second pod cannot coexist on one host network.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import json
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import docker
import docker.models.containers
import pytest
from ops import pebble, testing

from rockbuild.build.artifact import BuiltRock
from rockbuild.cli import ROCKS_DIR
from tests.image import external_sources as ext
from tests.image.charm_in_pod import (
    ARCHIVE,
    ARCHIVE_CONTAINERS,
    IMAGE_OF,
    INDICO_CONTAINERS,
    LOOPBACK_LAYER,
    SITE,
    IngressBrowser,
    charm_layers,
    charm_root,
    database_relation,
    get_text,
    layers_before_relations,
    reachable,
    wait_until_served,
)
from tests.image.conftest import build, wait_for
from tests.image.git_server import GitHttpsServer
from tests.image.indico_site import CREATE_CONFERENCE, past_latex_rate_limit
from tests.image.ingress_proxy import Response, TlsIngress
from tests.image.juju_pod import (
    ARCHIVE_PATH,
    PodContainer,
    active,
    charm_container,
    container_uid,
    health_status,
    start_like_juju,
)
from tests.image.services import Postgres, Redis, free_port
from tests.image.test_latex_pdfs import pdf_text

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "charm" / "src"))

import external  # noqa: E402
import pebble_ops  # noqa: E402
import status  # noqa: E402
from config import with_credentials  # noqa: E402
from pebble_ops import ActionFailedError  # noqa: E402
from workload import LAYER_LABEL  # noqa: E402

from charm import IndicoCharm  # noqa: E402

# /v1/health?level=alive of every pod container, polled once a second: before the relations exist
# (longer than the 30 s NGINX's alive check needs to fail) and after they arrive.
ALIVE_WINDOWS = {"before relations": 35, "after relations": 15}
ALIVE_SEEN: dict[str, dict[str, set[int]]] = {}
# Unit 0's charm context and its state after the relations arrived, for starting its pod again.
LEADER: dict[str, Any] = {}


class LokiReceiver(BaseHTTPRequestHandler):
    """Loki's push API on loopback: keeps every stream Pebble pushes (JSON, maybe gzipped)."""

    streams: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path == "/loki/api/v1/push":
            LokiReceiver.streams.extend(json.loads(body)["streams"])
        self.send_response(204 if self.path == "/loki/api/v1/push" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def loki() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), LokiReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def watch_alive(pods: dict[str, PodContainer], seconds: int) -> dict[str, set[int]]:
    seen: dict[str, set[int]] = {key: set() for key in pods}
    for _ in range(seconds):
        for key, pod in pods.items():
            seen[key].add(health_status(pod))
        time.sleep(1)
    return seen


@pytest.fixture(scope="module")
def pod_rocks(rocks: dict[str, BuiltRock]) -> dict[str, BuiltRock]:
    """Every rock charmcraft.yaml's resources name: the site's two and the LaTeX rock."""
    return {**rocks, "indico-latex": build(ROCKS_DIR / "indico-latex")}


@pytest.fixture(scope="module")
def pods(
    docker_client: docker.DockerClient,
    pod_rocks: dict[str, BuiltRock],
    backing_services: tuple[Postgres, Redis],
    tmp_path_factory: pytest.TempPathFactory,
    loki: str,
    git_server: GitHttpsServer,
) -> Iterator[dict[str, PodContainer]]:
    postgres, redis = backing_services
    database = database_relation(postgres)
    unit_ctx = {unit: testing.Context(IndicoCharm, charm_root=charm_root()) for unit in ("0", "1")}
    # A fresh volume, as Kubernetes provisions it: root's. The charm must make it the workloads'.
    volumes = {unit: ARCHIVE.get_filesystem(ctx) for unit, ctx in unit_ctx.items()}
    for volume in volumes.values():
        os.chown(volume, 0, 0)
        volume.chmod(0o755)
    leader_layers, leader_state = charm_layers(
        unit_ctx["0"], database, redis, leader=True, peer_data=None, secrets=frozenset(), loki=loki
    )
    LEADER.update(ctx=unit_ctx["0"], state=leader_state)
    peer = leader_state.get_relations("indico-peers")[0]
    shared = frozenset(s for s in leader_state.secrets if s.label == "indico-secret-key")
    follower_layers, _ = charm_layers(
        unit_ctx["1"],
        database,
        redis,
        leader=False,
        peer_data=dict(peer.local_app_data),
        secrets=frozenset(dataclasses.replace(s, owner=None) for s in shared),
        loki=loki,
    )
    base = tmp_path_factory.mktemp("pod")
    started: dict[str, PodContainer] = {}
    try:
        for name, image in IMAGE_OF.items():
            started[f"0/{name}"] = start_like_juju(
                docker_client,
                pod_rocks[image].image,
                base / "unit-0" / name,
                container_uid(name),
                archive=volumes["0"] if name in ARCHIVE_CONTAINERS else None,
                ca_bundle=git_server.ca_bundle if name in INDICO_CONTAINERS else None,
            )
        started["1/celery"] = start_like_juju(
            docker_client,
            pod_rocks["indico"].image,
            base / "unit-1" / "celery",
            container_uid("celery"),
            archive=volumes["1"],
            ca_bundle=git_server.ca_bundle,
        )
        before = {"0": layers_before_relations(leader=True), "1": layers_before_relations(leader=False)}
        for key, pod in started.items():
            unit, name = key.split("/")
            loopback: Any = LOOPBACK_LAYER.get(name, {"services": {}})
            pod.client.add_layer("test-loopback", pebble.Layer(loopback), combine=True)
            assert pebble_ops.apply_layer(charm_container(name, pod), before[unit][name])
        ALIVE_SEEN["before relations"] = watch_alive(started, ALIVE_WINDOWS["before relations"])
        for key, pod in started.items():
            unit, name = key.split("/")
            layer = (leader_layers if unit == "0" else follower_layers)[name]
            assert pebble_ops.apply_layer(charm_container(name, pod), layer)
        ALIVE_SEEN["after relations"] = watch_alive(started, ALIVE_WINDOWS["after relations"])
        yield started
    finally:
        for pod in started.values():
            pod.container.remove(force=True)


def test_nothing_starts_before_the_charm_replans(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock], tmp_path: Path
) -> None:
    pod = start_like_juju(docker_client, rocks["indico-nginx"].image, tmp_path / "held", container_uid("indico-nginx"))
    try:
        assert active(pod) == set()
        assert {svc.name for svc in pod.client.get_services()} == {"nginx", "nginx-prometheus-exporter"}
    finally:
        pod.container.remove(force=True)


def test_every_container_stays_alive_before_and_after_relations(pods: dict[str, PodContainer]) -> None:
    """Kubernetes' liveness probe (Pebble's alive health) never fails, so it never restarts the pod."""
    for window in ALIVE_WINDOWS:
        assert ALIVE_SEEN[window] == {key: {200} for key in pods}, (window, ALIVE_SEEN[window])
    for key, pod in pods.items():
        checks = {check.name: check for check in pod.client.get_checks()}
        # Liveness is what Kubernetes restarts a pod for; indico-ready (a ready check) fails while Indico starts.
        alive = {name: check for name, check in checks.items() if check.level == pebble.CheckLevel.ALIVE}
        failing = {name: check.failures for name, check in alive.items() if check.failures}
        assert not failing, (key, failing)
        if key.endswith("/celery"):
            # The rock's exporter check watches the indico container's exporter; the charm stops it here.
            assert checks["statsd-exporter-up"].status == pebble.CheckStatus.INACTIVE


def test_each_container_runs_its_role(pods: dict[str, PodContainer]) -> None:
    wait_for(lambda: active(pods["0/indico"]) == {"indico", "statsd-exporter"}, 60, "unit 0's web services")
    assert active(pods["0/celery"]) == {"celery-worker", "celery-beat"}
    assert active(pods["0/indico-nginx"]) == {"nginx", "nginx-prometheus-exporter"}
    latex = pods["0/indico-latex"]
    assert active(latex) == {"latex"}, latex.container.logs().decode(errors="replace")[-3000:]


def test_only_the_leader_runs_beat(pods: dict[str, PodContainer]) -> None:
    assert "celery-beat" in active(pods["0/celery"])
    assert active(pods["1/celery"]) == {"celery-worker"}


@pytest.fixture(scope="module")
def ingress(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsIngress]:
    """The TLS-terminating ingress in front of the pod's port 8080, from the address the charm names
    to NGINX as the ingress unit's (NGINX_TRUSTED_PROXIES)."""
    proxy = TlsIngress.start(tmp_path_factory.mktemp("ingress"), SITE)
    try:
        yield proxy
    finally:
        proxy.stop()


def test_indico_answers_through_the_https_ingress(pods: dict[str, PodContainer], ingress: TlsIngress) -> None:
    wait_until_served(ingress)
    root = ingress.request("/")
    assert root.status == 302 and root.headers["Location"] in ("/bootstrap", f"https://{SITE}/bootstrap")
    assert get_text(ingress, "/bootstrap")


def test_every_process_runs_as_the_daemon_user(pods: dict[str, PodContainer]) -> None:
    for key, pod in pods.items():
        rows = pod.container.top(ps_args="-o pid,uid,args")["Processes"]
        pebble_uid = next(uid for _pid, uid, args in rows if args.startswith("/usr/bin/pebble"))
        assert pebble_uid == container_uid(key.split("/")[1]) == "584792"
        workload = [(uid, args) for _pid, uid, args in rows if not args.startswith("/usr/bin/pebble")]
        assert workload and all(uid == "584792" for uid, _ in workload), (key, workload)


def test_the_charm_layer_keeps_the_rocks_commands(pods: dict[str, PodContainer]) -> None:
    plan = pods["0/indico"].client.get_plan().to_dict()
    assert plan["services"]["indico"]["command"] == "/usr/local/bin/indico-start web"
    env = plan["services"]["indico"]["environment"]
    assert re.match(r"postgresql://relation-\d+@127\.0\.0\.1:\d+/indico$", env["INDICO_DB_URI"])
    assert env["INDICO_BASE_URL"] == f"https://{SITE}", "the URL traefik published"


def test_the_actions_admin_tool_runs_with_the_indico_services_environment(
    pods: dict[str, PodContainer], ingress: TlsIngress
) -> None:
    """What add-admin and anonymize-user run: the charm's pebble_ops.run_admin on real Pebble."""
    wait_until_served(ingress)  # the schema exists once Indico answers
    indico = charm_container("indico", pods["0/indico"])
    created = pebble_ops.run_admin(indico, ["create-admin", "Pod-Admin@example.org"], stdin="pod-test-password\n")
    assert created["admin"] is True and created["created"] is True
    assert pebble_ops.run_admin(indico, ["anonymize-user", "pod-admin@example.org"])["anonymized"] is True
    with pytest.raises(ActionFailedError) as caught:
        pebble_ops.run_admin(indico, ["anonymize-user", "pod-admin@example.org"])
    assert str(caught.value) == "indico-admin: no user with the e-mail address pod-admin@example.org"


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin wheel and the customization repository, both served by git_server over https."""
    directory = tmp_path_factory.mktemp("external-sources")
    directory.chmod(0o755)  # pytest's temporary directories are private; the pod's user reads these
    ext.plugin_wheel(directory)
    ext.customization_repo(directory, "first commit")
    return directory


# The customization repository is private: its token must show up nowhere in the pod.
GIT_USER, GIT_TOKEN = "bot", "pod-t0ken-4e1c9b"


@pytest.fixture(scope="module")
def git_server(sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHttpsServer]:
    # Slow answers, so that each fetch lasts long enough for its processes to be read.
    server = GitHttpsServer.start(tmp_path_factory.mktemp("git-server"), sources, (GIT_USER, GIT_TOKEN), delay=1.0)
    try:
        yield server
    finally:
        server.stop()


def every_process(pod: PodContainer) -> list[tuple[str, str]]:
    """(command line, environment) of every process in the container, read from /proc as root."""
    script = 'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline; printf "\\t"; tr "\\0" " " < $p/environ; echo; done'
    _code, output = pod.container.exec_run(["sh", "-c", script], user="root")
    rows = [line.partition("\t") for line in output.decode(errors="replace").splitlines()]
    return [(cmdline, environ) for cmdline, _, environ in rows if cmdline]


def pids(pod: PodContainer, pattern: str) -> set[str]:
    return {pid for pid, _uid, args in pod.container.top(ps_args="-o pid,uid,args")["Processes"] if pattern in args}


def watch_processes(pod: PodContainer, stop: threading.Event, seen: list[tuple[str, str]]) -> None:
    while not stop.is_set():
        seen.extend(every_process(pod))
        stop.wait(0.2)


def secrets_of_the_indico_service(pod: PodContainer) -> dict[str, str]:
    environment = pod.client.get_plan().services["indico"].environment
    names = [name for name in environment if any(word in name for word in ("SECRET", "PASSWORD", "TOKEN"))]
    assert names, f"the indico service's environment has secrets to look for: {sorted(environment)}"
    return {name: environment[name] for name in names if len(environment[name]) >= 8}


def test_plugins_and_customization_reach_every_indico_container(
    pods: dict[str, PodContainer], ingress: TlsIngress, git_server: GitHttpsServer, sources: Path
) -> None:
    wait_until_served(ingress)
    # What the charm asks for, with customization_sources_secret's content in the URL.
    request = external.Request(
        plugins=(git_server.url("indico_plugin_probe-1.0-py3-none-any.whl"),),
        customization_url=with_credentials(git_server.url("custom-src"), {"username": GIT_USER, "token": GIT_TOKEN}),
    )
    worker_before = pids(pods["1/celery"], "indico-celery-worker")
    seen: list[tuple[str, str]] = []
    for key in ("0/indico", "0/celery", "1/celery"):
        watching = threading.Event()
        watcher = threading.Thread(target=watch_processes, args=(pods[key], watching, seen))
        watcher.start()
        try:
            synced = external.sync_container(charm_container(key.split("/")[1], pods[key]), request, False)
        finally:
            watching.set()
            watcher.join(timeout=30)
        assert synced is not None and synced.errors == {}, synced
        report = synced.reports[key.split("/")[1]]
        assert report["plugins"] == "probe" and report["plugins-changed"] == "true"
    assert git_server.authorized, "git fetched with the secret's credentials"
    # The processes of a fetch were read, and none of them carries a secret.
    fetches = [(cmd, env) for cmd, env in seen if cmd.startswith("git") and "fetch" in cmd]
    assert fetches, "no git fetch was seen while it ran"
    site_secrets = secrets_of_the_indico_service(pods["0/indico"])
    for cmdline, environ in seen:
        assert GIT_TOKEN not in cmdline + environ, cmdline
        program = cmdline.split()[0] if cmdline.split() else ""
        if "git" in program or "indico-external" in cmdline or "-m pip" in cmdline:
            leaked = [name for name, value in site_secrets.items() if value in environ]
            assert not leaked, (cmdline, leaked)
    for key in ("0/indico", "0/celery", "1/celery"):
        pebble_state = (pods[key].socket_dir / "pebble" / ".pebble.state").read_text()
        assert GIT_TOKEN not in pebble_state, f"{key}: Pebble's state keeps the token"
    worker_after = wait_for(lambda: pids(pods["1/celery"], "indico-celery-worker"), 60, "the worker to run again")
    assert worker_before and not worker_before & worker_after, "the worker restarts to load the plugin"  # type: ignore[operator]

    wait_for(lambda: get_text(ingress, ext.PLUGIN_ROUTE) == ext.PLUGIN_ANSWER, 240, "the plugin's page through NGINX")
    assert get_text(ingress, f"/static/custom/{ext.CUSTOM_FILE}") == "first commit"
    web_log = pods["0/indico"].container.logs().decode(errors="replace")
    assert "running /usr/bin/indico db --all-plugins upgrade" in web_log, "an enabled plugin's schema is migrated"
    probe = pods["0/celery"].client.exec(
        ["python3", "-c", "import indico_plugin_probe; print(indico_plugin_probe.__file__)"], service_context="indico"
    )
    assert probe.wait_output()[0].startswith("/var/lib/indico/external/")

    unchanged = external.sync_container(charm_container("indico", pods["0/indico"]), request, False)
    assert unchanged is not None and unchanged.reports == {}, "same inputs: no pip, no git"

    commit = ext.commit_file(sources / "custom-src", "second")
    refreshed = external.sync_container(charm_container("indico", pods["0/indico"]), request, True)
    assert refreshed is not None and refreshed.reports["indico"]["customization-commit"] == commit
    assert refreshed.reports["indico"]["customization-changed"] == "true"
    wait_for(
        lambda: get_text(ingress, f"/static/custom/{ext.CUSTOM_FILE}") == "second", 240, "the new commit to be served"
    )


def test_a_plugin_that_cannot_install_blocks_and_keeps_the_last_good_one(
    pods: dict[str, PodContainer], git_server: GitHttpsServer
) -> None:
    container = charm_container("celery", pods["1/celery"])
    missing = git_server.url("missing-1.0-py3-none-any.whl")
    bad = external.Request(plugins=(missing,))
    good = external.sync_container(container, external.Request(), False)
    assert good is not None and good.errors == {}
    first = external.sync_container(container, bad, False)
    assert first is not None and "missing-1.0-py3-none-any.whl" in first.errors["external_plugins"]
    again = external.sync_container(container, bad, False)
    assert again is not None and again.reports == {}, "a recorded failure is not retried with the same inputs"
    assert again.errors == first.errors


def test_each_unit_shares_one_writable_archive_volume_between_indico_and_celery(
    pods: dict[str, PodContainer],
) -> None:
    """Mounted as Juju mounts storage: the same volume in the charm, indico, celery and NGINX
    containers (NGINX sends stored files from it)."""
    assert {"indico", "celery", "indico-nginx"} == ARCHIVE_CONTAINERS
    for unit in ("0", "1"):
        key = f"{unit}/celery"
        owner = pods[key].client.exec(["stat", "-c", "%u:%g", ARCHIVE_PATH]).wait_output()[0].strip()
        assert owner == "584792:584792", f"unit {unit}: the charm gave the fresh volume to _daemon_"
    probe = f"{ARCHIVE_PATH}/pod-probe-{os.getpid()}"
    pods["0/indico"].client.exec(["sh", "-c", f"echo written-by-indico > {probe}"]).wait_output()
    assert pods["0/celery"].client.exec(["cat", probe]).wait_output()[0] == "written-by-indico\n"
    # The chiselled NGINX rock has head, not cat.
    assert pods["0/indico-nginx"].client.exec(["head", "-n1", probe]).wait_output()[0] == "written-by-indico\n"
    seen_by_unit_1 = pods["1/celery"].client.exec(["test", "-e", probe])
    with pytest.raises(pebble.ExecError):
        seen_by_unit_1.wait_output()  # each unit has its own volume: that is what the s3 relation is for


def test_pebble_forwards_service_logs_to_loki_with_the_topology(
    pods: dict[str, PodContainer], ingress: TlsIngress
) -> None:
    """Pebble's own log forwarding, configured by the charm's layer, on the rocks' real Pebble."""
    wait_until_served(ingress)

    def streams_of(service: str) -> list[dict[str, Any]]:
        return [s for s in LokiReceiver.streams if s["stream"].get("pebble_service") == service]

    for service in ("nginx", "indico", "celery-worker"):
        found: list[dict[str, Any]] = wait_for(  # type: ignore[assignment]
            functools.partial(streams_of, service), 90, f"{service}'s lines to reach Loki"
        )
        labels = found[0]["stream"]
        assert labels["juju_model"] == "pod" and labels["juju_application"] == "indico"
        assert labels["juju_unit"] in {"indico/0", "indico/1"} and labels["charm"] == "indico"
        assert any(value[1].strip() for stream in found for value in stream["values"]), "lines with text"


def rotated_key_layers(unit: str, state: testing.State, event: Any) -> tuple[dict[str, dict[str, Any]], testing.State]:
    ctx = LEADER["ctx"] if unit == "0" else testing.Context(IndicoCharm, charm_root=charm_root())
    out = ctx.run(event(ctx), state)
    return {c.name: dict(c.layers[LAYER_LABEL].to_dict()) for c in out.containers}, out


def host_environ(pod: PodContainer) -> dict[str, dict[str, str]]:
    """Each process's environment in the container, read from the host's /proc (the LaTeX rock
    has no shell): "pid args" -> environment."""
    seen = {}
    for pid, _uid, args in pod.container.top(ps_args="-o pid,uid,args")["Processes"]:
        try:
            raw = Path(f"/proc/{pid}/environ").read_bytes()
        except FileNotFoundError:  # a job's process that has ended
            continue
        pairs = (entry.partition(b"=") for entry in raw.split(b"\0") if entry)
        seen[f"{pid} {args}"] = {key.decode(): value.decode(errors="replace") for key, _, value in pairs}
    return seen


@pytest.fixture(scope="module")
def latex_conference(pods: dict[str, PodContainer], ingress: TlsIngress) -> tuple[int, list[int]]:
    """A conference in the pod's database, made by its own admin: (event id, contribution ids)."""
    wait_until_served(ingress)
    indico = charm_container("indico", pods["0/indico"])
    pebble_ops.run_admin(indico, ["create-admin", "latex-chair@example.org"], stdin="latex-password\n")
    titles = ["Η φυσική των σωματιδίων", "Second contribution"]
    script = ["python3", "-c", CREATE_CONFERENCE, "latex-chair@example.org", *titles]
    out, _ = pods["0/indico"].client.exec(script, service_context="indico", timeout=300).wait_output()
    event_id, *contributions = (int(n) for n in out.strip().splitlines()[-1].split())
    return event_id, contributions


def anonymous_pdf(ingress: TlsIngress, path: str) -> Response:
    # XeLaTeX takes seconds, more on a busy node: a visitor's browser waits as long.
    return past_latex_rate_limit(
        lambda: ingress.request(path, timeout=120), lambda answer: (answer.status, answer.body)
    )


def test_a_contribution_pdf_through_the_https_ingress_is_made_in_the_latex_container(
    pods: dict[str, PodContainer], ingress: TlsIngress, latex_conference: tuple[int, list[int]], tmp_path: Path
) -> None:
    """The four containers as the charm configures them: Indico hands the job to the LaTeX
    container over the pod's loopback, and the PDF comes back through NGINX and the ingress."""
    event_id, contributions = latex_conference
    answer = anonymous_pdf(ingress, f"/event/{event_id}/contributions/{contributions[0]}/contribution.pdf")
    assert answer.status == 200, (answer.status, answer.body[:500])
    assert answer.headers["Content-Type"] == "application/pdf"
    assert "Η φυσική των σωματιδίων" in pdf_text(answer.body, tmp_path)
    worker_log = pods["0/indico-latex"].container.logs().decode(errors="replace")
    assert "job single_doc.tex: exit 0" in worker_log, worker_log[-3000:]


def test_the_latex_container_holds_none_of_the_sites_secrets(
    pods: dict[str, PodContainer], latex_conference: tuple[int, list[int]]
) -> None:
    """Read from outside, as root: every process of the LaTeX container, Pebble and the worker."""
    plan = pods["0/indico"].client.get_plan().services["indico"].environment
    secrets = {
        **secrets_of_the_indico_service(pods["0/indico"]),
        "INDICO_DB_URI": plan["INDICO_DB_URI"],
        "INDICO_REDIS_URL": plan["INDICO_REDIS_URL"],
    }
    processes = host_environ(pods["0/indico-latex"])
    assert any("indico-latex-worker serve" in key for key in processes), processes.keys()
    for process, environ in processes.items():
        leaked = {name for name, secret in secrets.items() if any(secret in value for value in environ.values())}
        assert not leaked, (process, leaked)
        assert not [key for key in environ if key.startswith("INDICO_") or key.startswith("PG")], (process, environ)
    mounts = {m["Destination"] for m in pods["0/indico-latex"].container.attrs["Mounts"]}
    assert mounts == {"/charm/container"}, "no archive, no other volume: only Juju's Pebble socket"
    # The worker has shut itself out of TCP (Landlock) once listening: what it runs cannot reach
    # PostgreSQL (the rock's Go tests and test_latex_rock's probe perform the connection).
    worker_log = pods["0/indico-latex"].container.logs().decode(errors="replace")
    assert "serving XeLaTeX jobs on 127.0.0.1:8089" in worker_log, worker_log[-2000:]
    assert "the worker itself makes no TCP connection" in worker_log, worker_log[-2000:]


def test_with_the_latex_worker_stopped_the_charm_says_so_and_a_pdf_is_indicos_unavailable_page(
    pods: dict[str, PodContainer], ingress: TlsIngress, latex_conference: tuple[int, list[int]]
) -> None:
    """What the status collector reads from the LaTeX container's real Pebble, and what a visitor
    gets meanwhile: Indico's own 503 for the PDF, the event page still served."""
    latex = charm_container("indico-latex", pods["0/indico-latex"])
    assert status.latex_unavailable(pebble_ops.read_workload(latex)) is None
    pods["0/indico-latex"].client.stop_services(["latex"])
    try:
        assert status.latex_unavailable(pebble_ops.read_workload(latex)) == (
            "PDFs from LaTeX are unavailable (indico-latex: the latex service is inactive; see `juju debug-log`)"
        )
        event_id, contributions = latex_conference
        answer = anonymous_pdf(ingress, f"/event/{event_id}/contributions/{contributions[1]}/contribution.pdf")
        assert answer.status == 503, (answer.status, answer.body[:500])
        assert b"PDF files are currently unavailable" in answer.body and b"Traceback" not in answer.body
        assert ingress.request(f"/event/{event_id}/").status == 200
    finally:
        pods["0/indico-latex"].client.start_services(["latex"])
    wait_for(lambda: status.latex_unavailable(pebble_ops.read_workload(latex)) is None, 30, "the worker back")
    answer = anonymous_pdf(ingress, f"/event/{event_id}/contributions/{contributions[1]}/contribution.pdf")
    assert answer.status == 200 and answer.body.startswith(b"%PDF"), answer.status


def test_rotate_secret_key_reaches_both_units_and_signs_everyone_out(
    pods: dict[str, PodContainer], ingress: TlsIngress
) -> None:
    """rotate-secret-key as Juju runs it: the action on the leader (unit 0) writes a new key into
    the shared secret and a new generation into the peer data, and applies it; unit 1 hears the
    peer relation change and applies it too; the action then ends every session. Each unit's
    layer goes to its real Pebble, and the sessions end in the real Redis."""
    wait_until_served(ingress)
    indico = charm_container("indico", pods["0/indico"])
    pebble_ops.run_admin(indico, ["create-admin", "rotation@example.org"], stdin="rotation-password\n")
    person = IngressBrowser(ingress)
    person.log_in("rotation", "rotation-password")
    assert person.signed_in()
    key_before = pods["0/indico"].client.get_plan().services["indico"].environment["INDICO_SECRET_KEY"]
    web_before = pids(pods["0/indico"], "uwsgi")

    ended = testing.Exec(["/usr/local/bin/indico-admin", "end-sessions"], stdout='{"sessions-ended": 0}')
    leader_state = dataclasses.replace(
        LEADER["state"],
        containers=frozenset(
            dataclasses.replace(c, execs=frozenset({ended})) if c.name == "indico" else c for c in reachable()
        ),
    )
    leader_layers, leader_out = rotated_key_layers("0", leader_state, lambda ctx: ctx.on.action("rotate-secret-key"))
    assert LEADER["ctx"].action_results == {"rotated": "true", "sessions-ended": "0"}
    for name, layer in leader_layers.items():
        assert pebble_ops.apply_layer(charm_container(name, pods[f"0/{name}"]), layer)
    LEADER.update(state=dataclasses.replace(leader_out, containers=reachable()))

    # Unit 1: the application's peer data (the new generation) and the secret's new revision.
    shared = next(s for s in leader_out.secrets if s.label == "indico-secret-key")
    content = shared.latest_content or shared.tracked_content
    follower = dataclasses.replace(
        leader_out,
        leader=False,
        containers=reachable(),
        secrets=frozenset(
            testing.Secret(content, id=s.id, owner=None) if s.id == shared.id else s for s in leader_out.secrets
        ),
    )
    follower_peer = next(r for r in follower.relations if r.endpoint == "indico-peers")
    follower_layers, _ = rotated_key_layers(
        "1", follower, lambda ctx: ctx.on.relation_changed(follower_peer, remote_unit=0)
    )
    assert pebble_ops.apply_layer(charm_container("celery", pods["1/celery"]), follower_layers["celery"])

    keys = {
        key: pods[key].client.get_plan().services[service].environment["INDICO_SECRET_KEY"]
        for key, service in (("0/indico", "indico"), ("0/celery", "celery-worker"), ("1/celery", "celery-worker"))
    }
    assert len(set(keys.values())) == 1 and key_before not in keys.values(), "every unit runs the one new key"
    # What the action runs after the new key, for real: the sessions in the shared Redis end.
    assert pebble_ops.run_admin(indico, ["end-sessions"])["sessions-ended"] >= 1
    wait_until_served(ingress)
    assert not web_before & pids(pods["0/indico"], "uwsgi"), "uWSGI restarted with the new key"
    assert not person.signed_in(), "signed out: log in again"
    person.log_in("rotation", "rotation-password")  # the account and its password are still there
    assert person.signed_in()


def test_a_restarted_pod_comes_back_with_its_files_and_schema(
    docker_client: docker.DockerClient,
    pod_rocks: dict[str, BuiltRock],
    pods: dict[str, PodContainer],
    ingress: TlsIngress,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Kubernetes deletes unit 0's pod and makes it again: new containers from the rocks, with only
    the rocks' layers and nothing started (Juju's --hold), the same archive volume and database.
    Juju then sends pebble-ready, and the charm's layers must bring the unit back by themselves.
    Runs last: the module's other tests use the first pod."""
    wait_until_served(ingress)
    probe = f"{ARCHIVE_PATH}/restart-probe-{os.getpid()}"
    pods["0/indico"].client.exec(["sh", "-c", f"echo before-the-restart > {probe}"]).wait_output()
    mounts = {m["Destination"]: m["Source"] for m in pods["0/indico"].container.attrs["Mounts"]}
    for name in IMAGE_OF:
        pods[f"0/{name}"].container.remove(force=True)

    base = tmp_path_factory.mktemp("pod-again")
    for name, image in IMAGE_OF.items():
        pods[f"0/{name}"] = start_like_juju(
            docker_client,
            pod_rocks[image].image,
            base / name,
            container_uid(name),
            archive=Path(mounts[ARCHIVE_PATH]) if name in ARCHIVE_CONTAINERS else None,
        )
    assert all(not active(pods[f"0/{name}"]) for name in IMAGE_OF), "Juju's --hold: nothing runs before the charm"

    ctx, state = LEADER["ctx"], dataclasses.replace(LEADER["state"], containers=reachable())
    for name in IMAGE_OF:  # each container's Pebble answers on its own, each with its own pebble-ready
        pod = pods[f"0/{name}"]
        loopback: Any = LOOPBACK_LAYER.get(name, {"services": {}})
        pod.client.add_layer("test-loopback", pebble.Layer(loopback), combine=True)
        out = ctx.run(ctx.on.pebble_ready(next(c for c in state.containers if c.name == name)), state)
        layer = dict(next(c for c in out.containers if c.name == name).layers[LAYER_LABEL].to_dict())
        assert pebble_ops.apply_layer(charm_container(name, pod), layer)

    wait_until_served(ingress)
    assert pods["0/celery"].client.exec(["cat", probe]).wait_output()[0] == "before-the-restart\n"
    assert {"celery-worker", "celery-beat"} <= active(pods["0/celery"]), "the leader's pod runs beat again"
    web_log = pods["0/indico"].container.logs().decode(errors="replace")
    assert "indico-migrate: database is at this release's schema" in web_log, "no second migration"
