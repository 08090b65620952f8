"""The charm in a simulated pod: its layers for each container, from running it under ops.testing
with relation data that the real providers' libraries wrote and that points at this test's real
PostgreSQL, Redis and ingress; and a person's session through the ingress.

Shared by the pod tests (test_juju_pod.py, test_refresh.py). The containers themselves are started
as Juju starts them by juju_pod.py.
"""

from __future__ import annotations

import atexit
import functools
import json
import re
import shutil
import sys
import tempfile
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import urllib3
import yaml
from ops import testing

from tests import real_providers
from tests.image.conftest import wait_for
from tests.image.ingress_proxy import INGRESS_SOURCE, Response, TlsIngress
from tests.image.services import S3_BUCKET, S3_KEYS, S3_REGION, Postgres, Redis

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "charm" / "src"))

from status import active_message, latex_unavailable  # noqa: E402
from workload import LATEX_CONTAINER, LAYER_LABEL  # noqa: E402

from charm import IndicoCharm  # noqa: E402


@functools.cache
def charm_root() -> Path:
    """charm/ copied once per test process, as ops.testing's charm_root: while an event runs,
    ops.testing writes metadata.yaml, config.yaml and actions.yaml into its charm_root and removes
    them after, so contexts on charm/ itself broke `charmcraft pack` of charm/ running beside them
    in the builds lane ("Cannot specify 'config' section in 'charmcraft.yaml' when 'config.yaml'
    exists") and, in another process, found the files gone while reading them."""
    copy = Path(tempfile.mkdtemp(prefix="indico-charm-root-"))
    atexit.register(shutil.rmtree, copy, ignore_errors=True)
    shutil.copytree(REPO / "charm", copy / "charm", ignore=shutil.ignore_patterns("*.charm", "__pycache__"))
    return copy / "charm"


# The site's host, as traefik (routing_mode=subdomain, external_hostname "test") names it for the
# application "indico" in the model "pod"; TLS ends at the ingress in front of the pod.
SITE = "pod-indico.test"
MODEL = testing.Model("pod")
CONTAINERS = yaml.safe_load((REPO / "charm" / "charmcraft.yaml").read_text())["containers"]
# Each container charmcraft.yaml declares, with the rock of its OCI resource (<rock>-image).
IMAGE_OF = {name: spec["resource"].removesuffix("-image") for name, spec in CONTAINERS.items()}
# The pod without its LaTeX container, as a pod whose LaTeX container has not come up: the site
# serves, and the charm says PDFs are unavailable (the refresh test's pods, which change the site's rocks).
SITE_IMAGE_OF = {name: rock for name, rock in IMAGE_OF.items() if name != LATEX_CONTAINER}
# Juju mounts each unit's archive volume into the charm container (where ops reports its location)
# and, as charmcraft.yaml says, into these containers at ARCHIVE_PATH.
ARCHIVE = testing.Storage("archive")
INDICO_CONTAINERS = {"indico", "celery"}
# The containers charmcraft.yaml mounts the archive storage into, as Juju mounts it.
ARCHIVE_CONTAINERS = {
    name
    for name, spec in CONTAINERS.items()
    if any(mount.get("storage") == "archive" for mount in spec.get("mounts", []))
}
# Only for the tests: the pod's ports stay on loopback (a pod would listen on all its addresses).
LOOPBACK_LAYER = {
    "indico": {
        "services": {
            s: {"override": "merge", "environment": {"INDICO_LISTEN_ADDRESS": "127.0.0.1"}}
            for s in ("indico", "statsd-exporter")
        }
    },
    "indico-nginx": {
        "services": {
            s: {"override": "merge", "environment": {"NGINX_LISTEN_ADDRESS": "127.0.0.1"}}
            for s in ("nginx", "nginx-prometheus-exporter")
        }
    },
}


def reachable(started: Iterable[str] = IMAGE_OF) -> frozenset[testing.Container]:
    """The charm's containers, those `started` with Pebble up, each with its rock's own layer."""
    up = set(started)
    return frozenset(
        testing.Container(
            name,
            can_connect=True,
            layers={"rock": testing.layer_from_rockcraft(REPO / "rocks" / rock / "rockcraft.yaml")},
        )
        if name in up
        else testing.Container(name, can_connect=False)
        for name, rock in IMAGE_OF.items()
    )


def unreachable() -> frozenset[testing.Container]:
    """The charm's containers before Pebble answers: what a relation's first hooks may see."""
    return frozenset(testing.Container(name, can_connect=False) for name in IMAGE_OF)


def database_relation(postgres: Postgres) -> tuple[testing.Relation, frozenset[testing.Secret]]:
    """The charm's request, answered by postgresql-k8s's own library, which makes the user and
    database in this test's real PostgreSQL as postgresql-k8s would."""

    def create(database: str, user: str, password: str) -> None:
        postgres.psql(f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{password}'")
        postgres.psql(f'CREATE DATABASE "{database}" OWNER "{user}"')
        postgres.require_password(user)  # so the rocks prove the password reaches libpq intact

    ctx = testing.Context(IndicoCharm, charm_root=charm_root())
    empty = testing.Relation("database", "postgresql_client", remote_app_name="postgresql-k8s")
    asked = ctx.run(
        ctx.on.relation_created(empty), testing.State(leader=True, relations={empty}, containers=unreachable())
    )
    answer, secrets, _ = real_providers.postgresql_answer(
        dict(asked.get_relation(empty.id).local_app_data), endpoints=f"127.0.0.1:{postgres.port}", create=create
    )
    relation = testing.Relation(
        "database", "postgresql_client", remote_app_name="postgresql-k8s", remote_app_data=answer
    )
    return relation, secrets


def ingress_relation() -> testing.Relation:
    """The charm's ingress request, answered by traefik's own library with an https URL."""
    ctx = testing.Context(IndicoCharm, charm_root=charm_root())
    empty = testing.Relation("ingress", "ingress", remote_app_name="traefik")
    asked = ctx.run(
        ctx.on.relation_created(empty),
        testing.State(leader=True, relations={empty}, model=MODEL, containers=unreachable()),
    )
    sent = asked.get_relation(empty.id)
    answer, saw = real_providers.traefik_answer(
        sent.local_app_data, {0: sent.local_unit_data}, routing_mode="subdomain", external_host="test", scheme="https"
    )
    assert saw.url == f"https://{SITE}/"
    # Juju gives the traefik unit's own address on the relation: the loopback ingress's source here.
    traefik_unit = {"egress-subnets": f"{INGRESS_SOURCE}/32", "ingress-address": INGRESS_SOURCE}
    return testing.Relation(
        "ingress", "ingress", remote_app_name="traefik", remote_app_data=answer, remote_units_data={0: traefik_unit}
    )


def charm_layers(
    ctx: testing.Context[IndicoCharm],
    database: tuple[testing.Relation, frozenset[testing.Secret]],
    redis: Redis,
    leader: bool,
    peer_data: dict[str, str] | None,
    secrets: frozenset[testing.Secret],
    loki: str | None,
    others: frozenset[testing.Relation] = frozenset(),
    started: Iterable[str] = IMAGE_OF,
) -> tuple[dict[str, dict[str, Any]], testing.State]:
    """Run the charm's reconcile (in the unit's context, whose archive volume the containers
    mount) and return the layer it adds to each of the `started` containers."""
    db_relation, db_secrets = database
    redis_relation = real_providers.redis_relation(primary_address="127.0.0.1", port=redis.port)
    peer = testing.PeerRelation("indico-peers", local_app_data=peer_data or {})
    started = set(started)
    containers = reachable(started)
    state = testing.State(
        leader=leader,
        storages={ARCHIVE},
        containers=containers,
        relations={db_relation, redis_relation, peer, ingress_relation()}
        | ({logging_relation(loki)} if loki else set())
        | others,
        model=MODEL,
        secrets=db_secrets | secrets,
    )
    out = ctx.run(ctx.on.config_changed(), state)
    latex = None if LATEX_CONTAINER in started else latex_unavailable(None)
    assert out.unit_status == testing.ActiveStatus(active_message(latex, mail_on=False)), out.unit_status
    return {c.name: dict(c.layers[LAYER_LABEL].to_dict()) for c in out.containers if c.name in started}, out


def s3_relation(endpoint: str) -> testing.Relation:
    """The charm's bucket request, answered by s3-integrator's own library with this test's S3
    server (its bucket and keys)."""
    ctx = testing.Context(IndicoCharm, charm_root=charm_root())
    empty = testing.Relation("s3", "s3", remote_app_name="s3-integrator")
    asked = ctx.run(
        ctx.on.relation_created(empty), testing.State(leader=True, relations={empty}, containers=unreachable())
    )
    integrator = {
        "bucket": S3_BUCKET,
        "access-key": S3_KEYS[0],
        "secret-key": S3_KEYS[1],
        "endpoint": endpoint,
        "region": S3_REGION,
        "s3-uri-style": "path",
    }
    answer, _ = real_providers.s3_answer(asked.get_relation(empty.id).local_app_data, integrator)
    return testing.Relation("s3", "s3", remote_app_name="s3-integrator", remote_app_data=answer)


def pod_address_layer(address: str) -> dict[str, dict[str, Any]]:
    """Only for the tests: each container's listeners and checks on one loopback address, the
    pod's own (several pods share the host's network here, where each would have its own)."""
    web = {"INDICO_LISTEN_ADDRESS": address, "INDICO_WEB_LISTEN_ADDRESS": address, "INDICO_STATSD_ADDRESS": address}
    nginx = {"NGINX_LISTEN_ADDRESS": address, "NGINX_STATUS_ADDRESS": address, "INDICO_UPSTREAM": f"{address}:8081"}
    indico_services = ("indico", "statsd-exporter", "celery-worker", "celery-beat")
    nginx_services = ("nginx", "nginx-prometheus-exporter")
    return {
        "indico": {
            "services": {s: {"override": "merge", "environment": web} for s in indico_services},
            # indico-ready runs in the indico service's context: it reads the address given above.
            "checks": {
                "statsd-exporter-up": {"override": "merge", "http": {"url": f"http://{address}:9102/metrics"}},
            },
        },
        "celery": {"services": {s: {"override": "merge", "environment": web} for s in indico_services}},
        "indico-nginx": {
            "services": {s: {"override": "merge", "environment": nginx} for s in nginx_services},
            "checks": {
                "nginx-up": {"override": "merge", "http": {"url": f"http://{address}:8080/health"}},
                "nginx-exporter-up": {"override": "merge", "http": {"url": f"http://{address}:9113/metrics"}},
            },
        },
    }


def logging_relation(loki: str) -> testing.Relation:
    """The logging relation as loki-k8s's own library fills it, pointing at this test's receiver."""
    return testing.Relation(
        "logging",
        "loki_push_api",
        remote_app_name="loki-k8s",
        remote_units_data={0: real_providers.loki_unit_data(loki)},
    )


def layers_before_relations(leader: bool) -> dict[str, dict[str, Any]]:
    """What the charm applies at pebble-ready on a fresh unit, before any relation."""
    ctx = testing.Context(IndicoCharm, charm_root=charm_root())
    containers = reachable()
    state = testing.State(leader=leader, containers=containers)
    out = ctx.run(ctx.on.pebble_ready(next(c for c in containers if c.name == "indico")), state)
    return {c.name: dict(c.layers[LAYER_LABEL].to_dict()) for c in out.containers}


def get_text(ingress: TlsIngress, path: str) -> str:
    """https://<SITE><path> as a browser gets it, through the ingress."""
    response = ingress.request(path)
    assert response.status == 200, f"{path}: {response.status}"
    return response.body.decode()


def wait_until_served(ingress: TlsIngress) -> None:
    """Indico answers through the ingress and NGINX (before and after its first admin exists)."""
    wait_for(lambda: ingress.request("/").status in (200, 302), 240, "Indico to answer through the ingress and NGINX")


class IngressBrowser:
    """One person's session through the https ingress: cookies kept, forms posted."""

    def __init__(self, ingress: TlsIngress) -> None:
        self.ingress = ingress
        self.cookies: dict[str, str] = {}

    def request(self, path: str, form: dict[str, str] | None = None) -> Response:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        answer = self.ingress.request(path, method="POST" if form is not None else "GET", headers=headers, body=body)
        for cookie in answer.cookies():
            name, _, rest = cookie.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return answer

    def log_in(self, username: str, password: str) -> None:
        page = self.request("/login/").body.decode()
        token = re.search(r'<meta name="csrf-token" id="csrf-token" content="([^"]+)"', page)
        assert token, "no CSRF token on the login page"
        form = {"_provider": "indico", "identifier": username, "password": password, "csrf_token": token.group(1)}
        answer = self.request("/login/", form)
        assert answer.status in (302, 303), f"login answered {answer.status}"

    def upload_attachment(self, event_id: int, filename: str, content: bytes) -> str:
        """Upload through the event's material dialog; the download path Indico lists for it."""
        page = self.request(f"/event/{event_id}/manage/attachments/").body.decode()
        token = re.search(r'<meta name="csrf-token" id="csrf-token" content="([^"]+)"', page)
        assert token, "no CSRF token on the material page"
        fields = {"csrf_token": token.group(1), "folder": "__None", "files": (filename, content)}
        body, content_type = urllib3.encode_multipart_formdata(fields)
        headers = {"Content-Type": content_type, "X-Requested-With": "XMLHttpRequest", **self.cookie_header()}
        answer = self.ingress.request(
            f"/event/{event_id}/manage/attachments/add/files", method="POST", headers=headers, body=body
        )
        assert answer.status == 200, f"upload answered {answer.status}: {answer.body[:300]!r}"
        listing = json.loads(answer.body)["attachment_list"]
        found = re.search(rf"(/event/{event_id}/attachments/\d+/\d+/{re.escape(filename)})", listing)
        assert found, f"the uploaded file is not listed: {listing[:500]}"
        return found.group(1)

    def cookie_header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}

    def signed_in(self) -> bool:
        return self.request("/user/dashboard/").status == 200
