"""`indico_config`: Indico settings an operator sets (logo, Sentry, registration, upload limits...),
handed to Indico as INDICO_CONF_OVERRIDE, which Indico reads after its config file.

A setting the charm already sets from a relation, an option or the rock is refused, naming where
it comes from, and so is a name Indico does not know, naming the closest one it does.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

KNOWN = frozenset(
    line.strip()
    for line in (Path(__file__).with_name("indico-settings.txt")).read_text().splitlines()
    if line.strip() and not line.startswith("#")
)

_DATABASE = "the database relation"
_REDIS = "the redis relation"
_ROCK = "the rock (its paths and its place behind NGINX)"
_MAIL = "the smtp relation and the smtp_* options"
_SIGN_IN = "the oauth, saml and ldap relations"
OWNED = {
    "SQLALCHEMY_DATABASE_URI": _DATABASE,
    "CELERY_BROKER": _REDIS,
    "REDIS_CACHE_URL": _REDIS,
    "SECRET_KEY": "the secret the leader shares (the charm makes it)",
    "BASE_URL": "site_url or the ingress relation",
    "STORAGE_BACKENDS": "the archive storage and the s3 relation",
    "ATTACHMENT_STORAGE": "the archive storage and the s3 relation",
    "EMAIL_BACKEND": _MAIL,
    "SMTP_SERVER": _MAIL,
    "SMTP_LOGIN": _MAIL,
    "SMTP_PASSWORD": _MAIL,
    "SMTP_USE_TLS": _MAIL,
    "SMTP_USE_SSL": _MAIL,
    "SMTP_CERTFILE": _MAIL,
    "SMTP_KEYFILE": _MAIL,
    "SMTP_ALLOWED_SENDERS": "the smtp_allowed_senders option",
    "SMTP_SENDER_FALLBACK": "the smtp_sender_fallback option",
    "NO_REPLY_EMAIL": "the indico_no_reply_email option",
    "SUPPORT_EMAIL": "the indico_support_email option",
    "PUBLIC_SUPPORT_EMAIL": "the indico_public_support_email option",
    "AUTH_PROVIDERS": _SIGN_IN,
    "IDENTITY_PROVIDERS": _SIGN_IN,
    "PROVIDER_MAP": _SIGN_IN,
    "LOCAL_IDENTITIES": "the enable_local_login option",
    "ENABLE_ROOMBOOKING": "the enable_roombooking option",
    "CUSTOMIZATION_DIR": "the customization_sources_url option",
    "CUSTOMIZATION_DEBUG": "the customization_debug option",
    "PLUGINS": "the external_plugins option and the s3 relation",
    "USE_PROXY": _ROCK,
    "CACHE_DIR": _ROCK,
    "TEMP_DIR": _ROCK,
    "LOG_DIR": _ROCK,
    "LOGGING_CONFIG_FILE": _ROCK,
    "STATIC_FILE_METHOD": _ROCK,
    "XELATEX_PATH": _ROCK,
}
_LITERALS = (str, int, float, bool, type(None))


class SiteSettingsError(ValueError):
    """The message says which setting and what to do."""


def _literal_only(name: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _literal_only(name, key)
            _literal_only(name, item)
    elif isinstance(value, list):
        for item in value:
            _literal_only(name, item)
    elif not isinstance(value, _LITERALS):
        raise SiteSettingsError(f"{name}: {type(value).__name__} values are not supported (strings, numbers, lists)")


def parse(text: str) -> dict[str, Any]:
    """The settings of a YAML mapping (empty text: none); SiteSettingsError names what is wrong."""
    if not text.strip():
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SiteSettingsError(f"not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise SiteSettingsError("must be a YAML mapping of Indico settings, e.g. 'LOGO_URL: https://...'")
    for name, value in data.items():
        if not isinstance(name, str) or name not in KNOWN:
            close = difflib.get_close_matches(str(name).upper(), sorted(KNOWN - set(OWNED)), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise SiteSettingsError(f"{name} is not an Indico setting{hint}")
        if name in OWNED:
            raise SiteSettingsError(f"{name} comes from {OWNED[name]}; remove it from indico_config")
        _literal_only(name, value)
    return data


def override(settings: dict[str, Any]) -> str:
    """INDICO_CONF_OVERRIDE: a Python literal (Indico reads it with ast.literal_eval); empty for none."""
    return repr(dict(sorted(settings.items()))) if settings else ""
