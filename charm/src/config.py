"""The charm's options, read with ops' `load_config` into one dataclass whose fields are the
option names (charmcraft.yaml), checked as they are loaded.

Plain data and functions only: nothing here touches Juju or Pebble. A bad value raises
InvalidConfigError naming the option, which the charm turns into a Blocked status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import ops
import site_settings

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
EMAIL_OPTIONS = ("indico_support_email", "indico_public_support_email", "indico_no_reply_email", "smtp_sender_fallback")


class InvalidConfigError(ValueError):
    """A config option has a value the charm cannot use; the message names the option.
    A ValueError, as ops' load_config expects of a config class."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"invalid config option '{option}': {reason}")
        self.option = option


@dataclass(frozen=True)
class CharmConfig:
    """One field per option of charmcraft.yaml, with its default (a unit test keeps them equal).
    Strings are stored stripped; the parsed forms Indico needs are the properties below."""

    site_url: str = ""
    indico_support_email: str = ""
    indico_public_support_email: str = ""
    indico_no_reply_email: str = ""
    indico_config: str = ""  # a YAML mapping of Indico settings: INDICO_CONF_OVERRIDE
    smtp_allowed_senders: str = ""  # addresses and domains; empty: the integrator's sender
    smtp_sender_fallback: str = ""  # empty: the no-reply address
    trust_identity_provider_emails: bool = False
    enable_local_login: bool = True
    saml_groups_attribute: str = "urn:oasis:names:tc:SAML:2.0:profiles:attribute:DCE:groups"
    enable_roombooking: bool = False
    customization_debug: bool = False
    customization_sources_url: str = ""
    customization_sources_ref: str = ""  # a tag, branch or commit; empty: the repository's HEAD
    customization_sources_secret: ops.Secret | None = None  # credentials for the URL
    external_plugins: str = ""
    enabled_plugins: str = ""  # of the installed external plugins; empty: all of them
    pip_index_url: str = ""  # where external plugins come from; empty: pip's default
    request_timeout: int = 900  # seconds, uWSGI's harakiri; NGINX waits 5 s longer
    uwsgi_processes: int = 4
    celery_concurrency: int = 2

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            kind = {"str": str, "bool": bool, "int": int}.get(str(field.type))
            if kind is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
                raise InvalidConfigError(field.name, f"{value!r} is not a {kind.__name__}")
            if isinstance(value, str):
                object.__setattr__(self, field.name, value.strip())
        object.__setattr__(self, "site_url", self.site_url.rstrip("/"))
        if self.site_url:
            parts = urlsplit(self.site_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InvalidConfigError("site_url", f"{self.site_url!r} is not an http(s) URL with a host name")
        for option in EMAIL_OPTIONS:
            value = getattr(self, option)
            if value and not EMAIL_RE.match(value):
                raise InvalidConfigError(option, f"{value!r} is not an e-mail address")
        for option in ("uwsgi_processes", "celery_concurrency"):
            _whole_number(option, getattr(self, option), 1, 64, "a whole number from 1 to 64")
        _whole_number("request_timeout", self.request_timeout, 30, 86400, "a number of seconds from 30 to 86400")
        url = self.customization_sources_url
        if url and not GIT_URL_RE.match(url):
            raise InvalidConfigError("customization_sources_url", f"{redact(url, url)!r} is not an https:// git URL")
        ref = self.customization_sources_ref
        if ref and (not GIT_REF_RE.match(ref) or ".." in ref):
            raise InvalidConfigError("customization_sources_ref", f"{ref!r} is not a tag, branch or commit name")
        if self.customization_sources_secret is not None and not url:
            raise InvalidConfigError("customization_sources_secret", "credentials need a customization_sources_url")
        if self.customization_sources_secret is not None and "@" in urlsplit(url).netloc:
            raise InvalidConfigError(
                "customization_sources_secret",
                "customization_sources_url already carries credentials; keep them in one place",
            )
        if self.pip_index_url and (
            not GIT_URL_RE.match(self.pip_index_url) or "@" in urlsplit(self.pip_index_url).netloc
        ):
            raise InvalidConfigError(
                "pip_index_url", f"{self.pip_index_url!r} is not an https:// URL without credentials"
            )
        # Parsed once here so that a bad value is refused when the config is loaded.
        _ = (self.plugin_specs, self.allowed_senders, self.enabled_plugin_names, self.conf_override)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> CharmConfig:
        """As ops' load_config builds it from Juju's options (for tools and tests without a charm)."""
        names = {field.name for field in fields(cls)}
        return cls(**{key.replace("-", "_"): value for key, value in options.items() if key.replace("-", "_") in names})

    @property
    def plugin_specs(self) -> tuple[str, ...]:
        return plugin_specs(self.external_plugins)

    @property
    def allowed_senders(self) -> tuple[str, ...]:
        return allowed_senders(self.smtp_allowed_senders)

    @property
    def enabled_plugin_names(self) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(name for name in re.split(r"[\s,]+", self.enabled_plugins) if name))
        for name in names:
            if not PLUGIN_NAME_RE.match(name):
                raise InvalidConfigError(
                    "enabled_plugins", f"{name!r} is not a plugin name (e.g. piwik, payment_paypal)"
                )
        return names

    @property
    def conf_override(self) -> str:
        """indico_config as INDICO_CONF_OVERRIDE (a Python literal); empty: none."""
        try:
            return site_settings.override(site_settings.parse(self.indico_config))
        except site_settings.SiteSettingsError as exc:
            raise InvalidConfigError("indico_config", str(exc)) from None


def _whole_number(option: str, value: Any, low: int, high: int, expected: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidConfigError(option, f"{value!r} is not {expected}")


def allowed_senders(value: str) -> tuple[str, ...]:
    """Addresses and domains, as written; each checked, so Indico never gets a pattern it would misread."""
    senders = tuple(item.strip() for item in value.replace("\n", ",").split(",") if item.strip())
    for sender in senders:
        if not (EMAIL_RE.match(sender) or DOMAIN_RE.match(sender)):
            raise InvalidConfigError(
                "smtp_allowed_senders", f"{sender!r} is neither an e-mail address nor a domain (example.org)"
            )
    return senders


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
