"""Where uploaded files live: the archive volume of each unit, or the s3 relation's bucket."""

from __future__ import annotations

import os
from pathlib import Path

import archive
import pytest
from ops import testing

from tests import real_providers as providers
from tests.unit.charm.conftest import ACTIVE, ARCHIVE, env_of, full_state
from tests.unit.charm.test_relation_conformance import INTEGRATOR


def answered_s3(integrator: dict[str, object] | None = None) -> testing.Relation:
    answer, _ = providers.s3_answer({"bucket": "indico"}, integrator or INTEGRATOR)
    return testing.Relation("s3", "s3", remote_app_name="s3-integrator", remote_app_data=answer)


def startup(out: testing.State, container: str, service: str) -> str:
    return str(out.get_container(container).plan.services[service].startup)


def test_the_archive_volume_is_given_to_the_workloads_user(ctx: testing.Context) -> None:
    volume = ARCHIVE.get_filesystem(ctx)
    os.chown(volume, 0, 0)  # as a fresh volume comes: root's
    out = ctx.run(ctx.on.storage_attached(ARCHIVE), full_state())
    info = volume.stat()
    assert (info.st_uid, info.st_gid) == (archive.WORKLOAD_UID, archive.WORKLOAD_GID)
    assert out.unit_status == ACTIVE
    assert startup(out, "indico", "indico") == startup(out, "celery", "celery-worker") == "enabled"


def test_without_the_archive_volume_indico_does_not_start(ctx: testing.Context) -> None:
    out = ctx.run(ctx.on.config_changed(), full_state(storages=frozenset()))
    assert out.unit_status == testing.WaitingStatus("waiting for the archive storage")
    assert startup(out, "indico", "indico") == startup(out, "celery", "celery-worker") == "disabled"
    assert startup(out, "indico-nginx", "nginx") == "enabled", "NGINX keeps its alive check passing"


def test_a_detaching_volume_stops_what_writes_to_it(ctx: testing.Context) -> None:
    running = ctx.run(ctx.on.config_changed(), full_state())
    assert startup(running, "indico", "indico") == "enabled"
    out = ctx.run(ctx.on.storage_detaching(ARCHIVE), running)
    assert startup(out, "indico", "indico") == startup(out, "celery", "celery-worker") == "disabled"
    assert out.unit_status == testing.WaitingStatus("waiting for the archive storage")


def test_a_volume_the_charm_cannot_take_blocks_and_names_it(
    ctx: testing.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    volume = ARCHIVE.get_filesystem(ctx)
    os.chown(volume, 0, 0)

    def refuse(path: Path, uid: int, gid: int) -> None:
        raise PermissionError(1, "Operation not permitted", str(path))

    monkeypatch.setattr(os, "chown", refuse)
    out = ctx.run(ctx.on.storage_attached(ARCHIVE), full_state())
    assert out.unit_status == testing.BlockedStatus(
        f"cannot give the archive storage ({volume}) to uid 584792: Operation not permitted"
    )


def test_two_units_without_s3_block_naming_the_relation_and_keep_serving(ctx: testing.Context) -> None:
    out = ctx.run(ctx.on.config_changed(), full_state(planned_units=2))
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "integrate with s3" in out.unit_status.message and "2 units" in out.unit_status.message
    assert startup(out, "indico", "indico") == "enabled"


def test_two_units_with_s3_are_active(ctx: testing.Context) -> None:
    out = ctx.run(ctx.on.config_changed(), full_state(answered_s3(), planned_units=2))
    assert out.unit_status == ACTIVE
    assert env_of(out, "celery")["INDICO_S3_BUCKET"] == "indico-files"


def test_an_unanswered_s3_relation_waits_and_keeps_serving_from_the_volume(ctx: testing.Context) -> None:
    pending = testing.Relation("s3", "s3", remote_app_name="s3-integrator")
    out = ctx.run(ctx.on.relation_created(pending), full_state(pending))
    assert out.unit_status == testing.WaitingStatus("waiting for the s3 relation to provide a bucket and credentials")
    assert startup(out, "indico", "indico") == "enabled" and env_of(out, "indico")["INDICO_S3_BUCKET"] == ""
    assert out.get_relation(pending.id).local_app_data == {"bucket": "indico"}


def test_a_removed_s3_relation_returns_new_uploads_to_the_volume(ctx: testing.Context) -> None:
    bucket = answered_s3()
    with_s3 = ctx.run(ctx.on.relation_changed(bucket, remote_unit=0), full_state(bucket))
    assert env_of(with_s3, "indico")["INDICO_S3_BUCKET"] == "indico-files"
    out = ctx.run(ctx.on.relation_broken(with_s3.get_relation(bucket.id)), with_s3)
    assert not any(value for key, value in env_of(out, "indico").items() if key.startswith("INDICO_S3_"))
    assert out.unit_status == ACTIVE
