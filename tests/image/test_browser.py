"""Indico as a person sees it: a real browser (headless Chromium) on the main pages and journeys,
over https through the TLS ingress and the pod's NGINX.

A page passes when the browser received no response of 400 or more (the page's own requests
after load included), no request failed, the console has no error, and every font face the page
used loaded: last round every icon was an empty box while every status-code test passed. Each
page is saved as a screenshot under test-artifacts/browser/.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import docker
import pytest

from rockbuild.builder import BuiltRock
from tests.image import browser_site
from tests.image.browser import ARTIFACTS, Browser, PageReport, require_browser
from tests.image.browser_site import ADMIN, BrowserSite
from tests.image.services import Postgres, Redis
from tests.image.test_https_ingress import SITE

# What a page may show that is not the rocks' fault, each with Indico's own reason.
ALLOWED = {
    # Indico's admin pages ask its server whether a newer release exists; the server asks
    # getindico.io, which these machines cannot reach, and answers 503.
    "/admin/version-check": "Indico's release check needs the internet",
}

REPORTS: list[PageReport] = []


@pytest.fixture(scope="module")
def site(
    docker_client: docker.DockerClient,
    rocks: dict[str, BuiltRock],
    backing_services: tuple[Postgres, Redis],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BrowserSite]:
    require_browser()
    yield from browser_site.start(docker_client, rocks, backing_services, tmp_path_factory.mktemp("browser"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "pages.json").write_text(
        json.dumps(
            {r.name: {"url": r.url, "summary": r.summary(), "problems": r.problems(ALLOWED)} for r in REPORTS}, indent=2
        )
    )


@pytest.fixture(scope="module")
def visitor(site: BrowserSite) -> Iterator[Browser]:
    person = Browser(SITE, site.https_port, site.certificate.read_text(), "visitor")
    yield person
    person.quit()


@pytest.fixture(scope="module")
def admin(site: BrowserSite) -> Iterator[Browser]:
    person = Browser(SITE, site.https_port, site.certificate.read_text(), "admin")
    person.log_in(ADMIN[1], ADMIN[2])
    yield person
    person.quit()


def check_page(person: Browser, name: str, path: str) -> PageReport:
    report = person.visit(name, path)
    REPORTS.append(report)
    page = [r for r in report.responses if r.url == report.url or r.url == person.base + path]
    assert page and page[0].status == 200, f"{name}: the page itself answered {[r.status for r in page]}"
    assert report.url.startswith(person.base), f"{name} left the site: {report.url}"
    problems = report.problems(ALLOWED)
    assert not problems, f"{report.summary()}\n" + "\n".join(problems[:40])
    assert report.fonts_used, f"{name}: no font face in use, so none was checked"
    return report


ANONYMOUS_PAGES: dict[str, Callable[[dict[str, int]], str]] = {
    "home": lambda ids: "/",
    "category": lambda ids: f"/category/{ids['category']}/",
    "meeting": lambda ids: f"/event/{ids['meeting']}/",
    "lecture": lambda ids: f"/event/{ids['lecture']}/",
    "conference": lambda ids: f"/event/{ids['conference']}/",
    "login": lambda ids: "/login/",
}
MANAGER_PAGES: dict[str, Callable[[dict[str, int]], str]] = {
    "event-management": lambda ids: f"/event/{ids['conference']}/manage/",
    "timetable": lambda ids: f"/event/{ids['conference']}/manage/timetable/",
    "registration-form-editor": lambda ids: f"/event/{ids['conference']}/manage/registration/{ids['regform']}/form/",
    "abstracts": lambda ids: f"/event/{ids['conference']}/manage/abstracts/",
    "room-booking": lambda ids: "/rooms/",
    "admin-settings": lambda ids: "/admin/settings/",
    "profile": lambda ids: "/user/profile/",
}


@pytest.mark.parametrize("name", ANONYMOUS_PAGES)
def test_an_anonymous_visitor_sees_the_page_whole(site: BrowserSite, visitor: Browser, name: str) -> None:
    check_page(visitor, name, ANONYMOUS_PAGES[name](site.ids))


@pytest.mark.parametrize("name", MANAGER_PAGES)
def test_an_administrator_sees_the_page_whole(site: BrowserSite, admin: Browser, name: str) -> None:
    check_page(admin, name, MANAGER_PAGES[name](site.ids))
