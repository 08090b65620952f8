from __future__ import annotations

import pytest

from rockbuild.build import local_support
from rockbuild.build.project import parse_project
from rockbuild.errors import BuildError
from tests.unit.rockcraft_cases import variant, with_part


def problems(data: dict[str, object]) -> str:
    return "\n".join(local_support.unsupported(parse_project(data, "r.yaml"), "r.yaml"))


def test_a_plain_noble_rock_is_supported() -> None:
    local_support.ensure_supported(parse_project(variant(), "r.yaml"), "r.yaml")


@pytest.mark.parametrize("key", ["stage-snaps", "build-snaps"])
def test_snaps_are_refused_with_a_way_that_works_in_both_builders(key: str) -> None:
    text = problems(with_part(plugin="nil", **{key.replace("-", "_"): ["go/1.22/stable"]}))
    assert f"parts.p.{key}" in text and "golang-go" in text and "GOTOOLCHAIN" in text


def test_a_bare_rock_with_chisel_slices_is_supported() -> None:
    data = variant(base="bare", build_base="ubuntu@24.04")
    data["parts"] = {"p": {"plugin": "nil", "stage-packages": ["libc6_libs", "base-files_base"]}}
    assert problems(data) == ""


def test_package_repositories_are_refused() -> None:
    assert "package-repositories" in problems(variant(package_repositories=[{"type": "apt", "ppa": "x/y"}]))


def test_other_architectures_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_support, "host_architecture", lambda: "amd64")
    assert "only builds for this machine's architecture" in problems(variant(platforms={"arm64": None}))


def test_ensure_supported_lists_every_problem() -> None:
    data = with_part(plugin="nil", stage_snaps=["a"], build_snaps=["b"])
    with pytest.raises(BuildError) as caught:
        local_support.ensure_supported(parse_project(data, "r.yaml"), "r.yaml")
    assert "stage-snaps" in str(caught.value) and "build-snaps" in str(caught.value)
