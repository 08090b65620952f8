"""Where the builder keeps what it reuses across builds: base images, tools, downloads, part work dirs."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
from collections.abc import Collection, Iterator
from pathlib import Path

from rockbuild.progress import say_line


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


@contextlib.contextmanager
def exclusive(work: Path, what: str = "") -> Iterator[None]:
    """One process at a time makes `work` (a work directory, a cached tool, a loaded image); a
    second one waits for the first, then finds it made. Builds of several rocks at once (`build.py
    rocks`, the image tests' two lanes) meet here."""
    work.parent.mkdir(parents=True, exist_ok=True)
    with open(work.with_name(work.name + ".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say_line(f"waiting for another build to finish {what or work.name}")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# Which rock directory a work directory belongs to, so that `build.py prune` can tell a work
# directory whose rock is gone from one still in use.
OWNER_FILE = ".rock-dir"


def record_owner(work: Path, rock_dir: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / OWNER_FILE).write_text(f"{rock_dir.resolve()}\n")


def record_beside(work: Path) -> Path:
    """Where a work directory that is itself a project (real rockcraft's) names its rock directory:
    beside it, so that the project holds only the rock's own files."""
    return work.with_name(work.name + OWNER_FILE)


def record_owner_beside(work: Path, rock_dir: Path) -> None:
    work.parent.mkdir(parents=True, exist_ok=True)
    record_beside(work).write_text(f"{rock_dir.resolve()}\n")
