"""Rocks of an earlier Indico release: the rock directory with the release's pins laid over it
(rockbuild.build.releases), and the pins of every release agreeing between the two rocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from rockbuild import cli
from rockbuild.build import releases
from rockbuild.build.project import load_project
from rockbuild.errors import BuildError
from rockbuild.upkeep import python_lock

REPO = Path(__file__).resolve().parents[2]
ROCKS = REPO / "rocks"
RELEASES = releases.available(ROCKS / "indico")

ROCKCRAFT_YAML = """\
name: demo
version: "2.1.10"
summary: Demo 2.1.10 of something
description: Demo 2.1.10, not 2.1.100 nor 12.1.10.
base: ubuntu@24.04
platforms:
  amd64:
parts:
  files:
    plugin: dump
    source: files
"""


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ROCKBUILD_CACHE", str(tmp_path / "cache"))
    rock = tmp_path / "rocks" / "demo"
    (rock / "files").mkdir(parents=True)
    (rock / "rockcraft.yaml").write_text(ROCKCRAFT_YAML)
    (rock / "files" / "pin.txt").write_text("demo==2.1.10\n")
    (rock / "files" / "kept.txt").write_text("the same in every release\n")
    (rock / "files" / "link").symlink_to("kept.txt")
    overlay = tmp_path / "rocks" / "releases" / "2.1.9" / "demo" / "files"
    overlay.mkdir(parents=True)
    (overlay / "pin.txt").write_text("demo==2.1.9\n")
    return rock


def test_a_release_is_the_rock_with_its_pins_laid_over_and_its_version(demo: Path) -> None:
    built_from = releases.materialize(demo, "2.1.9")
    text = (built_from / "rockcraft.yaml").read_text()
    assert 'version: "2.1.9"' in text
    assert "Demo 2.1.9, not 2.1.100 nor 12.1.10." in text, "only the version itself is replaced"
    assert load_project(built_from / "rockcraft.yaml").version == "2.1.9"
    assert (built_from / "files" / "pin.txt").read_text() == "demo==2.1.9\n"
    assert (built_from / "files" / "kept.txt").read_text() == "the same in every release\n"
    assert (built_from / "files" / "link").readlink() == Path("kept.txt")
    assert (demo / "rockcraft.yaml").read_text() == ROCKCRAFT_YAML, "the rock's own directory is untouched"
    assert releases.available(demo) == ["2.1.9"]


def test_a_second_materialize_keeps_the_built_rock_and_follows_the_source(demo: Path) -> None:
    built_from = releases.materialize(demo, "2.1.9")
    (built_from / "demo_2.1.9_amd64.rock").write_text("built")
    before = (built_from / "files" / "kept.txt").stat().st_mtime_ns
    (demo / "files" / "new.txt").write_text("added\n")
    (demo / "files" / "link").unlink()
    again = releases.materialize(demo, "2.1.9")
    assert again == built_from
    assert (again / "demo_2.1.9_amd64.rock").read_text() == "built", "a build output survives"
    assert (again / "files" / "new.txt").read_text() == "added\n"
    assert not (again / "files" / "link").is_symlink(), "what the rock dropped goes"
    assert (again / "files" / "kept.txt").stat().st_mtime_ns == before, "an unchanged file is not rewritten"


def test_an_unknown_release_names_the_ones_there_are(demo: Path) -> None:
    with pytest.raises(BuildError, match=r"no release 2\.0 for the rock demo: .*releases of it here: 2\.1\.9"):
        releases.materialize(demo, "2.0")
    with pytest.raises(BuildError, match="own version"):
        (demo.parent / "releases" / "2.1.10" / "demo").mkdir(parents=True)
        releases.materialize(demo, "2.1.10")


def test_a_pin_of_the_current_version_in_rockcraft_yaml_is_refused(demo: Path) -> None:
    yaml_text = ROCKCRAFT_YAML + "    override-build: pip download demo==2.1.10 --hash=sha256:abc\n"
    (demo / "rockcraft.yaml").write_text(yaml_text)
    with pytest.raises(BuildError, match=r"pins 'demo==2\.1\.10'.*rocks/releases/<version>/ can replace"):
        releases.materialize(demo, "2.1.9")


def test_build_py_has_release_options_for_rocks_and_lock() -> None:
    args = cli.parser().parse_args(["rocks", "--release", "3.3.13", "indico"])
    assert args.release == "3.3.13" and args.names == ["indico"]
    assert cli.parser().parse_args(["lock", "--release", "3.3.13"]).release == "3.3.13"


def nginx_wheel_pin(rock_dir: Path) -> tuple[str, str]:
    text = (rock_dir / "indico-wheel" / "requirements.txt").read_text()
    entry = python_lock.entries(text)["indico"]
    return python_lock.pins(text)["indico"], entry.split("--hash=sha256:")[1].split()[0]


def indico_lock_pin(rock_dir: Path) -> tuple[str, str]:
    text = (rock_dir / "python" / "requirements.txt").read_text()
    entry = python_lock.entries(text)["indico"]
    hashes = [h.split()[0].rstrip("\\") for h in entry.split("--hash=sha256:")[1:]]
    assert len(hashes) == 1, "Indico publishes one wheel per release"
    return python_lock.pins(text)["indico"], hashes[0]


def test_there_is_an_earlier_release_to_refresh_from() -> None:
    assert RELEASES, "rocks/releases/ has an earlier release of the indico rock"
    assert releases.available(ROCKS / "indico-nginx") == RELEASES, "each release has both rocks"


@pytest.mark.parametrize("release", [None, *RELEASES])
def test_both_rocks_of_a_release_pin_the_same_indico_wheel(
    release: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROCKBUILD_CACHE", str(tmp_path))
    dirs = {
        rock: releases.materialize(ROCKS / rock, release) if release else ROCKS / rock
        for rock in ("indico", "indico-nginx")
    }
    version = load_project(dirs["indico"] / "rockcraft.yaml").version
    assert version == (release or releases.current_version(ROCKS / "indico"))
    assert load_project(dirs["indico-nginx"] / "rockcraft.yaml").version == version
    assert indico_lock_pin(dirs["indico"]) == nginx_wheel_pin(dirs["indico-nginx"])
    assert indico_lock_pin(dirs["indico"])[0] == version
    lock_text = (dirs["indico"] / "python" / "requirements.txt").read_text()
    assert python_lock.unhashed(lock_text) == []
    asked = python_lock.pins((dirs["indico"] / "python" / "requirements.in").read_text())
    assert all(python_lock.pins(lock_text)[name] == pinned for name, pinned in asked.items())
