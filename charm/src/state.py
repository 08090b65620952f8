"""The charm's desired state, computed once per event from config and relation data.

Plain data and functions only: nothing here touches Juju or Pebble, so it is tested directly.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import site_settings
from relations.oauth import OidcClient
from relations.s3 import S3Bucket
from relations.saml import SamlIdentityProvider
from relations.smtp import SmtpServer

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
# A comma separates plugin specifiers unless it is inside [extras] or starts another version clause.
SPEC_SEPARATOR_RE = re.compile(r"\s+|,(?![^\[]*\])(?!\s*[<>=!~])")
# Customization is code Indico runs: fetched over https only (no ssh: the rock has no ssh client
# and the charm no way to hand it a key). A ref is a tag, a branch or a commit, never an option.
GIT_URL_RE = re.compile(r"^https://[^/\s]+/\S*$")
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]*\])?"
_CLAUSE = r"(===|==|!=|~=|<=|>=|<|>)[A-Za-z0-9.*+!_-]+"
PLUGIN_SPEC_RE = re.compile(
    rf"^({_NAME}({_CLAUSE}(,{_CLAUSE})*)?|({_NAME}@)?https://[^/\s]+/\S+?)(#sha256=[0-9a-f]{{64}})?$"
)
PLUGIN_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")  # Indico plugins' entry point names
GIT_REF_RE = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_./-]*$")


class InvalidConfigError(Exception):
    """A config option has a value the charm cannot use; the message names the option."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"invalid config option '{option}': {reason}")
        self.option = option


@dataclass(frozen=True)
class CharmConfig:
    site_url: str
    support_email: str
    public_support_email: str
    no_reply_email: str
    enable_roombooking: bool
    customization_debug: bool
    uwsgi_processes: int
    celery_concurrency: int
    external_plugins: tuple[str, ...] = ()
    customization_sources_url: str = ""
    customization_sources_ref: str = ""  # a tag, branch or commit; empty: the repository's HEAD
    customization_sources_secret: str = ""  # a Juju secret's id: credentials for the URL
    local_login: bool = True
    trust_identity_provider_emails: bool = False
    smtp_allowed_senders: tuple[str, ...] = ()  # addresses and domains; empty: the integrator's sender
    smtp_sender_fallback: str = ""  # empty: the no-reply address
    site_settings: str = ""  # indico_config as INDICO_CONF_OVERRIDE (a Python literal); empty: none
    enabled_plugins: tuple[str, ...] = ()  # of the installed external plugins; empty: all of them
    pip_index_url: str = ""  # where external plugins come from; empty: pip's default
    request_timeout: int = 900  # seconds, uWSGI's harakiri; NGINX waits 5 s longer

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> CharmConfig:
        site_url = str(options.get("site_url") or "").strip()
        if site_url:
            parts = urlsplit(site_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InvalidConfigError("site_url", f"{site_url!r} is not an http(s) URL with a host name")
        emails = {}
        for option in (
            "indico_support_email",
            "indico_public_support_email",
            "indico_no_reply_email",
            "smtp_sender_fallback",
        ):
            value = str(options.get(option) or "").strip()
            if value and not EMAIL_RE.match(value):
                raise InvalidConfigError(option, f"{value!r} is not an e-mail address")
            emails[option] = value
        sizes: dict[str, int] = {}
        for option in ("uwsgi_processes", "celery_concurrency"):
            size = options.get(option)
            if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 64:
                raise InvalidConfigError(option, f"{size!r} is not a whole number from 1 to 64")
            sizes[option] = size
        customization = str(options.get("customization_sources_url") or "").strip()
        if customization and not GIT_URL_RE.match(customization):
            raise InvalidConfigError(
                "customization_sources_url", f"{redact(customization, customization)!r} is not an https:// git URL"
            )
        ref = str(options.get("customization_sources_ref") or "").strip()
        if ref and (not GIT_REF_RE.match(ref) or ".." in ref):
            raise InvalidConfigError("customization_sources_ref", f"{ref!r} is not a tag, branch or commit name")
        return cls(
            site_url=site_url.rstrip("/"),
            support_email=emails["indico_support_email"],
            public_support_email=emails["indico_public_support_email"],
            no_reply_email=emails["indico_no_reply_email"],
            enable_roombooking=bool(options.get("enable_roombooking", False)),
            customization_debug=bool(options.get("customization_debug", False)),
            uwsgi_processes=sizes["uwsgi_processes"],
            celery_concurrency=sizes["celery_concurrency"],
            external_plugins=plugin_specs(str(options.get("external_plugins") or "")),
            customization_sources_url=customization,
            customization_sources_ref=ref,
            customization_sources_secret=_secret_option(options, customization),
            local_login=bool(options.get("enable_local_login", True)),
            trust_identity_provider_emails=bool(options.get("trust_identity_provider_emails", False)),
            smtp_allowed_senders=allowed_senders(str(options.get("smtp_allowed_senders") or "")),
            smtp_sender_fallback=emails["smtp_sender_fallback"],
            site_settings=_site_settings(str(options.get("indico_config") or "")),
            enabled_plugins=_plugin_names(str(options.get("enabled_plugins") or "")),
            pip_index_url=_index_url(str(options.get("pip_index_url") or "").strip()),
            request_timeout=_request_timeout(options.get("request_timeout", 900)),
        )


def _request_timeout(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 30 <= value <= 86400:
        raise InvalidConfigError("request_timeout", f"{value!r} is not a number of seconds from 30 to 86400")
    return value


def _plugin_names(value: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(name for name in re.split(r"[\s,]+", value) if name))
    for name in names:
        if not PLUGIN_NAME_RE.match(name):
            raise InvalidConfigError("enabled_plugins", f"{name!r} is not a plugin name (e.g. piwik, payment_paypal)")
    return names


def _index_url(url: str) -> str:
    if url and (not GIT_URL_RE.match(url) or "@" in urlsplit(url).netloc):
        raise InvalidConfigError("pip_index_url", f"{url!r} is not an https:// URL without credentials")
    return url


def _site_settings(text: str) -> str:
    try:
        return site_settings.override(site_settings.parse(text))
    except site_settings.SiteSettingsError as exc:
        raise InvalidConfigError("indico_config", str(exc)) from None


def allowed_senders(value: str) -> tuple[str, ...]:
    """Addresses and domains, as written; each checked, so Indico never gets a pattern it would misread."""
    senders = tuple(item.strip() for item in value.replace("\n", ",").split(",") if item.strip())
    for sender in senders:
        if not (EMAIL_RE.match(sender) or DOMAIN_RE.match(sender)):
            raise InvalidConfigError(
                "smtp_allowed_senders", f"{sender!r} is neither an e-mail address nor a domain (example.org)"
            )
    return senders


def _secret_option(options: dict[str, Any], url: str) -> str:
    secret = str(options.get("customization_sources_secret") or "").strip()
    if secret and not url.startswith("https://"):
        raise InvalidConfigError(
            "customization_sources_secret", "credentials need an https:// customization_sources_url"
        )
    if secret and "@" in urlsplit(url).netloc:
        raise InvalidConfigError(
            "customization_sources_secret",
            "customization_sources_url already carries credentials; keep them in one place",
        )
    return secret


def with_credentials(url: str, content: dict[str, str]) -> str:
    """The URL git is given: the secret's `username` (default `git`) and `token` (or `password`)."""
    token = content.get("token") or content.get("password")
    if not token:
        raise InvalidConfigError("customization_sources_secret", "the secret has no 'token' (or 'password') key")
    parts = urlsplit(url)
    userinfo = f"{quote(content.get('username') or 'git', safe='')}:{quote(token, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def redact(text: str, url: str) -> str:
    """Text that may quote `url`, with the URL's user information (user, token) replaced by ***."""
    netloc = urlsplit(url).netloc
    if "@" not in netloc:
        return text
    userinfo = netloc.rsplit("@", 1)[0]
    secrets = [userinfo, userinfo.partition(":")[2]]  # all of it, then the password or token alone
    for secret in filter(None, secrets):
        text = text.replace(secret, "***").replace(unquote(secret), "***")
    return text


def plugin_specs(value: str) -> tuple[str, ...]:
    """Split external_plugins into pip specifiers: a package name from the index (with extras and
    versions), or an https URL (alone or as `name @ URL`), each optionally ending in
    `#sha256=<hex>`. Never a pip option, a path in the pod, plain http or a VCS URL: a plugin is
    code the site runs."""
    joined = re.sub(r"\s*,\s*", ",", value.strip())
    specs = tuple(spec for spec in SPEC_SEPARATOR_RE.split(joined) if spec)
    for spec in specs:
        if spec.startswith("-"):
            raise InvalidConfigError("external_plugins", f"{spec!r} is a pip option, not a plugin specifier")
        if not PLUGIN_SPEC_RE.match(spec):
            raise InvalidConfigError(
                "external_plugins", f"{spec!r} is neither a package name (with versions) nor an https:// URL"
            )
    hashed = [spec for spec in specs if "#sha256=" in spec]
    if hashed and len(hashed) != len(specs):
        raise InvalidConfigError("external_plugins", "give a #sha256= hash for every plugin, or for none")
    return specs


@dataclass(frozen=True)
class ModelProxy:
    """The model's proxy settings (juju-http-proxy, ...), which Juju gives the charm, not the workloads."""

    http: str = ""
    https: str = ""
    no_proxy: str = ""

    @classmethod
    def from_environ(cls, environ: dict[str, str]) -> ModelProxy:
        return cls(
            http=environ.get("JUJU_CHARM_HTTP_PROXY", "").strip(),
            https=environ.get("JUJU_CHARM_HTTPS_PROXY", "").strip(),
            no_proxy=environ.get("JUJU_CHARM_NO_PROXY", "").strip(),
        )


@dataclass(frozen=True)
class State:
    """Everything the workloads need. Built only when every required input is present."""

    config: CharmConfig
    base_url: str
    database_uri: str
    database_password: str
    redis_broker_url: str
    redis_cache_url: str
    secret_key: str
    is_leader: bool
    s3: S3Bucket | None = None  # uploaded files go to this bucket instead of the archive volume
    smtp: SmtpServer | None = None  # without it, mail is off
    oidc: OidcClient | None = None  # sign-in through the oauth relation's provider
    saml: SamlIdentityProvider | None = None  # sign-in through the saml relation's provider
    database_ca: str = ""  # PEM, written to DATABASE_CA_PATH when the database uses TLS


def base_url(config: CharmConfig, ingress_url: str | None, app_name: str) -> str:
    """site_url wins, then the URL the ingress gives, then http://<app>.local."""
    return config.site_url or (ingress_url or "").rstrip("/") or f"http://{app_name}.local"


# Where the charm puts the database's CA in the indico and celery containers (/var/lib/indico
# belongs to the rocks' user); libpq reads it on every new connection (`sslrootcert`).
DATABASE_CA_PATH = "/var/lib/indico/database-ca.pem"


def database_uri(database: str, username: str, host_port: str, tls: bool, ca: bool = False) -> str:
    """A SQLAlchemy URL for psycopg2, without the password: Indico hands this URL to Alembic, whose
    config parser refuses any `%`, so a password is never percent-encoded into it. libpq takes the
    password from PGPASSWORD instead (workload.indico_environment).

    With TLS and the provider's CA, libpq checks the server's certificate: `verify-full` (chain and
    host name) when the endpoint is a host name, `verify-ca` (chain only) when it is an IP address,
    which certificates rarely name. Without a CA only `require`: encrypted, but unverified."""
    uri = f"postgresql://{quote(username, safe='')}@{host_port}/{database}"
    if not tls:
        return uri
    if not ca:
        return uri + "?sslmode=require"
    host = host_port.rsplit(":", 1)[0].strip("[]") if ":" in host_port else host_port
    mode = "verify-ca" if _is_ip_address(host) else "verify-full"
    return f"{uri}?sslmode={mode}&sslrootcert={DATABASE_CA_PATH}"


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
