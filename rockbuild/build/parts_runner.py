"""Runs the parts lifecycle to PRIME with craft-parts. Executed inside the build container.

It needs only craft-parts and the standard library. Its input is the JSON spec the host writes
(see `rockbuild.build.lifecycle`); on stdout it prints `::step`, `::note` and `::result` lines that the
host turns into progress, and all build output goes to the spec's log file.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import craft_parts
from craft_parts import ActionType, LifecycleManager, Step
from craft_parts.executor import executor as craft_executor
from craft_parts.plugins.python_plugin import PythonPlugin

SITECUSTOMIZE = textwrap.dedent(
    """\
    # sitecustomize added by the rock build: find the part's packages however python3 is called.
    import site
    import sys

    site_dir = f"/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
    dist_dir = "/usr/lib/python3/dist-packages"
    site.addsitedir(site_dir)
    if dist_dir in sys.path and sys.path.index(dist_dir) < sys.path.index(site_dir):
        i, j = sys.path.index(dist_dir), sys.path.index(site_dir)
        sys.path[i], sys.path[j] = sys.path[j], sys.path[i]
    """
)


class RockPythonPlugin(PythonPlugin):
    """craft-parts' python plugin with rockcraft's changes (`rockcraft/plugins/python_plugin.py`).

    The payload must bring its own interpreter (no fallback to the build host's), the venv's python
    symlinks go (on Ubuntu bases usr-merge gives /bin/python3), scripts use `#!/bin/python3`, and a
    sitecustomize.py replaces pyvenv.cfg so that `python3` finds the packages however it is called.
    """

    def _should_remove_symlinks(self) -> bool:
        return bool(self._part_info.base != "bare")

    def _get_system_python_interpreter(self) -> str | None:
        return None

    def _get_script_interpreter(self) -> str:
        return "#!/bin/${PARTS_PYTHON_INTERPRETER}"

    def get_build_commands(self) -> list[str]:
        refuse_absolute = (
            'if [[ "${PARTS_PYTHON_INTERPRETER}" = /* ]]; then\n'
            '  echo "Absolute paths in PARTS_PYTHON_INTERPRETER are not allowed: ${PARTS_PYTHON_INTERPRETER}" >&2\n'
            "  exit 1\nfi"
        )
        write_sitecustomize = (
            'py_dir="${CRAFT_PART_INSTALL}/usr/lib/$(basename "$payload_python")"\n'
            'mkdir -p "$py_dir"\n'
            f"cat > \"$py_dir/sitecustomize.py\" <<'ROCK_SITECUSTOMIZE'\n{SITECUSTOMIZE}ROCK_SITECUSTOMIZE"
        )
        return [
            refuse_absolute,
            *super().get_build_commands(),
            write_sitecustomize,
            'rm "${CRAFT_PART_INSTALL}/pyvenv.cfg"',
        ]


class StageCollisionCheck:
    """craft-parts checks every part's install directory against every other's before each stage
    action (4-5 s each beside the indico part's 40 000 files, so 25 s of that rock's stage step).
    The check reads only the install directories and overlay layers, which only pull, overlay and
    build actions change, so it runs again only after one of those: a collision still fails the
    first stage action after the builds, with craft-parts' own error."""

    def __init__(self) -> None:
        self.original = craft_executor.check_for_stage_collisions  # type: ignore[attr-defined]
        self.needed = True

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        if self.needed:
            self.original(*args, **kwargs)
            self.needed = False

    def before(self, step: Step) -> None:
        if step not in (Step.STAGE, Step.PRIME):
            self.needed = True


def emit(kind: str, payload: Any) -> None:
    print(f"::{kind} {json.dumps(payload)}", flush=True)


def uses_packages(parts: dict[str, Any]) -> bool:
    return any(p.get("stage-packages") or p.get("build-packages") or p.get("overlay-packages") for p in parts.values())


def build_packages(parts: dict[str, Any]) -> list[str]:
    return sorted({name for part in parts.values() for name in part.get("build-packages") or []})


def lifecycle_manager(spec: dict[str, Any]) -> LifecycleManager:
    base_hash = spec.get("base_layer_hash")
    return LifecycleManager(
        {"parts": spec["parts"]},
        application_name="rockcraft",
        cache_dir=spec["cache_dir"],
        work_dir=spec["work_dir"],
        arch=spec["arch"],
        base=spec["base"],
        project_name=spec["project_name"],
        ignore_local_sources=[".craft", "*.rock", "*.cdx.json", "__pycache__"],
        project_vars={"version": spec.get("version") or ""},
        project_vars_part_name=spec.get("adopt_info"),
        track_stage_packages=True,
        base_layer_dir=Path(spec["base_layer_dir"]),
        base_layer_hash=bytes.fromhex(base_hash) if base_hash else None,
        parallel_build_count=spec.get("parallel_build_count", 2),
        build_base=spec["build_base"],
        rootfs_dir=spec["base_layer_dir"],
    )


def run(spec: dict[str, Any]) -> None:
    os.chdir(spec["project_dir"])  # local sources are relative to the project, as in rockcraft
    craft_parts.Features(enable_overlay=True)
    craft_parts.plugins.register({"python": RockPythonPlugin})
    lcm = lifecycle_manager(spec)
    actions = lcm.plan(Step.PRIME)
    work_to_do = any(a.action_type != ActionType.SKIP for a in actions)
    if uses_packages(spec["parts"]) and work_to_do:
        # Package lists are refreshed only when there is work to do, and before planning, as
        # craft-parts asks; a manager plans once (it records planned steps as done), so make anew.
        emit("note", "refreshing package lists")
        lcm = lifecycle_manager(spec)
        lcm.refresh_packages_list()
        actions = lcm.plan(Step.PRIME)
    started = time.monotonic()
    listed = build_packages(spec["parts"])
    if listed and work_to_do:
        # craft-parts installs them as the executor starts (minutes for a TeX set), before any step.
        emit("note", f"installing build packages: {len(listed)} listed by the parts, and the plugins' own")
    collisions = StageCollisionCheck()
    craft_executor.check_for_stage_collisions = collisions  # type: ignore[attr-defined]
    with open(spec["log"], "a") as log, lcm.action_executor() as ctx:
        for action in actions:
            if action.action_type == ActionType.SKIP:
                emit("step", {"part": action.part_name, "step": action.step.name.lower(), "action": "skip"})
                continue
            emit(
                "step",
                {"part": action.part_name, "step": action.step.name.lower(), "action": action.action_type.name.lower()},
            )
            print(f"==> {action}", file=log, flush=True)
            collisions.before(action.step)
            ctx.execute(action, stdout=log, stderr=log)
    emit(
        "result",
        {"version": lcm.project_info.get_project_var("version"), "seconds": round(time.monotonic() - started, 1)},
    )


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    try:
        run(spec)
    except craft_parts.PartsError as exc:
        emit("error", {"brief": exc.brief, "details": exc.details, "resolution": exc.resolution})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
