"""Indico used as people use it, over HTTP through NGINX: log in, upload, download.

Only the setup a person would do in the user interface's dialogs (an administrator, an event) runs
inside the web container, through Indico's own Python API; everything measured goes over HTTP.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import docker
import docker.models.containers
import requests

from rockbuild.build.artifact import BuiltRock
from tests.image import lane_network
from tests.image.conftest import exec_text, wait_for

NGINX = "http://localhost:8080"  # the Host Indico's BASE_URL names; NGINX listens on loopback
ADMIN_EMAIL = "files-admin@example.org"
ADMIN_USERNAME = "files-admin"  # indico-admin names the account after the address's local part
ADMIN_PASSWORD = "files-admin-password"

# A conference whose contributions (one per title after the admin's address) have an abstract
# with a formula each, published; prints the event's id, then the contributions'.
CREATE_CONFERENCE = """
import sys
from datetime import timedelta
from indico.web.flask.app import make_app

with make_app().test_request_context():
    from flask import session
    from indico.core.db import db
    from indico.modules.categories import Category
    from indico.modules.events.contributions.operations import create_contribution
    from indico.modules.events.contributions import contribution_settings
    from indico.modules.events.features.util import set_feature_enabled
    from indico.modules.events.models.events import EventType
    from indico.modules.events.operations import create_event
    from indico.modules.users import User
    from indico.util.date_time import now_utc

    admin = User.query.filter(User.all_emails == sys.argv[1]).one()
    session.set_session_user(admin)
    start = now_utc().replace(microsecond=0) + timedelta(days=7)
    event = create_event(Category.get_root(), EventType.conference,
                         {'title': 'LaTeX conference', 'start_dt': start, 'end_dt': start + timedelta(days=1),
                          'timezone': 'UTC', 'creator': admin})
    set_feature_enabled(event, 'abstracts', True)
    contribution_settings.set(event, 'published', True)
    db.session.commit()  # contributions number themselves in a session of their own
    ids = []
    for title in sys.argv[2:]:
        contribution = create_contribution(event, {
            'title': title, 'duration': timedelta(minutes=20),
            'description': f'The abstract of *{title}*, with $E = mc^2$ and $\\\\sum_{{i=1}}^n x_i$.',
        })
        ids.append(contribution.id)
    db.session.commit()
    print(event.id, *ids)
"""

CREATE_EVENT = """
import sys
from datetime import timedelta
from indico.web.flask.app import make_app

with make_app().test_request_context():
    from flask import session
    from indico.core.db import db
    from indico.modules.categories import Category
    from indico.modules.events.models.events import EventType
    from indico.modules.events.operations import create_event
    from indico.modules.users import User
    from indico.util.date_time import now_utc

    admin = User.query.filter(User.all_emails == sys.argv[1]).one()
    session.set_session_user(admin)
    start = now_utc().replace(microsecond=0) + timedelta(days=7)
    event = create_event(Category.get_root(), EventType.meeting,
                         {'title': sys.argv[2], 'start_dt': start, 'end_dt': start + timedelta(hours=2),
                          'timezone': 'UTC', 'creator': admin})
    db.session.commit()
    print(event.id)
"""

PROTECT_EVENT = """
import sys
from indico.web.flask.app import make_app

with make_app().app_context():
    from indico.core.db import db
    from indico.core.db.sqlalchemy.protection import ProtectionMode
    from indico.modules.events import Event

    Event.get(int(sys.argv[1])).protection_mode = ProtectionMode.protected
    db.session.commit()
"""


# Indico limits the PDFs it makes for signed-out visitors per address (LATEX_RATE_LIMIT, by default
# two per three seconds). Tests ask from one address, so their PDFs count against one limit: over
# it, Indico answers 429, which is Indico working, not a fault of the rocks.
LATEX_RATE_WINDOW = 3.0
LATEX_RATE_LIMITED = b"doing this too fast"
Answer = TypeVar("Answer")


def past_latex_rate_limit(
    ask: Callable[[], Answer], status_and_body: Callable[[Answer], tuple[int, bytes]], attempts: int = 3
) -> Answer:
    """A signed-out visitor's PDF request: after Indico's 429 it waits out the limit's window and
    asks again, as a person would; at most `attempts` requests."""
    for _ in range(attempts - 1):
        answer = ask()
        status, body = status_and_body(answer)
        if status != 429:
            return answer
        assert LATEX_RATE_LIMITED in body, ("a 429 that is not Indico's LaTeX rate limit", body[:500])
        time.sleep(LATEX_RATE_WINDOW)
    return ask()


def create_admin(web: docker.models.containers.Container) -> None:
    exec_text(web, ["sh", "-c", f"echo {ADMIN_PASSWORD} | indico-admin create-admin {ADMIN_EMAIL}"])


def create_event(web: docker.models.containers.Container, title: str) -> int:
    return int(exec_text(web, ["python3", "-c", CREATE_EVENT, ADMIN_EMAIL, title]).strip().splitlines()[-1])


def protect_event(web: docker.models.containers.Container, event_id: int) -> None:
    """As the event's protection dialog does: only its managers (the administrator) may see it."""
    exec_text(web, ["python3", "-c", PROTECT_EVENT, str(event_id)])


@dataclass
class Browser:
    """One person's session with the site."""

    base: str = NGINX
    http: requests.Session | None = None

    def __post_init__(self) -> None:
        self.http = requests.Session()

    def get(self, path: str, **kwargs: object) -> requests.Response:
        assert self.http is not None
        return self.http.get(self.base + path, **{"timeout": 60, **kwargs})  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> requests.Response:
        assert self.http is not None
        return self.http.post(self.base + path, timeout=120, **kwargs)  # type: ignore[arg-type]

    def csrf_token(self, path: str = "/") -> str:
        page = self.get(path)
        found = re.search(r'<meta name="csrf-token" id="csrf-token" content="([^"]+)"', page.text)
        assert found, f"no CSRF token on {path} ({page.status_code})"
        return found.group(1)

    def log_in(self, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD) -> None:
        token = self.csrf_token("/login/")
        answer = self.post(
            "/login/",
            data={"_provider": "indico", "identifier": username, "password": password, "csrf_token": token},
            allow_redirects=False,
        )
        assert answer.status_code in (302, 303), f"login answered {answer.status_code}: {answer.text[:300]}"
        assert "Wrong login or password" not in answer.text

    def upload_attachment(self, event_id: int, filename: str, content: bytes) -> str:
        """Upload through the event's material dialog; the download path Indico lists for it."""
        answer = self.post(
            f"/event/{event_id}/manage/attachments/add/files",
            data={"csrf_token": self.csrf_token(f"/event/{event_id}/manage/attachments/"), "folder": "__None"},
            files={"files": (filename, content, "application/octet-stream")},
            headers={"X-Requested-With": "XMLHttpRequest"},
        )
        assert answer.status_code == 200, f"upload answered {answer.status_code}: {answer.text[:300]}"
        listing = answer.json()["attachment_list"]
        found = re.search(rf"(/event/{event_id}/attachments/\d+/\d+/{re.escape(filename)})", listing)
        assert found, f"the uploaded file is not listed: {listing[:500]}"
        return found.group(1)

    def material_package(self, event_id: int, timeout: float = 180) -> bytes:
        """Ask for the event's material package (a Celery task) and download what it produced."""
        path = f"/event/{event_id}/manage/attachments/package"
        answer = self.post(
            path,
            data={"csrf_token": self.csrf_token(path), "filter_type": "all"},
            headers={"X-Requested-With": "XMLHttpRequest"},
        )
        assert answer.status_code == 200 and answer.json().get("task_id"), answer.text[:300]
        task = answer.json()["task_id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # each status request waits up to 5 s for the task
            status = self.get(f"/event/{event_id}/attachments/package/status/{task}")
            assert status.status_code == 200, f"package status answered {status.status_code}: {status.text[:300]}"
            url = status.json().get("download_url")
            if url:
                download = self.get(url.removeprefix(self.base))
                assert download.status_code == 200, f"package download answered {download.status_code}"
                return download.content
        raise AssertionError(f"the material package task {task} did not finish within {timeout}s")


@contextlib.contextmanager
def running_site(
    docker_client: docker.DockerClient,
    rocks: dict[str, BuiltRock],
    env: dict[str, str],
    nginx_env: dict[str, str] | None = None,
    ready_path: str = "/login/",
    **indico_options: Any,
) -> Iterator[docker.models.containers.Container]:
    """The indico rock (with `env`) behind the indico-nginx rock on loopback, both on the host's
    network as in a pod, once `ready_path` answers 200 through NGINX; the indico container."""
    with running_pair(docker_client, rocks, env, nginx_env, ready_path, **indico_options) as (indico, _nginx):
        yield indico


@contextlib.contextmanager
def running_pair(
    docker_client: docker.DockerClient,
    rocks: dict[str, BuiltRock],
    env: dict[str, str],
    nginx_env: dict[str, str] | None = None,
    ready_path: str = "/login/",
    **indico_options: Any,
) -> Iterator[tuple[docker.models.containers.Container, docker.models.containers.Container]]:
    """running_site, yielding both containers: (indico, indico-nginx)."""
    indico = docker_client.containers.run(
        rocks["indico"].image,
        detach=True,
        network_mode=lane_network.container_network(),
        environment=env,
        **indico_options,
    )
    nginx = docker_client.containers.run(
        rocks["indico-nginx"].image,
        detach=True,
        network_mode=lane_network.container_network(),
        environment={"NGINX_LISTEN_ADDRESS": "127.0.0.1", **(nginx_env or {})},
    )
    try:
        wait_for(lambda: Browser().get(ready_path).status_code == 200, 300, "Indico to answer through NGINX")
        yield indico, nginx
    finally:
        indico.remove(force=True)
        nginx.remove(force=True)
