"""charmcraft's store commands, run in one container of the Ubuntu 24.04 build-tool image for a
whole publish (charmcraft and the skopeo it copies images with are set up once, not per command).

The directories the commands read (the charm's, the rocks') are mounted read-only at their own
paths, so file arguments mean the same inside and out.
CHARMCRAFT_AUTH reaches charmcraft only through the exec's environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

import docker.models.containers

from rockbuild import docker_engine
from rockbuild.build import base as bases
from rockbuild.build import buildenv
from rockbuild.progress import Progress
from rockbuild.publish.charm_pack import CHARM_BASE, CHARMCRAFT, INSTALL_CHARMCRAFT
from rockbuild.publish.release import SECRET_ENV, redact
from rockbuild.publish.store_argv import StoreError

SETUP_SCRIPT = f"""{INSTALL_CHARMCRAFT}
apt-get install -y -qq --no-install-recommends skopeo >/dev/null
"""


class CharmcraftSession:
    def __init__(self, readable: list[Path], progress: Progress) -> None:
        self.readable = sorted({path.resolve() for path in readable})
        self.progress = progress
        self.container: docker.models.containers.Container | None = None

    def __enter__(self) -> CharmcraftSession:
        tool_image = buildenv.ensure_tool_image(bases.ensure_base(CHARM_BASE, self.progress), self.progress)
        self.container = docker_engine.client().containers.run(
            tool_image,
            ["sleep", "infinity"],
            detach=True,
            network_mode="host",
            environment=buildenv.container_env(),
            **docker_engine.build_priority(),
            volumes={
                **buildenv.ca_volume(),
                **{str(path): {"bind": str(path), "mode": "ro"} for path in self.readable},
                **buildenv.pip_cache_volume(),
            },
        )
        self.progress.say("charmcraft", "setting up charmcraft and skopeo for the store commands")
        code, output = self.container.exec_run(["bash", "-c", SETUP_SCRIPT])
        if code != 0:
            self.__exit__(None, None, None)
            tail = "\n".join(output.decode(errors="replace").splitlines()[-15:])
            raise StoreError(f"setting up charmcraft failed (exit {code}):\n{tail}")
        return self

    def __call__(self, argv: list[str]) -> str:
        assert self.container is not None, "use CharmcraftSession as a context manager"
        secrets = {name: os.environ[name] for name in SECRET_ENV if os.environ.get(name)}
        code, (stdout, stderr) = self.container.exec_run(
            [CHARMCRAFT, *argv[1:]], environment={"XDG_RUNTIME_DIR": "/tmp/xdg", **secrets}, demux=True
        )
        out = (stdout or b"").decode(errors="replace")
        if code != 0:
            detail = redact(((stderr or b"").decode(errors="replace") + out).strip())
            raise StoreError(f"charmcraft {argv[1]} failed (exit {code}): {detail[-800:]}")
        return out

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.container is not None:
            self.container.remove(force=True)
            self.container = None
