"""Issue 28's goals beside the figures `make bench` measured, so that one run's table says which
are met. The fresh-machine figures (items 4 and 5) come from `make bench-fresh`, which empties the
builder's cache and so cannot run inside `make bench`; its last results file is read if there is
one, with its date.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from bench.fresh_machine import GOALS


@dataclasses.dataclass(frozen=True)
class Goal:
    item: str
    figure: str
    value: float | None  # None: not measured in this run (`where` says how to)
    goal: str
    met: bool | None
    where: str = ""


def at_most(item: str, figure: str, value: float, limit: float, unit: str = "") -> Goal:
    return Goal(item, figure, value, f"<= {limit:g}{unit}", value <= limit)


def at_least(item: str, figure: str, value: float, floor: float, unit: str = "") -> Goal:
    return Goal(item, figure, value, f">= {floor:g}{unit}", value >= floor)


def serving_goals(runtime: dict[str, Any]) -> list[Goal]:
    """Items 2 and 3: the NGINX hop (interleaved pairs of runs, see `bench/run.py`'s hop_cost) and
    the event page at 64 connections, rendered for each request and from NGINX's page cache."""
    goals = []
    hop = runtime.get("hop")
    if hop:
        goals.append(
            at_least("2", "event page req/s through NGINX / straight from uWSGI (8 conn.)", hop["rps_ratio"], 0.95)
        )
        goals.append(
            at_most("2", "event page p99 through NGINX / straight from uWSGI (8 conn.)", hop["p99_ratio"], 1.2)
        )
    for sweep, who in (("sweep_event_8080", "with a session"), ("sweep_event_8080_anonymous", "anonymous")):
        run = runtime.get(sweep, {}).get("64")
        if run is None:
            continue
        errors = run["non_2xx"] + run["socket_errors"]
        goal = at_least("3", f"event page req/s at 64 connections, {who}", run["rps"], 45)
        goals.append(dataclasses.replace(goal, met=goal.met and errors == 0, goal=goal.goal + ", no error"))
    return goals


def downloads_goals(found: dict[str, Any]) -> list[Goal]:
    """Item 6: the event page's p99 while 16 slow clients download a 50 MB attachment."""
    return [
        at_most("6", f"event page p99 during the downloads / alone, file sent by {sender}", row["p99_ratio"], 1.2)
        for sender, row in found.items()
    ]


def fresh_goals(path: Path) -> list[Goal]:
    """Items 4 and 5, from `make bench-fresh`'s results file when there is one."""
    how = "make bench-fresh BENCH_FRESH_ARGS='--jobs 3 --tests'"
    if not path.is_file():
        return [
            Goal(
                "4",
                "`make rocks` on a fresh machine (s)",
                None,
                f"<= {GOALS['make rocks']:g}",
                None,
                f"not measured: {how}",
            ),
            Goal(
                "5",
                "`make rocks` and then `make test`, from nothing (s)",
                None,
                f"<= {GOALS['make test']:g}",
                None,
                f"not measured: {how}",
            ),
        ]
    fresh = json.loads(path.read_text())
    goals = []
    at_once = next((r for k, r in fresh.get("make rocks", {}).items() if k.startswith("JOBS=3")), None)
    if at_once is not None:
        goal = at_most(
            "4", "`make rocks` on a fresh machine, rocks at once (s)", at_once["seconds"], GOALS["make rocks"]
        )
        goals.append(dataclasses.replace(goal, where=f"make bench-fresh, {fresh['date']}"))
    test = fresh.get("make test")
    if test is not None and at_once is not None:
        whole = round(at_once["seconds"] + test["seconds"], 1)
        goal = at_most("5", "`make rocks` and then `make test`, from nothing (s)", whole, GOALS["make test"])
        goals.append(dataclasses.replace(goal, where=f"make bench-fresh --tests, {fresh['date']}"))
    return goals


def collect(results: dict[str, Any], fresh_results: Path) -> list[Goal]:
    goals = serving_goals(results.get("runtime", {}))
    if "downloads" in results:
        goals += downloads_goals(results["downloads"])
    return goals + fresh_goals(fresh_results)


def table(goals: list[Goal]) -> str:
    lines = ["| item | figure | value | goal | met | from |", "|---|---|---|---|---|---|"]
    for g in goals:
        met = "-" if g.met is None else ("yes" if g.met else "**no**")
        value = "-" if g.value is None else f"{g.value:g}"
        lines.append(f"| {g.item} | {g.figure} | {value} | {g.goal} | {met} | {g.where or 'this run'} |")
    return "\n".join(lines)
