"""Writes OCI layer tarballs the way rockcraft does (`rockcraft/layers.py::archive_layer`).

Paths that sit under a directory which is a symlink in the base (usr-merge: `bin` -> `usr/bin`)
are rewritten to the symlink's target, so the layer never replaces the base's symlinks; entries are
written directories first, in a stable order, so that equal trees give equal tarballs.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath


def base_dir_symlinks(base_rootfs: Path | None) -> dict[str, str]:
    """Top-level directory symlinks of the base, e.g. {"bin": "usr/bin", "lib64": "usr/lib64"}."""
    if base_rootfs is None:
        return {}
    links: dict[str, str] = {}
    for entry in sorted(base_rootfs.iterdir()):
        if entry.is_symlink() and entry.is_dir():
            target = os.readlink(entry)
            links[entry.name] = str(PurePosixPath(target.lstrip("/")))
    return links


def rewrite_path(relpath: str, links: dict[str, str]) -> str:
    head, _, rest = relpath.partition("/")
    if head in links:
        target = links[head]
        return f"{target}/{rest}" if rest else target
    return relpath


def _walk(root: Path) -> Iterable[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            yield os.path.normpath(os.path.join(rel_dir, name))


def layer_entries(root: Path, links: dict[str, str], prune_against: Path | None = None) -> list[tuple[str, str]]:
    """(archive name, source path relative to root) pairs, directories first, then by name.

    With `prune_against` (the base rootfs), files identical to the base's are left out, as
    rockcraft's `prune_prime_files` does, so a staged copy of a base file adds nothing.
    """
    seen: dict[str, tuple[bool, str]] = {}
    for rel in _walk(root):
        name = rewrite_path(rel, links)
        if rel in links and (root / rel).is_symlink():
            continue  # the base already has this usr-merge symlink
        if prune_against is not None and not (root / rel).is_dir() and is_same_file(root / rel, prune_against / name):
            continue
        is_dir = (root / rel).is_dir() and not (root / rel).is_symlink()
        seen.setdefault(name, (is_dir, rel))
    ordered = sorted(seen.items(), key=lambda item: (not item[1][0], item[0]))
    return [(name, rel) for name, (_, rel) in ordered]


def write_layer(root: Path, out: Path, links: dict[str, str] | None = None, prune_against: Path | None = None) -> Path:
    """Archive the tree at `root` into the uncompressed tarball `out` (written atomically)."""
    partial = out.with_name(out.name + ".partial")
    try:
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            for name, rel in layer_entries(root, links or {}, prune_against):
                info = tar.gettarinfo(str(root / rel), arcname=name)
                info.uname = info.gname = ""
                if info.isreg():
                    with open(root / rel, "rb") as fh:
                        tar.addfile(info, fh)
                else:
                    tar.addfile(info)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def write_files_layer(files: dict[str, tuple[bytes, int]], out: Path, dirs: dict[str, int] | None = None) -> Path:
    """A small layer from in-memory files {path: (content, mode)} and directories {path: mode}."""
    import io

    partial = out.with_name(out.name + ".partial")
    # rockcraft's layers carry every parent directory (root's, 0755), not only the ones named.
    dirs = dict(dirs or {})
    for path in [*files, *dirs]:
        for parent in PurePosixPath(path).parents:
            if str(parent) != ".":
                dirs.setdefault(str(parent), 0o755)
    try:
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
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
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
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
