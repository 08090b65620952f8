"""The slice definitions a bare rock is built from count among its inputs by content."""

from __future__ import annotations

from pathlib import Path

import pytest

from rockbuild.build import chisel, local_build


def release_tree(root: Path, slices: str) -> Path:
    (root / "slices").mkdir(parents=True)
    (root / "chisel.yaml").write_text("format: v1\n")
    (root / "slices/hello.yaml").write_text(slices)
    return root


def test_unset_means_chisels_own_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(chisel.RELEASE_SETTING, raising=False)
    assert chisel.release_fingerprint() == ""


def test_a_changed_slice_definition_changes_the_inputs_of_a_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = release_tree(tmp_path / "release", "package: hello\n")
    rock = tmp_path / "rock"
    rock.mkdir()
    (rock / "rockcraft.yaml").write_text("name: r\n")
    monkeypatch.setenv(chisel.RELEASE_SETTING, str(release))
    before = local_build.input_digest(rock, "sha256:base")
    assert local_build.input_digest(rock, "sha256:base") == before
    (release / "slices/hello.yaml").write_text("package: hello\nslices: {bins: {}}\n")
    assert local_build.input_digest(rock, "sha256:base") != before, "same place, new content: not up to date"


def test_an_archive_is_fingerprinted_by_its_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "release.tar.gz"
    archive.write_bytes(b"one")
    monkeypatch.setenv(chisel.RELEASE_SETTING, str(archive))
    first = chisel.release_fingerprint()
    archive.write_bytes(b"two")
    assert chisel.release_fingerprint() != first
