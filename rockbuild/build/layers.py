"""Writes OCI layer tarballs the way rockcraft does (`rockcraft/layers.py::archive_layer`).

Paths that sit under a directory which is a symlink in the base (usr-merge: `bin` -> `usr/bin`)
are rewritten to the symlink's target, so the layer never replaces the base's symlinks; entries are
written directories first, in a stable order, so that equal trees give equal tarballs.
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from rockbuild import atomic
from rockbuild.errors import BuildError


def base_symlinks(base_rootfs: Path | None) -> dict[str, str]:
    """Every symlink of the base, at any depth, as {path: target path from the root}: the usr-merge
    links (`bin` -> `usr/bin`) and deeper ones (`var/run` -> `run`)."""
    if base_rootfs is None:
        return {}
    links: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(base_rootfs):
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            if not full.is_symlink():
                continue
            rel = full.relative_to(base_rootfs).as_posix()
            target = os.readlink(full)
            if target.startswith("/"):
                resolved = posixpath.normpath(target.lstrip("/"))
            else:
                resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
            if resolved != ".." and not resolved.startswith("../"):
                links[rel] = resolved
    return links


def rewrite_path(relpath: str, links: dict[str, str], *, is_dir: bool = True) -> str:
    """The path in the image: each directory on the way that the base has as a symlink is replaced
    by the symlink's target (as rockcraft's layer writer does), so a layer never replaces a base link."""
    parts = relpath.split("/")
    current = ""
    for index, part in enumerate(parts):
        current = f"{current}/{part}" if current else part
        if index < len(parts) - 1 or is_dir:
            current = links.get(current, current)
    return current


def _walk(root: Path) -> Iterable[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()  # a stable order: the first of two equal paths is the one kept
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(dirnames + filenames):
            yield os.path.normpath(os.path.join(rel_dir, name))


def layer_entries(root: Path, links: dict[str, str], prune_against: Path | None = None) -> list[tuple[str, str]]:
    """(archive name, source path relative to root) pairs, directories first, then by name.

    With `prune_against` (the base rootfs), files identical to the base's are left out, as
    rockcraft's `prune_prime_files` does, so a staged copy of a base file adds nothing. Two paths
    that land on one name must be equal directories or equal files; anything else is an error.
    """
    seen: dict[str, tuple[bool, str]] = {}
    for rel in _walk(root):
        path = root / rel
        is_dir = path.is_dir() and not path.is_symlink()
        name = rewrite_path(rel, links, is_dir=False)
        if name in links and (is_dir or (path.is_symlink() and "/" not in rel)):
            continue  # the base has a symlink here: it stays, and what is under it goes to its target
        if prune_against is not None and not is_dir and is_same_file(path, prune_against / name):
            continue
        if name in seen:
            other = seen[name][1]
            if not is_same_file(root / other, path):
                raise BuildError(
                    f"conflicting paths in the rock: '{other}' and '{rel}' both become '{name}' (the base has "
                    f"a symlink on the way); keep one of them, e.g. with `organize` or `prime` in rockcraft.yaml"
                )
            continue
        seen[name] = (is_dir, rel)
    ordered = sorted(seen.items(), key=lambda item: (not item[1][0], item[0]))
    return [(name, rel) for name, (_, rel) in ordered]


def write_layer(root: Path, out: Path, links: dict[str, str] | None = None, prune_against: Path | None = None) -> Path:
    """Archive the tree at `root` into the uncompressed tarball `out` (written atomically)."""
    with atomic.replacing(out) as partial, tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, rel in layer_entries(root, links or {}, prune_against):
            info = tar.gettarinfo(str(root / rel), arcname=name)
            info.uname = info.gname = ""
            if info.isreg():
                with open(root / rel, "rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    return out


def write_files_layer(files: dict[str, tuple[bytes, int]], out: Path, dirs: dict[str, int] | None = None) -> Path:
    """A small layer from in-memory files {path: (content, mode)} and directories {path: mode}."""
    # rockcraft's layers carry every parent directory (root's, 0755), not only the ones named.
    dirs = dict(dirs or {})
    for path in [*files, *dirs]:
        for parent in PurePosixPath(path).parents:
            if str(parent) != ".":
                dirs.setdefault(str(parent), 0o755)
    with atomic.replacing(out) as partial, tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for path, mode in sorted(dirs.items()):
            info = tarfile.TarInfo(path)
            info.type = tarfile.DIRTYPE
            info.mode = mode
            tar.addfile(info)
        for path, (content, mode) in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size = len(content)
            info.mode = mode
            tar.addfile(info, io.BytesIO(content))
    return out


def is_same_file(a: Path, b: Path) -> bool:
    """True when both are the same kind of file with equal content (or link target), owner and mode."""
    try:
        sa, sb = a.lstat(), b.lstat()
    except FileNotFoundError:
        return False
    if (sa.st_mode, sa.st_uid, sa.st_gid) != (sb.st_mode, sb.st_uid, sb.st_gid):
        return False
    if stat.S_ISLNK(sa.st_mode):
        return os.readlink(a) == os.readlink(b)
    if stat.S_ISREG(sa.st_mode):
        if sa.st_size != sb.st_size:
            return False
        with open(a, "rb") as fa, open(b, "rb") as fb:
            while True:
                ca, cb = fa.read(1 << 20), fb.read(1 << 20)
                if ca != cb:
                    return False
                if not ca:
                    return True
    return stat.S_ISDIR(sa.st_mode)
