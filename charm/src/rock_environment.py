"""The rocks' environment contract, in one place: every variable the charm sets for the indico,
indico-nginx and indico-latex rocks' services (their READMEs list what each means), built from the desired
state. Pebble merges a layer's environment into the one before, so every key is always present,
empty meaning "the rock's default": a key left out would keep its old value."""

from __future__ import annotations

from urllib.parse import urlsplit

from config import CharmConfig
from relations.ldap import LdapDirectory
from relations.oauth import SCOPE as OIDC_SCOPE
from relations.oauth import OidcClient
from relations.s3 import S3Bucket
from relations.saml import SamlIdentityProvider
from relations.smtp import SmtpServer
from state import ModelProxy, State

# Reached without the model's proxy whatever Juju's no-proxy says: the pod itself and the
# cluster's service names.
ALWAYS_DIRECT = ("localhost", "127.0.0.1", "::1", ".svc", ".cluster.local")
PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy")
# Where the indico-latex container's worker takes Indico's XeLaTeX jobs. Juju shares no directory
# between workload containers (short of a persistent volume per unit), but a pod's containers share
# loopback, which nothing outside the pod reaches; the worker refuses any other address.
LATEX_ADDRESS = "127.0.0.1:8089"


def indico(state: State) -> dict[str, str]:
    """The indico rock's Indico and Celery services."""
    config = state.config
    env = {
        "INDICO_DB_URI": state.database_uri,
        "PGPASSWORD": state.database_password,
        "INDICO_REDIS_URL": state.redis_broker_url,
        "INDICO_CELERY_BROKER_URL": state.redis_broker_url,
        "INDICO_REDIS_CACHE_URL": state.redis_cache_url,
        "INDICO_SECRET_KEY": state.secret_key,
        "INDICO_BASE_URL": state.base_url,
        "INDICO_ENABLE_ROOMBOOKING": _flag(config.enable_roombooking),
        "INDICO_CUSTOMIZATION_DEBUG": _flag(config.customization_debug),
        "UWSGI_PROCESSES": str(config.uwsgi_processes),
        "INDICO_REQUEST_TIMEOUT": str(config.request_timeout),
        "CELERY_CONCURRENCY": str(config.celery_concurrency),
        # The pod mounts the archive into the indico-nginx container too: NGINX sends stored files.
        "INDICO_NGINX_SENDS_FILES": "true",
        # Indico's PDFs made with LaTeX, by the pod's indico-latex container.
        "INDICO_LATEX_SOCKET": LATEX_ADDRESS,
        "INDICO_SUPPORT_EMAIL": config.indico_support_email,
        "INDICO_PUBLIC_SUPPORT_EMAIL": config.indico_public_support_email,
        # The sender the mail server requires, unless the operator names one.
        "INDICO_NO_REPLY_EMAIL": config.indico_no_reply_email or (state.smtp.sender if state.smtp else ""),
        "INDICO_SMTP_ALLOWED_SENDERS": ",".join(allowed_senders(config, state.smtp)),
        "INDICO_SMTP_SENDER_FALLBACK": config.smtp_sender_fallback,
        # Indico reads this after its config file: the operator's indico_config.
        "INDICO_CONF_OVERRIDE": config.conf_override,
        # Of the plugins indico-external installed, these (empty: all).
        "INDICO_EXTERNAL_PLUGINS_ENABLED": ",".join(config.enabled_plugin_names),
        **s3(state.s3),
        **smtp(state.smtp),
        **oidc(state.oidc),
        **saml(state.saml),
        "INDICO_SAML_GROUPS_ATTRIBUTE": config.saml_groups_attribute,
        **ldap(state.ldap),
    }
    # Local accounts go only when another way to sign in exists: nobody is locked out.
    external = state.oidc is not None or state.saml is not None or state.ldap is not None
    env["INDICO_LOCAL_IDENTITIES"] = _flag(not (external and not config.enable_local_login))
    trusted = _flag(config.trust_identity_provider_emails)
    env["INDICO_OIDC_TRUSTED_EMAIL"] = env["INDICO_SAML_TRUSTED_EMAIL"] = env["INDICO_LDAP_TRUSTED_EMAIL"] = trusted
    return env


def latex() -> dict[str, str]:
    """The indico-latex rock's worker: where it listens, and nothing of Indico's (no secret, no
    relation data): LaTeX runs on what people type, apart from everything else."""
    return {"LATEX_SOCKET": LATEX_ADDRESS}


def nginx(trusted_proxies: str, request_timeout: str) -> dict[str, str]:
    """The indico-nginx rock's NGINX: whose X-Forwarded-* it believes (empty: loopback alone) and
    how long it waits for uWSGI (empty: the rock's default)."""
    return {"NGINX_TRUSTED_PROXIES": trusted_proxies, "INDICO_REQUEST_TIMEOUT": request_timeout}


def allowed_senders(config: CharmConfig, server: SmtpServer | None) -> tuple[str, ...]:
    """The operator's list, else the one sender the mail server is known to accept."""
    if config.allowed_senders:
        return config.allowed_senders
    return (server.sender,) if server and server.sender else ()


def s3(found: S3Bucket | None) -> dict[str, str]:
    """Uploaded files in a bucket instead of the archive volume."""
    return {
        "INDICO_S3_BUCKET": found.bucket if found else "",
        "INDICO_S3_ACCESS_KEY": found.access_key if found else "",
        "INDICO_S3_SECRET_KEY": found.secret_key if found else "",
        "INDICO_S3_ENDPOINT": found.endpoint if found else "",
        "INDICO_S3_ADDRESSING_STYLE": found.addressing_style if found else "",
        "INDICO_S3_REGION": found.region if found else "",
        "INDICO_S3_CA_BUNDLE": found.ca_bundle if found else "",
    }


def smtp(server: SmtpServer | None) -> dict[str, str]:
    """Mail; without a server INDICO_SMTP_HOST is empty, which the rock takes as "mail is off"."""
    return {
        "INDICO_SMTP_HOST": server.host if server else "",
        "INDICO_SMTP_PORT": str(server.port) if server else "",
        "INDICO_SMTP_LOGIN": server.user if server else "",
        "INDICO_SMTP_PASSWORD": server.password if server else "",
        "INDICO_SMTP_USE_TLS": _flag(bool(server and server.transport_security == "starttls")),
        "INDICO_SMTP_USE_SSL": _flag(bool(server and server.transport_security == "tls")),
    }


def oidc(found: OidcClient | None) -> dict[str, str]:
    """Sign-in through the oauth relation's provider."""
    return {
        "INDICO_OIDC_CLIENT_ID": found.client_id if found else "",
        "INDICO_OIDC_CLIENT_SECRET": found.client_secret if found else "",
        "INDICO_OIDC_METADATA_URL": found.metadata_url if found else "",
        "INDICO_OIDC_SCOPE": OIDC_SCOPE,
    }


def saml(idp: SamlIdentityProvider | None) -> dict[str, str]:
    """Sign-in through the saml relation's identity provider."""
    return {
        "INDICO_SAML_IDP_ENTITY_ID": idp.entity_id if idp else "",
        "INDICO_SAML_IDP_SSO_URL": idp.sign_on_url if idp else "",
        "INDICO_SAML_IDP_SSO_BINDING": idp.sign_on_binding if idp else "",
        "INDICO_SAML_IDP_SLO_URL": idp.sign_out_url if idp else "",
        "INDICO_SAML_IDP_CERTIFICATES": ",".join(idp.certificates) if idp else "",
    }


def ldap(directory: LdapDirectory | None) -> dict[str, str]:
    """Sign-in with the ldap relation's directory accounts; people and groups looked up there."""
    return {
        "INDICO_LDAP_URI": " ".join(directory.urls) if directory else "",
        "INDICO_LDAP_BASE_DN": directory.base_dn if directory else "",
        "INDICO_LDAP_BIND_DN": directory.bind_dn if directory else "",
        "INDICO_LDAP_BIND_PASSWORD": directory.bind_password if directory else "",
        "INDICO_LDAP_STARTTLS": _flag(bool(directory and directory.starttls)),
    }


def workload_proxy(proxy: ModelProxy, state: State | None) -> dict[str, str]:
    """The model's proxy for Indico, Celery and the exporters (OIDC discovery, webhooks, Indico's
    version check), bypassed for the pod, the cluster and every relation's endpoint: the database,
    Redis and the S3 endpoint are reached directly."""
    if not (proxy.http or proxy.https):
        return dict.fromkeys(PROXY_VARIABLES, "")
    direct = [entry.strip() for entry in proxy.no_proxy.split(",") if entry.strip()]
    if state is not None:
        direct += [_host(state.database_uri), _host(state.redis_broker_url), _host(state.redis_cache_url)]
        if state.s3 and state.s3.endpoint:
            direct.append(_host(state.s3.endpoint))
    no_proxy = ",".join(dict.fromkeys(entry for entry in (*direct, *ALWAYS_DIRECT) if entry))
    return {
        "HTTP_PROXY": proxy.http,
        "http_proxy": proxy.http,
        "HTTPS_PROXY": proxy.https,
        "https_proxy": proxy.https,
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
    }


def external_tool(proxy: ModelProxy, config: CharmConfig) -> dict[str, str]:
    """indico-external's whole environment (pip and git): the model's proxy as Juju gives it and
    the operator's package index; never the site's secrets."""
    env = {"PIP_INDEX_URL": config.pip_index_url} if config.pip_index_url else {}
    for name, value in (("HTTP_PROXY", proxy.http), ("HTTPS_PROXY", proxy.https), ("NO_PROXY", proxy.no_proxy)):
        if value:
            env[name] = env[name.lower()] = value
    return env


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _host(url: str) -> str:
    return urlsplit(url).hostname or "" if "://" in url else ""
