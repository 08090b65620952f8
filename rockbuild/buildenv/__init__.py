"""The build environment: a build-tool image and one persistent build container per rock.

Rockcraft runs the parts lifecycle in an LXD instance of the build base and keeps that instance
between builds. The local builder does the same with Docker: the tool image is the base plus
craft-parts, and each rock gets a container that is stopped, not removed, after a build, so that
build-packages installed once stay installed.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors

from rockbuild import docker_engine
from rockbuild.base import BaseImage
from rockbuild.cache import cache_root, digest_of
from rockbuild.errors import BuildError
from rockbuild.progress import Progress

HERE = Path(__file__).parent
SOURCE_ROOT = HERE.parent.parent  # the directory that holds the rockbuild package
PEBBLE_VERSION = "v1.32.1"
TOOL_IMAGE_RECIPE = "3"  # bump when ensure_tool_image changes how the image is made
CA_IN_CONTAINER = "/rockbuild/ca.crt"
# Settings a user may have for reaching package indexes through their own mirror or proxy.
# A mirror changes where packages come from, not what is accepted: Go's checksum database and
# the pins still decide.
PASSTHROUGH_ENV = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "GOPROXY",
    "GOSUMDB",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
)


# Variables through which pip, requests, Go, git and curl find a CA bundle.
CA_ENV_VARS = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO", "CURL_CA_BUNDLE")
# For tools that clear the environment (charmcraft's charm plugin runs pip under `env -i`).
WRITE_PIP_CONF = (
    f"if [ -f {CA_IN_CONTAINER} ]; then printf '[global]\\ncert = {CA_IN_CONTAINER}\\n' > /etc/pip.conf; fi"
)


def ca_bundle() -> Path | None:
    """The extra CA bundle for build containers: $ROCKBUILD_CA_BUNDLE, else the host's system bundle."""
    explicit = os.environ.get("ROCKBUILD_CA_BUNDLE")
    if explicit:
        if not Path(explicit).is_file():
            raise BuildError(f"ROCKBUILD_CA_BUNDLE={explicit} is not a file; point it at a PEM bundle or unset it")
        return Path(explicit)
    return docker_engine.host_ca_bundle()


# Settings that would make a build accept what it cannot verify: refused, never passed on.
WEAKENING_ENV = {
    "PIP_TRUSTED_HOST": "pip would skip TLS verification for those hosts",
    "GONOSUMDB": "Go would skip its checksum database for those modules",
    "GONOSUMCHECK": "Go would skip its checksum database",
    "GOPRIVATE": "Go would skip its checksum database for those modules",
    "GOINSECURE": "Go would fetch those modules without TLS verification",
    "GOFLAGS": "Go flags could turn verification off (-insecure) or change what is built",
}


def refuse_weakened_verification(environ: dict[str, str] | None = None) -> None:
    """BuildError naming each host variable that would weaken what the build verifies."""
    environ = dict(os.environ) if environ is None else environ
    found = [f"{name} ({why})" for name, why in WEAKENING_ENV.items() if environ.get(name)]
    if environ.get("GOSUMDB", "").strip() == "off":
        found.append("GOSUMDB=off (Go would not check modules against its checksum database)")
    if found:
        raise BuildError(
            "refusing to build with " + "; ".join(found) + ". Unset them: a mirror goes in GOPROXY or "
            "PIP_INDEX_URL, a private CA in ROCKBUILD_CA_BUNDLE, and the rocks' pins are checked either way."
        )


def container_env() -> dict[str, str]:
    refuse_weakened_verification()
    env = {key: os.environ[key] for key in PASSTHROUGH_ENV if key in os.environ}
    if ca_bundle() is not None:
        env.update(dict.fromkeys(CA_ENV_VARS, CA_IN_CONTAINER))
    return env


def pip_cache_volume() -> dict[str, dict[str, str]]:
    """The machine's pip download cache, for containers that pip-install tools (charmcraft)."""
    pip_cache = cache_root() / "pip"
    pip_cache.mkdir(parents=True, exist_ok=True)
    return {str(pip_cache): {"bind": "/root/.cache/pip", "mode": "rw"}}


def go_module_cache_volume() -> dict[str, dict[str, str]]:
    """The machine's Go module downloads, at root's default GOPATH (where craft-parts' go plugin
    and `go` in the build containers look)."""
    go_cache = cache_root() / "go"
    go_cache.mkdir(parents=True, exist_ok=True)
    return {str(go_cache): {"bind": "/root/go", "mode": "rw"}}


def ca_volume() -> dict[str, dict[str, str]]:
    bundle = ca_bundle()
    return {str(bundle): {"bind": CA_IN_CONTAINER, "mode": "ro"}} if bundle else {}


def _stream_and_wait(
    container: docker.models.containers.Container, log: Path, on_line: Callable[[str], None] | None = None
) -> int:
    pending = b""
    with log.open("wb") as out:
        for chunk in container.logs(stream=True, follow=True):
            out.write(chunk)
            if on_line is not None:
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    on_line(line.decode(errors="replace").rstrip())
    if on_line is not None and pending:
        on_line(pending.decode(errors="replace").rstrip())
    return int(container.wait()["StatusCode"])


def fuse_access() -> dict[str, list[str]]:
    """What a container needs to mount fuse-overlayfs (craft-parts' overlay steps), without --privileged."""
    return {"cap_add": ["SYS_ADMIN"], "devices": ["/dev/fuse:/dev/fuse"] if Path("/dev/fuse").exists() else []}


def run_once(
    image: str,
    script: str,
    volumes: dict[str, dict[str, str]],
    log: Path,
    what: str,
    *,
    fuse: bool = False,
    on_line: Callable[[str], None] | None = None,
) -> None:
    """Run `script` in a throw-away container of `image`; fail with the log's tail.
    `on_line` sees each line of output as it comes (for progress)."""
    engine = docker_engine.client()
    log.parent.mkdir(parents=True, exist_ok=True)
    container = engine.containers.run(
        image,
        ["bash", "-c", script],
        detach=True,
        network_mode="host",
        volumes={**ca_volume(), **volumes},
        environment=container_env(),
        **(fuse_access() if fuse else {}),
    )
    try:
        code = _stream_and_wait(container, log, on_line)
        if code != 0:
            raise BuildError(f"{what} failed (exit {code}); last lines of {log}:\n{_tail(log)}")
    finally:
        container.remove(force=True)


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(content), 0o755
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _setup_env_script(ca_path: str | None) -> bytes:
    """Exports for the setup run. They live in a script, not in the container's config, so that
    neither the CA bundle's path nor the user's proxy settings are committed into the tool image."""
    refuse_weakened_verification()
    env = {key: os.environ[key] for key in PASSTHROUGH_ENV if key in os.environ}
    if ca_path:
        env.update(dict.fromkeys(CA_ENV_VARS, ca_path))
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items()).encode()


def ensure_tool_image(base: BaseImage, progress: Progress) -> str:
    """The build-tool image for `base`, made once per base and tool set."""
    requirements = (HERE / "requirements.txt").read_bytes()
    setup = (HERE / "setup-tools.sh").read_bytes()
    ref = f"rockbuild-tools:{base.tag}-{digest_of(TOOL_IMAGE_RECIPE, base.digest, requirements, setup)}"
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


def commit_image(from_image: str, ref: str, files: dict[str, bytes], script: str, log: Path, what: str) -> None:
    """Run `script` in a container of `from_image` with `files` in /rockbuild-setup, and commit it as `ref`.

    The user's proxy, index and CA settings reach the script through a file that is removed before
    the commit, so that none of them is kept in the image.
    """
    bundle = ca_bundle()
    files = dict(files)
    if bundle:
        files["ca.crt"] = bundle.read_bytes()
    files["env.sh"] = _setup_env_script("/rockbuild-setup/ca.crt" if bundle else None)
    full = f"set -e; . /rockbuild-setup/env.sh; ( {script} ); rm -rf /rockbuild-setup"
    # No volumes and no environment: `docker commit` would keep both in the image's config.
    container = docker_engine.client().containers.create(from_image, ["bash", "-c", full], network_mode="host")
    try:
        container.put_archive("/", _archive({f"rockbuild-setup/{name}": data for name, data in files.items()}))
        container.start()
        log.parent.mkdir(parents=True, exist_ok=True)
        code = _stream_and_wait(container, log)
        if code != 0:
            raise BuildError(f"{what} failed (exit {code}); last lines of {log}:\n{_tail(log)}")
        repository, tag = ref.split(":")
        container.commit(repository=repository, tag=tag, changes=['CMD ["bash"]'])
    finally:
        container.remove(force=True)


def remove_older_images(base: BaseImage, keep: str) -> None:
    """Older images of `keep`'s repository for the same base (build-tool or rockcraft images, several
    hundred MB each). One still used by a container stays (Docker refuses to remove it)."""
    repository = keep.split(":", 1)[0]
    engine = docker_engine.client()
    for image in engine.images.list(name=repository):
        for tag in image.tags:
            if tag != keep and tag.startswith(f"{repository}:{base.tag}-"):
                with contextlib.suppress(docker.errors.APIError):
                    engine.images.remove(tag)


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
    progress.say(out_dir.parent.name, f"build {module}@{version} from the Go module proxy")
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    go_cache = cache_root() / "go"
    go_cache.mkdir(parents=True, exist_ok=True)
    env = "GOTOOLCHAIN=auto CGO_ENABLED=0 GOPATH=/go GOCACHE=/go/build-cache GOFLAGS=-modcacherw"
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


def ensure_pebble(tool_image: str, progress: Progress) -> Path:
    """A static Pebble binary built from source at PEBBLE_VERSION, as upstream builds it."""
    out_dir = cache_root() / "pebble" / PEBBLE_VERSION
    build_go_binary(
        tool_image, "github.com/canonical/pebble", PEBBLE_VERSION, "./cmd/pebble", out_dir, "pebble", progress
    )
    return out_dir


def project_key(project_dir: Path) -> str:
    return digest_of(str(project_dir.resolve()))


def remove_build_containers(project_dir: Path, keep: str | None = None) -> None:
    """Remove the build containers of one rock directory (except `keep`)."""
    engine = docker_engine.client()
    label = f"rockbuild.project={project_key(project_dir)}"
    for container in engine.containers.list(all=True, filters={"label": label}):
        if container.name != keep:
            container.remove(force=True)


@dataclass
class BuildContainer:
    """A long-lived container in which the parts of one rock are built."""

    name: str
    rock: str
    project_dir: Path
    tool_image: str
    mounts: dict[str, str]  # host path -> container path
    read_only: set[str] = field(default_factory=set)

    def _volumes(self) -> dict[str, dict[str, str]]:
        volumes = ca_volume()
        for host, inside in self.mounts.items():
            volumes[host] = {"bind": inside, "mode": "ro" if inside in self.read_only else "rw"}
        return volumes

    def remove_stale(self) -> None:
        """Remove this rock directory's build containers made for other tool images or mounts."""
        remove_build_containers(self.project_dir, keep=self.name)

    def start(self) -> None:
        engine = docker_engine.client()
        self.remove_stale()
        try:
            container = engine.containers.get(self.name)
        except docker.errors.NotFound:
            for host in self.mounts:
                if not Path(host).is_file():
                    Path(host).mkdir(parents=True, exist_ok=True)
            container = engine.containers.create(
                self.tool_image,
                ["bash", "-c", f"{WRITE_PIP_CONF}; exec sleep infinity"],
                name=self.name,
                network_mode="host",
                volumes=self._volumes(),
                environment=container_env(),
                **fuse_access(),
                labels={
                    "rockbuild": "build-container",
                    "rockbuild.rock": self.rock,
                    "rockbuild.project": project_key(self.project_dir),
                },
            )
        if container.status != "running":
            container.start()

    def exec(self, argv: list[str]) -> Iterator[bytes]:
        """Run `argv` in the container, yielding its output; raise BuildError on a non-zero exit."""
        api = docker_engine.client().api
        exec_id = api.exec_create(self.name, argv, environment=container_env())["Id"]
        yield from api.exec_start(exec_id, stream=True)
        code = api.exec_inspect(exec_id)["ExitCode"]
        if code != 0:
            raise BuildError(f"`{shlex.join(argv)}` failed in build container {self.name} (exit {code})")

    def stop(self) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            docker_engine.client().containers.get(self.name).stop(timeout=2)


def build_container_for(
    rock: str,
    project_dir: Path,
    work: Path,
    tool_image: str,
    base: BaseImage,
    pebble_dir: Path,
    chisel: tuple[Path, Path | None] | None = None,
) -> BuildContainer:
    """`chisel`: the chisel directory (binary and wrapper) and the slice definitions, for rocks with slices."""
    root = cache_root()
    mounts = {
        str(project_dir.resolve()): "/project",
        str(work): "/work",
        str(root / "craft-parts"): "/cache",
        str(root / "pip"): "/root/.cache/pip",
        str(root / "go"): "/root/go",
        str(pebble_dir): "/rockbuild/pebble",
        str(SOURCE_ROOT / "rockbuild"): "/rockbuild/src/rockbuild",
        str(base.rootfs): "/rockbuild/base",
    }
    read_only = {"/rockbuild/pebble", "/rockbuild/src/rockbuild", "/rockbuild/base"}
    if chisel is not None:
        from rockbuild import chisel as chisel_tool

        chisel_dir, release = chisel
        mounts[str(chisel_dir)] = chisel_tool.IN_CONTAINER
        mounts[str(chisel_dir / "chisel")] = "/usr/local/bin/chisel"  # craft-parts runs `chisel` from PATH
        read_only |= {chisel_tool.IN_CONTAINER, "/usr/local/bin/chisel"}
        if release is not None:
            mounts[str(release)] = chisel_tool.RELEASE_IN_CONTAINER
            read_only.add(chisel_tool.RELEASE_IN_CONTAINER)
    key = digest_of(tool_image, repr(sorted(mounts.items())), repr(sorted(ca_volume())))
    return BuildContainer(
        name=f"rockbuild-{rock}-{key}",
        rock=rock,
        project_dir=project_dir,
        tool_image=tool_image,
        mounts=mounts,
        read_only=read_only,
    )
