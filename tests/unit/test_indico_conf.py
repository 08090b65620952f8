"""The indico rock's indico.conf, executed the way Indico executes it (separate globals and locals)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ROCK_FILES = Path(__file__).resolve().parents[2] / "rocks/indico/files"
CONF = ROCK_FILES / "etc/indico/indico.conf"
# The rock's own Python modules, which indico.conf names (as on the rock's sys.path).
ROCK_SITE_PACKAGES = ROCK_FILES / "lib/python3.12/site-packages"
REQUIRED = {
    "INDICO_DB_URI": "postgresql://u:p@127.0.0.1/indico",
    "INDICO_SECRET_KEY": "s" * 32,
    "INDICO_BASE_URL": "https://events.example.org/",
    "INDICO_REDIS_URL": "redis://127.0.0.1:6379/0",
}


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    monkeypatch.syspath_prepend(str(ROCK_SITE_PACKAGES))
    for key in list(REQUIRED) + [k for k in env]:
        monkeypatch.delenv(key, raising=False)
    for key, value in {**REQUIRED, **env}.items():
        if value is not None:
            monkeypatch.setenv(key, value)
    settings: dict[str, Any] = {}
    exec(compile(CONF.read_text(), str(CONF), "exec"), {}, settings)  # as indico.core.config does
    return {k: v for k, v in settings.items() if k.isupper()}


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch)
    assert settings["SQLALCHEMY_DATABASE_URI"] == REQUIRED["INDICO_DB_URI"]
    assert settings["BASE_URL"] == "https://events.example.org"
    assert settings["CELERY_BROKER"] == settings["REDIS_CACHE_URL"] == REQUIRED["INDICO_REDIS_URL"]
    assert settings["NO_REPLY_EMAIL"] == "noreply@events.example.org"
    assert settings["PUBLIC_SUPPORT_EMAIL"] == settings["SUPPORT_EMAIL"] == "support@events.example.org"
    assert settings["USE_PROXY"] is True


def test_only_settings_are_exported(monkeypatch: pytest.MonkeyPatch) -> None:
    settings: dict[str, Any] = {}
    for key, value in REQUIRED.items():
        monkeypatch.setenv(key, value)
    exec(compile(CONF.read_text(), str(CONF), "exec"), {}, settings)
    assert [k for k in settings if not k.isupper() and not k.startswith("_")] == []


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_a_missing_required_setting_is_named(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    monkeypatch.setenv(missing, "")
    with pytest.raises(RuntimeError, match=f"missing required environment variable {missing}"):
        load(monkeypatch, **{missing: ""})


@pytest.mark.parametrize(
    ("raw", "expected"), [("false", False), ("0", False), ("True", True), ("yes", True), ("", False)]
)
def test_booleans_are_parsed_not_taken_as_truthy_strings(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    settings = load(monkeypatch, INDICO_ENABLE_ROOMBOOKING=raw, INDICO_CUSTOMIZATION_DEBUG=raw)
    assert settings["ENABLE_ROOMBOOKING"] is expected
    assert settings["CUSTOMIZATION_DEBUG"] is expected


def test_a_bad_boolean_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RuntimeError, match="INDICO_SMTP_USE_TLS='maybe' is not a boolean"):
        load(monkeypatch, INDICO_SMTP_USE_TLS="maybe")


def test_smtp_plugins_and_separate_redis_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(
        monkeypatch,
        INDICO_SMTP_HOST="mail.example.org",
        INDICO_SMTP_PORT="587",
        INDICO_PLUGINS="payment_paypal, storage_s3,,",
        INDICO_CELERY_BROKER_URL="redis://127.0.0.1:6379/1",
        INDICO_REDIS_CACHE_URL="redis://127.0.0.1:6379/2",
    )
    assert settings["SMTP_SERVER"] == ("mail.example.org", 587)
    assert settings["PLUGINS"] == {"payment_paypal", "storage_s3"}
    assert settings["CELERY_BROKER"].endswith("/1") and settings["REDIS_CACHE_URL"].endswith("/2")


S3 = {"INDICO_S3_BUCKET": "indico-files", "INDICO_S3_ACCESS_KEY": "AKIA1", "INDICO_S3_SECRET_KEY": "se/cr+et="}


def test_without_s3_files_go_to_the_archive_volume(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, INDICO_S3_BUCKET="")
    assert settings["STORAGE_BACKENDS"] == {"default": "fs:/var/lib/indico/archive"}
    assert settings["ATTACHMENT_STORAGE"] == "default"
    assert "storage_s3" not in settings["PLUGINS"]


def test_s3_settings_make_the_bucket_the_attachment_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, **S3, INDICO_S3_ENDPOINT="http://127.0.0.1:9000", INDICO_S3_ADDRESSING_STYLE="path")
    backend = settings["STORAGE_BACKENDS"]["s3"]
    assert backend == (
        "s3:bucket=indico-files,host=http://127.0.0.1:9000,access_key=AKIA1,secret_key=se/cr+et=,"
        "addressing_style=path,proxy=true"
    )
    assert settings["STORAGE_BACKENDS"]["default"] == "fs:/var/lib/indico/archive", "older files stay readable"
    assert settings["ATTACHMENT_STORAGE"] == "s3"
    assert "storage_s3" in settings["PLUGINS"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("INDICO_S3_SECRET_KEY", "a,b"), ("INDICO_S3_ACCESS_KEY", " AKIA1"), ("INDICO_S3_BUCKET", "b,c")],
)
def test_an_s3_value_indico_cannot_carry_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    with pytest.raises(RuntimeError, match=f"^{variable} contains a comma or surrounding spaces"):
        load(monkeypatch, **{**S3, variable: value})


@pytest.mark.parametrize(("variable", "value"), [("INDICO_S3_PROXY", "nginx"), ("INDICO_S3_ADDRESSING_STYLE", "dns")])
def test_an_unknown_s3_mode_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    with pytest.raises(RuntimeError, match=f"^{variable}"):
        load(monkeypatch, **{**S3, variable: value})


def test_without_a_mail_server_mail_is_off_not_sent_to_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, INDICO_SMTP_HOST="")
    assert settings["EMAIL_BACKEND"] == "indico_rock_mail.DroppingBackend"
    assert "SMTP_SERVER" not in settings


def test_a_mail_server_is_used_with_its_transport_security(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(
        monkeypatch, INDICO_SMTP_HOST="smtp.example.org", INDICO_SMTP_PORT="465", INDICO_SMTP_USE_SSL="true"
    )
    assert settings["SMTP_SERVER"] == ("smtp.example.org", 465)
    assert (settings["SMTP_USE_SSL"], settings["SMTP_USE_TLS"]) == (True, False)
    assert "EMAIL_BACKEND" not in settings


def test_allowed_senders_take_addresses_and_domains_and_fall_back_to_the_no_reply_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load(monkeypatch, INDICO_SMTP_ALLOWED_SENDERS="events@example.org, cern.example")
    assert settings["SMTP_ALLOWED_SENDERS"] == {"events@example.org", "*@cern.example"}
    assert settings["SMTP_SENDER_FALLBACK"] == settings["NO_REPLY_EMAIL"] == "noreply@events.example.org"
    chosen = load(monkeypatch, INDICO_SMTP_ALLOWED_SENDERS="cern.example", INDICO_SMTP_SENDER_FALLBACK="relay@x.org")
    assert chosen["SMTP_SENDER_FALLBACK"] == "relay@x.org"
    # Unrestricted: Indico's own default (it refuses a list without a fallback).
    unrestricted = load(monkeypatch, INDICO_SMTP_ALLOWED_SENDERS="", INDICO_SMTP_SENDER_FALLBACK="")
    assert unrestricted["SMTP_ALLOWED_SENDERS"] == set() and "SMTP_SENDER_FALLBACK" not in unrestricted


def test_starttls_and_tls_together_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RuntimeError, match=r"INDICO_SMTP_USE_TLS .* exclude each other"):
        load(monkeypatch, INDICO_SMTP_HOST="smtp", INDICO_SMTP_USE_TLS="true", INDICO_SMTP_USE_SSL="true")


def test_an_openid_connect_client_becomes_a_login_and_identity_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(
        monkeypatch,
        INDICO_OIDC_CLIENT_ID="indico-client",
        INDICO_OIDC_CLIENT_SECRET="s3cr3t",
        INDICO_OIDC_METADATA_URL="https://login.example.org/.well-known/openid-configuration",
    )
    auth = settings["AUTH_PROVIDERS"]["oidc"]
    assert auth["type"] == "authlib"
    assert auth["authlib_args"]["client_id"] == "indico-client"
    assert auth["authlib_args"]["server_metadata_url"] == "https://login.example.org/.well-known/openid-configuration"
    assert auth["authlib_args"]["client_kwargs"] == {"scope": "openid email profile"}
    assert settings["IDENTITY_PROVIDERS"]["oidc"]["identifier_field"] == "sub"
    assert settings["PROVIDER_MAP"] == {"oidc": "oidc"}
    assert settings["LOCAL_IDENTITIES"] is True, "local accounts stay unless turned off"


def test_without_openid_connect_only_local_accounts(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, INDICO_OIDC_CLIENT_ID="", INDICO_LOCAL_IDENTITIES="false")
    assert settings["AUTH_PROVIDERS"] == settings["IDENTITY_PROVIDERS"] == {}
    assert settings["LOCAL_IDENTITIES"] is False


def test_an_openid_client_without_a_discovery_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RuntimeError, match=r"^INDICO_OIDC_METADATA_URL"):
        load(monkeypatch, INDICO_OIDC_CLIENT_ID="indico-client", INDICO_OIDC_METADATA_URL="")


SAML = {
    "INDICO_SAML_IDP_ENTITY_ID": "https://login.example.org/idp",
    "INDICO_SAML_IDP_SSO_URL": "https://login.example.org/idp/sso",
    "INDICO_SAML_IDP_CERTIFICATES": "MIIBcert1,MIIBcert2",
}


def test_a_saml_identity_provider_becomes_a_login_and_identity_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, **SAML)
    config = settings["AUTH_PROVIDERS"]["saml"]["saml_config"]
    assert config["sp"] == {"entityId": "https://events.example.org"}, "the SP is the site"
    assert config["idp"]["entityId"] == "https://login.example.org/idp"
    assert config["idp"]["singleSignOnService"] == {
        "url": "https://login.example.org/idp/sso",
        "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
    }
    assert config["idp"]["x509certMulti"] == {"signing": ["MIIBcert1", "MIIBcert2"]}
    assert settings["PROVIDER_MAP"]["saml"] == "saml"
    identity = settings["IDENTITY_PROVIDERS"]["saml"]
    assert identity["type"].__name__ == "SAMLGroupsIdentityProvider" and identity["type"].supports_groups
    assert identity["groups_attribute"] == "urn:oasis:names:tc:SAML:2.0:profiles:attribute:DCE:groups"


def test_the_saml_groups_attribute_can_be_named(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, **SAML, INDICO_SAML_GROUPS_ATTRIBUTE="memberOf")
    assert settings["IDENTITY_PROVIDERS"]["saml"]["groups_attribute"] == "memberOf"


def test_saml_and_openid_connect_side_by_side(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(
        monkeypatch,
        **SAML,
        INDICO_OIDC_CLIENT_ID="indico",
        INDICO_OIDC_METADATA_URL="https://iam.example.org/.well-known/openid-configuration",
    )
    assert set(settings["AUTH_PROVIDERS"]) == set(settings["IDENTITY_PROVIDERS"]) == {"saml", "oidc"}


def test_a_saml_provider_without_a_sign_on_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RuntimeError, match=r"^INDICO_SAML_IDP_SSO_URL"):
        load(monkeypatch, **{**SAML, "INDICO_SAML_IDP_SSO_URL": ""})


LDAP = {
    "INDICO_LDAP_URI": "ldap://ldap-1.example.org  ldaps://ldap-2.example.org:636",
    "INDICO_LDAP_BASE_DN": "dc=example,dc=org",
    "INDICO_LDAP_BIND_DN": "cn=indico,ou=svc,dc=example,dc=org",
    "INDICO_LDAP_BIND_PASSWORD": "bind-secret",
}


def test_an_ldap_directory_becomes_the_default_login_form_and_an_identity_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load(monkeypatch, **LDAP, INDICO_LDAP_STARTTLS="true", INDICO_LDAP_TRUSTED_EMAIL="")
    auth, identity = settings["AUTH_PROVIDERS"]["ldap"], settings["IDENTITY_PROVIDERS"]["ldap"]
    assert (auth["type"], auth["default"], identity["type"]) == ("ldap", True, "ldap")
    directory = auth["ldap"]
    assert directory is identity["ldap"], "one directory for sign-in and for looking people up"
    assert directory["uri"] == "ldap://ldap-1.example.org ldaps://ldap-2.example.org:636"
    assert (directory["bind_dn"], directory["bind_password"]) == (LDAP["INDICO_LDAP_BIND_DN"], "bind-secret")
    assert directory["starttls"] is True and directory["verify_cert"] is True
    assert directory["user_base"] == directory["group_base"] == "dc=example,dc=org"
    assert identity["mapping"]["email"] == "mail" and identity["trusted_email"] is False
    assert settings["PROVIDER_MAP"]["ldap"] == "ldap"


def test_an_anonymous_ldap_bind_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, **{**LDAP, "INDICO_LDAP_BIND_DN": "", "INDICO_LDAP_BIND_PASSWORD": ""})
    directory = settings["AUTH_PROVIDERS"]["ldap"]["ldap"]
    assert directory["bind_dn"] is None and directory["bind_password"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"INDICO_LDAP_URI": "https://ldap.example.org"}, r"^INDICO_LDAP_URI must be ldap:// or ldaps://"),
        ({"INDICO_LDAP_BASE_DN": " "}, r"^INDICO_LDAP_BASE_DN must name"),
    ],
)
def test_an_unusable_ldap_setting_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, change: dict[str, str], message: str
) -> None:
    with pytest.raises(RuntimeError, match=message):
        load(monkeypatch, **{**LDAP, **change})


def test_without_ldap_uri_there_is_no_ldap_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, **{**LDAP, "INDICO_LDAP_URI": ""})
    assert "ldap" not in settings["AUTH_PROVIDERS"] and "ldap" not in settings["IDENTITY_PROVIDERS"]


def test_of_the_installed_plugins_only_the_chosen_are_enabled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"plugins": {"enabled": ["piwik", "payment_paypal", "vc_zoom"]}}')
    every = load(monkeypatch, INDICO_EXTERNAL_STATE=str(state), INDICO_EXTERNAL_PLUGINS_ENABLED="")
    assert every["PLUGINS"] == {"piwik", "payment_paypal", "vc_zoom"}
    chosen = load(monkeypatch, INDICO_EXTERNAL_STATE=str(state), INDICO_EXTERNAL_PLUGINS_ENABLED="piwik, vc_zoom")
    assert chosen["PLUGINS"] == {"piwik", "vc_zoom"}
    with pytest.raises(RuntimeError, match=r"not installed: paypal \(installed: payment_paypal, piwik, vc_zoom\)"):
        load(monkeypatch, INDICO_EXTERNAL_STATE=str(state), INDICO_EXTERNAL_PLUGINS_ENABLED="paypal")
