"""Juju secrets, read in one way with one error policy: a secret the unit cannot read raises
SecretUnreadable naming who needs it and what the operator does about it, and the charm shows
that as Blocked (never waits forever for credentials it will not get). Also the site's secret
key, which the leader creates once and shares with every unit."""

from __future__ import annotations

import secrets

import ops

PEER = "indico-peers"
SITE_KEY_LABEL = "indico-secret-key"
SITE_KEY_ID = "secret-id"  # peer application data: the site key's secret
KEY_GENERATION = "secret-key-generation"  # bumped by rotate-secret-key, so other units read it again
# A provider grants its secrets to this application when it writes their ids into the relation.
RELATION_FIX = "the provider has not granted it: check the provider's status, or remove and re-add the relation"


class SecretUnreadable(Exception):
    """The message says whose secret it is and how to fix it."""


def content(model: ops.Model, secret: str | ops.Secret, *, needed_by: str, fix: str) -> dict[str, str]:
    """The secret's current content; `secret` is an id (from relation data) or a config option's Secret."""
    try:
        found = model.get_secret(id=secret) if isinstance(secret, str) else secret
        return found.get_content(refresh=True)
    except (ops.SecretNotFoundError, ops.ModelError) as exc:
        raise SecretUnreadable(f"{needed_by}: cannot read its secret ({type(exc).__name__}); {fix}") from exc


def site_key(model: ops.Model, app: ops.Application, leader: bool) -> str | None:
    """The site's secret key: created by the leader on first need; None until the leader has."""
    peer = model.get_relation(PEER)
    if peer is None:
        return None
    secret_id = peer.data[app].get(SITE_KEY_ID)
    if secret_id is None and leader:
        secret_id = app.add_secret({"secret-key": _new_key()}, label=SITE_KEY_LABEL).id
        peer.data[app][SITE_KEY_ID] = str(secret_id)
    if secret_id is None:
        return None
    fix = "the leader shares it with every unit; check `juju secrets` and the leader's log"
    return content(model, secret_id, needed_by="the site's secret key", fix=fix)["secret-key"]


def rotate_site_key(model: ops.Model, app: ops.Application) -> None:
    """Leader only: a new key in the shared secret and a new generation in the peer data, which
    wakes the other units (they own no secret-changed for the leader's own secret)."""
    peer = model.get_relation(PEER)
    secret_id = peer.data[app].get(SITE_KEY_ID) if peer is not None else None
    if peer is None or secret_id is None:
        raise SecretUnreadable("there is no secret key yet: the leader makes one once the unit is set up")
    model.get_secret(id=secret_id).set_content({"secret-key": _new_key()})
    generation = int(peer.data[app].get(KEY_GENERATION, "0") or "0") + 1
    peer.data[app][KEY_GENERATION] = str(generation)


def _new_key() -> str:
    return secrets.token_urlsafe(48)
