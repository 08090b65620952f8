"""The rocks behind a real TLS-terminating ingress, as production runs them.

Debian's NGINX on loopback terminates TLS for `indico.local` with a certificate made here and
forwards to the pod's NGINX on 8080 from its own address (127.0.0.2), which is the only hop the
pod trusts (NGINX_TRUSTED_PROXIES). A browser reaches it from 127.0.0.3. Indico's BASE_URL is
`https://indico.local`, then `http://indico.local` behind a plain-http hop.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urljoin

import docker
import docker.models.containers
import pytest

from rockbuild.build.artifact import BuiltRock
from tests.image import lane_network
from tests.image.conftest import exec_text, wait_for
from tests.image.ingress_proxy import CLIENT_SOURCE, INGRESS_SOURCE, Response, SiteConnection, TlsIngress
from tests.image.services import Postgres, Redis
from tests.image.test_indico_rocks import indico_env

SITE = "indico.local"
ADMIN = ("admin@indico.local", "correct-horse-battery")


@dataclass
class Site:
    base_url: str
    ingress: TlsIngress
    indico: docker.models.containers.Container
    nginx: docker.models.containers.Container

    @property
    def tls(self) -> bool:
        return self.base_url.startswith("https:")

    def get(self, path: str, **kwargs: object) -> Response:
        return self.ingress.request(path, tls=self.tls, **kwargs)  # type: ignore[arg-type]

    def direct(self, path: str, headers: dict[str, str]) -> Response:
        """Straight to the pod's 8080 from 127.0.0.1, an address the pod does not trust."""
        connection = SiteConnection(8080, SITE, None, source="127.0.0.1")
        try:
            connection.request("GET", path, headers={"Host": SITE, **headers})
            response = connection.getresponse()
            return Response(response.status, response.headers, response.read())
        finally:
            connection.close()


def start_site(
    docker_client: docker.DockerClient,
    rocks: dict[str, BuiltRock],
    backing_services: tuple[Postgres, Redis],
    base: Path,
    base_url: str,
    extra_env: dict[str, str] | None = None,
    database: str = "",
    indico_options: dict[str, object] | None = None,
) -> Site:
    postgres, redis = backing_services
    env = indico_env(postgres, redis, database or f"indico_{base_url.split(':')[0]}_ingress")
    env.update(INDICO_BASE_URL=base_url, **(extra_env or {}))
    ingress = TlsIngress.start(base, SITE)
    # Indico looks the site's name up on some pages (is_private_url): a name that resolves answers at once.
    indico = docker_client.containers.run(
        rocks["indico"].image,
        detach=True,
        environment=env,
        **lane_network.container_options(extra_hosts={SITE: "127.0.0.1"}),
        **(indico_options or {}),
    )
    nginx = docker_client.containers.run(
        rocks["indico-nginx"].image,
        detach=True,
        network_mode=lane_network.container_network(),
        environment={"NGINX_LISTEN_ADDRESS": "127.0.0.1", "NGINX_TRUSTED_PROXIES": f"{INGRESS_SOURCE}/32"},
    )
    site = Site(base_url, ingress, indico, nginx)
    try:
        wait_for(lambda: site.get("/bootstrap").status == 200, 240, f"Indico at {base_url} through the ingress")
    except AssertionError:
        stop_site(site)
        raise
    return site


def stop_site(site: Site) -> None:
    site.indico.remove(force=True)
    site.nginx.remove(force=True)
    site.ingress.stop()


@pytest.fixture(scope="module", params=["https://indico.local", "http://indico.local"], ids=["https", "http"])
def site(
    request: pytest.FixtureRequest,
    docker_client: docker.DockerClient,
    rocks: dict[str, BuiltRock],
    backing_services: tuple[Postgres, Redis],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    started = start_site(docker_client, rocks, backing_services, tmp_path_factory.mktemp("ingress"), request.param)
    try:
        yield started
    finally:
        stop_site(started)


def access_log(site: Site, marker: str) -> list[str]:
    """NGINX's access-log lines (combined format: the client address first) that mention `marker`."""

    def lines() -> list[str]:
        logged = site.nginx.logs().decode(errors="replace").splitlines()
        return [line.split("[nginx] ", 1)[-1] for line in logged if marker in line]

    found: list[str] = wait_for(lines, 10, f"NGINX to log {marker}")  # type: ignore[assignment]
    return found


def test_root_redirects_within_the_sites_scheme(site: Site) -> None:
    root = site.get("/")
    assert root.status == 302
    assert urljoin(site.base_url + "/", root.headers["Location"]) == f"{site.base_url}/bootstrap"


def test_bootstrap_and_static_files_answer(site: Site) -> None:
    page = site.get("/bootstrap")
    assert page.status == 200
    bundles = re.findall(rb'(?:src|href)="(/dist/[^"]+)"', page.body)
    assert bundles, "the page links Indico's bundles"
    for path in (bundles[0].decode(), "/robots.txt", "/images/indico.ico"):
        assert site.get(path).status == 200, path
    assert f"http://{SITE}".encode() not in page.body or not site.tls, "no http link on an https site"


def test_a_login_form_posts_back_within_the_sites_scheme(site: Site) -> None:
    exec_text(site.indico, ["sh", "-c", f"printf '%s\\n' '{ADMIN[1]}' | indico-admin create-admin {ADMIN[0]}"])
    login = site.get("/login/")
    assert login.status == 200, login.status
    # Indico names its cookie indico_session_http when it sees plain http, and marks it Secure on https.
    session_cookie = "indico_session=" if site.tls else "indico_session_http="
    set_cookie = next(c for c in login.cookies() if c.startswith("indico_session"))
    assert set_cookie.startswith(session_cookie) and ("; Secure" in set_cookie) is site.tls, set_cookie
    cookie = set_cookie.split(";")[0]
    form = re.search(rb'<form[^>]*method="post"[^>]*>', login.body, re.IGNORECASE)
    assert form is not None, "the login page has a form"
    action = re.search(rb'action="([^"]*)"', form.group(0))
    target = urljoin(f"{site.base_url}/login/", action.group(1).decode() if action else "")
    assert target.startswith(f"{site.base_url}/"), target
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', login.body)
    assert token is not None, "the form carries a CSRF token"
    fields = {
        "_provider": "indico",
        "identifier": ADMIN[0],
        "password": ADMIN[1],
        "csrf_token": token.group(1).decode(),
    }
    posted = site.get(
        target[len(site.base_url) :],
        method="POST",
        headers={
            "Cookie": cookie,
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": site.base_url,
            "Referer": f"{site.base_url}/login/",
        },
        body=urlencode(fields).encode(),
    )
    assert posted.status == 302, (posted.status, posted.body[:400])
    assert urljoin(target, posted.headers["Location"]).startswith(f"{site.base_url}/")
    signed_in = [c for c in posted.cookies() if c.startswith(session_cookie)]
    assert signed_in and ("; Secure" in signed_in[0]) is site.tls, posted.cookies()


def test_the_client_address_is_the_one_the_ingress_saw(site: Site) -> None:
    """The ingress appends the browser's address to X-Forwarded-For; a forged entry before it is ignored."""
    site.get("/robots.txt", headers={"X-Forwarded-For": "198.51.100.7", "User-Agent": "address-probe"})
    lines = access_log(site, "address-probe")
    assert lines[-1].startswith(f"{CLIENT_SOURCE} "), lines


def test_a_client_straight_to_the_pod_cannot_claim_https_or_another_host(site: Site) -> None:
    forged = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-For": "198.51.100.7",
        "User-Agent": "forged-probe",
    }
    answer = site.direct("/login/", forged)
    # Untrusted, the pod's NGINX reports what it saw: plain http, for the Host the client sent.
    if site.tls:
        assert answer.status == 404, "Indico does not serve an https site to a request it sees as http"
    else:
        assert answer.status == 200, answer.status
        cookies = [c for c in answer.cookies() if c.startswith("indico_session")]
        assert cookies and cookies[0].startswith("indico_session_http=") and "Secure" not in cookies[0]
    assert "evil.example" not in answer.body.decode(errors="replace")
    assert access_log(site, "forged-probe")[-1].startswith("127.0.0.1 "), "a forged address is never the client"
