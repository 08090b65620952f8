"""Host side of the parts lifecycle: the spec for the runner, and its progress turned into lines."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rockbuild.build import pebble
from rockbuild.build.buildenv import PEBBLE_VERSION, BuildContainer
from rockbuild.build.local_support import host_architecture
from rockbuild.build.project import RESERVED_PART, Project
from rockbuild.errors import BuildError
from rockbuild.progress import Progress

WORK_IN_CONTAINER = "/work"
RUNNER = "/rockbuild/src/rockbuild/build/parts_runner.py"
PYTHON = "/opt/rockbuild/venv/bin/python"


@dataclass
class LifecycleResult:
    prime: Path
    version: str
    log: Path


def parts_with_pebble(project: Project) -> dict[str, Any]:
    """The project's parts plus the hidden `pebble` part rockcraft adds to every rock."""
    return {**project.parts, RESERVED_PART: pebble.hidden_part(PEBBLE_VERSION, "/rockbuild/pebble")}


def runner_spec(project: Project, base_digest: str) -> dict[str, Any]:
    return {
        "project_name": project.name,
        "version": project.version,
        "adopt_info": project.adopt_info,
        "base": project.base,
        "build_base": project.effective_build_base,
        "arch": host_architecture(),
        "parts": parts_with_pebble(project),
        "project_dir": "/project",
        "work_dir": WORK_IN_CONTAINER,
        "cache_dir": "/cache",
        "base_layer_dir": "/rockbuild/base",
        "base_layer_hash": base_digest.removeprefix("sha256:"),
        "log": f"{WORK_IN_CONTAINER}/build.log",
    }


RUNNER_OUTPUT_KEPT = 15  # lines of the runner's own output an error quotes (a traceback's end)


def _handle(line: str, progress: Progress, verbose: bool, result: dict[str, Any]) -> None:
    if not line.startswith("::"):
        if line.strip():
            if verbose:
                print(line, flush=True)
            result.setdefault("output", deque(maxlen=RUNNER_OUTPUT_KEPT)).append(line)
        return
    kind, _, payload = line[2:].partition(" ")
    data = json.loads(payload)
    if kind == "step":
        if data["action"] != "skip" or verbose:
            action = "" if data["action"] == "run" else f" ({data['action']})"
            progress.say(f"part {data['part']}", f"{data['step']}{action}")
    elif kind == "note":
        progress.say(str(data))
    elif kind in ("result", "error"):
        result[kind] = data


def run_parts(
    project: Project,
    container: BuildContainer,
    work_dir: Path,
    base_digest: str,
    progress: Progress,
    verbose: bool = False,
) -> LifecycleResult:
    spec_path = work_dir / "rockbuild-spec.json"
    log = work_dir / "build.log"
    log.write_text("")
    spec_path.write_text(json.dumps(runner_spec(project, base_digest), indent=2))
    result: dict[str, Any] = {}
    buffer = b""
    try:
        for chunk in container.exec([PYTHON, RUNNER, f"{WORK_IN_CONTAINER}/{spec_path.name}"]):
            buffer += chunk
            *lines, rest = buffer.split(b"\n")
            buffer = rest
            for line in lines:
                _handle(line.decode(errors="replace"), progress, verbose, result)
    except BuildError as exc:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        if "error" in result:
            err = result["error"]
            message = f"{err['brief']}" + (f"\n{err['details']}" if err.get("details") else "")
            message += f"\n{err['resolution']}" if err.get("resolution") else ""
            raise BuildError(f"parts lifecycle failed: {message}\nlast lines of {log}:\n{tail}") from exc
        # No structured error: the runner itself failed (a traceback); its last lines say why.
        output = "\n".join([*result.get("output", []), buffer.decode(errors="replace")]).strip()
        raise BuildError(
            f"parts lifecycle failed: {exc}\nthe parts runner's last output:\n{output}\nlast lines of {log}:\n{tail}"
        ) from exc
    version = result.get("result", {}).get("version") or project.version
    if not version:
        raise BuildError(f"part '{project.adopt_info}' did not set the version (`craftctl set version=...`)")
    prime = work_dir / "prime"
    if not prime.is_dir() or not any(prime.iterdir()):
        raise BuildError(f"the parts lifecycle ended without a prime directory at {prime}; see {log}")
    return LifecycleResult(prime=prime, version=version, log=log)
