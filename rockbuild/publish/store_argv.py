"""The commands `build.py publish` runs, and how their output is read. Plain functions only.

Output formats are charmcraft 4.x's (charmcraft/application/commands/store.py): with
`--format=json`, `upload` and `upload-resource` print `{"revision": N}` and failures print
`{"errors": [{"code": ..., "message": ...}]}`; without it they print
`Revision N of 'indico' created`, `Revision N created of resource 'indico-image' for charm 'indico'.`
or `Upload failed with status 'rejected':` followed by `- code: message` lines.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from rockbuild.errors import BuildError

TEXT_REVISION_RE = re.compile(r"^Revision (\d+) (?:of '[^']+' created|created of resource '[^']+' for charm '[^']+')")
TEXT_FAILURE_RE = re.compile(r"^Upload failed with status '?([^':]+)'?:")


class StoreError(BuildError):
    """A publish step failed; the message says which and why."""


def skopeo_push(rock_file: Path, destination: str, digest_file: Path, tls_verify: bool) -> list[str]:
    return [
        "skopeo",
        "copy",
        "--quiet",
        f"--dest-tls-verify={'true' if tls_verify else 'false'}",
        "--digestfile",
        str(digest_file),
        f"oci-archive:{rock_file}",
        f"docker://{destination}",
    ]


def skopeo_digest(rock_file: Path) -> list[str]:
    """The image manifest digest of a .rock, as a registry will report it after a copy."""
    return ["skopeo", "inspect", "--format", "{{.Digest}}", f"oci-archive:{rock_file}"]


def upload_resource(charm: str, resource: str, image: str) -> list[str]:
    return ["charmcraft", "upload-resource", charm, resource, f"--image={image}", "--format=json"]


def upload_charm(charm: str, charm_file: Path) -> list[str]:
    return ["charmcraft", "upload", str(charm_file), f"--name={charm}", "--format=json"]


def release(charm: str, revision: int | str, channel: str, resources: dict[str, int | str]) -> list[str]:
    command = ["charmcraft", "release", charm, f"--revision={revision}", f"--channel={channel}"]
    return command + [f"--resource={name}:{rev}" for name, rev in sorted(resources.items())]


def parse_revision(output: str, what: str) -> int:
    """The revision charmcraft reports for an upload, in either output format; StoreError with
    charmcraft's own error messages when it reports a failure."""
    text = output.strip()
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict):
        if isinstance(document.get("revision"), int):
            return int(document["revision"])
        errors = document.get("errors")
        if errors:
            details = "; ".join(f"{e.get('code', '?')}: {e.get('message', '')}" for e in errors)
            raise StoreError(f"{what} was refused by Charmhub: {details}")
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if match := TEXT_REVISION_RE.match(line.strip()):
            return int(match.group(1))
        if match := TEXT_FAILURE_RE.match(line.strip()):
            details = "; ".join(item.strip().lstrip("- ") for item in lines[index + 1 :] if item.strip())
            raise StoreError(f"{what} was refused by Charmhub (status {match.group(1)}): {details}")
    first = lines[0] if lines else "(no output)"
    raise StoreError(f"{what}: charmcraft reported no revision (its output began: {first!r})")


def parse_digest(text: str, what: str) -> str:
    digest = text.strip()
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise StoreError(f"{what}: expected an image digest (sha256:...), got {digest[:80]!r}")
    return digest


def deploy_command(charm: str, channel: str | None, resources: dict[str, str], charm_file: Path | None = None) -> str:
    """The `juju deploy` line for what was published: Charmhub revisions, or registry images
    with the local .charm when nothing went to Charmhub."""
    target = charm if channel else f"./{charm_file}"
    command = ["juju", "deploy", target]
    if channel:
        command += ["--channel", channel]
    for name, value in sorted(resources.items()):
        command += ["--resource", f"{name}={value}"]
    return shlex.join(command)


def refresh_command(charm: str, channel: str | None, resources: dict[str, str], charm_file: Path | None = None) -> str:
    """The `juju refresh` line that moves a deployed application to what was published (the
    charm's channel or local file, and these resource revisions or images)."""
    command = ["juju", "refresh", charm]
    command += ["--channel", channel] if channel else ["--path", f"./{charm_file}"]
    for name, value in sorted(resources.items()):
        command += ["--resource", f"{name}={value}"]
    return shlex.join(command)
