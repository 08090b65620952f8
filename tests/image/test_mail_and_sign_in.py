"""Mail and sign-in settings reaching Indico, each against a real other side on loopback.

Mail: a real SMTP server (aiosmtpd) offers STARTTLS, refuses mail and logins before it, and accepts
only the credentials the charm would hand over from smtp-integrator: a mail that arrives proves the
rock's INDICO_SMTP_* settings reach Indico's Celery worker, its TLS and its login. The mail is a
password reset asked for over HTTP through NGINX, as a person asks for one.

Sign-in: an OpenID provider's discovery document served on loopback; Indico's login sends the
browser to the provider's authorization endpoint with the client the charm registered. SAML: the
login sends the browser to the identity provider with an AuthnRequest, decoded and checked here,
and the service provider metadata Indico publishes names the site.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
import ssl
import subprocess
import threading
import time
import urllib.parse
import uuid
import zlib
from base64 import b64decode
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from xml.etree import ElementTree

import docker
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from rockbuild.build.artifact import BuiltRock
from tests.image import indico_site, ldap_server, saml_identity_provider
from tests.image.conftest import exec_text, wait_for
from tests.image.services import Postgres, Redis, free_port, installed
from tests.image.test_indico_rocks import indico_env

LOGIN, PASSWORD = "indico", "mail-p@ss,word"
SENDER = "events@example.org"  # smtp-integrator's smtp_sender, which the charm makes the no-reply address
CA_PATH = "/srv/mail-ca/ca.crt"
SAML_SSO = "https://idp.example.org/saml/sso"  # never contacted: the browser would go there
SAMLP = "{urn:oasis:names:tc:SAML:2.0:protocol}"
SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"
MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage
    over_tls: bool
    login: bytes | None


@dataclass
class Recorder:
    """Keeps what it is sent; with `only_sender`, refuses every other sender, as a relay that
    restricts senders does."""

    received: list[Received] = field(default_factory=list)
    refused_senders: list[str] = field(default_factory=list)
    only_sender: str | None = None

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.only_sender is not None and address != self.only_sender:
            self.refused_senders.append(address)
            return "550 5.7.1 Sender address rejected: not owned by this relay"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        login = session.auth_data if session.authenticated else None
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), message, session.ssl is not None, login)
        )
        return "250 OK"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        LOGIN.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Recorder, int, Path]]:
    """An SMTP server on 127.0.0.1 that demands STARTTLS (certificate for `localhost`) and a login."""
    tmp_path = tmp_path_factory.mktemp("mail")
    subprocess.run(
        [
            installed("openssl"),
            *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"),
            *(
                "-addext",
                "subjectAltName=DNS:localhost",
                "-keyout",
                str(tmp_path / "key"),
                "-out",
                str(tmp_path / "ca.crt"),
            ),
        ],
        check=True,
        capture_output=True,
    )
    tmp_path.chmod(0o755)
    (tmp_path / "ca.crt").chmod(0o644)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(tmp_path / "ca.crt", tmp_path / "key")
    recorder = Recorder(only_sender=SENDER)
    port = free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        tls_context=tls,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield recorder, port, tmp_path
    finally:
        controller.stop()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class OpenIdProvider(BaseHTTPRequestHandler):
    """An OpenID provider (what hydra is to the charm): discovery, a token endpoint that answers a
    code the test handed out with an RS256-signed ID token, its key set, and userinfo. It says
    whatever e-mail address the test asks for, as a provider that lets users set an unverified
    address would."""

    requests: ClassVar[list[str]] = []
    key: ClassVar[rsa.RSAPrivateKey] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    codes: ClassVar[dict[str, dict[str, Any]]] = {}  # code -> the claims its ID token carries

    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        OpenIdProvider.requests.append(self.path)
        issuer = self.issuer()
        if self.path == "/.well-known/openid-configuration":
            self.answer(
                200,
                {
                    "issuer": issuer,
                    "authorization_endpoint": f"{issuer}/oauth2/auth",
                    "token_endpoint": f"{issuer}/oauth2/token",
                    "userinfo_endpoint": f"{issuer}/userinfo",
                    "jwks_uri": f"{issuer}/.well-known/jwks.json",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                },
            )
        elif self.path == "/.well-known/jwks.json":
            numbers = self.key.public_key().public_numbers()
            jwk = {
                "kty": "RSA",
                "kid": "test-key",
                "use": "sig",
                "alg": "RS256",
                "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                "e": b64url(numbers.e.to_bytes(3, "big")),
            }
            self.answer(200, {"keys": [jwk]})
        else:
            self.answer(404, {})

    def do_POST(self) -> None:
        OpenIdProvider.requests.append(self.path)
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
        claims = self.codes.pop(form.get("code", [""])[0], None)
        if self.path != "/oauth2/token" or claims is None:
            self.answer(400, {"error": "invalid_grant"})
            return
        now = int(time.time())
        payload = {"iss": self.issuer(), "aud": "indico-client-id", "iat": now, "exp": now + 300, **claims}
        self.answer(
            200, {"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": self.sign(payload)}
        )

    def sign(self, payload: dict[str, Any]) -> str:
        header = {"alg": "RS256", "kid": "test-key", "typ": "JWT"}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"

    def answer(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def openid_provider() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), OpenIdProvider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ldap_server.Directory]:
    with ldap_server.running_directory(tmp_path_factory.mktemp("slapd")) as found:
        yield found


@dataclass
class Site:
    indico: Any
    recorder: Recorder
    issuer: str
    certificates: Path  # the SAML identity provider's certificate (ca.crt) and key (key)


@pytest.fixture(scope="module")
def site(
    docker_client: docker.DockerClient,
    rocks: dict[str, BuiltRock],
    backing_services: tuple[Postgres, Redis],
    mail_server: tuple[Recorder, int, Path],
    openid_provider: str,
    directory: ldap_server.Directory,
) -> Iterator[Site]:
    recorder, port, certificates = mail_server
    postgres, redis = backing_services
    env = indico_env(postgres, redis, "indico_mail_sign_in") | {
        # What the charm sets from smtp-integrator's answer (relations/smtp.py).
        "INDICO_SMTP_HOST": "localhost",
        "INDICO_SMTP_PORT": str(port),
        "INDICO_SMTP_LOGIN": LOGIN,
        "INDICO_SMTP_PASSWORD": PASSWORD,
        "INDICO_SMTP_USE_TLS": "true",
        "INDICO_SMTP_USE_SSL": "false",
        "INDICO_NO_REPLY_EMAIL": SENDER,
        # The charm's default without smtp_allowed_senders: the integrator's smtp_sender alone.
        "INDICO_SMTP_ALLOWED_SENDERS": SENDER,
        # The test's own CA, which OpenSSL's default verify paths read.
        "SSL_CERT_FILE": CA_PATH,
        # What the charm sets from hydra's answer (relations/oauth.py).
        "INDICO_OIDC_CLIENT_ID": "indico-client-id",
        "INDICO_OIDC_CLIENT_SECRET": "hydra-client-secret",
        "INDICO_OIDC_METADATA_URL": f"{openid_provider}/.well-known/openid-configuration",
        "INDICO_OIDC_SCOPE": "openid email profile",
        "INDICO_LOCAL_IDENTITIES": "true",
        # What the charm sets from saml-integrator's answer (relations/saml.py).
        "INDICO_SAML_IDP_ENTITY_ID": "https://idp.example.org/saml",
        "INDICO_SAML_IDP_SSO_URL": SAML_SSO,
        "INDICO_SAML_IDP_SSO_BINDING": "Redirect",
        "INDICO_SAML_IDP_CERTIFICATES": "".join((certificates / "ca.crt").read_text().splitlines()[1:-1]),
        # What the charm sets from glauth's answer (relations/ldap.py): slapd's URL, base and account.
        "INDICO_LDAP_URI": directory.uri,
        "INDICO_LDAP_BASE_DN": ldap_server.BASE_DN,
        "INDICO_LDAP_BIND_DN": ldap_server.BIND_DN,
        "INDICO_LDAP_BIND_PASSWORD": ldap_server.BIND_PASSWORD,
        "INDICO_LDAP_STARTTLS": "false",
    }
    ca = {str(certificates / "ca.crt"): {"bind": CA_PATH, "mode": "ro"}}
    with indico_site.running_site(docker_client, rocks, env, volumes=ca) as indico:
        indico_site.create_admin(indico)
        yield Site(indico, recorder, openid_provider, certificates)


def test_a_password_reset_mail_goes_out_over_starttls_with_the_login_and_sender(site: Site) -> None:
    browser = indico_site.Browser()
    asked = browser.post(
        "/reset-password/",
        data={"email": indico_site.ADMIN_EMAIL, "csrf_token": browser.csrf_token("/reset-password/")},
    )
    assert asked.status_code == 200, asked.status_code
    wait_for(lambda: site.recorder.received, 120, "Indico's Celery worker to send the password-reset mail")

    mail = site.recorder.received[0]
    assert mail.over_tls, "the server refuses MAIL before STARTTLS"
    assert mail.login == LOGIN.encode()
    assert mail.rcpt_tos == [indico_site.ADMIN_EMAIL]
    assert mail.message["From"].addresses[0].addr_spec == SENDER
    body = mail.message.get_body(preferencelist=("plain", "html"))
    assert body is not None and "http://localhost:8080/reset-password/" in body.get_content()


ORGANISER_MAIL = """
import sys
from indico.web.flask.app import make_app

with make_app().app_context():
    from indico.core.notifications import make_email, send_email

    send_email(make_email(to_list={sys.argv[1]}, sender_address=sys.argv[2], subject=sys.argv[3],
                          body='See you at the workshop.'))
"""


def test_an_organisers_mail_goes_out_from_the_allowed_sender_with_the_organiser_to_reply_to(site: Site) -> None:
    """Indico sends mail "from" organisers (registrations, abstracts, contacting participants); a
    relay that accepts only its own sender refuses those unless Indico rewrites them."""
    organiser, subject = "olga@university.example", f"Workshop {uuid.uuid4().hex[:8]}"
    exec_text(
        site.indico,
        ["python3", "-c", ORGANISER_MAIL, "participant@example.org", f"Olga Organiser <{organiser}>", subject],
    )
    wait_for(
        lambda: any(m.message["Subject"] == subject for m in site.recorder.received) or site.recorder.refused_senders,
        120,
        "the worker to hand the organiser's mail to the relay",
    )
    assert organiser not in site.recorder.refused_senders, "the relay refused the organiser's own address"
    mail = next(m for m in site.recorder.received if m.message["Subject"] == subject)
    assert mail.mail_from == SENDER
    sender = mail.message["From"].addresses[0]
    assert (sender.addr_spec, sender.display_name) == (SENDER, "Olga Organiser (via Indico)")
    assert [a.addr_spec for a in mail.message["Reply-To"].addresses] == [organiser]
    assert mail.rcpt_tos == ["participant@example.org"]


def test_sign_in_sends_the_browser_to_the_providers_authorization_endpoint(site: Site) -> None:
    browser = indico_site.Browser()
    page = browser.get("/login/")
    assert "Single sign-on" in page.text, "the provider is offered on the login page"
    redirect = browser.get("/login/oidc/", allow_redirects=False)
    assert redirect.status_code == 302, redirect.status_code
    target = urllib.parse.urlsplit(redirect.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{site.issuer}/oauth2/auth"
    query = urllib.parse.parse_qs(target.query)
    assert query["client_id"] == ["indico-client-id"]
    assert query["redirect_uri"] == ["http://localhost:8080/multipass/authlib/oidc"], "what the charm registered"
    assert query["response_type"] == ["code"]
    assert query["scope"] == ["openid email profile"]
    assert query["state"][0]
    assert "/.well-known/openid-configuration" in OpenIdProvider.requests, "endpoints came from discovery"


def test_saml_sign_in_sends_a_valid_authn_request_to_the_identity_provider(site: Site) -> None:
    redirect = indico_site.Browser().get("/login/saml/", allow_redirects=False)
    assert redirect.status_code == 302, redirect.status_code
    target = urllib.parse.urlsplit(redirect.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == SAML_SSO
    encoded = urllib.parse.parse_qs(target.query)["SAMLRequest"][0]
    request = ElementTree.fromstring(zlib.decompress(b64decode(encoded), -15))  # HTTP-Redirect: raw DEFLATE
    assert request.tag == f"{SAMLP}AuthnRequest"
    assert request.get("Version") == "2.0" and request.get("ID")
    assert request.get("Destination") == SAML_SSO
    assert request.get("AssertionConsumerServiceURL") == "http://localhost:8080/multipass/saml/saml/acs"
    assert request.get("ProtocolBinding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    issuer = request.find(f"{SAML}Issuer")
    assert issuer is not None and issuer.text == "http://localhost:8080", "the service provider is the site"


def test_saml_service_provider_metadata_names_the_site(site: Site) -> None:
    answer = indico_site.Browser().get("/multipass/saml/saml/metadata")
    assert answer.status_code == 200, answer.status_code
    metadata = ElementTree.fromstring(answer.content)
    assert metadata.tag == f"{MD}EntityDescriptor"
    assert metadata.get("entityID") == "http://localhost:8080"
    acs = metadata.find(f"{MD}SPSSODescriptor/{MD}AssertionConsumerService")
    assert acs is not None and acs.get("Location") == "http://localhost:8080/multipass/saml/saml/acs"


def sign_in_through_the_provider(browser: indico_site.Browser, claims: dict[str, Any]) -> Any:
    """The browser's round trip through the provider: Indico's redirect, the provider's answer
    (a code for these claims) at Indico's callback. Indico's answer to the callback."""
    redirect = browser.get("/login/oidc/", allow_redirects=False)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(redirect.headers["Location"]).query)
    code = uuid.uuid4().hex
    OpenIdProvider.codes[code] = {**claims, "nonce": query["nonce"][0]}
    callback = urllib.parse.urlsplit(query["redirect_uri"][0]).path
    return browser.get(f"{callback}?code={code}&state={query['state'][0]}", allow_redirects=False)


def test_a_providers_unverified_address_does_not_open_an_existing_account(site: Site) -> None:
    """A provider that lets its users set any e-mail address: its user claims the administrator's.
    Indico does not log them in as the administrator; it asks the address's owner to confirm."""
    attacker = indico_site.Browser()
    claims = {"sub": "attacker-42", "email": indico_site.ADMIN_EMAIL, "given_name": "Mallory", "family_name": "M"}
    answer = sign_in_through_the_provider(attacker, claims)
    assert answer.status_code == 302, (answer.status_code, answer.text[:300])
    link = urllib.parse.urlsplit(answer.headers["Location"]).path
    assert link == "/login/oidc/link-account", "the address matched the administrator's account"
    token = attacker.csrf_token(link)
    linked = attacker.post(link, data={"csrf_token": token}, allow_redirects=False)
    assert linked.status_code in (200, 302), linked.status_code
    admin_page = attacker.get("/admin/settings/", allow_redirects=False)
    assert admin_page.status_code != 200, "the provider's user got the administrator's session"
    profile = attacker.get("/user/profile/", allow_redirects=False)
    assert profile.status_code in (302, 303) and "/login/" in profile.headers["Location"], "not logged in at all"
    confirmation: Any = wait_for(
        lambda: next((m for m in site.recorder.received if "link-account?token=" in body_of(m)), None),
        60,
        "Indico to ask the address's owner to confirm the link",
    )
    assert confirmation.rcpt_tos == [indico_site.ADMIN_EMAIL]


def body_of(mail: Received) -> str:
    body = mail.message.get_body(preferencelist=("plain", "html"))
    return str(body.get_content()) if body is not None else ""


def ldap_sign_in(browser: indico_site.Browser, password: str) -> Any:
    # flask-multipass's own login form, whose CSRF token is Flask-WTF's (signed), not Indico's.
    form = browser.get("/login/").text
    found = re.search(r'<input id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)">', form)
    assert found, "no CSRF field in the directory's login form"
    token = found.group(1)
    return browser.post(
        "/login/",
        data={"_provider": "ldap", "username": ldap_server.USER, "password": password, "csrf_token": token},
        allow_redirects=False,
    )


def test_the_login_page_opens_on_the_directorys_form(site: Site) -> None:
    page = indico_site.Browser().get("/login/")
    assert page.status_code == 200
    assert re.search(r'name="_provider"[^>]*value="ldap"|value="ldap"[^>]*name="_provider"', page.text), (
        "the LDAP form is the default one"
    )


def test_a_directory_account_signs_in_and_indico_reads_the_persons_details_through_the_bind_account(
    site: Site,
) -> None:
    browser = indico_site.Browser()
    answer = ldap_sign_in(browser, ldap_server.USER_PASSWORD)
    assert answer.status_code in (302, 303), f"sign-in answered {answer.status_code}: {answer.text[:300]}"
    assert answer.headers["Location"].endswith("/register/ldap"), "a first sign-in goes on to create the profile"
    signup = browser.get("/register/ldap")
    assert signup.status_code == 200, signup.status_code
    # The address came from slapd, which only the bind account may read; the directory is not
    # trusted for addresses (trust_identity_provider_emails is off), so Indico verifies it by mail.
    assert f'name="email" required type="email" value="{ldap_server.USER_EMAIL}"' in signup.text
    assert "you first need to verify your email address" in signup.text


def test_a_wrong_directory_password_is_refused(site: Site) -> None:
    browser = indico_site.Browser()
    answer = ldap_sign_in(browser, "not-" + ldap_server.USER_PASSWORD)
    assert "/register/ldap" not in answer.headers.get("Location", ""), "the wrong password signed in"
    page = answer if answer.status_code == 200 else browser.get(answer.headers["Location"])
    assert "Invalid credentials" in page.text or "Wrong login or password" in page.text, page.text[:500]
    assert browser.get("/register/ldap", allow_redirects=False).status_code in (302, 303), "no identity was kept"


SAML_GROUPS = "urn:oasis:names:tc:SAML:2.0:profiles:attribute:DCE:groups"  # the rock's default attribute

SAML_GROUP_SETUP = """
import sys
from datetime import timedelta
from indico.web.flask.app import make_app

with make_app().test_request_context():
    from flask import session
    from indico.core.db import db
    from indico.core.db.sqlalchemy.protection import ProtectionMode
    from indico.modules.auth import Identity
    from indico.modules.categories import Category
    from indico.modules.events.models.events import EventType
    from indico.modules.events.operations import create_event
    from indico.modules.groups import GroupProxy
    from indico.modules.users import User
    from indico.util.date_time import now_utc

    # Two people who signed in with SAML before (their profiles exist, as after a first sign-in).
    for first, last, name_id in (('Grace', 'Hopper', 'grace-nameid'), ('Mallory', 'Vane', 'mallory-nameid')):
        person = User(first_name=first, last_name=last, email=f'{name_id}@example.org')
        person.identities.add(Identity(provider='saml', identifier=name_id, multipass_data=None))
        db.session.add(person)
    admin = User.query.filter(User.all_emails == sys.argv[1]).one()
    session.set_session_user(admin)
    start = now_utc().replace(microsecond=0) + timedelta(days=7)
    event = create_event(Category.get_root(), EventType.meeting,
                         {'title': 'Physicists only', 'start_dt': start, 'end_dt': start + timedelta(hours=1),
                          'timezone': 'UTC', 'creator': admin})
    # As a manager does in the event's protection dialog: protected, open to one SAML group.
    event.protection_mode = ProtectionMode.protected
    event.update_principal(GroupProxy('physicists', provider='saml'), read_access=True)
    db.session.commit()
    print(event.id)
"""

SAML_GROUP_LOOKUP = """
import json, sys
from indico.web.flask.app import make_app

with make_app().test_request_context():
    from indico.modules.groups import GroupProxy

    groups = GroupProxy.search(sys.argv[1], providers={'saml'})
    print(json.dumps({g.name: sorted(u.email for u in g.get_members()) for g in groups}))
"""


def saml_sign_in(site: Site, name_id: str, groups: list[str]) -> indico_site.Browser:
    """A person signs in through the identity provider, whose assertion names their groups."""
    browser = indico_site.Browser()
    acs = f"{indico_site.NGINX}/multipass/saml/saml/acs"
    answer = saml_identity_provider.signed_response(
        idp_entity_id="https://idp.example.org/saml",
        sp_entity_id=indico_site.NGINX,
        acs_url=acs,
        name_id=name_id,
        attributes={"mail": [f"{name_id}@example.org"], "givenName": ["Someone"], "sn": ["Else"], SAML_GROUPS: groups},
        key_pem=(site.certificates / "key").read_text(),
        cert_pem=(site.certificates / "ca.crt").read_text(),
    )
    signed_in = browser.post("/multipass/saml/saml/acs", data={"SAMLResponse": answer}, allow_redirects=False)
    assert signed_in.status_code in (302, 303), f"the ACS answered {signed_in.status_code}: {signed_in.text[:500]}"
    assert "/login" not in signed_in.headers["Location"], "the signed assertion was refused"
    return browser


def test_an_event_opened_to_a_saml_group_admits_its_members_as_their_last_sign_in_names_them(site: Site) -> None:
    event_id = int(exec_text(site.indico, ["python3", "-c", SAML_GROUP_SETUP, indico_site.ADMIN_EMAIL]).split()[-1])
    page = f"/event/{event_id}/"

    grace = saml_sign_in(site, "grace-nameid", ["physicists", "chemists"])
    shown = grace.get(page)
    assert shown.status_code == 200 and "Physicists only" in shown.text, shown.status_code

    mallory = saml_sign_in(site, "mallory-nameid", ["chemists"])
    assert mallory.get(page).status_code == 403, "a person outside the group saw the event"

    # What a manager's principal picker finds and lists: the groups people's sign-ins named.
    found = exec_text(site.indico, ["python3", "-c", SAML_GROUP_LOOKUP, "phys"]).strip().splitlines()[-1]
    assert json.loads(found) == {"physicists": ["grace-nameid@example.org"]}

    # Grace left the group: her next sign-in says so, and the event closes to her at once.
    grace_again = saml_sign_in(site, "grace-nameid", ["chemists"])
    assert grace_again.get(page).status_code == 403, "membership outlived the identity provider's word"
