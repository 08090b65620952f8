"""Runs external tools (skopeo, umoci, mmdebstrap) and turns their failures into BuildErrors."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

from rockbuild.errors import BuildError


def require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BuildError(f"'{name}' is not on PATH. {hint}")
    return path


def run(cmd: Sequence[str], *, what: str, capture: bool = True) -> str:
    """Run `cmd`; on failure raise a BuildError that says what was being done and the tool's error."""
    try:
        done = subprocess.run(list(cmd), check=False, text=True, capture_output=capture)
    except FileNotFoundError as exc:
        raise BuildError(f"{what}: '{cmd[0]}' is not installed. Run `make host` (scripts/ensure-host.sh).") from exc
    if done.returncode != 0:
        tail = "\n".join(((done.stderr or "") + (done.stdout or "")).strip().splitlines()[-20:])
        raise BuildError(f"{what} failed (exit {done.returncode}): {' '.join(cmd)}\n{tail}")
    return done.stdout or ""
