#!/usr/bin/env python3
"""`make bench-fresh`: what someone on a fresh machine waits for. `make rocks` with nothing the
builder caches (an empty $ROCKBUILD_CACHE: no base, no Pebble or chisel, no downloads, no part
work; the build-tool image removed from Docker), once with the rocks built at once (the default)
and once in turn (JOBS=1); with --tests, then `make test` on what that build left.

What this cannot make fresh: the host's own packages (`make host` found them installed; on a new
machine its apt-get adds about a minute) and the project venv. Results go to
bench/fresh-machine.json and are printed beside their goals (issue 28: `make rocks` at most 300 s,
the image tests at most 720 s for the tests of that issue's day).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# Issue 28: `make rocks` on a fresh machine in 5 minutes, and the whole test suite cold in 25.
GOALS = {"make rocks": 300.0, "make test": 1500.0}
TOOL_IMAGE = "rockbuild-tools"
RESULTS = REPO / "bench/fresh-machine.json"  # also read by make bench (bench/issue_goals.py)


def say(message: str) -> None:
    print(f"[bench-fresh] {message}", file=sys.stderr, flush=True)


def remove_tool_images() -> None:
    listed = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", TOOL_IMAGE],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for ref in listed:
        subprocess.run(["docker", "rmi", "--force", ref], check=False, capture_output=True)


def cpu_seconds() -> tuple[float, float]:
    """(busy, all) seconds of every core since boot, from /proc/stat: how much of a run's time the
    cores worked (containers included, which a child's rusage leaves out)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / tick, sum(fields) / tick


def timed_make(target: str, cache: Path, log: Path, *settings: str) -> dict[str, Any]:
    """Run `make target` with the builder's cache at `cache`; its output goes to `log` (and the
    progress lines to this terminal)."""
    env = dict(os.environ, ROCKBUILD_CACHE=str(cache))
    busy_before, all_before = cpu_seconds()
    started = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(
            ["make", target, *settings], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        for line in process.stdout:
            out.write(line)
            if re.match(r"\[\s*[\d.]+s\] ", line):  # the builder's progress lines
                print(f"    {line.rstrip()}", file=sys.stderr, flush=True)
        code = process.wait()
    seconds = round(time.monotonic() - started, 1)
    busy_after, all_after = cpu_seconds()
    busy = busy_after - busy_before
    return {
        "seconds": seconds,
        "exit": code,
        "log": str(log),
        # Core-seconds of work and the share of the cores it kept busy: a build near 100 % is
        # bound by its work, and no ordering makes it shorter than work / cores.
        "cpu_seconds": round(busy, 1),
        "cpu_busy_percent": round(100 * busy / max(all_after - all_before, 1e-9), 1),
    }


def fresh_rocks(jobs: int, workspace: Path, rocks: list[str]) -> tuple[dict[str, Any], Path]:
    cache = workspace / f"cache-jobs-{jobs}"
    cache.mkdir(parents=True)
    remove_tool_images()
    say(f"make rocks JOBS={jobs} {' '.join(rocks)}, builder cache {cache} (empty), no build-tool image")
    settings = [f"JOBS={jobs}", *([f"ROCKS={' '.join(rocks)}"] if rocks else [])]
    result = timed_make("rocks", cache, workspace / f"make-rocks-jobs-{jobs}.log", *settings)
    say(f"make rocks JOBS={jobs}: {result['seconds']} s (exit {result['exit']})")
    return result, cache


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="bench/fresh_machine.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--jobs",
        type=int,
        nargs="+",
        default=[3, 1],
        help="JOBS settings to time `make rocks` with (default: 3 1, every rock at once, then in turn)",
    )
    parser.add_argument(
        "--rocks", nargs="+", default=[], help="build only these rocks (default: every rocks/*/rockcraft.yaml)"
    )
    parser.add_argument("--tests", action="store_true", help="then time `make test` on the first build's cache")
    parser.add_argument(
        "--workspace",
        type=Path,
        help="where the fresh caches and logs go (default: a new directory under /var/tmp, kept for reading)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the results")
    args = parser.parse_args()
    workspace = args.workspace or Path(tempfile.mkdtemp(prefix="rockbuild-fresh-", dir="/var/tmp"))
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(), "make rocks": {}}
    first_cache = None
    for jobs in args.jobs:
        result, cache = fresh_rocks(jobs, workspace, args.rocks)
        results["make rocks"][" ".join([f"JOBS={jobs}", *args.rocks])] = result
        first_cache = first_cache or cache
    if args.tests and first_cache is not None:
        say("make test on that build's cache")
        results["make test"] = timed_make("test", first_cache, workspace / "make-test.log")
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'figure':<28} {'seconds':>8} {'goal':>8} {'cpu s':>8} {'busy %':>7}")
    rows = [(f"make rocks {setting}", r, GOALS["make rocks"]) for setting, r in results["make rocks"].items()]
    if "make test" in results:
        rows.append(("make test", results["make test"], GOALS["make test"]))
    for label, result, goal in rows:
        cpu, busy = result["cpu_seconds"], result["cpu_busy_percent"]
        print(f"{label:<28} {result['seconds']:>8} {goal:>8} {cpu:>8} {busy:>7}")
    print(f"logs and caches in {workspace}; results in {args.output}")
    failed = [k for k, r in results["make rocks"].items() if r["exit"]] + (
        ["make test"] if results.get("make test", {}).get("exit") else []
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
