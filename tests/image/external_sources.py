"""A real Indico plugin wheel and a real customization git repository, made on the host, so that
tests install and clone them without any index or git host (only file paths and file:// URLs)."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import zipfile
from pathlib import Path

PLUGIN_ROUTE = "/probe-plugin"
PLUGIN_ANSWER = "the probe plugin answers"
CUSTOM_FILE = "files/probe.txt"
DAEMON_UID = 584792

PLUGIN_MODULE = f'''"""Probe: proves that an externally installed plugin is loaded and enabled."""
from indico.core.plugins import IndicoPlugin, IndicoPluginBlueprint

blueprint = IndicoPluginBlueprint("probe", __name__)
blueprint.add_url_rule("{PLUGIN_ROUTE}", "probe", lambda: "{PLUGIN_ANSWER}")


class ProbePlugin(IndicoPlugin):
    """Probe"""

    def get_blueprints(self):
        return blueprint
'''


# With `with_schema`: a table of its own in the schema `plugin_probe`, made by its own Alembic
# migration (`indico db --all-plugins upgrade`), and the model Indico imports from `models/`.
PLUGIN_SCHEMA = "plugin_probe"
PLUGIN_REVISION = "5b1e2f3a4c6d"
PLUGIN_MODEL = f'''from indico.core.db import db


class ProbeNote(db.Model):
    __tablename__ = "notes"
    __table_args__ = {{"schema": "{PLUGIN_SCHEMA}"}}

    id = db.Column(db.Integer, primary_key=True)
    text = db.Column(db.String, nullable=False)
'''
PLUGIN_MIGRATION = f'''"""Create the probe's notes

Revision ID: {PLUGIN_REVISION}
Revises:
Create Date: 2026-12-03 12:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.sql.ddl import CreateSchema, DropSchema

revision = "{PLUGIN_REVISION}"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.execute(CreateSchema("{PLUGIN_SCHEMA}"))
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
        schema="{PLUGIN_SCHEMA}",
    )


def downgrade():
    op.drop_table("notes", schema="{PLUGIN_SCHEMA}")
    op.execute(DropSchema("{PLUGIN_SCHEMA}"))
'''


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def plugin_wheel(directory: Path, version: str = "1.0", with_schema: bool = False) -> Path:
    """A wheel (PEP 427) with one Indico plugin, entry point `probe`, that needs Indico."""
    dist_info = f"indico_plugin_probe-{version}.dist-info"
    schema = {
        "indico_plugin_probe/models/__init__.py": b"",
        "indico_plugin_probe/models/notes.py": PLUGIN_MODEL.encode(),
        f"indico_plugin_probe/migrations/20261203_1200_{PLUGIN_REVISION}_create_probe_notes.py": (
            PLUGIN_MIGRATION.encode()
        ),
    }
    files = {
        **(schema if with_schema else {}),
        "indico_plugin_probe/__init__.py": PLUGIN_MODULE.encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: indico-plugin-probe\nVersion: {version}\nRequires-Dist: indico\n"
        ).encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/entry_points.txt": b"[indico.plugins]\nprobe = indico_plugin_probe:ProbePlugin\n",
    }
    record = [_record_line(name, data) for name, data in files.items()] + [f"{dist_info}/RECORD,,"]
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = directory / f"indico_plugin_probe-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    os.chmod(wheel, 0o644)
    return wheel


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@localhost"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def customization_repo(directory: Path, marker: str) -> Path:
    """A git repository with one customization file; owned by the rock's user, as git requires
    of a repository it reads (safe.directory)."""
    repo = directory / "custom-src"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=main")
    commit_file(repo, marker)
    for path in [repo, *repo.rglob("*")]:
        os.chown(path, DAEMON_UID, DAEMON_UID)
    return repo


def commit_file(repo: Path, marker: str) -> str:
    target = repo / CUSTOM_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(marker)
    git(repo, "-c", "safe.directory=*", "add", CUSTOM_FILE)
    git(repo, "-c", "safe.directory=*", "commit", "--quiet", "-m", marker)
    for path in [repo, *repo.rglob("*")]:
        os.chown(path, DAEMON_UID, DAEMON_UID)
    return git(repo, "-c", "safe.directory=*", "rev-parse", "HEAD").strip()
