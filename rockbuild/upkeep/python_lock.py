"""Hash-pinned Python locks for the rocks' python parts.

A python part whose source directory holds `requirements.in` gets a `requirements.txt` with every
package pinned and the SHA-256 of every file the index has for that version, and a
`build-tools.txt` with the same entries for the packages pip needs to build the lock's source
distributions without build isolation. Both are made by pip-tools in the rock's own build base
(the same Python, so the same environment markers) with the part's build-packages installed
(source distributions' metadata needs them, e.g. psycopg2's `pg_config`), from whatever index this
host's pip uses. Versions already in `requirements.txt` are kept unless asked to upgrade them.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from rockbuild import atomic
from rockbuild.build import base as bases
from rockbuild.build import buildenv
from rockbuild.build.project import Project, load_project
from rockbuild.cache import cache_root
from rockbuild.errors import BuildError
from rockbuild.progress import Progress

PIP_TOOLS_VERSION = "7.5.3"
# pip builds source distributions with these when build isolation is off; in hash-checking mode
# it cannot hash-check what an isolated build would fetch, so the rock installs them first.
BUILD_TOOLS = ("setuptools", "wheel")
LOCK = "requirements.txt"
BUILD_TOOLS_LOCK = "build-tools.txt"
_ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<version>\S+)")


@dataclass(frozen=True)
class LockablePart:
    part: str
    source_dir: Path
    build_packages: tuple[str, ...]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lockable_parts(rock_dir: Path, project: Project) -> list[LockablePart]:
    found = []
    for name, part in project.parts.items():
        source = part.get("source")
        if (
            part.get("plugin") == "python"
            and isinstance(source, str)
            and (rock_dir / source / "requirements.in").is_file()
        ):
            found.append(LockablePart(name, rock_dir / source, tuple(part.get("build-packages") or ())))
    return found


def entries(lock_text: str) -> dict[str, str]:
    """Each pinned package's whole entry (the pin, its hashes, pip-compile's `# via` lines), by name."""
    blocks: dict[str, str] = {}
    name = None
    for line in lock_text.splitlines(keepends=True):
        match = _ENTRY.match(line)
        if match:
            name = canonical(match["name"])
            blocks[name] = line
        elif name is not None and line.startswith((" ", "\t")):
            blocks[name] += line
        else:
            name = None
    return blocks


def pins(lock_text: str) -> dict[str, str]:
    """name -> version of every entry."""
    return {canonical(m["name"]): m["version"] for m in map(_ENTRY.match, lock_text.splitlines()) if m}


def unhashed(lock_text: str) -> list[str]:
    """Entries without a --hash: pip's --require-hashes refuses a lock that has any."""
    return [name for name, block in entries(lock_text).items() if "--hash=sha256:" not in block]


def build_tools_lock(lock_text: str, rock: str) -> str:
    blocks = entries(lock_text)
    missing = [tool for tool in BUILD_TOOLS if tool not in blocks]
    if missing:
        raise BuildError(
            f"{LOCK} has no entry for {', '.join(missing)}: list them in requirements.in "
            "(pip needs them to build source distributions without build isolation)"
        )
    header = (
        f"# The build tools' entries of {LOCK}, installed first so that pip can build its source\n"
        f"# distributions without build isolation. Written by `build.py lock {rock}`; do not edit.\n"
    )
    return header + "".join(blocks[tool] for tool in BUILD_TOOLS)


def compile_script(rock: str, build_packages: tuple[str, ...], upgrade: bool, upgrade_packages: list[str]) -> str:
    """pip-compile in a container with the part's source at /lock (read-only) and /out for the result.
    The existing lock is its starting point: pip-compile keeps the versions it pins."""
    options = ["--generate-hashes", "--allow-unsafe", "--strip-extras", "--quiet", "--no-emit-index-url"]
    if upgrade:
        options.append("--upgrade")
    for package in upgrade_packages:
        options += ["--upgrade-package", package]
    lines = ["set -e"]
    if build_packages:
        lines += [
            "apt-get update -qq",
            "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
            + shlex.join(build_packages)
            + " >/dev/null",
        ]
    lines += [
        "python3 -m venv /tmp/lock-venv",
        f"/tmp/lock-venv/bin/pip install --quiet pip-tools=={PIP_TOOLS_VERSION}",
        "cd /lock",
        f"if [ -f {LOCK} ]; then cp {LOCK} /tmp/{LOCK}; fi",
        f"CUSTOM_COMPILE_COMMAND={shlex.quote(f'build.py lock {rock}')} /tmp/lock-venv/bin/pip-compile "
        + shlex.join(options)
        + f" --output-file /tmp/{LOCK} requirements.in",
        f"cp /tmp/{LOCK} /out/{LOCK}",
    ]
    return "\n".join(lines) + "\n"


def lock(
    rock_dir: Path, progress: Progress, *, upgrade: bool = False, upgrade_packages: list[str] | None = None
) -> list[Path]:
    """Re-pin each lockable part of the rock; returns the files written."""
    project = load_project(rock_dir / "rockcraft.yaml")
    parts = lockable_parts(rock_dir, project)
    if not parts:
        raise BuildError(f"{rock_dir.name} has no python part whose source directory holds requirements.in")
    build_base = bases.ensure_base(project.effective_build_base, progress)
    tool_image = buildenv.ensure_tool_image(build_base, progress)
    written = []
    for part in parts:
        out = cache_root() / "lock-out" / project.name / part.part
        out.mkdir(parents=True, exist_ok=True)
        (out / LOCK).unlink(missing_ok=True)
        progress.say(f"lock {part.part}", f"pip-compile {PIP_TOOLS_VERSION} in {project.effective_build_base}")
        buildenv.run_once(
            tool_image,
            compile_script(project.name, part.build_packages, upgrade, upgrade_packages or []),
            {
                str(part.source_dir.resolve()): {"bind": "/lock", "mode": "ro"},
                str(out): {"bind": "/out", "mode": "rw"},
                **buildenv.pip_cache_volume(),
            },
            cache_root() / "logs" / f"lock-{project.name}-{part.part}.log",
            f"locking {project.name}'s part {part.part}",
        )
        lock_text = (out / LOCK).read_text()
        missing_hashes = unhashed(lock_text)
        if missing_hashes:
            raise BuildError(f"pip-compile left entries without hashes: {', '.join(missing_hashes)}")
        tools_text = build_tools_lock(lock_text, project.name)
        for name, text in ((LOCK, lock_text), (BUILD_TOOLS_LOCK, tools_text)):
            target = part.source_dir / name
            atomic.write_text(target, text)
            written.append(target)
        progress.say(f"lock {part.part}", f"{len(pins(lock_text))} packages pinned with their hashes")
    return written
