"""Where real rockcraft comes from: the pins read from its uv.lock, and clear errors for bad sources."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from rockbuild.errors import BuildError
from rockbuild.real_rockcraft import source

LOCK = """
version = 1
requires-python = ">=3.10"

[[package]]
name = "rockcraft"
source = { editable = "." }

[[package]]
name = "craft-parts"
version = "2.33.1"
source = { registry = "https://index.example/simple" }

[[package]]
name = "pygit2"
version = "1.18.2"
source = { registry = "https://index.example/simple" }
resolution-markers = ["python_full_version < '3.11' and sys_platform == 'linux'"]

[[package]]
name = "pygit2"
version = "1.19.3"
source = { registry = "https://index.example/simple" }
resolution-markers = ["python_full_version == '3.12.*' and sys_platform == 'linux'"]

[[package]]
name = "python-apt"
version = "2.7.7+ubuntu5"
source = { registry = "https://wheels.example/" }
"""
ORACLE = Path(__file__).resolve().parents[3] / "shared" / "oracles" / "rockcraft" / "rockcraft-1.20.0.tar.gz"


def test_pins_are_the_locks_versions_for_the_containers_python() -> None:
    assert source.constraints_from_lock(LOCK) == "craft-parts==2.33.1\npygit2==1.19.3\n"


def test_the_real_lock_pins_craft_parts_as_rockcraft_needs() -> None:
    if not ORACLE.is_file():
        pytest.skip(f"rockcraft's source is absent ({ORACLE})")
    found = source.resolve(str(ORACLE))
    assert found.version == "1.20.0"
    assert "craft-parts==2.33.1\n" in found.constraints
    assert "python-apt" not in found.constraints


def _archive(tmp_path: Path, name: str, members: dict[str, str]) -> Path:
    path = tmp_path / name
    with tarfile.open(path, "w:gz") as tar:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_source_without_a_lock_or_a_version_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"no uv\.lock"):
        source.resolve(str(_archive(tmp_path, "rockcraft-1.20.0.tar.gz", {"rockcraft-1.20.0/README.md": "x"})))
    with pytest.raises(BuildError, match="cannot tell rockcraft's version"):
        source.resolve(str(_archive(tmp_path, "rockcraft.tar.gz", {"rockcraft/uv.lock": LOCK})))
    with pytest.raises(BuildError, match="no such file or directory"):
        source.resolve(str(tmp_path / "missing.tar.gz"))


def test_no_source_at_all_says_how_to_name_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(source.SETTING, raising=False)
    with pytest.raises(BuildError, match="--rockcraft-source"):
        source.resolve(None)
