"""What the unit reads from Juju on each reconcile: its options (ops' load_config), what each
relation gives (through its module in relations/), its secrets and its storage, into the typed
data state.py holds. Reading only, except the leader's first site key and the oauth client
registration its library publishes; a value the charm cannot use raises Blocked with the
message for the unit's status."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import archive
import juju_secrets
import ops
import state as desired
from charmlibs.interfaces.ldap import LdapRequirer
from charmlibs.interfaces.oauth import ClientConfigError, DataValidationError, OAuthRequirer
from config import CharmConfig, InvalidConfigError, with_credentials
from relations import database, ingress, ldap, oauth, redis, s3, saml, smtp


class Blocked(Exception):
    """The message is the Blocked status: it names the option or relation and the fix."""


@dataclass(frozen=True)
class OptionalRelations:
    """What the relations Indico can run without give; None where a relation is absent or silent."""

    ingress_url: str | None = None
    s3: s3.S3Bucket | None = None
    smtp: smtp.SmtpServer | None = None
    oidc: oauth.OidcClient | None = None
    saml: saml.SamlIdentityProvider | None = None
    ldap: ldap.LdapDirectory | None = None


def config(charm: ops.CharmBase) -> CharmConfig:
    try:
        return charm.load_config(CharmConfig)
    except InvalidConfigError as exc:
        raise Blocked(str(exc)) from None


def optional_relations(
    charm: ops.CharmBase, options: CharmConfig, requirer: OAuthRequirer, directory: LdapRequirer
) -> OptionalRelations:
    model = charm.model
    try:
        ingress_url = _ingress_url(model.get_relation("ingress"), options)
        bucket_relation, smtp_relation, saml_relation, ldap_relation = (
            model.get_relation(n) for n in ("s3", "smtp", "saml", "ldap")
        )
        found = OptionalRelations(
            ingress_url=ingress_url,
            s3=s3.bucket(bucket_relation) if bucket_relation else None,
            smtp=smtp.server(smtp_relation, model) if smtp_relation else None,
            saml=saml.identity_provider(saml_relation) if saml_relation else None,
            ldap=ldap.directory(directory, ldap_relation) if ldap_relation else None,
        )
        if model.get_relation("oauth") is None:
            return found
        if charm.unit.is_leader():  # the client registered for this site's URL
            requirer.update_client_config(oauth.client_config(base_url(charm, options, found)))
        return dataclasses.replace(found, oidc=oauth.client(requirer))
    except s3.S3DataError as exc:
        raise Blocked(f"s3 relation: {exc}") from None
    except smtp.SmtpDataError as exc:
        raise Blocked(f"smtp relation: {exc}") from None
    except (ClientConfigError, DataValidationError) as exc:
        raise Blocked(f"oauth relation: {exc}") from None
    except saml.SamlDataError as exc:
        raise Blocked(f"saml relation: {exc}") from None
    except ldap.LdapDataError as exc:
        raise Blocked(f"ldap relation: {exc}") from None
    except (ingress.IngressUrlError, juju_secrets.SecretUnreadable) as exc:
        raise Blocked(str(exc)) from None


def _ingress_url(relation: ops.Relation | None, options: CharmConfig) -> str | None:
    """The provider's URL; IngressUrlError if Indico cannot be served at it and site_url is unset."""
    if relation is None:
        return None
    try:
        return ingress.url(relation)
    except ingress.IngressUrlError:
        if options.site_url:
            return None  # site_url names the public URL; the ingress's own does not matter
        raise


def base_url(charm: ops.CharmBase, options: CharmConfig, found: OptionalRelations) -> str:
    return desired.base_url(options, found.ingress_url, charm.app.name)


def customization_url(model: ops.Model, options: CharmConfig, app_name: str) -> str:
    """The customization URL with the credentials of customization_sources_secret, if set."""
    if options.customization_sources_secret is None:
        return options.customization_sources_url
    try:
        content = juju_secrets.content(
            model,
            options.customization_sources_secret,
            needed_by="invalid config option 'customization_sources_secret'",
            fix=f"grant it: juju grant-secret <secret> {app_name}",
        )
        return with_credentials(options.customization_sources_url, content)
    except (juju_secrets.SecretUnreadable, InvalidConfigError) as exc:
        raise Blocked(str(exc)) from None


def desired_state(
    charm: ops.CharmBase, options: CharmConfig, found: OptionalRelations, archive_location: Path | None
) -> tuple[desired.State | None, ops.StatusBase | None]:
    """The workloads' settings, or None and the status that says what is missing."""
    model = charm.model
    for endpoint in ("database", "redis"):
        if model.get_relation(endpoint) is None:
            return None, ops.BlockedStatus(f"needs a {endpoint} relation")
    try:
        credentials = database.credentials(model.get_relation("database"), model)  # type: ignore[arg-type]
        secret_key = juju_secrets.site_key(model, charm.app, charm.unit.is_leader())
    except juju_secrets.SecretUnreadable as exc:
        return None, ops.BlockedStatus(str(exc))
    redis_endpoint = redis.endpoint(model.get_relation("redis"))  # type: ignore[arg-type]
    if credentials is None:
        return None, ops.WaitingStatus("waiting for the database relation to provide credentials")
    if redis_endpoint is None:
        return None, ops.WaitingStatus("waiting for the redis relation to provide a host and port")
    if secret_key is None:
        return None, ops.WaitingStatus("waiting for the leader to share the secret key")
    if archive_location is None:
        return None, ops.WaitingStatus("waiting for the archive storage")
    try:
        archive.prepare(archive_location)
    except archive.ArchiveError as exc:
        return None, ops.BlockedStatus(str(exc))
    state = desired.State(
        config=options,
        base_url=base_url(charm, options, found),
        database_uri=desired.database_uri(
            credentials.database,
            credentials.username,
            credentials.host_port,
            credentials.tls,
            ca=bool(credentials.tls and credentials.tls_ca),
        ),
        database_ca=credentials.tls_ca if credentials.tls else "",
        database_password=credentials.password,
        redis_broker_url=redis_endpoint.url(redis.BROKER_DB),
        redis_cache_url=redis_endpoint.url(redis.CACHE_DB),
        secret_key=secret_key,
        is_leader=charm.unit.is_leader(),
        s3=found.s3,
        smtp=found.smtp,
        oidc=found.oidc,
        saml=found.saml,
        ldap=found.ldap,
    )
    return state, None


def archive_location(charm: ops.CharmBase, detaching: bool) -> Path | None:
    """Where the charm container sees the archive volume; None when it is not (or no longer) there."""
    attached = charm.model.storages[archive.STORAGE]
    if not attached or detaching:
        return None
    return Path(attached[0].location)


def forwarders(model: ops.Model) -> str:
    """The ingress's units, the only hop whose X-Forwarded-* headers NGINX believes."""
    return ingress.forwarders(model.get_relation("ingress"))


def model_proxy() -> desired.ModelProxy:
    return desired.ModelProxy.from_environ(dict(os.environ))


def s3_ready(model: ops.Model) -> tuple[bool, bool]:
    """(related, answered) for the file storage status; unusable data counts as answered, since
    the reconcile reports it."""
    relation = model.get_relation("s3")
    try:
        return relation is not None, relation is not None and s3.bucket(relation) is not None
    except s3.S3DataError:
        return True, True
