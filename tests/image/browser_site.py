"""The site the browser tests look at: both rocks behind the https ingress, with the content a
running Indico has (a category, one event of each type, a registration form, a call for abstracts,
a second person), and a real SMTP server on loopback that keeps what Indico sends (the mail
tests' Recorder).

Only the content whose pages are under test is made through Indico's Python API inside the web
container; what the journeys test (creating a conference, registering, submitting, uploading) is
done in the browser.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import docker
from aiosmtpd.controller import Controller
from dnslib.server import DNSLogger, DNSServer
from dnslib.zoneresolver import ZoneResolver

from rockbuild.build.artifact import BuiltRock
from tests.image.conftest import exec_text, wait_for
from tests.image.services import Postgres, Redis, free_port
from tests.image.test_https_ingress import SITE, Site, start_site, stop_site
from tests.image.test_mail_and_sign_in import Recorder

ADMIN = ("admin@indico.local", "admin", "correct-horse-battery")  # e-mail, username, password
PERSON = ("ada@example.org", "ada", "analytical-engine-1843")

CONTENT = """
import json, sys
from datetime import timedelta
from indico.web.flask.app import make_app

with make_app().test_request_context():
    from flask import session
    from indico.core.db import db
    from indico.modules.auth import Identity
    from indico.modules.categories import Category
    from indico.modules.categories.operations import create_category
    from indico.modules.events.abstracts.settings import abstracts_settings
    from indico.modules.events.features.util import set_feature_enabled
    from indico.modules.events.models.events import EventType
    from indico.modules.events.operations import create_event
    from indico.modules.events.registration.models.forms import RegistrationForm
    from indico.modules.events.registration.util import create_personal_data_fields
    from indico.modules.users import User
    from indico.modules.users.operations import create_user
    from indico.util.date_time import now_utc

    admin_email, person_email, person_login, person_password = sys.argv[1:5]
    admin = User.query.filter(User.all_emails == admin_email).one()
    session.set_session_user(admin)
    identity = Identity(provider='indico', identifier=person_login, password=person_password)
    person = create_user(person_email, {'first_name': 'Ada', 'last_name': 'Lovelace', 'affiliation': 'Analytical'},
                         identity)
    category = create_category(Category.get_root(), {'title': 'Physics', 'description': 'Talks and meetings'})
    start = now_utc().replace(microsecond=0, second=0, minute=0) + timedelta(days=14)
    events = {}
    for kind, title in ((EventType.meeting, 'Weekly detector meeting'), (EventType.lecture, 'Colloquium on neutrinos'),
                        (EventType.conference, 'Workshop on dark matter')):
        events[kind.name] = create_event(category, kind, {
            'title': title, 'start_dt': start, 'end_dt': start + timedelta(days=2 if kind.name == 'conference' else 0,
                                                                          hours=3),
            'timezone': 'UTC', 'creator': admin, 'description': f'The {kind.name} of the browser tests.'})
    conference = events['conference']
    regform = RegistrationForm(event=conference, title='Participants', currency='EUR')
    create_personal_data_fields(regform)
    db.session.add(regform)
    set_feature_enabled(conference, 'abstracts', True)
    abstracts_settings.set(conference, 'start_dt', now_utc(False) - timedelta(days=1))
    db.session.commit()
    print(json.dumps({'category': category.id, 'regform': regform.id, 'person': person.id,
                      **{kind: event.id for kind, event in events.items()}}))
"""


def wait_for_mail(mailbox: Recorder, recipient: str, subject_part: str, timeout: float = 120) -> EmailMessage:
    """The first mail to `recipient` whose subject contains `subject_part`, once it has arrived."""

    def arrived() -> EmailMessage | None:
        for received in list(mailbox.received):
            if recipient in received.rcpt_tos and subject_part in str(received.message["Subject"]):
                return received.message
        return None

    found: EmailMessage = wait_for(arrived, timeout, f"a mail to {recipient} about {subject_part!r}")  # type: ignore[assignment]
    return found


# Indico accepts an e-mail address only if its domain has an MX (or A) record in DNS, so the pod
# needs a resolver; this one knows the people's mail domain, and nothing else exists.
DNS_ADDRESS = "127.0.0.153"
ZONE = f"""
example.org. 60 IN MX 10 mail.example.org.
mail.example.org. 60 IN A 127.0.0.1
{SITE}. 60 IN A 127.0.0.1
"""


@contextmanager
def dns_server(base: Path) -> Iterator[Path]:
    """A real DNS server on loopback port 53; yields a resolv.conf that names it."""
    server = DNSServer(ZoneResolver(ZONE), port=53, address=DNS_ADDRESS, logger=DNSLogger("-request,-reply"))
    server.start_thread()
    resolv = base / "resolv.conf"
    resolv.write_text(f"nameserver {DNS_ADDRESS}\noptions timeout:2 attempts:2\n")
    resolv.chmod(0o644)
    try:
        yield resolv
    finally:
        server.stop()


@dataclass
class BrowserSite:
    site: Site
    mailbox: Recorder
    ids: dict[str, int]

    @property
    def https_port(self) -> int:
        return self.site.ingress.https_port

    @property
    def certificate(self) -> Path:
        return self.site.ingress.certificate


def start(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock], backing: tuple[Postgres, Redis], base: Path
) -> Iterator[BrowserSite]:
    mailbox = Recorder()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    base.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as cleanup:
        smtp.start()
        cleanup.callback(smtp.stop)
        resolv = cleanup.enter_context(dns_server(base))
        site = start_site(
            docker_client,
            rocks,
            backing,
            base,
            f"https://{SITE}",
            extra_env={
                "INDICO_ENABLE_ROOMBOOKING": "true",
                "INDICO_SMTP_HOST": "127.0.0.1",
                "INDICO_SMTP_PORT": str(smtp.port),
                "INDICO_NO_REPLY_EMAIL": f"noreply@{SITE}",
            },
            database="indico_browser",
            indico_options={"volumes": {str(resolv): {"bind": "/etc/resolv.conf", "mode": "ro"}}},
        )
        cleanup.callback(stop_site, site)
        exec_text(site.indico, ["sh", "-c", f"printf '%s\\n' '{ADMIN[2]}' | indico-admin create-admin {ADMIN[0]}"])
        made = exec_text(site.indico, ["python3", "-c", CONTENT, ADMIN[0], *PERSON])
        yield BrowserSite(site, mailbox, json.loads(made.strip().splitlines()[-1]))
