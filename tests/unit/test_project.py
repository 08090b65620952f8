from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rockbuild.build.project import load_project, parse_project
from rockbuild.errors import BuildError
from tests.unit.rockcraft_cases import BAD, GOOD

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("case", sorted(GOOD))
def test_good_files_are_accepted(case: str) -> None:
    project = parse_project(GOOD[case], "rockcraft.yaml")
    assert project.name == "demo"


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_files_are_refused_with_a_message_naming_the_problem(case: str) -> None:
    data, fragment = BAD[case]
    with pytest.raises(BuildError) as caught:
        parse_project(data, "rocks/demo/rockcraft.yaml")
    message = str(caught.value)
    assert fragment in message
    assert "rocks/demo/rockcraft.yaml" in message  # every problem names the file


def test_every_problem_is_reported_at_once() -> None:
    data: dict[str, Any] = {**GOOD["minimal"], "colour": "blue", "name": "Bad"}
    with pytest.raises(BuildError) as caught:
        parse_project(data, "f.yaml")
    assert "colour" in str(caught.value) and "name" in str(caught.value)


def test_deprecated_base_spelling_is_accepted_as_the_new_one() -> None:
    project = parse_project({**GOOD["minimal"], "base": "ubuntu:22.04"}, "f.yaml")
    assert project.base == "ubuntu@22.04"


def test_build_base_defaults_to_base() -> None:
    assert parse_project(GOOD["minimal"], "f.yaml").effective_build_base == "ubuntu@24.04"


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="no such file"):
        load_project(tmp_path / "rockcraft.yaml")


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "rockcraft.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(BuildError, match="not valid YAML"):
        load_project(path)


def test_a_list_is_not_a_project() -> None:
    with pytest.raises(BuildError, match="must be a YAML mapping"):
        parse_project(["name"], "f.yaml")


def all_rockcraft_files() -> list[Path]:
    return sorted(REPO.glob("rocks/*/rockcraft.yaml")) + sorted(REPO.glob("tests/image/fixtures/*/rockcraft.yaml"))


@pytest.mark.parametrize("path", all_rockcraft_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_repository_rockcraft_files_are_valid(path: Path) -> None:
    project = load_project(path)
    assert project.name == yaml.safe_load(path.read_text())["name"]
