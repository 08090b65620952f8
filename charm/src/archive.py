"""The `archive` storage: Juju's volume for uploaded files, made writable by the workloads' user.

Juju mounts the volume into the indico and celery containers at /var/lib/indico/archive and into
the charm container at the location it reports. A fresh volume is root's (Juju sets no fsGroup:
juju/juju#19020), while Pebble runs the services as _daemon_; the charm, which runs as root,
hands the volume's top directory to that user. Files below it are Indico's own.
"""

from __future__ import annotations

import os
from pathlib import Path

STORAGE = "archive"
WORKLOAD_UID = WORKLOAD_GID = 584792  # the rocks' _daemon_, as charmcraft.yaml runs the containers


class ArchiveError(Exception):
    """The volume cannot be made the workloads'; the message says why."""


def prepare(location: Path) -> None:
    """Give the volume's top directory to the workloads' user, if it is not theirs yet."""
    try:
        info = location.stat()
        if (info.st_uid, info.st_gid) != (WORKLOAD_UID, WORKLOAD_GID):
            os.chown(location, WORKLOAD_UID, WORKLOAD_GID)
        if info.st_mode & 0o700 != 0o700:
            location.chmod(info.st_mode | 0o700)
    except OSError as exc:
        raise ArchiveError(
            f"cannot give the archive storage ({location}) to uid {WORKLOAD_UID}: {exc.strerror or exc}"
        ) from exc
