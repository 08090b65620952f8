"""Which rockcraft to install: a release's source (archive or directory) pinned by its own uv.lock,
or a pip requirement as given."""

from __future__ import annotations

import io
import os
import re
import tarfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from rockbuild.cache import digest_of
from rockbuild.errors import BuildError

SETTING = "ROCKBUILD_ROCKCRAFT_SOURCE"
# rockcraft's snap runs on core24, whose Python is 3.12; so does the 24.04 build container.
CONTAINER_PYTHON = "3.12"
# From Ubuntu's python3-apt in the container (the venv sees system site packages), as the snap does.
NOT_FROM_PYPI = {"python-apt", "rockcraft"}
HINT = (
    f"Name rockcraft's source with --rockcraft-source or {SETTING}: a source archive or directory of a "
    "release (e.g. rockcraft-1.20.0.tar.gz, as GitHub serves a tag), or a pip requirement (e.g. a git URL "
    "with @<tag>)."
)


@dataclass(frozen=True)
class RockcraftSource:
    """`files`: the source tree as a tar archive (None for a pip requirement)."""

    setting: str
    version: str
    files: bytes | None
    constraints: str

    @property
    def key(self) -> str:
        return digest_of(self.setting if self.files is None else self.files, self.constraints, self.version)


def resolve(setting: str | None) -> RockcraftSource:
    chosen = setting or os.environ.get(SETTING)
    if not chosen:
        raise BuildError(f"real rockcraft is not on PATH and no source for it was given. {HINT}")
    path = Path(chosen)
    if path.is_dir():
        return _from_tree(chosen, _tar_directory(path), path.resolve().name)
    if path.is_file():
        if not tarfile.is_tarfile(path):
            raise BuildError(f"{chosen} is not a tar archive. {HINT}")
        return _from_tree(chosen, path.read_bytes(), path.name)
    if "://" in chosen or "@" in chosen:
        version = _version_in(chosen) or "0"
        return RockcraftSource(chosen, version, None, "")
    raise BuildError(f"{chosen}: no such file or directory, and not a pip requirement. {HINT}")


def _version_in(name: str) -> str | None:
    found = re.search(r"(\d+\.\d+\.\d+)", name)
    return found.group(1) if found else None


def _tar_directory(path: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(path, arcname=path.name, filter=lambda info: None if "/.git/" in f"/{info.name}/" else info)
    return buffer.getvalue()


def _from_tree(setting: str, archive: bytes, name: str) -> RockcraftSource:
    version = os.environ.get("ROCKBUILD_ROCKCRAFT_VERSION") or _version_in(name)
    if not version:
        raise BuildError(
            f"cannot tell rockcraft's version from '{name}' (it comes from git tags, which a source archive "
            "lacks): name the archive or directory rockcraft-<version>, or set ROCKBUILD_ROCKCRAFT_VERSION"
        )
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        locks = [m for m in tar.getmembers() if m.isfile() and m.name.count("/") == 1 and m.name.endswith("/uv.lock")]
        if not locks:
            raise BuildError(f"{setting} has no uv.lock at its top level: is it rockcraft's source tree?")
        lock = tar.extractfile(locks[0])
        assert lock is not None
        lock_text = lock.read().decode()
    return RockcraftSource(setting, version, archive, constraints_from_lock(lock_text))


def _applies_to(markers: list[str] | None, python: str) -> bool:
    return markers is None or any(f"== '{python}.*'" in marker for marker in markers)


def constraints_from_lock(lock_text: str, python: str = CONTAINER_PYTHON) -> str:
    """One `name==version` per package the lock resolves from a package index for `python`."""
    lock = tomllib.loads(lock_text)
    pins: dict[str, str] = {}
    for package in lock.get("package", []):
        name = package["name"]
        if name in NOT_FROM_PYPI or "registry" not in package.get("source", {}):
            continue
        if _applies_to(package.get("resolution-markers"), python):
            if name in pins and pins[name] != package["version"]:
                raise BuildError(
                    f"uv.lock pins {name} twice for Python {python}: {pins[name]} and {package['version']}"
                )
            pins[name] = package["version"]
    if not pins:
        raise BuildError("uv.lock pins no package: not a uv lock file of rockcraft?")
    return "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))
