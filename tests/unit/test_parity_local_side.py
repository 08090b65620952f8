"""The local side of a cold parity check: the rock's own build when it was cold and recent, a new
cold build when it was not, or when comparing with it finds a difference the allow-list does not
explain (then the new build decides)."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from rockbuild.build import local_build
from rockbuild.build.artifact import BuiltRock
from rockbuild.build.project import load_project
from rockbuild.parity import check, rockfile
from rockbuild.parity.rockfile import Entry, Rock
from rockbuild.progress import Progress


def a_rock(content: str) -> Rock:
    config = {"Entrypoint": ["/usr/bin/pebble", "enter"], "Env": [], "Labels": {}}
    files = {"usr/bin/tool": Entry("file", 0o755, 0, 0, len(content), "", f"sha-{content}")}
    return Rock(config, {}, [{}, files], {})


@pytest.fixture
def rock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, minimal: dict[str, Any]) -> Path:
    monkeypatch.setenv("ROCKBUILD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("rockbuild.build.base.ensure_base", lambda *_: SimpleNamespace(digest="base-digest"))
    directory = tmp_path / "demo"
    directory.mkdir()
    (directory / "rockcraft.yaml").write_text(yaml.safe_dump(minimal))
    return directory


def built_here(rock_dir: Path, cold: bool) -> Path:
    """A finished build of `rock_dir` as the builder records it."""
    out = rock_dir / "demo_1.0_amd64.rock"
    out.write_text("local")
    local_build.record_build(rock_dir, local_build.input_digest(rock_dir, "base-digest"), out, "1.0", cold)
    return out


def recent(rock_dir: Path) -> BuiltRock | None:
    return local_build.recent_cold_build(rock_dir, load_project(rock_dir / "rockcraft.yaml"), 3600, Progress("t"))


def test_a_cold_build_of_this_hour_is_offered(rock_dir: Path) -> None:
    out = built_here(rock_dir, cold=True)
    found = recent(rock_dir)
    assert found is not None and found.path == out and found.version == "1.0"


def test_a_warm_build_an_old_one_or_one_of_other_inputs_is_not(rock_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built_here(rock_dir, cold=False)
    assert recent(rock_dir) is None
    built_here(rock_dir, cold=True)
    project = yaml.safe_load((rock_dir / "rockcraft.yaml").read_text())
    (rock_dir / "rockcraft.yaml").write_text(yaml.safe_dump({**project, "version": "1.1"}))
    assert recent(rock_dir) is None, "the rock changed since that build"
    built_here(rock_dir, cold=True)
    later = time.time() + 3601
    monkeypatch.setattr(time, "time", lambda: later)
    assert recent(rock_dir) is None, "built more than an hour ago"


def test_part_state_is_a_step_a_part_has_run(tmp_path: Path) -> None:
    assert not local_build.has_part_state(tmp_path)
    (tmp_path / "parts" / "indico" / "src").mkdir(parents=True)
    assert not local_build.has_part_state(tmp_path)
    (tmp_path / "parts" / "indico" / "state").mkdir()
    (tmp_path / "parts" / "indico" / "state" / "pull").write_text("{}")
    assert local_build.has_part_state(tmp_path)


class Builders:
    """Real rockcraft's pack and the local builder's cold build, recorded (neither runs in unit
    tests: the image test test_parity runs both for real); `read` gives each file's rock."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, recent_build: Path | None, rocks: dict[str, Rock]) -> None:
        self.calls: list[str] = []
        self.rocks = rocks

        def pack(rock_dir: Path, project: object, source: object, out: Path, progress: object, cold: bool) -> Path:
            self.calls.append("rockcraft")
            return self._written(out / "rockcraft.rock")

        def cold_local_build(rock_dir: Path, copy_root: Path, out: Path, progress: object) -> Path:
            self.calls.append("local cold")
            return self._written(out / "cold.rock")

        def recent_cold_build(*_: object) -> BuiltRock | None:
            return BuiltRock("demo", "1.0", recent_build, "", True) if recent_build else None

        monkeypatch.setattr("rockbuild.real_rockcraft.pack.pack", pack)
        monkeypatch.setattr(check, "_cold_local_build", cold_local_build)
        monkeypatch.setattr(local_build, "recent_cold_build", recent_cold_build)
        monkeypatch.setattr(rockfile, "read", lambda path: self.rocks[Path(path).stem])

    @staticmethod
    def _written(path: Path) -> Path:
        path.write_text(path.stem)
        return path


def run_check(rock_dir: Path, tmp_path: Path) -> check.Parity:
    return check.check(rock_dir, source=None, out_dir=tmp_path / "out", progress=Progress("t"), cold=True)  # type: ignore[arg-type]


def test_the_recent_cold_build_is_compared_and_nothing_is_built_again(
    rock_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = rock_dir / "recent.rock"
    out.write_text("recent")
    builders = Builders(monkeypatch, out, {"rockcraft": a_rock("x"), "recent": a_rock("x")})
    result = run_check(rock_dir, tmp_path)
    assert builders.calls == ["rockcraft"]
    assert result.local_rock == tmp_path / "out" / "local" / "recent.rock" and not result.unexpected


def test_a_difference_with_the_recent_build_is_decided_by_a_new_cold_build(
    rock_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = rock_dir / "recent.rock"
    out.write_text("recent")
    rocks = {"rockcraft": a_rock("x"), "recent": a_rock("archive of an hour before"), "cold": a_rock("x")}
    builders = Builders(monkeypatch, out, rocks)
    result = run_check(rock_dir, tmp_path)
    assert builders.calls == ["rockcraft", "local cold"]
    assert result.local_rock.name == "cold.rock" and not result.unexpected
    # A real difference stays: the new cold build shows it too, and the check reports it.
    rocks["cold"] = a_rock("the builder's own difference")
    assert {d.path for d in run_check(rock_dir, tmp_path).unexpected} == {"usr/bin/tool"}


def test_without_a_recent_cold_build_the_local_builder_builds_cold(
    rock_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builders = Builders(monkeypatch, None, {"rockcraft": a_rock("x"), "cold": a_rock("x")})
    assert run_check(rock_dir, tmp_path).local_rock.name == "cold.rock"
    assert builders.calls == ["rockcraft", "local cold"]
