"""NGINX's page cache for anonymous visitors (NGINX_PAGE_CACHE_SECONDS, 1 s by default): what it
shares, for how long, and what it must never keep or hand to someone else.

Each check goes through NGINX on :8080 as a browser would; `X-Cache` is NGINX's own word for
where an answer came from.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import docker
import pytest
import requests

from rockbuild.build.artifact import BuiltRock
from tests.image import indico_site
from tests.image.conftest import exec_text, wait_for
from tests.image.services import Postgres, Redis
from tests.image.test_indico_rocks import indico_env

RENAME_EVENT = """
import sys
from indico.web.flask.app import make_app

with make_app().app_context():
    from indico.core.db import db
    from indico.modules.events import Event

    Event.get(int(sys.argv[1])).title = sys.argv[2]
    db.session.commit()
"""


@dataclass
class Site:
    indico: docker.models.containers.Container
    event_id: int

    @property
    def page(self) -> str:
        return f"/event/{self.event_id}/"


def anonymous(path: str, **headers: str) -> requests.Response:
    """A first visit: a fresh client, no cookie."""
    return requests.get(indico_site.NGINX + path, headers=headers, timeout=60)


def until_kept(path: str) -> requests.Response:
    """Anonymous visits until one is served from the cache (bounded: 40 visits, 4 s). The first
    after an entry expired gets the old copy while one request renders the page again
    (X-Cache STALE, then UPDATING), so "kept" is the first HIT."""
    for _ in range(40):
        answer = anonymous(path)
        if answer.headers.get("X-Cache") == "HIT":
            return answer
        time.sleep(0.1)
    raise AssertionError(f"{path} was never served from the cache in 4 s")


@pytest.fixture(scope="module")
def site(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock], backing_services: tuple[Postgres, Redis]
) -> Iterator[Site]:
    postgres, redis = backing_services
    with indico_site.running_site(docker_client, rocks, indico_env(postgres, redis, "indico_page_cache")) as indico:
        indico_site.create_admin(indico)
        yield Site(indico, indico_site.create_event(indico, "Cached meeting"))


def test_an_anonymous_page_is_rendered_once_and_shared_within_the_interval(site: Site) -> None:
    time.sleep(1.5)  # whatever an earlier visit left has expired
    first = anonymous(site.page)
    assert first.status_code == 200
    assert first.headers["X-Cache"] in {"MISS", "EXPIRED", "STALE"}, first.headers["X-Cache"]
    second = until_kept(site.page)
    assert second.text == first.text
    for header in ("X-Frame-Options", "X-Content-Type-Options", "Strict-Transport-Security", "Referrer-Policy"):
        assert header in second.headers, f"a cached page lost {header}"


def test_a_change_reaches_anonymous_visitors_within_moments(site: Site) -> None:
    assert "Cached meeting" in anonymous(site.page).text
    exec_text(site.indico, ["python3", "-c", RENAME_EVENT, str(site.event_id), "Renamed meeting"])
    changed = time.monotonic()
    wait_for(lambda: "Renamed meeting" in anonymous(site.page).text, 10, "the new title to reach anonymous visitors")
    assert time.monotonic() - changed < 4, "the old page outlived the cache interval"
    exec_text(site.indico, ["python3", "-c", RENAME_EVENT, str(site.event_id), "Cached meeting"])


def test_a_signed_in_page_is_never_kept_nor_shown_to_anyone_else(site: Site) -> None:
    admin = indico_site.Browser()
    admin.log_in()
    mine = admin.get(site.page)
    assert mine.headers["X-Cache"] == "BYPASS", "a signed-in visitor's request went through the cache"
    assert "Log out" in mine.text or "logout" in mine.text, "not the signed-in page"
    for _ in range(3):  # bounded: a few anonymous visits right after
        theirs = anonymous(site.page)
        assert theirs.status_code == 200
        assert "logout" not in theirs.text.lower(), "an anonymous visitor got the administrator's page"
    assert "logout" in admin.get(site.page).text.lower(), "the administrator got the anonymous page"


def test_a_token_bearer_bypasses_the_cache(site: Site) -> None:
    answer = anonymous(site.page, Authorization="Bearer indico_not-a-token")
    assert answer.headers["X-Cache"] == "BYPASS"


def test_answers_other_than_200_are_not_kept(site: Site) -> None:
    missing = "/event/999999/"
    answers = [anonymous(missing) for _ in range(2)]
    assert [a.status_code for a in answers] == [404, 404]
    assert "HIT" not in {a.headers.get("X-Cache") for a in answers}, "a 404 was served from the cache"


def test_pages_are_kept_apart_by_host_scheme_and_language(site: Site) -> None:
    """A client that names another host or scheme (or asks in another language) never gets the
    site's cached page, and the site's visitors never get theirs: each is its own entry."""
    until_kept(site.page)
    for other in (
        {"X-Forwarded-Host": "attacker.example.org"},
        {"X-Forwarded-Proto": "https"},
        {"Accept-Language": "fr-FR,fr;q=0.9"},
    ):
        answer = anonymous(site.page, **other)
        assert answer.headers.get("X-Cache") != "HIT", f"{other} got the site's cached page"
