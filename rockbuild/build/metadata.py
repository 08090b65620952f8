"""Image metadata as rockcraft writes it: labels/annotations, `.rock/metadata.yaml`, the _daemon_ user."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import yaml

from rockbuild.build.project import Project

DAEMON_USER = "_daemon_"
DAEMON_ID = 584792
CONTROL_FILE = ".rock/metadata.yaml"


def build_time() -> datetime.datetime:
    """Now, or SOURCE_DATE_EPOCH when set, for reproducible builds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return datetime.datetime.fromtimestamp(int(epoch), tz=datetime.UTC)
    return datetime.datetime.now(tz=datetime.UTC)


def image_annotations(
    project: Project, version: str, created: datetime.datetime, base_digest: str | None
) -> dict[str, str]:
    """Set both as config labels and as manifest annotations (`oci.py::set_annotations`)."""
    values = {
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.title": project.title or project.name,
        "org.opencontainers.image.created": created.isoformat(),
        "org.opencontainers.image.description": f"{project.summary}\n\n{project.description}",
    }
    if project.license:
        values["org.opencontainers.image.licenses"] = project.license
    if base_digest and project.base != "bare":
        values["org.opencontainers.image.base.digest"] = bare_hex(base_digest)
    return values


def bare_hex(digest: str) -> str:
    """rockcraft records the base digest as bare hex (`base_digest.hex()`), not `sha256:<hex>`."""
    return digest.removeprefix("sha256:")


def control_metadata(
    project: Project, version: str, created: datetime.datetime, arch: str, base_digest: str | None
) -> str:
    data: dict[str, str] = {
        "name": project.name,
        "summary": project.summary,
        "title": project.title or project.name,
        "version": version,
        "created": created.isoformat(),
        "base": project.base,
        "architecture": arch,
    }
    if base_digest and project.base != "bare":
        data["base-digest"] = bare_hex(base_digest)
    if project.build_base == "devel":
        data["grade"] = "devel"
    return yaml.safe_dump(data, sort_keys=True)  # rockcraft's yaml.dump sorts keys


def _current(rel: str, prime: Path, base_rootfs: Path | None) -> str:
    """A file's content as the image will have it: prime wins over the base."""
    for root in (prime, base_rootfs):
        if root is not None and (root / rel).is_file():
            return (root / rel).read_text()
    return ""


def daemon_user_files(prime: Path, base_rootfs: Path | None, created: datetime.datetime) -> dict[str, str]:
    """passwd, group and (if present) shadow with the _daemon_ user appended (`oci.py::add_user`)."""
    passwd = _current("etc/passwd", prime, base_rootfs)
    group = _current("etc/group", prime, base_rootfs)
    for line in passwd.splitlines():
        name, _, _, uid, *_ = (line.split(":") + [""] * 4)[:4]
        if name == DAEMON_USER or uid == str(DAEMON_ID):
            raise ValueError(f"the image already has a user named {DAEMON_USER} or with UID {DAEMON_ID}")
    files = {
        "etc/passwd": _ensure_newline(passwd)
        + f"{DAEMON_USER}:x:{DAEMON_ID}:{DAEMON_ID}::/var/lib/pebble/default:/usr/bin/false\n",
        "etc/group": _ensure_newline(group) + f"{DAEMON_USER}:x:{DAEMON_ID}:\n",
    }
    shadow = _current("etc/shadow", prime, base_rootfs)
    if shadow:
        days = (created - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)).days
        files["etc/shadow"] = _ensure_newline(shadow) + f"{DAEMON_USER}:!:{days}::::::\n"
    return files


def _ensure_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"
