"""The Ubuntu base of a rock, made locally with debootstrap instead of pulled from a registry.

Rockcraft pulls `ubuntu:<release>` with skopeo. No registry is reachable from every machine, so the
same minimal Ubuntu root filesystem is bootstrapped once per machine and kept in the cache as:
- `rootfs/`: the unpacked tree (craft-parts' base layer, and the reference for pruning);
- `oci/`: an OCI image layout with that tree as its only layer (what the rock is stacked on);
- the Docker image `rockbuild-base:<release>` (what build containers run).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from rockbuild import docker_engine
from rockbuild import host_tools as commands
from rockbuild.build import layers
from rockbuild.cache import cache_root, exclusive
from rockbuild.errors import BuildError
from rockbuild.progress import Progress

# base name in rockcraft.yaml -> Ubuntu suite that debootstrap knows it by
SUITES = {"ubuntu@20.04": "focal", "ubuntu@22.04": "jammy", "ubuntu@24.04": "noble"}
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Raised whenever _debootstrap makes a different tree, so that every machine makes the base anew.
BASE_RECIPE = 3
DEBOOTSTRAP_HINT = "Run `make host` (scripts/ensure-host.sh) to install debootstrap and ubuntu-keyring."


@dataclass(frozen=True)
class BaseImage:
    name: str  # e.g. "ubuntu@24.04"
    dir: Path

    @property
    def rootfs(self) -> Path:
        return self.dir / "rootfs"

    @property
    def oci_layout(self) -> Path:
        return self.dir / "oci"

    @property
    def oci_ref(self) -> str:
        return f"{self.oci_layout}:{self.tag}"

    @property
    def tag(self) -> str:
        return self.name.replace("@", "-")

    @property
    def docker_image(self) -> str:
        return f"rockbuild-base:{self.tag}"

    @property
    def digest(self) -> str:
        """The manifest digest of the base, as rockcraft records in `org.opencontainers.image.base.digest`."""
        index = json.loads((self.oci_layout / "index.json").read_text())
        return str(index["manifests"][0]["digest"])

    def symlinks(self) -> dict[str, str]:
        return layers.base_symlinks(self.rootfs)


def suite_for(base: str) -> str:
    try:
        return SUITES[base]
    except KeyError:
        raise BuildError(
            f"the local builder cannot make base '{base}' yet; it makes {', '.join(sorted(SUITES))} "
            "with debootstrap. Use one of those, or build with rockcraft (--builder rockcraft)."
        ) from None


def _add_update_suites(rootfs: Path, suite: str) -> None:
    """debootstrap writes only `<suite>`; add -updates and -security from the same archive."""
    sources = rootfs / "etc/apt/sources.list"
    lines = [line for line in sources.read_text().splitlines() if line.startswith("deb ")]
    if not lines:
        raise BuildError(f"debootstrap wrote no 'deb' line to {sources}")
    _, uri, _, *components = lines[0].split()
    extra = [f"deb {uri} {suite}-{pocket} {' '.join(components)}" for pocket in ("updates", "security")]
    sources.write_text("\n".join(lines + extra) + "\n")


def _debootstrap(suite: str, rootfs: Path) -> None:
    commands.require_tool("debootstrap", DEBOOTSTRAP_HINT)
    if not Path(f"/usr/share/debootstrap/scripts/{suite}").exists():
        raise BuildError(f"this debootstrap has no script for '{suite}'. {DEBOOTSTRAP_HINT}")
    # Like the registry's ubuntu image: minbase, no CA bundle (a rock that needs one builds it).
    commands.run(
        ["debootstrap", "--variant=minbase", "--components=main,universe", suite, str(rootfs)],
        what=f"debootstrap {suite}",
    )
    _add_update_suites(rootfs, suite)
    _upgrade(rootfs, suite)
    # The registry's image has the `ubuntu` user (UID 1000) since 23.04.
    commands.run(
        [
            "chroot",
            str(rootfs),
            "useradd",
            "--uid",
            "1000",
            "--user-group",
            "--create-home",
            "--shell",
            "/bin/bash",
            "--comment",
            "Ubuntu",
            "ubuntu",
        ],
        what="adding the ubuntu user to the base",
    )
    # debootstrap copies the build host's resolv.conf (its nameservers); an image has none, and
    # every runtime (Docker, Kubernetes) provides its own.
    (rootfs / "etc" / "resolv.conf").unlink(missing_ok=True)
    # Package lists and downloaded debs are build leftovers, not part of a base image.
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (rootfs / leftover).glob("*"):
            if item.is_file():
                item.unlink()


def _upgrade(rootfs: Path, suite: str) -> None:
    """debootstrap installs the release pocket (April's libc and OpenSSL for noble); the registry's
    image is a current point release. Upgrading from -updates and -security gives the same packages."""
    policy = rootfs / "usr/sbin/policy-rc.d"  # no service may start in the chroot
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    env = ["env", "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C"]
    try:
        commands.run(
            ["chroot", str(rootfs), *env, "apt-get", "update", "-qq"], what=f"apt-get update in the {suite} base"
        )
        commands.run(
            [
                "chroot",
                str(rootfs),
                *env,
                "apt-get",
                "dist-upgrade",
                "-y",
                "-qq",
                "-o",
                "Dpkg::Options::=--force-confold",
            ],
            what=f"upgrading the {suite} base from -updates and -security",
        )
        commands.run(["chroot", str(rootfs), "apt-get", "clean"], what="apt-get clean in the base")
    finally:
        policy.unlink(missing_ok=True)


def _make_oci_layout(rootfs: Path, oci_dir: Path, tag: str, work: Path) -> None:
    layer = layers.write_layer(rootfs, work / "base-layer.tar")
    image = f"{oci_dir}:{tag}"
    commands.run(["umoci", "init", "--layout", str(oci_dir)], what="umoci init")
    commands.run(["umoci", "new", "--image", image], what="umoci new")
    commands.run(
        ["umoci", "raw", "add-layer", "--image", image, "--history.created_by", "debootstrap", str(layer)],
        what="umoci add base layer",
    )
    commands.run(["umoci", "config", "--image", image, "--config.env", PATH_ENV], what="umoci config base")
    layer.unlink()


def ensure_bare(progress: Progress) -> BaseImage:
    """`base: bare`: an empty image (no layer), as rockcraft starts one; the rock brings everything,
    usually as chisel slices. Never loaded into Docker: build containers run the build base."""
    image = BaseImage(name="bare", dir=cache_root() / "bases" / f"bare-r{BASE_RECIPE}")
    with exclusive(image.dir, "the empty base"):
        if not (image.dir / "complete").exists():
            _make_bare(image, progress)
    return image


def _make_bare(image: BaseImage, progress: Progress) -> None:
    progress.say("base", "empty image for base: bare")
    work = image.dir.with_name(image.dir.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    (work / "rootfs").mkdir(parents=True)
    oci = work / "oci"
    commands.run(["umoci", "init", "--layout", str(oci)], what="umoci init")
    commands.run(["umoci", "new", "--image", f"{oci}:{image.tag}"], what="umoci new")
    shutil.rmtree(image.dir, ignore_errors=True)
    work.rename(image.dir)
    (image.dir / "complete").write_text(image.digest + "\n")


def ensure_base(name: str, progress: Progress) -> BaseImage:
    """Return the cached base, making it first if this machine has none (about 30 s)."""
    if name == "bare":
        return ensure_bare(progress)
    suite = suite_for(name)
    image = BaseImage(name=name, dir=cache_root() / "bases" / f"{name.replace('@', '-')}-r{BASE_RECIPE}")
    with exclusive(image.dir, f"the {name} base"):
        if not (image.dir / "complete").exists():
            _make_base(image, suite, progress)
    docker_engine.ensure_image_from_oci(f"oci:{image.oci_ref}", image.docker_image, image.digest, progress)
    return image


def _make_base(image: BaseImage, suite: str, progress: Progress) -> None:
    progress.say("base", f"debootstrap {suite} (once per machine)")
    work = image.dir.with_name(image.dir.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _debootstrap(suite, work / "rootfs")
    progress.say("base", "OCI layout")
    _make_oci_layout(work / "rootfs", work / "oci", image.tag, work)
    shutil.rmtree(image.dir, ignore_errors=True)
    work.rename(image.dir)
    (image.dir / "complete").write_text(image.digest + "\n")
