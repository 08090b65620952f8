"""The runtime contract of the indico and indico-nginx rocks, against real PostgreSQL and Redis.

Both images run with --network host, as the containers of one Kubernetes pod share a network
namespace. Every server listens on loopback only (INDICO_LISTEN_ADDRESS / NGINX_LISTEN_ADDRESS; uWSGI's
INDICO_WEB_LISTEN_ADDRESS is loopback by default).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.models.containers
import pytest

from rockbuild.build.artifact import BuiltRock
from rockbuild.parity import rockfile
from tests.image import external_sources as ext
from tests.image import lane_network
from tests.image.conftest import exec_text, probe, run_migration, wait_for
from tests.image.services import PG_PASSWORD, PG_USER, Postgres, Redis

SITE = "localhost:8080"  # Indico routes by Host: requests must name its BASE_URL's host
NGINX = "http://127.0.0.1:8080"
UWSGI = "http://127.0.0.1:8081"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


OPENER = urllib.request.build_opener(NoRedirect)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def get(url: str, host: str | None = SITE, timeout: float = 10) -> Response:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with OPENER.open(request, timeout=timeout) as response:
            return Response(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, dict(error.headers), error.read())


def indico_env(postgres: Postgres, redis: Redis, database: str) -> dict[str, str]:
    """The rock's settings on a new, empty database."""
    return indico_settings(postgres.create_database(database), redis)


def indico_settings(database_uri: str, redis: Redis) -> dict[str, str]:
    return {
        "INDICO_DB_URI": database_uri,
        "INDICO_REDIS_URL": redis.url,
        "INDICO_SECRET_KEY": uuid.uuid4().hex * 2,
        "INDICO_BASE_URL": f"http://{SITE}",
        "INDICO_LISTEN_ADDRESS": "127.0.0.1",
        "UWSGI_PROCESSES": "2",
        "CELERY_CONCURRENCY": "1",
    }


@dataclass
class App:
    indico: docker.models.containers.Container
    nginx: docker.models.containers.Container
    env: dict[str, str]
    postgres: Postgres


@pytest.fixture(scope="module")
def app(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock], backing_services: tuple[Postgres, Redis]
) -> Iterator[App]:
    postgres, redis = backing_services
    env = indico_env(postgres, redis, "indico_contract")
    indico = docker_client.containers.run(
        rocks["indico"].image, detach=True, network_mode=lane_network.container_network(), environment=env
    )
    nginx = docker_client.containers.run(
        rocks["indico-nginx"].image,
        detach=True,
        network_mode=lane_network.container_network(),
        environment={"NGINX_LISTEN_ADDRESS": "127.0.0.1"},
    )
    try:
        wait_for(lambda: get(f"{NGINX}/bootstrap").status == 200, 240, "Indico to answer through NGINX")
        yield App(indico, nginx, env, postgres)
    finally:
        indico.remove(force=True)
        nginx.remove(force=True)


def logs(container: docker.models.containers.Container) -> str:
    return str(container.logs().decode(errors="replace"))


@pytest.mark.parametrize("base", [UWSGI, NGINX], ids=["uwsgi-8081", "nginx-8080"])
def test_root_redirects_to_bootstrap_which_answers(app: App, base: str) -> None:
    root = get(f"{base}/")
    assert root.status == 302
    assert root.headers["Location"].endswith("/bootstrap")
    assert get(f"{base}/bootstrap").status == 200


def test_another_host_is_not_served(app: App) -> None:
    assert get(f"{UWSGI}/bootstrap", host="other.example:8080").status == 404


def test_static_files_are_served_by_nginx_and_never_reach_uwsgi(app: App) -> None:
    via_nginx, via_uwsgi = uuid.uuid4().hex, uuid.uuid4().hex
    response = get(f"{NGINX}/images/indico.ico?probe={via_nginx}")
    assert response.status == 200 and len(response.body) > 0
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    assert get(f"{UWSGI}/images/indico.ico?probe={via_uwsgi}").status == 200
    # uWSGI logs every request it serves: the direct one shows up, the one NGINX served does not.
    wait_for(lambda: via_uwsgi in logs(app.indico), 10, "uWSGI to log the direct request")
    assert via_nginx not in logs(app.indico)
    assert via_nginx in logs(app.nginx)


ASSET_PREFIXES = ("/dist/", "/fonts/", "/images/", "/css/", "/static/")
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)""")
HTML_URL = re.compile(r"""(?:src|href)=["']([^"']+)""")


def stylesheets(container: docker.models.containers.Container, root: str) -> dict[str, str]:
    """Every .css file under `root` in the container, by path (the bare rock has no cat: read the tar)."""
    stream, _ = container.get_archive(root)
    found = {}
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        for member in tar:
            extracted = tar.extractfile(member) if member.name.endswith(".css") else None
            if extracted:
                found[member.name] = extracted.read().decode(errors="replace")
    return found


def asset_paths(texts: list[str], pattern: re.Pattern[str]) -> set[str]:
    """The site-absolute asset URLs that `texts` reference, without query string or fragment."""
    paths = set()
    for text in texts:
        for url in pattern.findall(text):
            path = re.split(r"[?#]", url.replace("&amp;", "&"), maxsplit=1)[0]
            if path.startswith(ASSET_PREFIXES):
                paths.add(path)
    return paths


def test_every_asset_the_css_and_pages_reference_is_served_by_nginx(app: App) -> None:
    """Indico's stylesheets name fonts and images with a version suffix (`icomoon__vbf02496d.woff`)
    that the file on disk lacks; every URL they and the pages name must answer from NGINX."""
    css = asset_paths(list(stylesheets(app.nginx, "/srv/indico/static").values()), CSS_URL)
    pages = [get(f"{NGINX}{page}").body.decode() for page in ("/bootstrap", "/login/")]
    html = asset_paths(pages, HTML_URL)
    linked_css = [get(f"{NGINX}{path}").body.decode() for path in html if path.endswith(".css")]
    paths = css | html | asset_paths(linked_css, CSS_URL)
    versioned = {path for path in paths if re.search(r"__v[0-9a-f]+\.", path)}
    # 96 distinct versioned paths in 3.3.14: far fewer means the list was not derived as meant.
    assert len(versioned) >= 50 and any("/fonts/icomoon/" in p for p in versioned), sorted(paths)[:20]
    probe = uuid.uuid4().hex
    answers = {path: get(f"{NGINX}{path}?probe={probe}") for path in sorted(paths)}
    failing = {path: answer.status for path, answer in answers.items() if answer.status != 200}
    assert not failing, f"{len(failing)} of {len(paths)} asset URLs fail: {sorted(failing.items())[:20]}"
    for path in versioned:
        assert answers[path].headers["Cache-Control"] == "public, max-age=86400", path
        assert len(answers[path].body) > 0, path
    assert probe in logs(app.nginx) and probe not in logs(app.indico), "an asset request reached uWSGI"


def test_a_versioned_name_serves_the_file_without_the_version(app: App) -> None:
    plain = get(f"{NGINX}/fonts/icomoon/icomoon.woff")
    versioned = get(f"{NGINX}/fonts/icomoon/icomoon__v0123abcd.woff")
    assert plain.status == versioned.status == 200 and plain.body == versioned.body
    # Only a hex version before the extension is taken off; anything else names a missing file.
    assert get(f"{NGINX}/fonts/icomoon/icomoon__vXYZ.woff").status == 404
    assert get(f"{NGINX}/images/..%2f..%2fetc/passwd__v1.png").status in (400, 404)


def test_bundles_are_cached_long(app: App) -> None:
    page = get(f"{NGINX}/bootstrap").body.decode()
    bundle = re.search(r'src="(/dist/[^"?]+\.js)', page)
    assert bundle, "the bootstrap page links a /dist bundle"
    response = get(f"{NGINX}{bundle.group(1)}")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_nginx_health_headers_status_and_exporter(app: App) -> None:
    health = get(f"{NGINX}/health", host=None)
    assert health.status == 204
    assert health.headers["Server"] == "nginx", "server_tokens off: no version"
    assert health.headers["X-Content-Type-Options"] == "nosniff"
    assert health.headers["X-Frame-Options"] == "SAMEORIGIN"
    status = get("http://127.0.0.1:9080/stub_status", host=None)
    assert status.status == 200 and b"Active connections" in status.body
    assert get("http://127.0.0.1:9080/", host=None).status == 404
    metrics = get("http://127.0.0.1:9113/metrics", host=None).body.decode()
    assert re.search(r"^nginx_up 1$", metrics, re.MULTILINE)


def test_the_proxy_passes_the_host_header_on(app: App) -> None:
    # Indico routes by Host: only the client's own Host header, passed on by NGINX, is served.
    assert get(f"{NGINX}/bootstrap", host=SITE).status == 200
    assert get(f"{NGINX}/bootstrap", host="other.example:8080").status == 404


def test_uwsgi_pushes_stats_to_the_statsd_exporter(app: App) -> None:
    """Named by the rock's statsd-mapping.yaml; the response totals are uWSGI's own count."""
    before = exporter_value("indico_http_responses_total")
    for _ in range(5):
        get(f"{UWSGI}/bootstrap")
    assert get(f"{UWSGI}/no-such-page").status == 404

    def pushed() -> bool:
        metrics = get("http://127.0.0.1:9102/metrics", host=None).body.decode()
        per_worker = re.search(r'^indico_uwsgi_worker_requests\{worker="\d+"\} \d+', metrics, re.MULTILINE)
        return bool(per_worker) and exporter_value("indico_http_responses_total") >= before + 6

    wait_for(pushed, 60, "uWSGI's request counters on :9102")
    assert "indico_uwsgi_idle_workers" in get("http://127.0.0.1:9102/metrics", host=None).body.decode()


def exporter_value(name: str) -> float:
    """A metric's value on the StatsD exporter (0 while it has never been pushed)."""
    metrics = get("http://127.0.0.1:9102/metrics", host=None).body.decode()
    found = re.search(rf"^{name} (\S+)$", metrics, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_celery_worker_runs_a_task_sent_through_redis(app: App) -> None:
    sent = exec_text(app.indico, ["indico", "celery", "call", "heartbeat"]).strip().splitlines()[-1]
    assert re.fullmatch(r"[0-9a-f-]{36}", sent), sent
    wait_for(lambda: f"Task heartbeat[{sent}] succeeded" in logs(app.indico), 60, "the worker to run the task")
    services = exec_text(app.indico, ["pebble", "services"])
    assert re.search(r"^celery-beat\s+enabled\s+active", services, re.MULTILINE)
    assert "beat: Starting..." in logs(app.indico)


QUEUE_MAILS = """
import sys
from indico.web.flask.app import make_app

with make_app().app_context():
    from indico.core.emails import send_email_task
    from indico.core.notifications import make_email

    count, size, tag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    for i in range(count):
        body = f'{tag}-{i:08d} ' * (size // 18)  # distinct bodies: nothing shared between messages
        send_email_task.delay(make_email(to_list={f'p{i}@example.org'}, subject=f'{tag} {i}', body=body))
"""


def celery_worker_rss_kib(app: App) -> int:
    rows = app.indico.top(ps_args="-o pid,rss,args")["Processes"]
    return sum(int(rss) for _pid, rss, args in rows if "celery" in args and "worker" in args)


def queue_mails_and_wait(app: App, count: int, tag: str) -> None:
    exec_text(app.indico, ["python3", "-c", QUEUE_MAILS, str(count), str(16 * 1024), tag])
    wait_for(lambda: logs(app.indico).count(f'Sent email "{tag} ') >= count, 300, f"the worker to take {count} mails")


def test_with_mail_off_the_worker_drops_mail_and_keeps_none(app: App) -> None:
    """Without INDICO_SMTP_HOST each mail is logged in one line and dropped: 2000 mails of 16 KiB
    leave the Celery worker's memory where it was (a backend that keeps them, as Indico's in-memory
    test backend does, grows it by their 32 MiB until the worker restarts)."""
    queue_mails_and_wait(app, 200, "warm-up")
    before = celery_worker_rss_kib(app)
    queue_mails_and_wait(app, 2000, "bulk")
    grown = celery_worker_rss_kib(app) - before
    assert grown < 8 * 1024, f"the worker grew by {grown} KiB over 2000 mails"
    dropped = [line for line in logs(app.indico).splitlines() if "mail is off" in line and "bulk 1999" in line]
    assert len(dropped) == 1 and "p1999@example.org" not in dropped[0], "one line per mail, no address in it"


def test_celery_yields_the_cpu_to_uwsgi(app: App) -> None:
    """Worker and beat run at niceness 10, uWSGI at 0: requests come before background work."""
    rows = app.indico.top(ps_args="-o pid,ni,args")["Processes"]
    niceness = {args: int(ni) for _pid, ni, args in rows}
    celery = [ni for args, ni in niceness.items() if "celery" in args]
    uwsgi = [ni for args, ni in niceness.items() if "uwsgi --ini" in args]
    assert celery and set(celery) == {10}, niceness
    assert uwsgi and set(uwsgi) == {0}, niceness


def test_a_bad_celery_niceness_is_refused_by_name(app: App) -> None:
    code, output = app.indico.exec_run(["indico-start", "celery-beat"], environment={"CELERY_NICENESS": "-5"})
    assert code == 64
    assert "CELERY_NICENESS must be a whole number from 0 to 19, not '-5'" in output.decode()


@pytest.mark.parametrize("which", ["indico", "nginx"])
def test_every_process_runs_as_a_non_root_user(app: App, which: str) -> None:
    container = getattr(app, which)
    processes = container.top(ps_args="-o pid,uid,args")["Processes"]
    assert len(processes) >= 3
    assert all(uid != "0" for _pid, uid, _args in processes), processes


@pytest.mark.parametrize("which", ["indico", "nginx"])
def test_pebble_checks_are_up(app: App, which: str) -> None:
    container = getattr(app, which)

    def all_up() -> bool:
        rows = exec_text(container, ["pebble", "checks"]).splitlines()[1:]
        return bool(rows) and all(row.split()[3] == "up" for row in rows)

    wait_for(all_up, 60, f"every check of {which} to be up")


def main_pid(container: docker.models.containers.Container, pattern: str) -> str:
    """The host PID of the server's main process (uWSGI's or NGINX's master: its workers are its
    children), under the start script Pebble runs."""
    rows = container.top(ps_args="-o pid,ppid,args")["Processes"]
    matching = {pid: ppid for pid, ppid, args in rows if re.search(pattern, args)}
    return str(next(pid for pid, ppid in matching.items() if ppid not in matching))


@pytest.mark.parametrize(
    ("which", "pattern", "url"),
    [("indico", r"uwsgi --ini", f"{UWSGI}/bootstrap"), ("nginx", r"nginx: master", f"{NGINX}/bootstrap")],
)
def test_pebble_restarts_a_killed_service(app: App, which: str, pattern: str, url: str) -> None:
    container = getattr(app, which)
    before = main_pid(container, pattern)
    os.kill(int(before), signal.SIGKILL)  # `docker top` gives host PIDs: kill the process from outside
    wait_for(lambda: main_pid(container, pattern) != before, 60, f"Pebble to restart {which}")
    wait_for(lambda: get(url).status == 200, 120, f"{url} to answer again")


def test_a_missing_setting_is_reported_by_name(rocks: dict[str, BuiltRock], run_container: Any) -> None:
    container = run_container(
        rocks["indico"].image,
        environment={"INDICO_BASE_URL": f"http://{SITE}", "INDICO_LISTEN_ADDRESS": "127.0.0.2"},
    )
    expected = "indico-start web: missing required environment variable(s): INDICO_DB_URI INDICO_SECRET_KEY"
    wait_for(lambda: expected in logs(container), 30, "the missing settings to be named in the logs")
    assert 'Service "indico" stopped unexpectedly with code 64' in logs(container)


def failed_migration(container: Any) -> dict[str, Any] | None:
    """The rock's migration record once it says `failed` (what the charm reads for its status)."""
    code, out = container.exec_run(["cat", "/var/lib/indico/migration.json"])
    record = json.loads(out) if code == 0 else {}
    return record if record.get("state") == "failed" else None


def test_a_migration_that_cannot_create_the_extensions_is_recorded_with_its_remedy(
    rocks: dict[str, BuiltRock], run_container: Any, backing_services: tuple[Postgres, Redis]
) -> None:
    """A database user without CREATE on its database (as a provider may give): the rock's record
    says why and what to do, which the charm shows as its Blocked status."""
    postgres, redis = backing_services
    postgres.psql("CREATE ROLE no_create LOGIN")
    postgres.psql("CREATE DATABASE indico_no_create")  # owned by postgres: no_create may not create extensions
    env = indico_env(postgres, redis, "unused_no_create")
    env.update(
        INDICO_DB_URI=f"postgresql://no_create@127.0.0.1:{postgres.port}/indico_no_create",
        INDICO_LISTEN_ADDRESS="127.0.0.2",
    )
    container = run_container(rocks["indico"].image, environment=env)

    record: Any = wait_for(lambda: failed_migration(container), 60, "indico-migrate to record the failure")
    assert record["message"].startswith("the database user may not create the 'unaccent' extension")
    assert "plugin_unaccent_enable=true" in record["message"]
    assert record["indico-version"] == "3.3.14"


COMMENT = "SELECT obj_description('public.alembic_version'::regclass, 'pg_class')"


@pytest.fixture(scope="module")
def migrated_database(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock], backing_services: tuple[Postgres, Redis]
) -> str:
    """A database brought to this release's schema by the rock's own `indico-start migrate`: the
    template of the tests that change its schema revision (each gets a copy)."""
    postgres, redis = backing_services
    env = indico_env(postgres, redis, "indico_migrated_template")
    code, output = run_migration(docker_client, rocks["indico"].image, env)
    assert code == 0, output[-2000:]
    database = env["INDICO_DB_URI"].rsplit("/", 1)[1]
    assert postgres.psql(COMMENT, database).strip() == "migrated by Indico 3.3.14"
    return database


def copy_of(migrated: str, name: str, backing_services: tuple[Postgres, Redis]) -> dict[str, str]:
    """The settings of a rock on a copy of the migrated database."""
    postgres, redis = backing_services
    postgres.psql(f'CREATE DATABASE "{name}" TEMPLATE "{migrated}"')
    return indico_settings(postgres.uri(name), redis)


def test_a_schema_migrated_by_a_later_release_is_refused_and_left_untouched(
    rocks: dict[str, BuiltRock], run_container: Any, backing_services: tuple[Postgres, Redis], migrated_database: str
) -> None:
    """A refresh back to an older rock: the database already carries a later release's schema
    revision. The rock names both releases and the way forward, starts no uWSGI and no Celery,
    writes nothing."""
    postgres, _ = backing_services
    database = "indico_newer_schema"
    env = copy_of(migrated_database, database, backing_services) | {"INDICO_LISTEN_ADDRESS": "127.0.0.2"}
    # What a later release's migration leaves: a revision this release does not know, and its mark.
    postgres.psql("UPDATE public.alembic_version SET version_num = 'f00dcafe9999'", database)
    postgres.psql("COMMENT ON TABLE public.alembic_version IS 'migrated by Indico 3.4.0'", database)
    container = run_container(rocks["indico"].image, environment=env)

    record: Any = wait_for(lambda: failed_migration(container), 120, "indico-migrate to refuse the newer schema")
    message = record["message"]
    assert message.startswith("the database schema was migrated by Indico 3.4.0, newer than this Indico 3.3.14")
    assert "f00dcafe9999" in message and "Refresh forward to Indico 3.4.0 again" in message
    assert "restore the database backup" in message
    stopped = [f'Service "{service}" stopped unexpectedly' for service in ("indico", "celery-worker", "celery-beat")]
    wait_for(lambda: all(line in logs(container) for line in stopped), 60, "the web and Celery services to stop")
    refused = "indico-migrate: not starting: the database schema was migrated by Indico 3.4.0"
    assert logs(container).count(refused) >= 2, "both Celery services refuse the schema, not only uWSGI"
    assert " ready." not in logs(container) and "beat: Starting" not in logs(container), "Celery never started"
    assert postgres.psql("SELECT version_num FROM public.alembic_version", database).strip() == "f00dcafe9999"
    assert postgres.psql(COMMENT, database).strip() == "migrated by Indico 3.4.0", "the mark was rewritten"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.2", 8081), timeout=2).close()


def test_celery_waits_for_its_releases_schema_and_stays_alive_meanwhile(
    rocks: dict[str, BuiltRock],
    run_container: Any,
    docker_client: docker.DockerClient,
    backing_services: tuple[Postgres, Redis],
    migrated_database: str,
) -> None:
    """The worker of a pod whose web service is still migrating (an older revision in the
    database) waits, beating its heartbeat so that its alive check holds, and starts once the
    schema is this release's."""
    postgres, _ = backing_services
    database = "indico_older_schema"
    env = copy_of(migrated_database, database, backing_services)
    heads = set(postgres.psql("SELECT version_num FROM public.alembic_version", database).split())
    parent = probe(
        docker_client,
        rocks["indico"].image,
        [
            "python3",
            "-c",
            "import sys, indico, pathlib; from alembic.script import ScriptDirectory; "
            "s = ScriptDirectory(str(pathlib.Path(indico.__file__).parent / 'migrations')); "
            "print(s.get_revision(sys.argv[1]).down_revision)",
            min(heads),
        ],
    ).strip()
    postgres.psql(
        f"UPDATE public.alembic_version SET version_num = '{parent}' WHERE version_num = '{min(heads)}'", database
    )
    worker = run_container(
        rocks["indico"].image, command=["exec", "/usr/local/bin/indico-start", "celery-worker"], environment=env
    )
    waiting = "indico-migrate: waiting for the database to reach this release's schema"
    wait_for(lambda: waiting in logs(worker), 60, "the worker to wait for the schema")
    beat = "test -n \"$(find /tmp/indico/celery-worker.heartbeat -newermt '-10 seconds')\""
    for _ in range(2):  # over two of its looks at the schema
        time.sleep(6)
        assert worker.exec_run(["sh", "-c", beat])[0] == 0, "the waiting worker beats its heartbeat"
        assert " ready." not in logs(worker), "the worker started on an older schema"

    postgres.psql(
        f"UPDATE public.alembic_version SET version_num = '{min(heads)}' WHERE version_num = '{parent}'", database
    )
    wait_for(lambda: " ready." in logs(worker), 90, "the worker to start on this release's schema")
    assert "the database is at this release's schema" in logs(worker)


def test_indico_external_never_writes_a_customization_token(rocks: dict[str, BuiltRock], run_container: Any) -> None:
    """The real tool and real git, against a URL whose clone fails: the token stays out of the
    state file, the clone's remote and every message."""
    token = "s3cr3t-t0ken"
    url = f"https://bot:{token}@127.0.0.1:9/private.git"  # nothing listens on the discard port
    container = run_container(rocks["indico"].image, entrypoint=["sleep", "120"])
    code, output = container.exec_run(
        ["/usr/local/bin/indico-external", "sync"], environment={"INDICO_EXTERNAL_CUSTOMIZATION_URL": url}
    )
    text = output.decode(errors="replace")
    assert code != 0 and "git fetch https://127.0.0.1:9/private.git HEAD failed" in text, text
    state = exec_text(container, ["cat", "/var/lib/indico/external/state.json"])
    customization = json.loads(state)["customization"]
    assert customization["url"] == "https://***@127.0.0.1:9/private.git"
    assert customization["url-sha256"] == hashlib.sha256(url.encode()).hexdigest()
    assert token not in text + state


@pytest.mark.parametrize(
    ("link", "target", "named"),
    [("files/root", "/", "files/root"), ("files/up", "../..", "files/up"), ("deep/a/b", "../../../etc", "deep/a/b")],
)
def test_indico_external_refuses_a_repository_that_links_out_of_itself(
    rocks: dict[str, BuiltRock], run_container: Any, tmp_path: Path, link: str, target: str, named: str
) -> None:
    """`files/root -> /` in a customization repository made /static/custom/files/root/etc/hostname
    serve the container's files: the real tool and git refuse it, naming the link, and keep the
    checkout it had."""
    tmp_path.chmod(0o755)  # pytest's temporary directories are private; the rock's user reads this
    repo = ext.customization_repo(tmp_path, "good")
    container = run_container(
        rocks["indico"].image, entrypoint=["sleep", "120"], volumes={str(tmp_path): {"bind": "/srv/c", "mode": "ro"}}
    )
    sync = ["/usr/local/bin/indico-external", "sync", "--customization-url", "file:///srv/c/custom-src"]
    exec_text(container, sync)
    (repo / link).parent.mkdir(parents=True, exist_ok=True)
    (repo / link).symlink_to(target)
    ext.git(repo, "-c", "safe.directory=*", "add", link)
    ext.git(repo, "-c", "safe.directory=*", "commit", "--quiet", "-m", "link out")
    for path in [repo, *repo.rglob("*")]:
        os.lchown(path, ext.DAEMON_UID, ext.DAEMON_UID)
    code, output = container.exec_run([*sync, "--refresh"])  # a new commit at the same URL
    text = output.decode(errors="replace")
    assert code != 0 and f"the customization repository's {named} is a symbolic link out of the repository" in text
    assert exec_text(container, ["cat", f"/var/lib/indico/external/custom/{ext.CUSTOM_FILE}"]) == "good"
    code, _ = container.exec_run(["test", "-e", f"/var/lib/indico/external/custom/{link}"])
    assert code != 0, "the refused checkout is not in place"


def test_indico_external_fetches_only_https_or_a_local_path(rocks: dict[str, BuiltRock], run_container: Any) -> None:
    container = run_container(rocks["indico"].image, entrypoint=["sleep", "120"])
    for url in ("http://127.0.0.1:9/c.git", "git://127.0.0.1:9/c.git", "ssh://git@127.0.0.1:9/c.git", "ext::sh -c id"):
        code, output = container.exec_run(["/usr/local/bin/indico-external", "sync", "--customization-url", url])
        assert code != 0 and "is not an https:// (or file://) URL" in output.decode(errors="replace"), url


def test_indico_external_installs_a_hashed_plugin_only_with_its_hash(
    rocks: dict[str, BuiltRock], run_container: Any, tmp_path: Path
) -> None:
    """`#sha256=` on every plugin: pip installs with --require-hashes, so a changed file is refused.
    Plugins come from the index, https or a file in the container; never http or a VCS."""
    tmp_path.chmod(0o755)  # pytest's temporary directories are private; the rock's user reads this
    wheel = ext.plugin_wheel(tmp_path)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    container = run_container(
        rocks["indico"].image, entrypoint=["sleep", "180"], volumes={str(tmp_path): {"bind": "/srv/w", "mode": "ro"}}
    )
    sync = ["/usr/local/bin/indico-external", "sync", "--"]
    path = f"/srv/w/{wheel.name}"
    for spec, refusal in [
        ("http://127.0.0.1:9/p-1.0-py3-none-any.whl", "only https:// URLs"),
        ("probe@http://127.0.0.1:9/p-1.0-py3-none-any.whl", "only https:// URLs"),
        ("git+https://127.0.0.1:9/p.git", "not from a version control system"),
        (f"{path}#sha256={'0' * 64}", f"Got        {digest}"),  # pip's hash mismatch names the file's
    ]:
        code, output = container.exec_run([*sync, spec])
        assert code != 0 and refusal in output.decode(errors="replace"), (spec, output[-600:])
    result = json.loads(exec_text(container, [*sync, f"{path}#sha256={digest}"]).strip().splitlines()[-1])
    assert result["plugins"] == ["probe"] and result["plugins-changed"] is True


def certificate_authority(directory: Path, name: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    ca, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}"),
            *("-keyout", str(key), "-out", str(ca)),
        ],
        check=True,
        capture_output=True,
    )
    ca.chmod(0o644)
    return ca, key


def server_certificate(directory: Path, ca: tuple[Path, Path], host: str) -> tuple[Path, Path]:
    certificate, key, request = directory / "server.crt", directory / "server.key", directory / "server.csr"
    subprocess.run(
        [
            *("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={host}"),
            *("-keyout", str(key), "-out", str(request)),
        ],
        check=True,
        capture_output=True,
    )
    extensions = directory / "san.ext"
    extensions.write_text(f"subjectAltName=DNS:{host}\n")
    subprocess.run(
        [
            *("openssl", "x509", "-req", "-in", str(request), "-CA", str(ca[0]), "-CAkey", str(ca[1])),
            *("-CAcreateserial", "-days", "2", "-extfile", str(extensions), "-out", str(certificate)),
        ],
        check=True,
        capture_output=True,
    )
    return certificate, key


def test_the_database_server_is_verified_as_the_charm_asks(
    docker_client: docker.DockerClient,
    rocks: dict[str, BuiltRock],
    backing_services: tuple[Postgres, Redis],
    tmp_path: Path,
) -> None:
    """The URL the charm gives for a provider with TLS and a CA (sslmode=verify-full, sslrootcert
    where it writes the CA), against a real PostgreSQL speaking TLS: the rock migrates through it;
    a server whose certificate another CA signed, or that names another host, is refused."""
    _, redis = backing_services
    pki = tmp_path / "pki"
    ca = certificate_authority(pki, "database-ca")
    other_ca = certificate_authority(pki, "another-ca")
    # pytest's directories are private to root; PostgreSQL's user must reach its data directory.
    server_dir = Path(tempfile.mkdtemp(prefix="indico-tls-postgres-"))
    server_dir.chmod(0o755)
    postgres = Postgres.start(server_dir, tls=server_certificate(pki, ca, "localhost"))
    try:
        postgres.create_database("indico_tls")

        def migrate(host: str, trusted: Path) -> tuple[int, str]:
            query = "sslmode=verify-full&sslrootcert=/var/lib/indico/database-ca.pem"
            env = {
                "INDICO_DB_URI": f"postgresql://{PG_USER}@{host}:{postgres.port}/indico_tls?{query}",
                "PGPASSWORD": PG_PASSWORD,
                "INDICO_REDIS_URL": redis.url,
                "INDICO_SECRET_KEY": uuid.uuid4().hex * 2,
                "INDICO_BASE_URL": f"http://{SITE}",
            }
            volumes = {str(trusted): {"bind": "/var/lib/indico/database-ca.pem", "mode": "ro"}}
            return run_migration(docker_client, rocks["indico"].image, env, volumes)

        code, output = migrate("localhost", other_ca[0])
        assert code != 0 and "certificate verify failed" in output, output
        code, output = migrate("127.0.0.1", ca[0])
        assert code != 0 and 'does not match host name "127.0.0.1"' in output, output
        assert postgres.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'events'", "indico_tls") == "0"
        code, output = migrate("localhost", ca[0])
        assert code == 0, output
        assert postgres.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'events'", "indico_tls") != "0"
    finally:
        postgres.stop()
        shutil.rmtree(server_dir, ignore_errors=True)


def test_concurrent_migrations_are_serialised(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock], backing_services: tuple[Postgres, Redis]
) -> None:
    postgres, redis = backing_services
    env = indico_env(postgres, redis, "indico_concurrent")
    results: list[tuple[int, str]] = []

    def migrate() -> None:
        results.append(run_migration(docker_client, rocks["indico"].image, env))

    threads = [threading.Thread(target=migrate) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=320)
    assert [code for code, _ in results] == [0, 0, 0], [out[-2000:] for _, out in results]
    prepared = sum("running /usr/bin/indico db prepare" in out for _, out in results)
    assert prepared == 1, "exactly one container prepares the empty database; the others upgrade"
    database = env["INDICO_DB_URI"].rsplit("/", 1)[1]
    assert postgres.psql("SELECT count(*) FROM alembic_version", database) == "1"


def test_no_compilers_or_headers_in_the_images(rocks: dict[str, BuiltRock], docker_client: docker.DockerClient) -> None:
    listing = (
        "ls -d /usr/bin/gcc* /usr/bin/cc /usr/bin/x86_64-linux-gnu-gcc* /usr/include/python3.12 /usr/include/stdio.h"
    )
    for name in ("indico", "indico-nginx"):
        out = probe(docker_client, rocks[name].image, ["sh", "-c", f"{listing} 2>/dev/null; true"])
        assert not [line for line in out.splitlines() if line.startswith("/")], f"{name}: {out}"


def test_the_nginx_image_has_indicos_static_files_but_not_indico(
    rocks: dict[str, BuiltRock], docker_client: docker.DockerClient
) -> None:
    out = probe(
        docker_client,
        rocks["indico-nginx"].image,
        ["sh", "-c", "ls /srv/indico/static/dist | head -1; ls /usr/bin/python3 /usr/bin/indico 2>&1; true"],
    )
    assert "No such file" in out and out.count("No such file") == 2, out


def test_no_source_maps_in_either_image(rocks: dict[str, BuiltRock], docker_client: docker.DockerClient) -> None:
    """Only browsers' developer tools read them; the bundles they describe are still there."""
    for name, dist in (
        ("indico", "/usr/lib/python3.12/site-packages/indico/web/static/dist"),
        ("indico-nginx", "/srv/indico/static/dist"),
    ):
        found = probe(
            docker_client,
            rocks[name].image,
            ["sh", "-c", f"find {dist} -name '*.map' | head -3; echo js=$(find {dist} -name '*.js' | grep -c .)"],
        )
        assert found.splitlines()[0].startswith("js="), f"{name}: {found}"
        assert int(found.split("js=")[1]) > 100, f"{name} lost its bundles: {found}"


def test_the_indico_rock_builds_its_own_ca_bundle(
    rocks: dict[str, BuiltRock], docker_client: docker.DockerClient
) -> None:
    """indico-external's pip and git reach https servers; the base has no bundle, so the rock makes one."""
    layers = rockfile.read(rocks["indico"].path).layers
    bundle = "etc/ssl/certs/ca-certificates.crt"
    assert bundle not in layers[0] and bundle in layers[1]
    count = probe(
        docker_client,
        rocks["indico"].image,
        ["python3", "-c", "import ssl; print(ssl.create_default_context().cert_store_stats()['x509_ca'])"],
    )
    assert int(count) > 100, "OpenSSL's default paths find the public CAs"


def test_the_nginx_rock_is_nginx_and_static_files_on_chisel_slices(
    rocks: dict[str, BuiltRock], docker_client: docker.DockerClient
) -> None:
    """base: bare: no Ubuntu base under it; what it must carry sums to about 90 MB."""
    layers = rockfile.read(rocks["indico-nginx"].path).layers
    files = {path for layer in layers for path in layer}
    assert "usr/sbin/nginx" in files and "usr/bin/apt" not in files and "usr/bin/dpkg" not in files
    size_mb = docker_client.images.get(rocks["indico-nginx"].image).attrs["Size"] / 1e6
    assert size_mb <= 95, f"indico-nginx is {size_mb:.1f} MB"


def test_the_recorded_schema_heads_are_those_of_the_migration_scripts(
    rocks: dict[str, BuiltRock], docker_client: docker.DockerClient
) -> None:
    """indico-migrate trusts this file at every start to skip loading the scripts; it must not lie."""
    script = (
        "import importlib.util, pathlib; from alembic.script import ScriptDirectory; "
        "m = pathlib.Path(importlib.util.find_spec('indico').submodule_search_locations[0]) / 'migrations'; "
        "print(' '.join(sorted(ScriptDirectory(str(m)).get_heads())))"
    )
    out = probe(
        docker_client,
        rocks["indico"].image,
        ["sh", "-c", f'cat /usr/share/indico/core-schema-heads; python3 -c "{script}"'],
    )
    *recorded, computed = out.strip().splitlines()
    assert recorded and sorted(recorded) == computed.split()
