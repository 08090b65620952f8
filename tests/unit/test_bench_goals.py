"""bench/issue_goals.py: each figure of a bench run judged against issue 28's goal for it."""

import json
from pathlib import Path

from bench import issue_goals


def run(rps: float, non_2xx: int = 0) -> dict[str, float]:
    return {"rps": rps, "p50_ms": 300.0, "p99_ms": 900.0, "non_2xx": non_2xx, "socket_errors": 0}


def test_the_hop_is_judged_on_the_median_ratios_of_its_pairs() -> None:
    runtime = {"hop": {"rps_ratio": 0.96, "p99_ratio": 1.31}}
    goals = {g.figure.split(" through")[0]: g for g in issue_goals.serving_goals(runtime)}
    assert goals["event page req/s"].met is True
    assert goals["event page p99"].met is False
    assert goals["event page p99"].value == 1.31


def test_the_64_connection_run_needs_the_rate_and_no_error() -> None:
    runtime = {
        "sweep_event_8080": {"64": run(21.0)},
        "sweep_event_8080_anonymous": {"64": run(15000.0, non_2xx=3)},
    }
    session, anonymous = issue_goals.serving_goals(runtime)
    assert (session.met, anonymous.met) == (False, False)
    assert anonymous.goal == ">= 45, no error"
    runtime["sweep_event_8080_anonymous"]["64"]["non_2xx"] = 0
    assert issue_goals.serving_goals(runtime)[1].met is True


def test_without_a_fresh_machine_run_the_table_says_how_to_get_one(tmp_path: Path) -> None:
    goals = issue_goals.fresh_goals(tmp_path / "fresh-machine.json")
    assert [g.item for g in goals] == ["4", "5"]
    assert all(g.value is None and g.met is None and "make bench-fresh" in g.where for g in goals)
    assert "| - | <= 300 | - |" in issue_goals.table(goals)


def test_a_fresh_machine_run_gives_items_4_and_5(tmp_path: Path) -> None:
    results = tmp_path / "fresh-machine.json"
    results.write_text(
        json.dumps(
            {
                "date": "2026-12-04",
                "make rocks": {"JOBS=3": {"seconds": 312.5}, "JOBS=1": {"seconds": 480.0}},
                "make test": {"seconds": 1100.0},
            }
        )
    )
    rocks, whole = issue_goals.fresh_goals(results)
    assert (rocks.value, rocks.met) == (312.5, False)
    assert (whole.value, whole.met) == (1412.5, True)
    assert "2026-12-04" in whole.where
    assert "| 4 | `make rocks` on a fresh machine, rocks at once (s) | 312.5 | <= 300 | **no** |" in issue_goals.table(
        [rocks]
    )
