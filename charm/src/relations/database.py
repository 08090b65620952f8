"""postgresql_client v0, requirer side: the request postgresql-k8s answers, and its answer.

Written here rather than taken from `dpcharmlibs-interfaces` (1.2.2): that requirer writes only the
v1 request (`{"version": "v1", "requests": [...]}`), and the v0 provider every maintained
postgresql-k8s branch runs (`DatabaseProvides`, data_platform_libs v0) creates a database only when
the requirer's app databag gains the `database` key, so it would never answer. The v0 request is
two keys (relation-interfaces/postgresql_client/v0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import juju_secrets
import ops

# The fields the provider must put in Juju secrets instead of the databag: the user secret
# (`secret-user`: username, password, uris) and the TLS secret (`secret-tls`: tls, tls-ca).
REQUESTED_SECRETS = ("username", "password", "tls", "tls-ca", "uris")


@dataclass(frozen=True)
class DatabaseCredentials:
    database: str
    username: str
    password: str
    host_port: str  # the primary's `host:port`, the first of `endpoints`
    tls: bool
    tls_ca: str = ""  # PEM: the CA the server's certificate chains to, when the provider gives it


def publish_request(relation: ops.Relation, app: ops.Application, database: str) -> None:
    """Leader only. The provider acts once, when `database` first appears; later changes are ignored."""
    databag = relation.data[app]
    request = {"database": database, "requested-secrets": json.dumps(list(REQUESTED_SECRETS))}
    if any(databag.get(key) != value for key, value in request.items()):
        databag.update(request)


def credentials(relation: ops.Relation, model: ops.Model) -> DatabaseCredentials | None:
    """The provider's answer, or None while any part of it is missing.

    Credentials come from the `secret-user` secret; a provider without secret support puts them in
    the databag itself, which is read then. Read-only endpoints are not used: Indico writes.
    """
    if relation.app is None:
        return None
    data = relation.data[relation.app]
    user = _secret_or_databag(model, data, "secret-user", ("username", "password"))
    tls = _secret_or_databag(model, data, "secret-tls", ("tls", "tls-ca"))
    endpoints = data.get("endpoints", "")
    host_port = endpoints.split(",")[0].strip()
    database = data.get("database")
    if not (database and host_port and user.get("username") and user.get("password")):
        return None
    return DatabaseCredentials(
        database=database,
        username=user["username"],
        password=user["password"],
        host_port=host_port,
        tls=tls.get("tls") == "true",
        tls_ca=tls.get("tls-ca", "").strip(),
    )


def _secret_or_databag(
    model: ops.Model, data: ops.RelationDataContent, secret_key: str, fields: tuple[str, ...]
) -> dict[str, str]:
    secret_id = data.get(secret_key)
    if not secret_id:
        return {field: data[field] for field in fields if field in data}
    return juju_secrets.content(model, secret_id, needed_by="database relation", fix=juju_secrets.RELATION_FIX)
