"""What a `.rock` (an OCI image archive) holds, in the terms the parity check compares."""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rockbuild.errors import BuildError

CONFIG_FIELDS = ("Entrypoint", "Cmd", "Env", "User", "WorkingDir", "ExposedPorts", "Volumes", "StopSignal")


@dataclass(frozen=True)
class Entry:
    kind: str  # file, dir, symlink, hardlink, other
    mode: int
    uid: int
    gid: int
    size: int
    link: str
    sha256: str  # of a regular file's content, else ""
    # What the allow-list may compare instead of the whole content: for .pyc files, the content
    # after the 16-byte header (whose bytes 8-11 are the source's mtime); for etc/shadow, the
    # content without each entry's day of the last password change (the day it was built).
    body_sha256: str = field(default="", compare=False)


@dataclass
class Rock:
    config: dict[str, Any]  # the image config's `config` fields compared, plus Labels
    annotations: dict[str, str]
    layers: list[dict[str, Entry]]
    contents: dict[str, bytes]  # small text files read whole (.rock/metadata.yaml, Pebble layers)


def _kind(member: tarfile.TarInfo) -> str:
    if member.isreg():
        return "file"
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.islnk():
        return "hardlink"
    return "other"


def normalise(name: str) -> str:
    name = name.removeprefix("./").rstrip("/")
    return name or "."


def without_change_days(shadow: bytes) -> bytes:
    """etc/shadow with the third field of each entry (days from 1970 to the last password
    change, which both builders set to the day of the build) left empty."""
    lines = []
    for line in shadow.split(b"\n"):
        fields = line.split(b":")
        if len(fields) > 2:
            fields[2] = b""
        lines.append(b":".join(fields))
    return b"\n".join(lines)


def _wanted_whole(path: str) -> bool:
    return path == ".rock/metadata.yaml" or path.startswith("var/lib/pebble/default/layers/")


def read(path: Path) -> Rock:
    try:
        return _read(path)
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise BuildError(f"{path} is not a readable OCI image archive: {exc}") from exc


def _read(path: Path) -> Rock:
    with tarfile.open(path) as archive:

        def blob(digest: str) -> IO[bytes]:
            algorithm, hexdigest = digest.split(":", 1)
            handle = archive.extractfile(f"blobs/{algorithm}/{hexdigest}")
            if handle is None:
                raise BuildError(f"{path} lacks blob {digest}")
            return handle

        index = json.load(archive.extractfile("index.json"))  # type: ignore[arg-type]
        manifest = json.load(blob(index["manifests"][0]["digest"]))
        config = json.load(blob(manifest["config"]["digest"]))
        layers: list[dict[str, Entry]] = []
        contents: dict[str, bytes] = {}
        for layer in manifest["layers"]:
            entries: dict[str, Entry] = {}
            with tarfile.open(fileobj=blob(layer["digest"]), mode="r|*") as tar:
                for member in tar:
                    name = normalise(member.name)
                    digest, body = "", ""
                    if member.isreg():
                        handle = tar.extractfile(member)
                        assert handle is not None
                        data = handle.read()
                        digest = hashlib.sha256(data).hexdigest()
                        if name.endswith(".pyc"):
                            body = hashlib.sha256(data[16:]).hexdigest()
                        elif name == "etc/shadow":
                            body = hashlib.sha256(without_change_days(data)).hexdigest()
                        if _wanted_whole(name):
                            contents[name] = data
                    link = normalise(member.linkname) if member.islnk() else member.linkname
                    entries[name] = Entry(
                        _kind(member), member.mode, member.uid, member.gid, member.size, link, digest, body
                    )
            layers.append(entries)
    image_config = config.get("config") or {}
    compared = {key: image_config.get(key) for key in CONFIG_FIELDS}
    compared["Labels"] = image_config.get("Labels") or {}
    return Rock(compared, manifest.get("annotations") or {}, layers, contents)
