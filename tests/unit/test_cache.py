from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

from rockbuild.cache import empty_directory, exclusive


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


def _make_once(work: str, log: str) -> None:
    """What every ensure_* does: under the lock, make the thing unless it is there."""
    target = Path(work)
    with exclusive(target, "the test's thing"):
        if not target.exists():
            with open(log, "a") as record:
                record.write(f"start {os.getpid()}\n")
            time.sleep(0.3)
            target.write_text("made")
            with open(log, "a") as record:
                record.write(f"end {os.getpid()}\n")


def test_two_processes_make_a_shared_thing_once_and_the_second_waits(tmp_path: Path) -> None:
    work, log = tmp_path / "thing", tmp_path / "log"
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_make_once, args=(str(work), str(log))) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    lines = log.read_text().split()
    assert lines[0::2] == ["start", "end"], f"made once, never twice at the same time: {lines}"
    assert work.read_text() == "made"
