"""The publish job as `build.py publish` runs it: check where it publishes to and with which
credentials, build the rocks, pack the charm, then push, upload and record (release.py)."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

from rockbuild import build_rock
from rockbuild.errors import BuildError
from rockbuild.progress import Progress
from rockbuild.publish import charm_pack as charmpack
from rockbuild.publish import release as publish
from rockbuild.publish.charmcraft_session import CharmcraftSession


def run(args: argparse.Namespace) -> int:
    """`args`: the publish command's options (see `build.py publish --help`)."""
    if args.no_charmhub and not args.registry:
        raise BuildError("--no-charmhub leaves nowhere to publish to: name a registry with --registry")
    charmhub = not args.no_charmhub
    if charmhub and not args.dry_run and not os.environ.get("CHARMCRAFT_AUTH"):
        raise BuildError(
            "CHARMCRAFT_AUTH is not set: export the credentials from `charmcraft login --export=FILE` "
            "(CHARMCRAFT_AUTH=$(cat FILE)), or use --dry-run, or --no-charmhub with --registry"
        )
    options = publish.Options(
        charm_dir=args.charm_dir,
        rocks_dir=args.rocks_dir,
        manifest=args.manifest,
        registry=args.registry,
        registry_tls_verify=not args.registry_insecure,
        charmhub=charmhub,
        channel=args.channel,
        dry_run=args.dry_run,
    )
    progress = Progress("publish")
    charm, records = publish.plan_resources(options)
    charm_file = args.charm_dir / f"{charm}_amd64.charm"
    if not args.dry_run:
        for record in records:
            build_rock.build(args.rocks_dir / record.rock, "auto")
        if charmhub and not args.registry:
            charm_file = charmpack.pack(args.charm_dir, Progress("charm"))
    say = lambda message: progress.say("publish", message)  # noqa: E731
    host: publish.Runner = publish.dry_runner(say) if args.dry_run else publish.run_on_host
    with contextlib.ExitStack() as stack:
        if args.dry_run or not charmhub:
            charmcraft: publish.Runner = publish.dry_runner(say)
        else:
            charmcraft = stack.enter_context(CharmcraftSession([args.charm_dir, args.rocks_dir], progress))
        # Pushed to a registry: the charm is packed after the push, naming each image as upstream-source.
        pack_charm = None
        if args.registry and not args.dry_run:
            pack_charm = lambda images: charmpack.pack(args.charm_dir, Progress("charm"), upstream_sources=images)  # noqa: E731
        manifest = publish.publish(options, charm_file, host, charmcraft, say, pack_charm)
    print("dry run: nothing was run or recorded" if args.dry_run else f"manifest: {options.manifest}")
    print(f"deploy with: {manifest.deploy}")
    print(f"or refresh a deployment with: {manifest.refresh}")
    return 0


def add_parser(sub: argparse._SubParsersAction, repo: Path) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """`build.py publish`'s options; `repo` is where the manifest and the charm live by default."""
    publish: argparse.ArgumentParser = sub.add_parser(
        "publish",
        help="push the rocks, upload them as the charm's resources, upload and release the charm",
        description=(
            "Publish what `rocks` and `charm` build. With --registry, push each rock with skopeo to "
            "<registry>/<rock>:<version>. Unless --no-charmhub, upload each rock as the charm's OCI resource "
            "<rock>-image with `charmcraft upload-resource` (from the registry by digest when pushed there, "
            "else from the .rock), upload the charm, and `charmcraft release` it to --channel with those "
            "resource revisions. Every outcome is written to a JSON manifest (charm revision, channel, each "
            "resource's revision and image digest, rock versions), also when a step fails, and the matching "
            "`juju deploy` line is printed. Charmhub credentials come only from $CHARMCRAFT_AUTH (from "
            "`charmcraft login --export`) and are never printed or recorded. Registry credentials: `skopeo "
            "login` beforehand. Rocks are built first when out of date; for Charmhub the charm is packed first."
        ),
    )
    publish.add_argument("--registry", metavar="PREFIX", help="e.g. ghcr.io/acme or 127.0.0.1:5000/indico")
    publish.add_argument(
        "--registry-insecure", action="store_true", help="plain HTTP, no TLS verification (for a loopback registry)"
    )
    publish.add_argument("--no-charmhub", action="store_true", help="only push to --registry; no charmcraft at all")
    publish.add_argument(
        "--channel", default="latest/edge", help="Charmhub channel to release to (default: %(default)s)"
    )
    publish.add_argument("--manifest", type=Path, default=repo / "release-manifest.json", help="default: %(default)s")
    publish.add_argument("--dry-run", action="store_true", help="print every command without running any")
    publish.add_argument("--charm-dir", type=Path, default=repo / "charm", help="default: %(default)s")
    return publish
