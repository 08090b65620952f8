"""A lane of site tests with a loopback of its own, so that two lanes can each run an Indico site on
127.0.0.1:8080, 8081, 9080, ... at the same time.

The lane's worker joins a network namespace of its own with its test thread (`setns(2)` moves only
the calling thread; pytest-xdist runs the tests in the main thread), so the servers the tests start
in the worker or as its subprocesses (PostgreSQL, Redis, the ingress, mail, LDAP, the browser) bind
there, and every container the lane starts joins the same namespace (`container_network()`), as a
pod's containers share one. The namespace is that of an idle "anchor" container on Docker's `none`
network: loopback only, no route out, as the network rule of these tests asks. Builds need the
machine's network (package archives, PyPI, the Go proxy) and run on the host's namespace
(`on_host_network()`); the threads they start inherit it.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import docker
import docker.models.containers

CLONE_NEWNET = 0x40000000
# Names the lane's containers look up, given to the anchor: containers that join another's network
# share its /etc/hosts, and Docker refuses `extra_hosts` of their own.
LANE_HOSTS = {"indico.local": "127.0.0.1"}
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass
class _Joined:
    anchor: docker.models.containers.Container
    host_fd: int
    lane_fd: int


_joined: _Joined | None = None


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns(CLONE_NEWNET): {os.strerror(errno)}")


def container_network() -> str:
    """Docker's network mode for a container of this lane: the host's network, or the lane's."""
    return f"container:{_joined.anchor.id}" if _joined else "host"


def container_options(extra_hosts: dict[str, str]) -> dict[str, object]:
    """`network_mode` and `extra_hosts` for a container that must resolve `extra_hosts`' names."""
    if not _joined:
        return {"network_mode": "host", "extra_hosts": extra_hosts}
    missing = {name: address for name, address in extra_hosts.items() if LANE_HOSTS.get(name) != address}
    assert not missing, f"add {missing} to lane_network.LANE_HOSTS: the lane's containers share its anchor's hosts"
    return {"network_mode": container_network()}


def has_own_network() -> bool:
    return _joined is not None


def join(client: docker.DockerClient, image: str) -> None:
    """Move this thread into a new network namespace, held by an idle container of `image` (any
    image with `sleep`). Once per process; `leave()` undoes it."""
    global _joined
    if _joined:
        return
    anchor = client.containers.run(
        image,
        entrypoint=["sleep", "infinity"],
        detach=True,
        network_mode="none",
        extra_hosts=LANE_HOSTS,
        labels={"rockbuild.test": "lane"},
    )
    try:
        anchor.reload()
        host_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        lane_fd = os.open(f"/proc/{anchor.attrs['State']['Pid']}/ns/net", os.O_RDONLY)
        _setns(lane_fd)
    except Exception:
        anchor.remove(force=True)
        raise
    _joined = _Joined(anchor, host_fd, lane_fd)


def leave() -> None:
    global _joined
    if not _joined:
        return
    _setns(_joined.host_fd)
    for fd in (_joined.host_fd, _joined.lane_fd):
        os.close(fd)
    _joined.anchor.remove(force=True)
    _joined = None


@contextmanager
def on_host_network() -> Iterator[None]:
    """The host's network for what runs inside (a build), this lane's again after."""
    if not _joined:
        yield
        return
    _setns(_joined.host_fd)
    try:
        yield
    finally:
        _setns(_joined.lane_fd)
