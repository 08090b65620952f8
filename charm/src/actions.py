"""The actions that only run the rock's `indico-admin` (through pebble_ops): they apply no layer
and sync nothing. Actions that change the site's settings (rotate-secret-key,
refresh-external-resources) are the charm's, since they converge."""

from __future__ import annotations

import ops
import pebble_ops
from pebble_ops import ActionFailedError

MAX_ANONYMIZE = 50


def emails(raw: str) -> list[str]:
    found = [item.strip() for item in raw.split(",") if item.strip()]
    if not found:
        raise ActionFailedError("no e-mail address given")
    if len(found) > MAX_ANONYMIZE:
        raise ActionFailedError(f"at most {MAX_ANONYMIZE} addresses at a time ({len(found)} given)")
    return found


def add_admin(event: ops.ActionEvent, container: ops.Container) -> None:
    try:
        result = pebble_ops.run_admin(
            container, ["create-admin", str(event.params["email"])], stdin=f"{event.params['password']}\n"
        )
    except ActionFailedError as exc:
        event.fail(str(exc))
        return
    event.set_results(result)


def anonymize_users(event: ops.ActionEvent, container: ops.Container) -> None:
    try:
        addresses = emails(str(event.params["email"]))
    except ActionFailedError as exc:
        event.fail(str(exc))
        return
    done, failed = [], []
    for address in addresses:
        try:
            pebble_ops.run_admin(container, ["anonymize-user", address])
            done.append(address)
        except ActionFailedError as exc:
            failed.append(f"{address}: {exc}")
    event.set_results({"anonymized": ",".join(done), "failed": "; ".join(failed)})
    if failed:
        event.fail(f"{len(failed)} of {len(addresses)} could not be anonymized")
