"""Indico as a person sees it: a real browser (headless Chromium) on the main pages and journeys,
over https through the TLS ingress and the pod's NGINX.

A page passes when the browser received no response of 400 or more (the page's own requests
after load included), no request failed, the console has no error, and every font face the page
used loaded: last round every icon was an empty box while every status-code test passed. Each
page is saved as a screenshot under test-artifacts/browser/.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from rockbuild.build.artifact import BuiltRock
from tests.image import browser_site
from tests.image.browser import ARTIFACTS, Browser, PageReport, browser, require_browser
from tests.image.browser_site import ADMIN, PERSON, BrowserSite
from tests.image.conftest import wait_for
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


def own_browser(site: BrowserSite, login: tuple[str, str] | None = None) -> Iterator[Browser]:
    """One person's own browser on the site, signed in with `login` (username, password) if given."""
    with browser(SITE, site.https_port, site.certificate) as opened:
        if login:
            opened.log_in(*login)
        yield opened


@pytest.fixture(scope="module")
def visitor(site: BrowserSite) -> Iterator[Browser]:
    yield from own_browser(site)


@pytest.fixture(scope="module")
def admin(site: BrowserSite) -> Iterator[Browser]:
    yield from own_browser(site, (ADMIN[1], ADMIN[2]))


@pytest.fixture(scope="module")
def ada(site: BrowserSite) -> Iterator[Browser]:
    yield from own_browser(site, (PERSON[1], PERSON[2]))


def whole(person: Browser, name: str) -> PageReport:
    """The page the person has reached, with everything seen since the last one, checked as every page is."""
    report = person.report(name)
    REPORTS.append(report)
    problems = report.problems(ALLOWED)
    assert not problems, f"{report.summary()}\n" + "\n".join(problems[:40])
    return report


def check_page(person: Browser, name: str, path: str) -> PageReport:
    person.open(path)
    report = whole(person, name)
    page = [r for r in report.responses if r.url == report.url or r.url == person.base + path]
    assert page and page[0].status == 200, f"{name}: the page itself answered {[r.status for r in page]}"
    assert report.url.startswith(person.base), f"{name} left the site: {report.url}"
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


# -- the journeys people come for, each step as a person takes it in the browser ---------------

JOURNEY_SECONDS: dict[str, float] = {}
CONFERENCE = "Summer school on axions"
CREATED: dict[str, int] = {}


@contextmanager
def journey(name: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    JOURNEY_SECONDS[name] = round(time.monotonic() - started, 1)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "journeys.json").write_text(json.dumps(JOURNEY_SECONDS, indent=2))


def test_an_administrator_creates_a_conference_from_the_create_event_dialog(site: BrowserSite, admin: Browser) -> None:
    with journey("create a conference"):
        admin.open(f"/category/{site.ids['category']}/")
        admin.click("ind-menu.create-event-button > button")
        admin.click_text("Conference", tag="a")
        admin.type(".ui-dialog #event-creation-title", CONFERENCE)
        admin.click(".ui-dialog input[type=submit]")
        WebDriverWait(admin.driver, 60).until(lambda d: re.search(r"/event/\d+/manage/$", d.current_url))
        admin.wait_text(CONFERENCE, ".page-title, main")
        whole(admin, "journey-conference-created")
        CREATED["conference"] = int(re.findall(r"/event/(\d+)/", admin.driver.current_url)[0])


def test_the_organiser_adds_a_registration_form_and_opens_registration(admin: Browser) -> None:
    assert "conference" in CREATED, "the conference of the journey before was not created"
    with journey("add a registration form and open it"):
        admin.open(f"/event/{CREATED['conference']}/manage/registration/")
        admin.click_text("Create form", tag="a")
        admin.type("#title", "Summer school participants")
        admin.click("form input[type=submit][value=Create]")
        admin.click_text("Start now", tag="button")
        admin.wait_text("are now open")
        whole(admin, "journey-registration-opened")


def test_a_person_registers_and_the_confirmation_mail_arrives(site: BrowserSite, ada: Browser) -> None:
    assert "conference" in CREATED, "the conference of the journey before was not created"
    with journey("register and receive the e-mail"):
        ada.open(f"/event/{CREATED['conference']}/")
        ada.click_text("Register now", tag="a")
        ada.wait_value("input[name=first_name]", "Ada")  # filled in from her profile
        ada.click_text("Register", tag="button")
        ada.wait_text("Your registration has been completed", "main")
        whole(ada, "journey-registered")
        mail = browser_site.wait_for_mail(site.mailbox, PERSON[0], f"Registration for {CONFERENCE}")
    body = mail.get_body(("plain", "html"))
    assert body is not None and "Ada" in body.get_content(), mail


def test_a_speaker_submits_an_abstract(site: BrowserSite, ada: Browser) -> None:
    title = "Axion searches with haloscopes"
    with journey("submit an abstract"):
        ada.open(f"/event/{site.ids['conference']}/")
        ada.click_text("Submit new abstract")
        ada.type(".ui-dialog #title", title)
        ada.type(".ui-dialog textarea[name=description]", "A search for axion dark matter with a tunable cavity.")
        ada.click_text("Add myself", tag="button")
        ada.click(".ui-dialog i.microphone")  # the author is also the one who will speak
        ada.click(".ui-dialog input[type=submit]")
        ada.wait_text(f"Your abstract '{title}' has been successfully submitted")
        whole(ada, "journey-abstract-submitted")


def test_an_uploaded_file_downloads_byte_identical_for_an_anonymous_visitor(
    site: BrowserSite, admin: Browser, visitor: Browser, tmp_path: Path
) -> None:
    material = tmp_path / "detector-notes.bin"
    material.write_bytes(os.urandom(300_000))
    with journey("upload material, download it anonymously"):
        # On the conference: on a meeting (registration off by default) Indico's own upload dialog asks
        # for the event's registration forms and Indico answers 404 (docs/browser-tests.md).
        admin.open(f"/event/{site.ids['conference']}/manage/attachments/")
        admin.click_text("Upload files", tag="button")
        admin.find(".ui-dialog input[type=submit]")
        admin.driver.find_elements(By.CSS_SELECTOR, "input[type=file]")[-1].send_keys(str(material))
        admin.click(".ui-dialog input[type=submit]")
        admin.wait_text("The attachment has been uploaded")
        whole(admin, "journey-material-uploaded")
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        visitor.driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        visitor.open(f"/event/{site.ids['conference']}/")
        visitor.click(f"a.attachment[title='{material.name}']")
        arrived = downloads / material.name
        wait_for(lambda: arrived.is_file() and arrived.stat().st_size == material.stat().st_size, 60, "the download")
    assert arrived.read_bytes() == material.read_bytes()


def test_the_search_finds_an_event_by_a_word_of_its_title(site: BrowserSite, visitor: Browser) -> None:
    with journey("search"):
        visitor.open("/")
        visitor.type("input.prompt", "neutrinos" + Keys.ENTER)
        WebDriverWait(visitor.driver, 30).until(lambda d: "/search/" in d.current_url)
        visitor.wait_text("Colloquium on neutrinos", "main")
        report = whole(visitor, "journey-search")
    assert "q=neutrinos" in report.url
