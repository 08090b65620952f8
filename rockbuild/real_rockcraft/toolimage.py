"""The image real rockcraft runs in: the build base, the tools rockcraft calls, rockcraft itself."""

from __future__ import annotations

from pathlib import Path

from rockbuild import docker_engine
from rockbuild.build import buildenv
from rockbuild.build.base import BaseImage
from rockbuild.cache import cache_root, digest_of
from rockbuild.progress import Progress
from rockbuild.real_rockcraft.source import RockcraftSource

HERE = Path(__file__).parent
RECIPE = "1"  # bump when the image is made differently


def ensure_image(base: BaseImage, source: RockcraftSource, pebble_dir: Path, progress: Progress) -> str:
    """`rockbuild-rockcraft:<base>-<key>`, made once per machine, base, rockcraft and Pebble."""
    script = (HERE / "install-rockcraft.sh").read_bytes()
    shim = (HERE / "snap-shim.sh").read_bytes()
    pebble = (pebble_dir / "pebble").read_bytes()
    key = digest_of(RECIPE, base.digest, source.key, script, shim, buildenv.PEBBLE_VERSION)
    ref = f"rockbuild-rockcraft:{base.tag}-{key}"
    if docker_engine.image_id(ref):
        return ref
    progress.say("rockcraft", f"install rockcraft {source.version} into {ref} (once per machine)")
    files = {
        "install-rockcraft.sh": script,
        "snap-shim.sh": shim,
        "pebble": pebble,
        "pebble-version": buildenv.PEBBLE_VERSION.encode(),
        "version": source.version.encode(),
    }
    if source.files is not None:
        files["rockcraft-source.tar.gz"] = source.files
        files["constraints.txt"] = source.constraints.encode()
    else:
        files["requirement"] = source.setting.encode()
    buildenv.commit_image(
        base.docker_image,
        ref,
        files,
        "bash /rockbuild-setup/install-rockcraft.sh",
        cache_root() / "logs" / "rockcraft-image.log",
        f"installing rockcraft from {source.setting}",
    )
    buildenv.remove_older_images(base, keep=ref)
    return ref
