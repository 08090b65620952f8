from __future__ import annotations

from pathlib import Path

from rockbuild.cache import empty_directory


def test_empty_directory_keeps_named_entries_and_what_links_point_to(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("kept")
    work = tmp_path / "work"
    (work / "parts/a").mkdir(parents=True)
    (work / "parts/a/file").write_text("x")
    (work / "marker").write_text("m")
    (work / "link").symlink_to(outside)
    (work / ".craft").mkdir()
    (work / ".craft/state").write_text("s")

    empty_directory(work, keep={".craft"})

    assert sorted(p.name for p in work.iterdir()) == [".craft"]
    assert (work / ".craft/state").read_text() == "s"
    assert (outside / "precious").read_text() == "kept"
