"""What a failed parts run tells the user: the runner's own last output, not only the build log."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from rockbuild.build import lifecycle
from rockbuild.build.project import load_project
from rockbuild.errors import BuildError
from rockbuild.progress import Progress

FIXTURE = Path(__file__).resolve().parents[1] / "image" / "fixtures" / "fixture-rock" / "rockcraft.yaml"


class CrashingRunner:
    """A build container whose parts runner dies with a traceback, as craft-parts did on a
    prime-only rerun (FileNotFoundError in migrate_files)."""

    def exec(self, command: list[str]) -> Iterator[bytes]:
        yield b'::step {"part": "indico", "step": "prime", "action": "run"}\n'
        yield b"Traceback (most recent call last):\n"
        yield b'  File "/opt/rockbuild/venv/lib/python3.12/site-packages/craft_parts/utils/file_utils.py"\n'
        yield b"FileNotFoundError: [Errno 2] No such file or directory: '/work/stage/usr/lib/__pycache__'\n"
        raise BuildError("`parts_runner.py` failed in build container rockbuild-x (exit 1)")


def test_a_crashed_runner_is_explained_by_its_own_last_lines(tmp_path: Path) -> None:
    progress = Progress("fixture-rock", stream=io.StringIO())
    with pytest.raises(BuildError) as caught:
        lifecycle.run_parts(load_project(FIXTURE), CrashingRunner(), tmp_path, "sha256:" + "0" * 64, progress)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "the parts runner's last output:" in message
    assert "FileNotFoundError: [Errno 2] No such file or directory: '/work/stage/usr/lib/__pycache__'" in message
    assert "Traceback (most recent call last):" in message
