"""Files that appear whole or not at all: written beside their place as `<name>.partial`, renamed
over it when complete, removed when anything fails. A failed build leaves no half-written `.rock`,
layer, SBOM, manifest or charm."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

SUFFIX = ".partial"


@contextlib.contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """The path to write instead of `target`; it becomes `target` when the block succeeds."""
    partial = target.with_name(target.name + SUFFIX)
    partial.unlink(missing_ok=True)
    try:
        yield partial
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def write_text(target: Path, text: str) -> None:
    with replacing(target) as partial:
        partial.write_text(text)


def copy(source: Path, target: Path) -> Path:
    with replacing(target) as partial:
        shutil.copyfile(source, partial)
    return target
