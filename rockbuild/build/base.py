"""The Ubuntu base of a rock, made locally with mmdebstrap instead of pulled from a registry.

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

# base name in rockcraft.yaml -> Ubuntu suite
SUITES = {"ubuntu@20.04": "focal", "ubuntu@22.04": "jammy", "ubuntu@24.04": "noble"}
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Raised whenever _bootstrap makes a different tree, so that every machine makes the base anew.
BASE_RECIPE = 4
BOOTSTRAP_HINT = "Run `make host` (scripts/ensure-host.sh) to install mmdebstrap and ubuntu-keyring."
UBUNTU_KEYRING = "/usr/share/keyrings/ubuntu-archive-keyring.gpg"


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
            "with mmdebstrap. Use one of those, or build with rockcraft (--builder rockcraft)."
        ) from None


def _bootstrap(suite: str, rootfs: Path) -> None:
    """A current point release in one pass: mmdebstrap resolves the packages from the release,
    -updates and -security pockets at once (debootstrap installed the release pocket, then an
    upgrade replaced most of it: 34-59 s against 13 s, the same packages)."""
    commands.require_tool("mmdebstrap", BOOTSTRAP_HINT)
    if not Path(UBUNTU_KEYRING).exists():
        raise BuildError(f"no Ubuntu archive keyring at {UBUNTU_KEYRING}. {BOOTSTRAP_HINT}")
    # Like the registry's ubuntu image: minbase and apt, no CA bundle (a rock that needs one builds
    # it). No mirror is named: mmdebstrap takes the distribution's default, as debootstrap did.
    commands.run(
        [
            "mmdebstrap",
            "--quiet",
            "--variant=minbase",
            "--include=apt,ubuntu-keyring",
            "--components=main,universe",
            f"--keyring={UBUNTU_KEYRING}",
            suite,
            str(rootfs),
        ],
        what=f"mmdebstrap {suite}",
    )
    _require_update_pockets(rootfs, suite)
    # What debootstrap wrote and the registry's image has: UTC, with no time zone data installed.
    (rootfs / "etc/localtime").symlink_to("/usr/share/zoneinfo/UTC")
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
    # An image has no resolv.conf (every runtime, Docker and Kubernetes, provides its own) and no
    # package lists or downloaded debs (build leftovers).
    (rootfs / "etc" / "resolv.conf").unlink(missing_ok=True)
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (rootfs / leftover).glob("*"):
            if item.is_file():
                item.unlink()


def _require_update_pockets(rootfs: Path, suite: str) -> None:
    """mmdebstrap adds -updates and -security only for the Ubuntu releases its host's
    distro-info-data knows; without them the base would be the release pocket (April's libc and
    OpenSSL for noble), not the point release the registry's image is."""
    sources = (rootfs / "etc/apt/sources.list").read_text().split()
    missing = [pocket for pocket in (suite, f"{suite}-updates", f"{suite}-security") if pocket not in sources]
    if missing:
        raise BuildError(
            f"mmdebstrap set up no {', '.join(missing)} pocket for {suite} in {rootfs}/etc/apt/sources.list: "
            "this host's distro-info-data does not know the release; upgrade distro-info-data and mmdebstrap."
        )


def _make_oci_layout(rootfs: Path, oci_dir: Path, tag: str, work: Path) -> None:
    layer = layers.write_layer(rootfs, work / "base-layer.tar")
    image = f"{oci_dir}:{tag}"
    commands.run(["umoci", "init", "--layout", str(oci_dir)], what="umoci init")
    commands.run(["umoci", "new", "--image", image], what="umoci new")
    commands.run(
        ["umoci", "raw", "add-layer", "--image", image, "--history.created_by", "mmdebstrap", str(layer)],
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
    """Return the cached base, making it first if this machine has none (about 15 s)."""
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
    progress.say("base", f"mmdebstrap {suite} (once per machine)")
    work = image.dir.with_name(image.dir.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _bootstrap(suite, work / "rootfs")
    progress.say("base", "OCI layout")
    _make_oci_layout(work / "rootfs", work / "oci", image.tag, work)
    shutil.rmtree(image.dir, ignore_errors=True)
    work.rename(image.dir)
    (image.dir / "complete").write_text(image.digest + "\n")
