"""The shell lines with which a build waits for a tool the builder makes beside it (Pebble for the
hidden pebble part, chisel for its wrapper): the builder moves the binary into place whole, and a
tool build that fails stops the build container first, so the limit bounds only one that hangs."""

from __future__ import annotations

import shlex

WAIT_SECONDS = 1800


def wait_for_binary(binary: str, tool: str, log_hint: str) -> str:
    """Lines that return once `binary` is executable, or fail after WAIT_SECONDS naming `tool`
    and where its build log is."""
    late = f"{tool} was not built within {WAIT_SECONDS} s: see {log_hint}"
    return (
        "waited=0\n"
        f"until [ -x {binary} ]; do\n"
        f"  [ $waited -lt {WAIT_SECONDS} ] || {{ echo {shlex.quote(late)} >&2; exit 1; }}\n"
        "  sleep 1; waited=$((waited + 1))\n"
        "done\n"
    )
