"""`build.py publish`: push the rocks, upload them as the charm's OCI resources, upload and release
the charm, and record exactly what was released in a JSON manifest.

Each step's outcome goes into the manifest as soon as it is known, so a failure leaves a manifest
that says what was uploaded and what was not. Credentials (CHARMCRAFT_AUTH) travel only in the
environment of the process that needs them and are redacted from everything printed or recorded.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from rockbuild import atomic
from rockbuild.build import oci, sbom
from rockbuild.build.project import load_project
from rockbuild.publish import store_argv as cmd

SECRET_ENV = ("CHARMCRAFT_AUTH",)
BASE_DIGEST_LABEL = "org.opencontainers.image.base.digest"


@dataclass
class ResourceRecord:
    resource: str
    rock: str
    version: str
    rock_file: str
    base_digest: str | None = None  # the base image's, from the .rock's labels (none for base: bare)
    sbom: str | None = None  # the rock's CycloneDX SBOM, beside the .rock
    digest: str | None = None
    image: str | None = None
    revision: int | None = None
    state: str = "pending"  # pending, pushed, uploaded, failed


@dataclass
class Manifest:
    charm: str
    charm_file: str
    channel: str | None
    registry: str | None
    resources: list[ResourceRecord]
    charm_revision: int | None = None
    released: bool = False
    status: str = "running"  # running, complete, failed, dry-run
    error: str | None = None
    deploy: str | None = None
    refresh: str | None = None  # the same release for a deployed application (charm README: Upgrading)
    created: str = field(default_factory=lambda: datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"))

    def write(self, path: Path) -> None:
        if self.status == "dry-run":
            return  # a dry run must not replace the record of a real release
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, json.dumps(dataclasses.asdict(self), indent=2) + "\n")


@dataclass(frozen=True)
class Options:
    charm_dir: Path
    rocks_dir: Path
    manifest: Path
    registry: str | None = None  # images go to <registry>/<rock>:<version>
    registry_tls_verify: bool = True
    charmhub: bool = True
    channel: str = "latest/edge"
    dry_run: bool = False


class Runner(Protocol):
    """Runs one command; returns its standard output, or None in a dry run. Raises StoreError."""

    def __call__(self, argv: list[str]) -> str | None: ...


def redact(text: str) -> str:
    for name in SECRET_ENV:
        value = os.environ.get(name)
        if value:
            text = text.replace(value, f"<{name}>")
    return text


def run_on_host(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = redact((result.stderr or result.stdout).strip())
        raise cmd.StoreError(f"{argv[0]} {argv[1]} failed (exit {result.returncode}): {detail[-600:]}")
    return result.stdout


def dry_runner(say: Callable[[str], None]) -> Runner:
    def run(argv: list[str]) -> None:
        say("would run: " + shlex.join(argv))

    return run


def upstream_sources(manifest: Path) -> dict[str, str]:
    """Resource -> the image a publish pushed, from its manifest (none if it pushed nothing)."""
    try:
        recorded = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return {}
    return {r["resource"]: r["image"] for r in recorded.get("resources", []) if r.get("image") and r.get("digest")}


def plan_resources(options: Options) -> tuple[str, list[ResourceRecord]]:
    """The charm's name and one record per OCI resource, each from the rock named `<rock>-image`."""
    meta = yaml.safe_load((options.charm_dir / "charmcraft.yaml").read_text())
    records = []
    for resource, spec in sorted((meta.get("resources") or {}).items()):
        if spec.get("type") != "oci-image":
            continue
        rock = resource.removesuffix("-image")
        rockcraft = options.rocks_dir / rock / "rockcraft.yaml"
        if not rockcraft.is_file():
            raise cmd.StoreError(f"resource {resource}: no rock at {rockcraft} (resources are named <rock>-image)")
        project = load_project(rockcraft)
        arch = next(iter(project.platforms))
        rock_file = rockcraft.parent / f"{project.name}_{project.version}_{arch}.rock"
        labels = oci.rock_labels(rock_file) if rock_file.is_file() else {}
        document = sbom.sbom_path(rock_file)
        records.append(
            ResourceRecord(
                resource,
                project.name,
                str(project.version),
                str(rock_file),
                base_digest=labels.get(BASE_DIGEST_LABEL),
                sbom=str(document) if document.is_file() else None,
            )
        )
    return str(meta["name"]), records


def publish(
    options: Options,
    charm_file: Path,
    host: Runner,
    charmcraft: Runner,
    say: Callable[[str], None],
    pack_charm: Callable[[dict[str, str]], Path] | None = None,
) -> Manifest:
    """Run the whole flow; the returned manifest (also written to options.manifest) says how far it got.

    With `pack_charm`, the charm is packed after the rocks were pushed, with each pushed image as its
    resource's `upstream-source`, and that charm is the one uploaded."""
    charm, records = plan_resources(options)
    manifest = Manifest(
        charm=charm,
        charm_file=str(charm_file),
        channel=options.channel if options.charmhub else None,
        registry=options.registry,
        resources=records,
        status="dry-run" if options.dry_run else "running",
    )
    try:
        for record in records:
            _push_and_upload(record, options, charm, host, charmcraft, say)
            manifest.write(options.manifest)
        pushed = {r.resource: r.image for r in records if r.image}
        if pack_charm is not None and pushed:
            charm_file = pack_charm(pushed)
            manifest.charm_file = str(charm_file)
            manifest.write(options.manifest)
        if options.charmhub:
            say(f"charm {charm}: upload {charm_file}")
            out = charmcraft(cmd.upload_charm(charm, charm_file))
            manifest.charm_revision = None if out is None else cmd.parse_revision(out, f"upload of {charm_file}")
            manifest.write(options.manifest)
            revisions = {r.resource: _shown(r.revision, f"<{r.resource} revision>") for r in records}
            say(f"charm {charm}: release to {options.channel}")
            charmcraft(
                cmd.release(charm, _shown(manifest.charm_revision, "<charm revision>"), options.channel, revisions)
            )
            manifest.released = not options.dry_run
            deploy_resources = revisions
        else:
            deploy_resources = {r.resource: _shown(r.image, f"<{r.resource} image>") for r in records}
        manifest.deploy = cmd.deploy_command(charm, manifest.channel, deploy_resources, charm_file)
        manifest.refresh = cmd.refresh_command(charm, manifest.channel, deploy_resources, charm_file)
        if not options.dry_run:
            manifest.status = "complete"
    except cmd.StoreError as exc:
        manifest.status, manifest.error = "failed", redact(str(exc))
        for record in records:
            if record.state == "pending":
                record.state = "not attempted"
        manifest.write(options.manifest)
        raise cmd.StoreError(f"{manifest.error} (what was done is recorded in {options.manifest})") from exc
    manifest.write(options.manifest)
    return manifest


def _push_and_upload(
    record: ResourceRecord, options: Options, charm: str, host: Runner, charmcraft: Runner, say: Callable[[str], None]
) -> None:
    rock_file = Path(record.rock_file)
    repository = f"{options.registry.rstrip('/')}/{record.rock}" if options.registry else None
    try:
        if repository:
            destination = f"{repository}:{record.version}"
            say(f"rock {record.rock}: push to {destination}")
            with tempfile.TemporaryDirectory() as scratch:
                digest_file = Path(scratch) / "digest"
                out = host(cmd.skopeo_push(rock_file, destination, digest_file, options.registry_tls_verify))
                if out is not None:
                    record.digest = cmd.parse_digest(digest_file.read_text(), f"push of {record.rock}")
                    record.image, record.state = f"{repository}@{record.digest}", "pushed"
        else:
            out = host(cmd.skopeo_digest(rock_file))
            record.digest = None if out is None else cmd.parse_digest(out, f"digest of {rock_file}")
        if options.charmhub:
            # From the registry when the rock was pushed there (the same bytes, by digest), else the .rock.
            source = f"docker://{repository}@{_shown(record.digest, '<digest>')}" if repository else str(rock_file)
            say(f"rock {record.rock}: upload as resource {record.resource}")
            out = charmcraft(cmd.upload_resource(charm, record.resource, source))
            if out is not None:
                record.revision = cmd.parse_revision(out, f"upload of resource {record.resource}")
                record.state = "uploaded"
    except cmd.StoreError:
        record.state = "failed"
        raise


def _shown(value: Any, placeholder: str) -> Any:
    return placeholder if value is None else value
