"""Pebble in the rock, as rockcraft puts it there (`rockcraft/pebble.py`).

- a hidden `pebble` part installs the binary at usr/bin/pebble and prepares var/lib/pebble/default;
- the services and checks become the layer file `001-rockcraft-<name>.yaml` in a layer of its own;
- the entrypoint is `pebble enter`.
"""

from __future__ import annotations

import shlex
from typing import Any

import yaml

from rockbuild.build import tool_wait
from rockbuild.build.project import Project

BINARY = "usr/bin/pebble"
LAYERS_DIR = "var/lib/pebble/default/layers"
ENTRYPOINT = ["/usr/bin/pebble", "enter"]


def hidden_part(version: str, builds_in_container: str) -> dict[str, Any]:
    """The part that stands in for rockcraft's `stage-snaps: [pebble/latest/stable]` part.

    The local builder compiles Pebble beside the parts rather than before them (it is needed only
    here, and its compile took 45 s of a fresh build's critical path), so the part waits for
    `<builds>/<version>/pebble`, which the builder moves into place whole. The version is written
    into the part so that a Pebble upgrade marks the part dirty.
    """
    binary = f"{builds_in_container}/{version}/pebble"
    return {
        "plugin": "nil",
        "override-build": (
            f"# pebble {version}, built from source by the local builder\n"
            + tool_wait.wait_for_binary(binary, f"Pebble {version}", "logs/pebble.log in the builder cache")
            + f'install -D -m 0755 {binary} "$CRAFT_PART_INSTALL/{BINARY}"'
        ),
        "stage": [BINARY],
        "override-prime": (f"craftctl default\nmkdir -p {LAYERS_DIR}\nchmod 777 var/lib/pebble/default"),
    }


def layer_path(project_name: str) -> str:
    return f"{LAYERS_DIR}/001-rockcraft-{project_name}.yaml"


def _dump(model: Any) -> dict[str, Any]:
    return dict(model.model_dump(by_alias=True, exclude_none=True))


def layer(project: Project) -> dict[str, Any] | None:
    """The layer content, or None when there are neither services nor checks (rockcraft writes none)."""
    if not project.services and not project.checks:
        return None
    content: dict[str, Any] = {"summary": project.summary, "description": project.description}
    if project.services:
        content["services"] = {name: _dump(svc) for name, svc in project.services.items()}
    if project.checks:
        content["checks"] = {name: _dump(check) for name, check in project.checks.items()}
    return content


def layer_yaml(project: Project) -> str | None:
    content = layer(project)
    return None if content is None else yaml.dump(content, sort_keys=False)


def entrypoint_and_cmd(project: Project) -> tuple[list[str], list[str]]:
    """OCI Entrypoint and Cmd (`rockcraft/services/package.py::_pack`)."""
    if project.entrypoint_command:
        return shlex.split(project.entrypoint_command), []
    if project.entrypoint_service and project.services:
        command = project.services[project.entrypoint_service].command
        # `cmd [ default args ]`: the bracketed part becomes the OCI Cmd.
        default_args: list[str] = []
        if "[" in command and command.rstrip().endswith("]"):
            default_args = shlex.split(command[command.index("[") + 1 : command.rstrip().rindex("]")])
        return [*ENTRYPOINT, "--args", project.entrypoint_service], default_args
    return list(ENTRYPOINT), []
