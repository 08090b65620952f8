from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rockbuild import cli

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "args", [["--help"], ["rocks", "--help"], ["validate", "--help"], ["forget", "--help"], ["charm", "--help"]]
)
def test_help_explains_each_command(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "build.py", *args], cwd=REPO, capture_output=True, text=True, check=True)
    assert "usage: build.py" in done.stdout
    if args[0] == "rocks":
        assert "--builder" in done.stdout and "ROCKBUILD_CACHE" in done.stdout


def test_build_py_run_by_the_system_python_uses_the_project_venv() -> None:
    """The README says `./build.py`: its shebang finds the system python, which has no craft-parts."""
    system_python = "/usr/bin/python3"
    if not Path(system_python).exists() or not (REPO / ".venv/bin/python").exists():
        pytest.skip("needs /usr/bin/python3 and the project's .venv (make venv)")
    if subprocess.run([system_python, "-c", "import craft_parts"], capture_output=True).returncode == 0:
        pytest.skip("the system python has craft-parts itself: nothing to hand over to the venv")
    done = subprocess.run([system_python, "build.py", "rocks", "--help"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "usage: build.py rocks" in done.stdout


def test_unknown_rock_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real/rockcraft.yaml").write_text("name: real\n")
    assert cli.main(["--rocks-dir", str(tmp_path), "rocks", "ghost"]) == 1
    err = capsys.readouterr().err
    assert "no rock 'ghost'" in err and "rocks here: real" in err


def test_validate_reports_an_invalid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad/rockcraft.yaml").write_text("name: bad\nbase: ubuntu@24.04\n")
    assert cli.main(["--rocks-dir", str(tmp_path), "validate"]) == 1
    assert "summary: required key is missing" in capsys.readouterr().err


def test_validate_accepts_the_fixture_rock(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--rocks-dir", str(REPO / "tests/image/fixtures"), "validate"]) == 0
    assert "fixture-rock/rockcraft.yaml: valid" in capsys.readouterr().out
