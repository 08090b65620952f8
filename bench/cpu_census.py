#!/usr/bin/env python3
"""Where a run's core-seconds go: every Docker container's CPU (cgroup v1 cpuacct, or v2 cpu.stat)
by container name, and the host processes' rest, sampled until the command ends.

    bench/cpu_census.py [--every 2] [--out census.json] -- make test

A container's CPU is read while it exists, so a container that lives less than one sample
interval is counted only in the Docker total (reported as "short-lived containers").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

V1_DOCKER = Path("/sys/fs/cgroup/cpuacct/docker")
V2_SLICE = Path("/sys/fs/cgroup/system.slice")


def host_busy_seconds() -> float:
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def container_usage() -> tuple[float, dict[str, float]]:
    """(all of Docker's containers since dockerd started, each running container's own), seconds."""
    if V1_DOCKER.is_dir():
        total = int((V1_DOCKER / "cpuacct.usage").read_text()) / 1e9
        each = {d.name: int((d / "cpuacct.usage").read_text()) / 1e9 for d in V1_DOCKER.iterdir() if d.is_dir()}
        return total, each
    each = {}
    for scope in V2_SLICE.glob("docker-*.scope"):
        usage = re.search(r"usage_usec (\d+)", (scope / "cpu.stat").read_text())
        each[scope.name.removeprefix("docker-").removesuffix(".scope")] = int(usage.group(1)) / 1e6 if usage else 0.0
    return sum(each.values()), each


def names_of(ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    done = subprocess.run(
        ["docker", "inspect", "--format", "{{.Id}} {{.Name}} {{.Config.Image}}", *ids],
        capture_output=True,
        text=True,
        check=False,
    )
    return {line.split()[0]: group(*line.split()[1:3]) for line in done.stdout.splitlines() if len(line.split()) >= 3}


def group(name: str, image: str) -> str:
    """What a container was for: its name without the parts that differ per run (ids, digests),
    or its image's name where Docker made the name up (`adjective_surname`)."""
    name = name.lstrip("/")
    if re.fullmatch(r"[a-z]+_[a-z]+", name):
        return f"{image.split(':')[0]} (unnamed)"
    return re.sub(r"[-_][0-9a-f]{6,}\b|[-_]\d+\b", "", name) or name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=float, default=2.0, help="seconds between samples (default 2)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here too")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to measure after --")
    started, busy_before = time.monotonic(), host_busy_seconds()
    docker_before, seen_before = container_usage()
    last: dict[str, float] = {}
    names: dict[str, str] = {}
    child = subprocess.Popen(command)
    while child.poll() is None:
        _, each = container_usage()
        fresh = {i for i in each if i not in names}
        names.update(names_of(fresh))
        for cid, used in each.items():
            last[cid] = used - seen_before.get(cid, 0.0)
        time.sleep(args.every)
    docker_total = container_usage()[0] - docker_before
    busy, wall = host_busy_seconds() - busy_before, time.monotonic() - started
    by_group: dict[str, float] = defaultdict(float)
    for cid, used in last.items():
        by_group[names.get(cid, cid[:12])] += used
    by_group["short-lived containers"] = max(0.0, docker_total - sum(last.values()))
    by_group["host processes (tests, PostgreSQL, Redis, browser, ...)"] = max(0.0, busy - docker_total)
    figures = {
        "command": command,
        "exit": child.returncode,
        "seconds": round(wall, 1),
        "core_seconds": round(busy, 1),
        "by": {k: round(v, 1) for k, v in sorted(by_group.items(), key=lambda kv: -kv[1])},
    }
    print(f"\n[cpu-census] {wall:.0f} s, {busy:.0f} core-seconds ({busy / wall:.2f} cores busy on average)", flush=True)
    for what, used in figures["by"].items():
        if used >= 1:
            print(f"[cpu-census] {used:8.1f}  {what}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return int(child.returncode)


if __name__ == "__main__":
    sys.exit(main())
