"""The build-tool image of a build base (the base plus craft-parts), and the Go tools built from
source in it (Pebble; chisel is built the same way by chisel.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from rockbuild import docker_engine
from rockbuild.build.base import BaseImage
from rockbuild.build.buildenv.containers import commit_image, remove_older_images, run_once
from rockbuild.cache import cache_root, digest_of, exclusive
from rockbuild.progress import Progress

HERE = Path(__file__).parent


TOOL_IMAGE_RECIPE = "3"  # bump when ensure_tool_image changes how the image is made


PEBBLE_VERSION = "v1.32.1"
# The Go toolchain of every Go build, the rocks' Go parts included (their build-environment names
# the same): one download, and the standard library compiled once into the shared build cache.
GO_TOOLCHAIN = "go1.26.11"


def ensure_tool_image(base: BaseImage, progress: Progress) -> str:
    """The build-tool image for `base`, made once per base and tool set."""
    requirements = (HERE / "requirements.txt").read_bytes()
    setup = (HERE / "setup-tools.sh").read_bytes()
    ref = f"rockbuild-tools:{base.tag}-{digest_of(TOOL_IMAGE_RECIPE, base.digest, requirements, setup)}"
    if docker_engine.image_id(ref):
        return ref
    with exclusive(cache_root() / "locks" / f"tool-image-{base.tag}", "the build-tool image"):
        if docker_engine.image_id(ref):
            return ref
        progress.say("build environment", f"make {ref} (once per machine)")
        commit_image(
            base.docker_image,
            ref,
            {"setup-tools.sh": setup, "requirements.txt": requirements},
            "bash /rockbuild-setup/setup-tools.sh",
            cache_root() / "logs" / "tool-image.log",
            "making the build-tool image",
        )
        remove_older_images(base, keep=ref)
    return ref


def build_go_binary(
    tool_image: str,
    module: str,
    version: str,
    package: str,
    out_dir: Path,
    binary: str,
    progress: Progress,
    *,
    pinned_sum: str | None = None,
) -> None:
    """Build `module@version`'s `package` statically into `out_dir/binary`, once (the directory is
    made atomically). With `pinned_sum`, the module is left out of the public checksum database
    (GONOSUMDB) and its hash must equal the pin instead.

    `go install module@version` also asks the proxy for the module's version list (deprecation
    check), which some proxies refuse; downloading the exact version and building it does not. Go
    comes into this throw-away container only: the tool image carries no tool for parts.
    """
    if (out_dir / binary).is_file():
        return
    with exclusive(out_dir, f"{binary} {version}"):
        if (out_dir / binary).is_file():  # another build made it while this one waited
            return
        progress.say(out_dir.parent.name, f"build {module}@{version} from the Go module proxy")
        staging = out_dir.with_name(out_dir.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        go_cache = cache_root() / "go"
        go_cache.mkdir(parents=True, exist_ok=True)
        env = f"GOTOOLCHAIN={GO_TOOLCHAIN} CGO_ENABLED=0 GOPATH=/go GOCACHE=/go/build-cache GOFLAGS=-modcacherw"
        check = ""
        if pinned_sum:
            env += f' GONOSUMDB="${{GONOSUMDB:+$GONOSUMDB,}}{module}"'
            check = (
                f'grep -q \'"Sum": "{pinned_sum}"\' /tmp/module.json || '
                f"{{ echo '{module}@{version}: the module proxy served a module whose hash is not {pinned_sum}' >&2; "
                "cat /tmp/module.json >&2; exit 1; }; "
            )
        script = (
            "set -e; apt-get install -y -qq --no-install-recommends golang-go >/dev/null; "
            f"export {env}; go mod download -json {module}@{version} > /tmp/module.json; {check}"
            'src=$(sed -n \'s/^[[:space:]]*"Dir": "\\(.*\\)",$/\\1/p\' /tmp/module.json); '
            f"cd \"$src\" && go build -trimpath -ldflags='-s -w' -o /out/{binary} {package}"
        )
        run_once(
            tool_image,
            script,
            {str(go_cache): {"bind": "/go", "mode": "rw"}, str(staging): {"bind": "/out", "mode": "rw"}},
            cache_root() / "logs" / f"{binary}.log",
            f"building {module}@{version}",
        )
        shutil.rmtree(out_dir, ignore_errors=True)
        staging.rename(out_dir)


def pebble_builds() -> Path:
    """The machine's Pebble builds, one directory per version (a build container mounts them all,
    so a build can start before its Pebble is made: see `pebble.hidden_part`)."""
    return cache_root() / "pebble"


def ensure_pebble(tool_image: str, progress: Progress) -> Path:
    """A static Pebble binary built from source at PEBBLE_VERSION, as upstream builds it."""
    out_dir = pebble_builds() / PEBBLE_VERSION
    build_go_binary(
        tool_image, "github.com/canonical/pebble", PEBBLE_VERSION, "./cmd/pebble", out_dir, "pebble", progress
    )
    return out_dir
