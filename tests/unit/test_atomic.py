"""A file written through rockbuild.atomic appears whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from rockbuild import atomic


def test_a_failure_leaves_the_previous_file_and_no_partial(tmp_path: Path) -> None:
    target = tmp_path / "indico_3.3.14_amd64.rock"
    target.write_text("the previous build")
    with pytest.raises(RuntimeError), atomic.replacing(target) as partial:
        partial.write_text("half of it")
        raise RuntimeError("skopeo failed")
    assert target.read_text() == "the previous build"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_success_replaces_the_file_and_leaves_no_partial(tmp_path: Path) -> None:
    target = tmp_path / "manifest.json"
    atomic.write_text(target, "{}\n")
    assert target.read_text() == "{}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]
    copied = atomic.copy(target, tmp_path / "copy.json")
    assert copied.read_text() == "{}\n" and not (tmp_path / "copy.json.partial").exists()


def test_a_stale_partial_from_a_killed_build_is_not_mistaken_for_output(tmp_path: Path) -> None:
    target = tmp_path / "layer.tar"
    (tmp_path / "layer.tar.partial").write_text("left by a killed build")
    with atomic.replacing(target) as partial:
        assert not partial.exists(), "a new write starts from nothing"
        partial.write_text("new")
    assert target.read_text() == "new"
