"""ops.testing (Scenario) for the charm, with each container's layer loaded from its rock."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml
from ops import testing

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "charm" / "src"))

from status import MAIL_OFF  # noqa: E402

from charm import IndicoCharm  # noqa: E402
from tests import real_providers as providers  # noqa: E402

# Each container charmcraft.yaml declares, with the rock of its OCI resource (<rock>-image).
ROCK_OF = {
    name: spec["resource"].removesuffix("-image")
    for name, spec in yaml.safe_load((REPO / "charm" / "charmcraft.yaml").read_text())["containers"].items()
}
# Juju attaches the archive volume before the first hook of a Kubernetes unit.
ARCHIVE = testing.Storage("archive")
# Serving, without an smtp relation (most tests have none): the status says mail is off.
ACTIVE = testing.ActiveStatus(MAIL_OFF)


def rock_layer(container: str) -> object:
    return testing.layer_from_rockcraft(REPO / "rocks" / ROCK_OF[container] / "rockcraft.yaml")


def containers(can_connect: bool = True) -> set[testing.Container]:
    return {
        testing.Container(name, can_connect=can_connect, layers={"rock": rock_layer(name)})  # type: ignore[dict-item]
        for name in ROCK_OF
    }


@pytest.fixture
def ctx() -> testing.Context[IndicoCharm]:
    return testing.Context(IndicoCharm, charm_root=REPO / "charm")


def env_of(state: testing.State, container: str, service: str | None = None) -> dict[str, str]:
    """The environment the charm's plan gives a service (the container's main one by default)."""
    main = {"indico": "indico", "celery": "celery-worker", "indico-nginx": "nginx", "indico-latex": "latex"}[container]
    return dict(state.get_container(container).plan.services[service or main].environment)


def database_relation() -> tuple[testing.Relation, frozenset[testing.Secret]]:
    """The database relation as postgresql-k8s's own library answers the charm's request."""
    answer, secrets, _ = providers.postgresql_answer(
        {"database": "indico", "requested-secrets": '["username", "password", "tls", "tls-ca", "uris"]'}
    )
    relation = testing.Relation(
        "database", "postgresql_client", remote_app_name="postgresql-k8s", remote_app_data=answer
    )
    return relation, secrets


def redis_relation(leader_host: str | None = None) -> testing.Relation:
    """The redis relation as redis-k8s's own library fills it."""
    return providers.redis_relation(primary_address="10.1.0.7", leader_host=leader_host)


PEER = testing.PeerRelation("indico-peers")


def full_state(*relations: testing.Relation, secrets: Iterable[testing.Secret] = (), **fields: object) -> testing.State:
    """The one builder of a unit with everything Indico needs: the database and redis relations
    answered by the real providers' libraries, the peer relation, the archive attached, every
    container with its rock's layer, leader. `relations` are added, each replacing the default of
    its endpoint; `secrets` are added; `fields` override the State's (leader, config, ...)."""
    database, database_secrets = database_relation()
    given = {relation.endpoint for relation in relations}
    defaults = [relation for relation in (database, redis_relation(), PEER) if relation.endpoint not in given]
    state: dict[str, object] = {
        "leader": True,
        "storages": {ARCHIVE},
        "containers": containers(),
        "relations": {*defaults, *relations},
        "secrets": {*database_secrets, *secrets},
    }
    state.update(fields)
    return testing.State(**state)  # type: ignore[arg-type]
