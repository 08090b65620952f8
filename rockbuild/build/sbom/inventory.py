"""What a rock's filesystem holds, read from the image's merged filesystem (a tar stream):
Python distributions, Debian packages and the Go modules compiled into each Go binary.

- Python: every `*.dist-info/METADATA` (Name, Version), wherever the interpreter finds them.
- Debian: dpkg's status database (an Ubuntu base's packages); chisel's manifest
  (`var/lib/chisel/manifest.wall`, written by the `base-files_chisel` slice: the packages a bare
  rock's slices were cut from); and packages that parts staged, which no database records: their
  `usr/share/doc/<package>/changelog.Debian.gz` names the version in its first line.
- Go: the build information Go writes into every binary (`go version -m` reads the same).
"""

from __future__ import annotations

import email.parser
import gzip
import json
import re
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO

import zstandard

GO_MAGIC = b"\xff Go buildinf:"
BIN_DIRS = ("bin/", "sbin/", "usr/bin/", "usr/sbin/", "usr/local/bin/", "usr/local/sbin/")
CHANGELOG_HEAD = re.compile(r"^(?P<source>\S+) \((?P<version>[^)]+)\)")
DOC_CHANGELOG = re.compile(r"^usr/share/doc/(?P<package>[^/]+)/changelog\.Debian\.gz$")


@dataclass(frozen=True)
class PythonDist:
    name: str
    version: str
    path: str


@dataclass(frozen=True)
class DebPackage:
    name: str
    version: str
    arch: str
    evidence: str  # dpkg-status, chisel-manifest or changelog


@dataclass(frozen=True)
class GoModule:
    path: str
    version: str
    checksum: str


@dataclass(frozen=True)
class GoBinary:
    file: str
    go_version: str
    main: GoModule
    deps: tuple[GoModule, ...]


@dataclass
class Inventory:
    python: list[PythonDist] = field(default_factory=list)
    debs: list[DebPackage] = field(default_factory=list)
    go: list[GoBinary] = field(default_factory=list)


def read_filesystem(stream: IO[bytes], arch: str) -> Inventory:
    """One pass over the tar stream of a container's filesystem (`docker export`)."""
    inventory = Inventory()
    status: list[DebPackage] = []
    chiselled: list[DebPackage] = []
    staged: dict[str, DebPackage] = {}
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            if not member.isfile():
                continue
            name = member.name.removeprefix("./")
            if name.endswith(".dist-info/METADATA"):
                dist = _python_dist(_read(archive, member), name)
                if dist is not None:
                    inventory.python.append(dist)
            elif name == "var/lib/dpkg/status":
                status = list(_dpkg_status(_read(archive, member).decode(errors="replace")))
            elif name == "var/lib/chisel/manifest.wall":
                chiselled = list(_chisel_manifest(_read(archive, member)))
            elif found := DOC_CHANGELOG.match(name):
                package = _changelog_package(found["package"], _read(archive, member), arch)
                if package is not None:
                    staged[package.name] = package
            elif name.startswith(BIN_DIRS) and member.size > 0:
                data = _read(archive, member)
                if data.startswith(b"\x7fELF"):
                    binary = go_build_info("/" + name, data)
                    if binary is not None:
                        inventory.go.append(binary)
    recorded = {p.name for p in (*status, *chiselled)}
    inventory.debs = [*status, *chiselled, *(p for n, p in sorted(staged.items()) if n not in recorded)]
    inventory.python.sort(key=lambda d: (d.name.lower(), d.version, d.path))
    inventory.go.sort(key=lambda b: b.file)
    return inventory


def _read(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = archive.extractfile(member)
    return handle.read() if handle is not None else b""


def _python_dist(metadata: bytes, path: str) -> PythonDist | None:
    headers = email.parser.BytesHeaderParser().parsebytes(metadata)
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        return None
    return PythonDist(str(name), str(version), "/" + path.rsplit("/", 1)[0])


def _dpkg_status(text: str) -> Iterable[DebPackage]:
    for stanza in text.split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", stanza, flags=re.M))
        if fields.get("Package") and fields.get("Version") and "installed" in fields.get("Status", ""):
            yield DebPackage(fields["Package"], fields["Version"], fields.get("Architecture", ""), "dpkg-status")


def _chisel_manifest(compressed: bytes) -> Iterable[DebPackage]:
    """Chisel's jsonwall: a header line, then one JSON object per line; `kind: package` entries."""
    text = zstandard.ZstdDecompressor().decompressobj().decompress(compressed).decode()
    for line in text.splitlines()[1:]:
        entry = json.loads(line)
        if entry.get("kind") == "package":
            yield DebPackage(entry["name"], entry["version"], entry.get("arch", ""), "chisel-manifest")


def _changelog_package(package: str, compressed: bytes, arch: str) -> DebPackage | None:
    try:
        head = gzip.decompress(compressed).decode(errors="replace").split("\n", 1)[0]
    except (OSError, EOFError):
        return None
    found = CHANGELOG_HEAD.match(head)
    return DebPackage(package, found["version"], arch, "changelog") if found else None


def go_build_info(file: str, data: bytes) -> GoBinary | None:
    """The Go version and modules of a Go binary (Go 1.18+ inline format), None for anything else."""
    at = data.find(GO_MAGIC)
    while at != -1 and at % 16:
        at = data.find(GO_MAGIC, at + 1)
    if at == -1 or not data[at + 15] & 0x2:  # flag 2: the strings follow inline
        return None
    go_version, position = _varint_string(data, at + 32)
    modinfo, _ = _varint_string(data, position)
    if len(modinfo) >= 33 and modinfo[-17] == "\n":  # 16-byte sentinels around the text
        modinfo = modinfo[16:-16]
    main: GoModule | None = None
    deps: list[GoModule] = []
    for line in modinfo.splitlines():
        kind, *fields = line.split("\t")
        if kind == "mod" and len(fields) >= 2:
            main = GoModule(fields[0], fields[1], fields[2] if len(fields) > 2 else "")
        elif kind == "dep" and len(fields) >= 2:
            deps.append(GoModule(fields[0], fields[1], fields[2] if len(fields) > 2 else ""))
        elif kind == "=>" and deps and len(fields) >= 2:  # the previous dependency's replacement
            deps[-1] = GoModule(fields[0], fields[1], fields[2] if len(fields) > 2 else "")
    if main is None:
        return None
    return GoBinary(file, go_version, main, tuple(deps))


def _varint_string(data: bytes, position: int) -> tuple[str, int]:
    length = shift = 0
    while True:
        byte = data[position]
        position += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return data[position : position + length].decode(errors="replace"), position + length
