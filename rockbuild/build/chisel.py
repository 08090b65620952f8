"""Chisel for `<package>_<slice>` stage-packages: the tool, built from its Go module by version, and
the slice definitions it cuts from.

craft-parts runs `chisel cut --root=<install> <slices>` from PATH. A small wrapper in the build
container stands in front of the binary: it passes the slice definitions named by
`ROCKBUILD_CHISEL_RELEASE` (chisel's own default, without it, is to download them from the
chisel-releases repository for the build base's Ubuntu release) and drops `--ignore=...`, a flag of
newer chisel that newer craft-parts passes and chisel v1.1.0 does not know.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from pathlib import Path

from rockbuild import atomic
from rockbuild.build import buildenv, tool_wait
from rockbuild.cache import cache_root, exclusive
from rockbuild.errors import BuildError
from rockbuild.progress import Progress

CHISEL_MODULE = "github.com/canonical/chisel"
CHISEL_VERSION = "v1.1.0"
# The module's hash (go.sum form). The public checksum database has no entry for this version, so
# it is left out of that check (GONOSUMDB) and this pin is checked instead.
CHISEL_SUM = "h1:FabiuSWZWs8OVTEg+QkkWipaB7syTAnpnTQV5y10v4U="
RELEASE_SETTING = "ROCKBUILD_CHISEL_RELEASE"
IN_CONTAINER = "/rockbuild/chisel"  # the machine's chisel builds, one directory per version
RELEASE_IN_CONTAINER = "/rockbuild/chisel-release"
BINARY_IN_CONTAINER = f"{IN_CONTAINER}/{CHISEL_VERSION}/chisel.bin"
_WAIT = tool_wait.wait_for_binary(
    BINARY_IN_CONTAINER, f"chisel {CHISEL_VERSION}", "logs/chisel.bin.log in the builder cache"
)
WRAPPER = f"""#!/bin/sh
# rockbuild: chisel {CHISEL_VERSION} with the slice definitions the build was given (see rockbuild/chisel.py).
# The local builder makes chisel beside the parts; the first call waits for it.
{_WAIT}\
cmd=$1; shift
set -- "$cmd" "$@"
if [ "$cmd" = cut ]; then
  shift
  for arg; do shift; case "$arg" in --ignore=*) ;; *) set -- "$@" "$arg" ;; esac; done
  if [ -d {RELEASE_IN_CONTAINER} ]; then set -- cut --release {RELEASE_IN_CONTAINER} "$@"; else set -- cut "$@"; fi
fi
exec {BINARY_IN_CONTAINER} "$@"
"""


def builds() -> Path:
    """The machine's chisel builds, one directory per version, each appearing whole when made."""
    return cache_root() / "chisel"


def ensure_chisel(tool_image: str, progress: Progress) -> Path:
    """The directory of the chisel binary, built once per machine."""
    out_dir = builds() / CHISEL_VERSION
    buildenv.build_go_binary(
        tool_image,
        CHISEL_MODULE,
        CHISEL_VERSION,
        "./cmd/chisel",
        out_dir,
        "chisel.bin",
        progress,
        pinned_sum=CHISEL_SUM,
    )
    return out_dir


def wrapper() -> Path:
    """The wrapper craft-parts runs as `chisel` (written once per version; it needs no binary yet)."""
    path = cache_root() / "chisel-wrapper" / CHISEL_VERSION / "chisel"
    if not path.is_file() or path.read_text() != WRAPPER:  # another build may be running it
        path.parent.mkdir(parents=True, exist_ok=True)
        with exclusive(path, "chisel's wrapper"), atomic.replacing(path) as partial:
            partial.write_text(WRAPPER)
            partial.chmod(0o755)
    return path


def release_fingerprint() -> str:
    """What the slice definitions of $ROCKBUILD_CHISEL_RELEASE are, by content (empty when unset):
    a rock is rebuilt when they change, not only when the setting names another place."""
    setting = os.environ.get(RELEASE_SETTING)
    if not setting:
        return ""
    path = Path(setting)
    digest = hashlib.sha256()
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file() and ".git" not in p.relative_to(path).parts):
            digest.update(str(file.relative_to(path)).encode() + b"\0" + file.read_bytes() + b"\0")
    elif path.is_file():
        digest.update(path.read_bytes())
    else:
        return f"missing:{setting}"  # release_dir names the problem when a build needs it
    return digest.hexdigest()


def release_dir(progress: Progress) -> Path | None:
    """The slice definitions from $ROCKBUILD_CHISEL_RELEASE (a directory, or a .tar.gz of one, unpacked
    once into the cache), or None for chisel's own default."""
    setting = os.environ.get(RELEASE_SETTING)
    if not setting:
        return None
    path = Path(setting)
    if path.is_dir():
        if not (path / "chisel.yaml").is_file():
            raise BuildError(f"{RELEASE_SETTING}={setting}: no chisel.yaml there; point it at a chisel-releases tree")
        return path.resolve()
    if not path.is_file() or not tarfile.is_tarfile(path):
        raise BuildError(f"{RELEASE_SETTING}={setting} is neither a directory nor a tar archive of chisel-releases")
    digest = release_fingerprint()[:16]
    unpacked = cache_root() / "chisel-releases" / digest
    with exclusive(unpacked, "unpacking the slice definitions"):
        if not unpacked.is_dir():
            _unpack_release(path, setting, unpacked, progress)
    return unpacked


def _unpack_release(path: Path, setting: str, unpacked: Path, progress: Progress) -> None:
    progress.say("chisel", f"unpack slice definitions {path.name}")
    staging = unpacked.with_name(unpacked.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tarfile.open(path) as tar:
        tar.extractall(staging, filter="data")
    tops = [p for p in staging.iterdir() if p.is_dir()]
    root = tops[0] if len(tops) == 1 and not (staging / "chisel.yaml").exists() else staging
    if not (root / "chisel.yaml").is_file():
        raise BuildError(f"{setting} holds no chisel.yaml at its top level")
    if root == staging:
        staging.rename(unpacked)
    else:
        root.rename(unpacked)
        shutil.rmtree(staging, ignore_errors=True)


def container_mounts(release: Path | None) -> dict[str, str]:
    """Host path -> container path: the chisel builds (ensure_chisel), the wrapper (craft-parts
    runs `chisel` from PATH) and the slice definitions (release_dir), the same in the local
    builder's containers and real rockcraft's."""
    builds().mkdir(parents=True, exist_ok=True)
    mounts = {str(builds()): IN_CONTAINER, str(wrapper()): "/usr/local/bin/chisel"}
    if release is not None:
        mounts[str(release)] = RELEASE_IN_CONTAINER
    return mounts
