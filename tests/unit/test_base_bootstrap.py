"""The base's bootstrap refuses a tree without the update pockets: it would be April's release."""

from __future__ import annotations

from pathlib import Path

import pytest

from rockbuild.build import base
from rockbuild.errors import BuildError


def sources(rootfs: Path, *lines: str) -> Path:
    (rootfs / "etc/apt").mkdir(parents=True)
    (rootfs / "etc/apt/sources.list").write_text("".join(f"{line}\n" for line in lines))
    return rootfs


def test_a_tree_with_the_three_pockets_is_accepted(tmp_path: Path) -> None:
    uri = "http://archive.example/ubuntu"
    base._require_update_pockets(
        sources(
            tmp_path,
            f"deb [signed-by=/k.gpg] {uri} noble main universe",
            f"deb [signed-by=/k.gpg] {uri} noble-updates main universe",
            f"deb [signed-by=/k.gpg] {uri} noble-security main universe",
        ),
        "noble",
    )


def test_a_tree_of_the_release_pocket_alone_is_refused_naming_the_fix(tmp_path: Path) -> None:
    rootfs = sources(tmp_path, "deb http://archive.example/ubuntu noble main universe")
    with pytest.raises(BuildError) as error:
        base._require_update_pockets(rootfs, "noble")
    assert "noble-updates, noble-security" in str(error.value)
    assert "distro-info-data" in str(error.value)
