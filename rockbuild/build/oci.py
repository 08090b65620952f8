"""Assembling the rock's OCI image on top of the base, and exporting it as a `.rock` archive.

The layers and their order follow `rockcraft/services/package.py::_pack`: the primed tree, the
_daemon_ user (if `run-user` is set), the Pebble layer file, the `.rock` control data; then the
image config (entrypoint, environment, user, labels) and the manifest annotations.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rockbuild import atomic
from rockbuild import host_tools as commands
from rockbuild.build import layers, metadata, pebble
from rockbuild.build.base import BaseImage
from rockbuild.build.local_support import host_architecture
from rockbuild.build.project import Project
from rockbuild.errors import BuildError
from rockbuild.progress import Progress

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"


@dataclass
class ImageLayout:
    dir: Path
    tag: str

    @property
    def ref(self) -> str:
        return f"{self.dir}:{self.tag}"


def _add_layer(image: ImageLayout, tarball: Path, history: str) -> None:
    commands.run(
        ["umoci", "raw", "add-layer", "--image", image.ref, "--history.created_by", history, str(tarball)],
        what=f"add layer ({history})",
    )
    tarball.unlink()


def config_args(project: Project, version: str, annotations: dict[str, str]) -> list[str]:
    """`umoci config` arguments for entrypoint, cmd, environment, user, labels and annotations."""
    entrypoint, cmd = pebble.entrypoint_and_cmd(project)
    args = ["--clear=config.entrypoint", "--clear=config.cmd"]
    args += [f"--config.entrypoint={item}" for item in entrypoint]
    args += [f"--config.cmd={item}" for item in cmd]
    if project.base == "bare":
        # Pebble's default PATH, so that a container run without the entrypoint finds the same programs.
        args.append("--config.env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    args += [f"--config.env={key}={value}" for key, value in (project.environment or {}).items()]
    if project.run_user:
        args.append(f"--config.user={metadata.DAEMON_ID}")
    for key, value in annotations.items():
        args += [f"--config.label={key}={value}", f"--manifest.annotation={key}={value}"]
    return args


def assemble(
    project: Project, version: str, base: BaseImage, prime: Path, work: Path, progress: Progress
) -> ImageLayout:
    """Build the image as an OCI layout under `work`; return it."""
    commands.require_tool("umoci", "Run `make host` to install it.")
    image = ImageLayout(work / "oci", version)
    shutil.rmtree(image.dir, ignore_errors=True)
    shutil.copytree(base.oci_layout, image.dir)
    commands.run(
        ["umoci", "tag", "--image", base.oci_ref.replace(str(base.oci_layout), str(image.dir)), version],
        what="tag the base",
    )
    commands.run(["umoci", "rm", "--image", f"{image.dir}:{base.tag}"], what="untag the base")
    links = base.symlinks()
    created = metadata.build_time()

    progress.say("image", "layer: primed files")
    prime_tar = layers.write_layer(prime, work / "prime.tar", links, prune_against=base.rootfs)
    _add_layer(image, prime_tar, "rockbuild: primed parts")

    if project.run_user:
        try:
            user_files = metadata.daemon_user_files(prime, base.rootfs, created)
        except ValueError as exc:
            raise BuildError(f"run-user {project.run_user}: {exc}") from exc
        tarball = layers.write_files_layer(
            {path: (text.encode(), 0o644) for path, text in user_files.items()}, work / "user.tar"
        )
        _add_layer(
            image,
            tarball,
            f"Add user {metadata.DAEMON_USER}:{metadata.DAEMON_ID} with group "
            f"{metadata.DAEMON_USER}:{metadata.DAEMON_ID}",
        )

    layer_yaml = pebble.layer_yaml(project)
    if layer_yaml is not None:
        tarball = layers.write_files_layer(
            {pebble.layer_path(project.name): (layer_yaml.encode(), 0o777)},
            work / "pebble.tar",
            dirs={"var/lib/pebble": 0o755, "var/lib/pebble/default": 0o777, pebble.LAYERS_DIR: 0o755},
        )
        _add_layer(image, tarball, "rockbuild: Pebble layer")

    base_digest = base.digest
    control = metadata.control_metadata(project, version, created, host_architecture(), base_digest)
    tarball = layers.write_files_layer(
        {metadata.CONTROL_FILE: (control.encode(), 0o644)}, work / "control.tar", dirs={".rock": 0o755}
    )
    _add_layer(image, tarball, "rockbuild: control data")

    annotations = metadata.image_annotations(project, version, created, base_digest)
    commands.run(
        ["umoci", "config", "--image", image.ref, *config_args(project, version, annotations)], what="set image config"
    )
    add_manifest_media_type(image.dir)
    commands.run(["umoci", "gc", "--layout", str(image.dir)], what="umoci gc")
    return image


def add_manifest_media_type(layout: Path) -> None:
    """Give each manifest its `mediaType`, as rockcraft's manifests have; umoci 0.4 leaves it out.

    The field is optional in the OCI spec but some registries and tools expect it. Adding it
    changes the manifest's bytes, so the blob is rewritten and the index points at the new digest.
    """
    index_path = layout / "index.json"
    index = json.loads(index_path.read_text())
    for descriptor in index["manifests"]:
        algorithm, _, hexdigest = descriptor["digest"].partition(":")
        manifest = json.loads((layout / "blobs" / algorithm / hexdigest).read_text())
        if "mediaType" in manifest:
            continue
        manifest = {"schemaVersion": manifest.pop("schemaVersion", 2), "mediaType": MANIFEST_MEDIA_TYPE, **manifest}
        blob = json.dumps(manifest, separators=(",", ":")).encode()
        new_hex = hashlib.sha256(blob).hexdigest()
        (layout / "blobs" / "sha256" / new_hex).write_bytes(blob)
        descriptor.update(digest=f"sha256:{new_hex}", size=len(blob), mediaType=MANIFEST_MEDIA_TYPE)
    index_path.write_text(json.dumps(index, separators=(",", ":")))


def export_archive(image: ImageLayout, out: Path) -> Path:
    """Write the image as an OCI archive at `out`, atomically: on failure no `.rock` is left."""
    commands.require_tool("skopeo", "Run `make host` to install it.")
    with atomic.replacing(out) as partial:
        commands.run(
            [
                "skopeo",
                "--insecure-policy",
                "copy",
                "--quiet",
                f"oci:{image.ref}",
                f"oci-archive:{partial}:{image.tag}",
            ],
            what=f"export {out.name}",
        )
    return out


def rock_labels(rock_file: Path) -> dict[str, str]:
    """The image config's labels of a `.rock` (an OCI archive), read without unpacking it."""
    with tarfile.open(rock_file) as archive:

        def blob(name: str) -> dict[str, object]:
            member = archive.extractfile(name)
            if member is None:
                raise BuildError(f"{rock_file}: {name} is not a file")
            document: dict[str, object] = json.loads(member.read())
            return document

        def digest_path(descriptor: object) -> str:
            algorithm, _, hexdigest = str(descriptor["digest"]).partition(":")  # type: ignore[index]
            return f"blobs/{algorithm}/{hexdigest}"

        index: Any = blob("index.json")
        manifest: Any = blob(digest_path(index["manifests"][0]))
        config: Any = blob(digest_path(manifest["config"]))
    labels = config.get("config", {}).get("Labels") or {}
    return {str(k): str(v) for k, v in labels.items()}
