"""ops.testing (Scenario) for the charm, with each container's layer loaded from its rock."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ops import testing

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "charm" / "src"))

from charm import IndicoCharm  # noqa: E402

ROCK_OF = {"indico": "indico", "celery": "indico", "indico-nginx": "indico-nginx"}


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


def database_relation() -> tuple[testing.Relation, testing.Secret]:
    secret = testing.Secret({"username": "indico_user", "password": "pw"}, owner=None)
    relation = testing.Relation(
        "database",
        "postgresql_client",
        remote_app_name="postgresql-k8s",
        remote_app_data={"database": "indico", "endpoints": "pg-0.pg:5432,pg-1.pg:5432", "secret-user": secret.id},
    )
    return relation, secret


def redis_relation(leader_host: str | None = None) -> testing.Relation:
    return testing.Relation(
        "redis",
        "redis",
        remote_app_name="redis-k8s",
        remote_app_data={"leader-host": leader_host} if leader_host else {},
        remote_units_data={0: {"hostname": "redis-0.redis", "port": "6379"}},
    )
