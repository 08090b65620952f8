"""A CycloneDX bill of materials for each rock, written beside the `.rock`
(`<name>_<version>_<platform>.cdx.json`): its Python distributions, Debian packages (dpkg's
database, chisel's manifest, or staged packages' changelogs) and the Go modules of each Go binary,
read from the image's own filesystem, so it describes what either builder packed. Made with
cyclonedx-python-lib and validated against the CycloneDX schema before it is written."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from rockbuild import atomic, docker_engine
from rockbuild.build.sbom.inventory import Inventory, read_filesystem
from rockbuild.errors import BuildError
from rockbuild.progress import Progress

SCHEMA = SchemaVersion.V1_6


def sbom_path(rock_file: Path) -> Path:
    return rock_file.with_name(rock_file.name.removesuffix(".rock") + ".cdx.json")


def ensure(rock_file: Path, image: str, name: str, version: str, progress: Progress) -> Path:
    """The rock's SBOM, made again only when the `.rock` is newer than it."""
    target = sbom_path(rock_file)
    if target.exists() and target.stat().st_mtime >= rock_file.stat().st_mtime:
        return target
    progress.say("sbom", f"reading {image}'s filesystem")
    with exported(image) as stream:
        inventory = read_filesystem(stream, arch=_arch(rock_file))
    document = render(inventory, name, version)
    atomic.write_text(target, document)
    counts = summary(json.loads(document))
    progress.say("sbom", f"{target.name}: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))
    return target


@contextlib.contextmanager
def exported(image: str) -> Iterator[IO[bytes]]:
    """The image's merged filesystem as a tar stream (a created, never started, container's export)."""
    container = docker_engine.client().containers.create(image, entrypoint=["/nothing"], network_mode="none")
    try:
        yield io.BufferedReader(_ChunkReader(iter(container.export())))  # type: ignore[type-var]
    finally:
        container.remove(force=True)


class _ChunkReader(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.pending = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        while not self.pending:
            try:
                self.pending = next(self.chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self.pending))
        buffer[:size], self.pending = self.pending[:size], self.pending[size:]
        return size


def _arch(rock_file: Path) -> str:
    return rock_file.name.removesuffix(".rock").rsplit("_", 1)[-1]


def render(inventory: Inventory, name: str, version: str) -> str:
    bom = Bom()
    root = Component(name=name, version=version, type=ComponentType.CONTAINER, bom_ref=f"rock:{name}@{version}")
    bom.metadata.component = root
    components: dict[str, Component] = {}

    def add(component: Component) -> None:
        components.setdefault(str(component.bom_ref), component)

    for dist in inventory.python:
        purl = PackageURL("pypi", None, dist.name.lower().replace("_", "-"), dist.version)
        add(
            Component(
                name=dist.name,
                version=dist.version,
                type=ComponentType.LIBRARY,
                purl=purl,
                bom_ref=f"{purl}?path={dist.path}",
                properties=[Property(name="rockbuild:path", value=dist.path)],
            )
        )
    for deb in inventory.debs:
        purl = PackageURL("deb", "ubuntu", deb.name, deb.version, {"arch": deb.arch} if deb.arch else None)
        add(
            Component(
                name=deb.name,
                version=deb.version,
                type=ComponentType.LIBRARY,
                purl=purl,
                bom_ref=str(purl),
                properties=[Property(name="rockbuild:evidence", value=deb.evidence)],
            )
        )
    for binary in inventory.go:
        modules = [
            Component(
                name=m.path,
                version=m.version,
                type=ComponentType.LIBRARY,
                purl=PackageURL("golang", None, m.path, m.version),
                bom_ref=f"go:{binary.file}:{m.path}@{m.version}",
            )
            for m in binary.deps
        ]
        main = binary.main
        application = Component(
            name=main.path,
            version=main.version,
            type=ComponentType.APPLICATION,
            purl=PackageURL("golang", None, main.path, main.version if main.version != "(devel)" else None),
            bom_ref=f"go:{binary.file}",
            properties=[
                Property(name="rockbuild:path", value=binary.file),
                Property(name="rockbuild:go-version", value=binary.go_version),
            ],
            components=modules,
        )
        add(application)
    for component in components.values():
        bom.components.add(component)
    bom.register_dependency(root, components.values())
    document = make_outputter(bom, OutputFormat.JSON, SCHEMA).output_as_string(indent=2)
    error = JsonStrictValidator(SCHEMA).validate_str(document)
    if error is not None:
        raise BuildError(f"the SBOM of {name} {version} is not valid CycloneDX {SCHEMA.to_version()}: {error}")
    return document


def summary(document: dict[str, Any]) -> dict[str, int]:
    """Package counts by ecosystem (Go modules counted once per binary), for progress and the manifest."""
    counts = {"python": 0, "deb": 0, "go-binaries": 0, "go-modules": 0}
    for component in document.get("components", []):
        purl = str(component.get("purl", ""))
        if purl.startswith("pkg:pypi/"):
            counts["python"] += 1
        elif purl.startswith("pkg:deb/"):
            counts["deb"] += 1
        elif component.get("type") == "application":
            counts["go-binaries"] += 1
            counts["go-modules"] += 1 + len(component.get("components", []))
    return counts
