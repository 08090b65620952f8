"""The charm's actions: each runs the rock's `indico-admin` in the indico container, with the
environment of its `indico` service (Pebble's service context), so it reaches the same database."""

from __future__ import annotations

import json
from typing import Any

import ops

ADMIN_TOOL = "/usr/local/bin/indico-admin"
MAX_ANONYMIZE = 50


class ActionFailedError(Exception):
    pass


def run_admin(container: ops.Container, args: list[str], stdin: str | None = None) -> dict[str, Any]:
    """Run indico-admin and return its JSON result; ActionFailedError names what went wrong."""
    if not container.can_connect():
        raise ActionFailedError("the indico container is not ready yet")
    try:
        process = container.exec([ADMIN_TOOL, *args], service_context="indico", stdin=stdin, timeout=600)
        stdout, _ = process.wait_output()
    except ops.pebble.ExecError as exc:
        lines = [line for line in str(exc.stderr or "").splitlines() if line.startswith("indico-admin:")]
        raise ActionFailedError(lines[-1] if lines else f"{ADMIN_TOOL} {args[0]} exited with {exc.exit_code}") from exc
    except ops.pebble.APIError as exc:
        raise ActionFailedError(f"Pebble refused to run {ADMIN_TOOL}: {exc}") from exc
    try:
        result = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise ActionFailedError(f"{ADMIN_TOOL} gave no result") from exc
    return dict(result)


def emails(raw: str) -> list[str]:
    found = [item.strip() for item in raw.split(",") if item.strip()]
    if not found:
        raise ActionFailedError("no e-mail address given")
    if len(found) > MAX_ANONYMIZE:
        raise ActionFailedError(f"at most {MAX_ANONYMIZE} addresses at a time ({len(found)} given)")
    return found
