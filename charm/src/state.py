"""The charm's desired state, computed once per event from config (config.py) and relation data.

Plain data and functions only: nothing here touches Juju or Pebble, so it is tested directly.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import quote

from config import CharmConfig
from relations.ldap import LdapDirectory
from relations.oauth import OidcClient
from relations.s3 import S3Bucket
from relations.saml import SamlIdentityProvider
from relations.smtp import SmtpServer


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
    ldap: LdapDirectory | None = None  # sign-in with the ldap relation's directory accounts
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
