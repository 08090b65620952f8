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
GOALS = {"make rocks": 300.0}
TOOL_IMAGE = "rockbuild-tools"


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


def timed_make(target: str, cache: Path, log: Path, *settings: str) -> dict[str, Any]:
    """Run `make target` with the builder's cache at `cache`; its output goes to `log` (and the
    progress lines to this terminal)."""
    env = dict(os.environ, ROCKBUILD_CACHE=str(cache))
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
    return {"seconds": round(time.monotonic() - started, 1), "exit": code, "log": str(log)}


def fresh_rocks(jobs: int, workspace: Path) -> tuple[dict[str, Any], Path]:
    cache = workspace / f"cache-jobs-{jobs}"
    cache.mkdir(parents=True)
    remove_tool_images()
    say(f"make rocks JOBS={jobs}, builder cache {cache} (empty), no build-tool image")
    result = timed_make("rocks", cache, workspace / f"make-rocks-jobs-{jobs}.log", f"JOBS={jobs}")
    say(f"make rocks JOBS={jobs}: {result['seconds']} s (exit {result['exit']})")
    return result, cache


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="bench/fresh_machine.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--jobs", type=int, nargs="+", default=[2, 1], help="JOBS settings to time `make rocks` with (default: 2 1)"
    )
    parser.add_argument("--tests", action="store_true", help="then time `make test` on the first build's cache")
    parser.add_argument(
        "--workspace",
        type=Path,
        help="where the fresh caches and logs go (default: a new directory under /var/tmp, kept for reading)",
    )
    parser.add_argument(
        "--output", type=Path, default=REPO / "bench/fresh-machine.json", help="where to write the results"
    )
    args = parser.parse_args()
    workspace = args.workspace or Path(tempfile.mkdtemp(prefix="rockbuild-fresh-", dir="/var/tmp"))
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(), "make rocks": {}}
    first_cache = None
    for jobs in args.jobs:
        result, cache = fresh_rocks(jobs, workspace)
        results["make rocks"][f"JOBS={jobs}"] = result
        first_cache = first_cache or cache
    if args.tests and first_cache is not None:
        say("make test on that build's cache")
        results["make test"] = timed_make("test", first_cache, workspace / "make-test.log")
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'figure':<28} {'seconds':>8} {'goal':>8}")
    for setting, result in results["make rocks"].items():
        goal = GOALS["make rocks"]
        print(f"{'make rocks ' + setting:<28} {result['seconds']:>8} {goal:>8}")
    if "make test" in results:
        print(f"{'make test':<28} {results['make test']['seconds']:>8} {'':>8}")
    print(f"logs and caches in {workspace}; results in {args.output}")
    failed = [k for k, r in results["make rocks"].items() if r["exit"]] + (
        ["make test"] if results.get("make test", {}).get("exit") else []
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
