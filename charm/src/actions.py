"""Checks of action parameters; the actions run the rock's `indico-admin` through pebble_ops."""

from __future__ import annotations

MAX_ANONYMIZE = 50


class ActionFailedError(Exception):
    pass


def emails(raw: str) -> list[str]:
    found = [item.strip() for item in raw.split(",") if item.strip()]
    if not found:
        raise ActionFailedError("no e-mail address given")
    if len(found) > MAX_ANONYMIZE:
        raise ActionFailedError(f"at most {MAX_ANONYMIZE} addresses at a time ({len(found)} given)")
    return found
