from __future__ import annotations

import pytest

from rockbuild import docker_engine
from rockbuild.errors import BuildError


def test_no_setting_leaves_dockers_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(docker_engine.CPU_SHARES_SETTING, raising=False)
    assert docker_engine.build_priority() == {}


def test_the_setting_becomes_the_build_containers_cpu_weight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(docker_engine.CPU_SHARES_SETTING, "256")
    assert docker_engine.build_priority() == {"cpu_shares": 256}


@pytest.mark.parametrize("setting", ["0", "1", "-5", "half", "262145"])
def test_a_bad_setting_is_named(monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    monkeypatch.setenv(docker_engine.CPU_SHARES_SETTING, setting)
    with pytest.raises(BuildError, match=r"ROCKBUILD_CPU_SHARES=.*whole number from 2 to 262144"):
        docker_engine.build_priority()
