"""`build.py prune` and bases: which base directories no build uses any more."""

from __future__ import annotations

from pathlib import Path

from rockbuild.build import base
from rockbuild.upkeep import prune


def test_only_the_current_recipes_bases_are_kept(tmp_path: Path) -> None:
    current = f"ubuntu-24.04-r{base.BASE_RECIPE}"
    names = ["ubuntu-24.04", f"ubuntu-24.04-r{base.BASE_RECIPE - 1}", current, f"{current}.partial", "ubuntu-22.04-r1"]
    for name in names:
        (tmp_path / name).mkdir()
    (tmp_path / "stray-file").write_text("")
    stale = prune.stale_bases(tmp_path, base.BASE_RECIPE)
    assert [p.name for p in stale] == sorted(set(names) - {current})


def test_no_bases_directory_means_nothing_to_prune(tmp_path: Path) -> None:
    assert prune.stale_bases(tmp_path / "absent", base.BASE_RECIPE) == []
