"""`build.py rocks` builds independent rocks at once: both run together, one failing rock does not
stop the other, and every failure names its rock."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from rockbuild import build_rock
from rockbuild.build.artifact import BuiltRock
from rockbuild.errors import BuildError


class Recorder:
    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.running: set[str] = set()
        self.together: set[frozenset[str]] = set()
        self.lock = threading.Lock()
        self.both_started = threading.Barrier(2, timeout=5)

    def build(self, rock_dir: Path, builder: str, **_: object) -> BuiltRock:
        with self.lock:
            self.running.add(rock_dir.name)
        self.both_started.wait()  # a serial build_all would time out here
        with self.lock:
            self.together.add(frozenset(self.running))
        if rock_dir.name in self.failing:
            raise BuildError("part 'x' failed in its build step")
        return BuiltRock(rock_dir.name, "1.0", rock_dir / "x.rock", "sha256:0", reused=False)


def test_two_rocks_build_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    recorder = Recorder(failing=set())
    monkeypatch.setattr(build_rock, "build", recorder.build)
    built = build_rock.build_all([tmp_path / "indico", tmp_path / "indico-nginx"], "local", jobs=2)
    assert [b.name for b in built] == ["indico", "indico-nginx"], "results in the order asked"
    assert frozenset({"indico", "indico-nginx"}) in recorder.together


def test_a_failing_rock_is_named_and_the_other_still_built(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    recorder = Recorder(failing={"indico-nginx"})
    monkeypatch.setattr(build_rock, "build", recorder.build)
    with pytest.raises(BuildError) as raised:
        build_rock.build_all([tmp_path / "indico", tmp_path / "indico-nginx"], "local", jobs=2)
    assert str(raised.value) == "indico-nginx: part 'x' failed in its build step"
    assert recorder.running == {"indico", "indico-nginx"}


def test_one_job_builds_in_turn(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    order: list[str] = []

    def build(rock_dir: Path, builder: str, **_: object) -> BuiltRock:
        order.append(rock_dir.name)
        return BuiltRock(rock_dir.name, "1.0", rock_dir / "x.rock", "sha256:0", reused=False)

    monkeypatch.setattr(build_rock, "build", build)
    build_rock.build_all([tmp_path / "b", tmp_path / "a"], "local", jobs=1)
    assert order == ["b", "a"]
