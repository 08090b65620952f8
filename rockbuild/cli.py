"""Command line: `build.py rocks` builds rocks, `build.py validate` checks rockcraft.yaml files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rockbuild import build_rock
from rockbuild.build import local_build, local_support, releases
from rockbuild.build.project import load_project
from rockbuild.errors import BuildError
from rockbuild.parity import check
from rockbuild.progress import Progress
from rockbuild.publish import charm_pack as charmpack
from rockbuild.publish import job as publish_job
from rockbuild.publish import release as publish
from rockbuild.real_rockcraft import source
from rockbuild.upkeep import prune, python_lock

ROCKS_DIR = Path(__file__).resolve().parent.parent / "rocks"
ROCKCRAFT_SOURCE_HELP = (
    "where real rockcraft comes from when it is not installed: a source archive or directory of a release "
    "(rockcraft-<version>.tar.gz; its uv.lock pins the dependencies), or a pip requirement "
    "(default: $ROCKBUILD_ROCKCRAFT_SOURCE)"
)

RELEASE_HELP = (
    "an earlier Indico release with pins under rocks/releases/<VERSION>/<rock>/ (e.g. 3.3.13, for refresh tests): "
    "the rock is built from the same rockcraft.yaml with those files laid over its directory and tagged "
    "<rock>:<VERSION>"
)


def rock_dirs(names: list[str], rocks_dir: Path) -> list[Path]:
    available = sorted(p.parent for p in rocks_dir.glob("*/rockcraft.yaml"))
    if not names:
        return available
    chosen = []
    for name in names:
        path = Path(name)
        if (path / "rockcraft.yaml").is_file():
            chosen.append(path)
        elif (rocks_dir / name / "rockcraft.yaml").is_file():
            chosen.append(rocks_dir / name)
        else:
            known = ", ".join(p.name for p in available) or "none"
            raise BuildError(f"no rock '{name}': expected {rocks_dir / name / 'rockcraft.yaml'} (rocks here: {known})")
    return chosen


def cmd_rocks(args: argparse.Namespace) -> int:

    dirs = rock_dirs(args.names, args.rocks_dir)
    if not dirs:
        print(f"no rocks to build: {args.rocks_dir} has no */rockcraft.yaml", file=sys.stderr)
        return 0
    if args.release:
        dirs = [releases.materialize(rock_dir, args.release) for rock_dir in dirs]
    jobs = args.jobs or build_rock.default_jobs(len(dirs))
    build_rock.build_all(
        dirs, args.builder, jobs, verbose=args.verbose, force=args.force, rockcraft_source=args.rockcraft_source
    )
    return 0


def cmd_parity(args: argparse.Namespace) -> int:

    rockcraft = source.resolve(args.rockcraft_source)
    failed = 0
    for rock_dir in rock_dirs(args.names, args.rocks_dir):
        result = check.check(rock_dir, rockcraft, args.out / rock_dir.name, Progress(rock_dir.name), cold=args.cold)
        print(f"{result.rock}: {len(result.found)} differences, {len(result.unexpected)} not in the allow-list")
        print(f"  rockcraft: {result.rockcraft_rock}\n  local:     {result.local_rock}")
        for difference in result.allowed if args.all else []:
            print(f"  allowed    {difference}")
        for difference in result.unexpected:
            print(f"  UNEXPECTED {difference}")
        failed += bool(result.unexpected)
    return 1 if failed else 0


def cmd_validate(args: argparse.Namespace) -> int:

    for rock_dir in rock_dirs(args.names, args.rocks_dir):
        source = rock_dir / "rockcraft.yaml"
        project = load_project(source)
        problems = local_support.unsupported(project, str(source))
        note = "" if not problems else " (rockcraft only: " + "; ".join(problems) + ")"
        print(f"{source}: valid{note}")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:

    for rock_dir in rock_dirs(args.names, args.rocks_dir):
        local_build.forget(rock_dir)
        print(f"{rock_dir}: part work, build container and stamp removed; the next build starts cold")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    return prune.run(dry_run=args.dry_run)


def cmd_lock(args: argparse.Namespace) -> int:

    for rock_dir in rock_dirs(args.names, args.rocks_dir):
        locked_dir = releases.materialize(rock_dir, args.release) if args.release else rock_dir
        written = python_lock.lock(
            locked_dir, Progress(rock_dir.name), upgrade=args.upgrade, upgrade_packages=args.upgrade_package
        )
        for path in releases.keep_lock(rock_dir, args.release, written) if args.release else written:
            print(f"wrote {path}")
    return 0


def cmd_charm(args: argparse.Namespace) -> int:

    upstream = {} if args.no_upstream_source else publish.upstream_sources(args.manifest)
    built = charmpack.pack(args.charm_dir, Progress("charm"), upstream_sources=upstream)
    print(built)
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    return publish_job.run(args)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="build.py",
        description="Build the project's rocks (OCI images) from rocks/*/rockcraft.yaml, with rockcraft or without it.",
    )
    top.add_argument(
        "--rocks-dir", type=Path, default=ROCKS_DIR, help="where the rock directories live (default: %(default)s)"
    )
    sub = top.add_subparsers(dest="command", required=True)

    rocks = sub.add_parser(
        "rocks",
        help="build rocks into rocks/<name>/<name>_<version>_<platform>.rock and load them into Docker",
        description=(
            "Build each named rock (default: all under rocks/). The result is an OCI archive next to its "
            "rockcraft.yaml, loaded into the local Docker engine as <name>:<version>. The local builder needs "
            "Docker, skopeo, umoci and mmdebstrap (`make host` installs them) and caches its base image, "
            "build tools and part work under $ROCKBUILD_CACHE (default ~/.cache/rockbuild). Build containers "
            "trust $ROCKBUILD_CA_BUNDLE (default: this host's CA bundle); it never enters the image."
        ),
    )
    rocks.add_argument("names", nargs="*", help="rock names (directories under rocks/) or paths to rock directories")
    rocks.add_argument(
        "--builder",
        choices=("auto", "rockcraft", "local"),
        default="auto",
        help=(
            "auto: rockcraft if it is on PATH, else local. rockcraft: the installed rockcraft, or, when there is "
            "none, real rockcraft run in an Ubuntu container from --rockcraft-source (default: %(default)s)"
        ),
    )
    rocks.add_argument("--rockcraft-source", metavar="SOURCE", help=ROCKCRAFT_SOURCE_HELP)
    rocks.add_argument("--release", metavar="VERSION", help=RELEASE_HELP)
    rocks.add_argument("--verbose", "-v", action="store_true", help="show skipped steps and the build output")
    rocks.add_argument("--force", action="store_true", help="rebuild even when nothing changed since the last build")
    rocks.add_argument(
        "--jobs",
        "-j",
        type=int,
        metavar="N",
        help="build up to N rocks at once (default: every rock, at most cores + 1; 1 builds them in turn)",
    )
    rocks.set_defaults(func=cmd_rocks)

    parity = sub.add_parser(
        "parity",
        help="pack rocks with real rockcraft and with the local builder, and compare the two",
        description=(
            "For each named rock (default: all), build it with the local builder and pack it with real rockcraft "
            "in an Ubuntu container (`rockcraft pack --destructive-mode`, base image served from the local base "
            "on loopback, Pebble from the local build), then compare image config, labels, annotations, "
            ".rock/metadata.yaml, and every layer's files (path, type, mode, owner, size, link target, content). "
            "Differences listed in rockbuild/parity/allowlist.yaml are expected (docs/local-builder.md says why); "
            "any other makes the command fail."
        ),
    )
    parity.add_argument("names", nargs="*", help="rock names or paths to rock directories")
    parity.add_argument("--rockcraft-source", metavar="SOURCE", help=ROCKCRAFT_SOURCE_HELP)
    parity.add_argument(
        "--out", type=Path, default=Path("parity-out"), help="where both .rock files go (default: %(default)s)"
    )
    parity.add_argument(
        "--cold",
        action="store_true",
        help="both builders start from no part state (the local builder on a copy of the rock's directory)",
    )
    parity.add_argument("--all", action="store_true", help="also list the allowed differences")
    parity.set_defaults(func=cmd_parity)

    validate = sub.add_parser(
        "validate",
        help="check rockcraft.yaml files as rockcraft does, without building",
        description=(
            "Validate each named rock's rockcraft.yaml (default: all) and say whether the local builder can build it."
        ),
    )
    validate.add_argument("names", nargs="*", help="rock names or paths to rock directories")
    validate.set_defaults(func=cmd_validate)

    forget = sub.add_parser(
        "forget",
        help="drop a rock's part work, build container and stamp so that its next build starts cold",
        description=(
            "Forget what the local builder kept for each named rock (default: all): its craft-parts work "
            "directory, its build container and the record of its last build. Machine-wide caches (the base, "
            "the build-tool image, Pebble, downloads) stay; remove $ROCKBUILD_CACHE for those."
        ),
    )
    forget.add_argument("names", nargs="*", help="rock names or paths to rock directories")
    forget.set_defaults(func=cmd_forget)

    prune_parser = sub.add_parser(
        "prune",
        help="remove build containers, work directories and tool images of rock directories that are gone",
        description=(
            "Every checkout that builds rocks gets its own build containers and craft-parts work directories "
            "(about 1.5 GB for this project's rocks), and real rockcraft's project copies when it packs with "
            "rockcraft or checks parity (about 2 GB more), which stay when the checkout is deleted. This removes those "
            "of rock directories that no longer exist, and build-tool images that no remaining build container "
            "uses (the newest always stays). Work directories whose owner is unknown are listed, not removed; "
            "one a build is using is skipped. Machine-wide caches (base, Pebble, downloads) stay."
        ),
    )
    prune_parser.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")
    prune_parser.set_defaults(func=cmd_prune)

    lock_parser = sub.add_parser(
        "lock",
        help="re-pin a rock's Python dependencies with the hashes of every file (requirements.txt)",
        description=(
            "For each named rock (default: all) and each python part whose source directory holds "
            "requirements.in, write requirements.txt (every package pinned, with the SHA-256 of every file the "
            "index has for that version) and build-tools.txt (its entries for the tools that build source "
            "distributions), with pip-tools in the rock's build base and the part's build-packages. Uses the "
            "index this host's pip uses ($PIP_INDEX_URL) and trusts $ROCKBUILD_CA_BUNDLE like builds. Versions "
            "already pinned stay unless --upgrade or --upgrade-package says otherwise. The rock's build installs "
            "with --require-hashes, so a file that differs from the lock fails the build."
        ),
    )
    lock_parser.add_argument("names", nargs="*", help="rock names or paths to rock directories")
    lock_parser.add_argument("--upgrade", action="store_true", help="take the newest allowed version of everything")
    lock_parser.add_argument(
        "--upgrade-package", action="append", default=[], metavar="NAME", help="take the newest allowed NAME (repeat)"
    )
    lock_parser.add_argument(
        "--release",
        metavar="VERSION",
        help="lock an earlier release's part: its requirements.in and lock under rocks/releases/<VERSION>/<rock>/",
    )
    lock_parser.set_defaults(func=cmd_lock)

    charm = sub.add_parser(
        "charm",
        help="pack charm/ into charm/<name>_<platform>.charm with charmcraft, without LXD",
        description=(
            "Pack the charm with real charmcraft (pinned) in --destructive-mode, inside a throw-away Ubuntu "
            "24.04 container of the build-tool image. Needs Docker; trusts $ROCKBUILD_CA_BUNDLE like rock builds. "
            "When the publish manifest records images pushed to a registry, each becomes its resource's "
            "upstream-source in the packed charm (so `juju deploy ./<charm>` finds them)."
        ),
    )
    charm.add_argument("--charm-dir", type=Path, default=ROCKS_DIR.parent / "charm", help="default: %(default)s")
    charm.add_argument(
        "--manifest",
        type=Path,
        default=ROCKS_DIR.parent / "release-manifest.json",
        help="publish manifest whose pushed images become upstream-source (default: %(default)s)",
    )
    charm.add_argument("--no-upstream-source", action="store_true", help="pack charmcraft.yaml as it is")
    charm.set_defaults(func=cmd_charm)

    publish_job.add_parser(sub, ROCKS_DIR.parent).set_defaults(func=cmd_publish)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
