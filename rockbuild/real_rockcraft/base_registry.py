"""The base image where rockcraft looks for it, served from the local base on loopback.

rockcraft pulls `ubuntu:<release>` from a registry it hard-codes (`oci.py: REGISTRY_URL`) with
skopeo, and no setting of its own points it elsewhere. containers-registries.conf(5) does: a
drop-in in the pack container redirects that prefix to Debian's docker-registry on 127.0.0.1,
which holds the local base pushed with its digests kept, so both builders stack on the same base
and record the same `base.digest`.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rockbuild import host_tools as commands
from rockbuild.build.base import BaseImage
from rockbuild.errors import BuildError

# rockcraft 1.20.0, rockcraft/oci.py: REGISTRY_URL and the image name it pulls for ubuntu@<release>.
ROCKCRAFT_BASE_REPOSITORY = "public.ecr.aws/ubuntu/ubuntu"
HINT = "Run `make host` (scripts/ensure-host.sh) to install Debian's docker-registry and skopeo."


@dataclass(frozen=True)
class ServedBase:
    address: str  # 127.0.0.1:<port>
    registries_conf: Path  # the drop-in for /etc/containers/registries.conf.d/


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BuildError(f"docker-registry exited (code {process.returncode}) before listening on 127.0.0.1:{port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise BuildError(f"docker-registry did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def registries_conf(address: str) -> str:
    return (
        f'[[registry]]\nprefix = "{ROCKCRAFT_BASE_REPOSITORY}"\nlocation = "{address}/ubuntu/ubuntu"\ninsecure = true\n'
    )


@contextlib.contextmanager
def serve(base: BaseImage) -> Iterator[ServedBase]:
    """A loopback registry holding `base` as rockcraft names it, for as long as the block runs."""
    binary = commands.require_tool("docker-registry", HINT)
    commands.require_tool("skopeo", HINT)
    release = base.name.split("@", 1)[1]
    with tempfile.TemporaryDirectory(prefix="rockbuild-base-registry-") as scratch:
        root = Path(scratch)
        port = _free_port()
        config = root / "registry.yml"
        config.write_text(
            "version: 0.1\nlog: {level: error}\n"
            f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}}}\n"
            f"http: {{addr: '127.0.0.1:{port}'}}\n"
        )
        process = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_listening(port, process)
            address = f"127.0.0.1:{port}"
            commands.run(
                [
                    "skopeo",
                    "copy",
                    "--quiet",
                    "--preserve-digests",
                    "--dest-tls-verify=false",
                    f"oci:{base.oci_ref}",
                    f"docker://{address}/ubuntu/ubuntu:{release}",
                ],
                what=f"serving base {base.name} on {address}",
            )
            conf = root / "rockbuild-base.conf"
            conf.write_text(registries_conf(address))
            yield ServedBase(address=address, registries_conf=conf)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            shutil.rmtree(root / "data", ignore_errors=True)
