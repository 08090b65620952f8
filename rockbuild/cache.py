"""Where the builder keeps what it reuses across builds: base images, tools, downloads, part work dirs."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Collection
from pathlib import Path


def cache_root() -> Path:
    explicit = os.environ.get("ROCKBUILD_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "rockbuild"


def digest_of(*parts: bytes | str) -> str:
    """A short stable hash of the inputs, used to key cached artifacts."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def empty_directory(directory: Path, keep: Collection[str] = ()) -> None:
    """Remove everything in `directory` but the entries named in `keep` (a symlink goes, never
    what it points to); the directory itself stays."""
    for entry in directory.iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
