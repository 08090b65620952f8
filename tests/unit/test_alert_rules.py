"""The charm's alert rules, checked and exercised by Prometheus's own promtool.

Each scenario feeds promtool series shaped as Prometheus holds them after scraping a unit (with the
topology labels prometheus-k8s adds) and asserts which alert fires, and that it stays quiet while
everything works.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

RULES = Path(__file__).resolve().parents[2] / "charm" / "src" / "alert_rules" / "indico.rules.yaml"
UNIT = 'juju_model="dev",juju_application="indico",juju_unit="indico/0"'
NGINX = f'{{{UNIT},instance="10.1.2.10:9113"}}'
UWSGI = f'{{{UNIT},instance="10.1.2.10:9102"}}'


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is absent (Debian's prometheus package; `make host` installs it)")
    return found


def healthy(minutes: int) -> list[dict[str, str]]:
    """A unit whose NGINX, uWSGI and Celery all report, with a little traffic and no errors."""

    def flat(value: str) -> str:
        return " ".join([value] * minutes)

    return [
        {"series": f"up{NGINX}", "values": flat("1")},
        {"series": f"up{UWSGI}", "values": flat("1")},
        {"series": f"nginx_up{NGINX}", "values": flat("1")},
        {"series": f"indico_uwsgi_idle_workers{UWSGI}", "values": flat("3")},
        {"series": f"indico_uwsgi_busy_workers{UWSGI}", "values": flat("1")},
        {"series": f"indico_celery_worker_up{UWSGI}", "values": flat("1")},
        {"series": f"indico_http_responses_total{UWSGI}", "values": f"0+60x{minutes}"},
        {"series": f"indico_http_responses_5xx{UWSGI}", "values": f"0+0x{minutes}"},
    ]


def replace(series: list[dict[str, str]], name: str, values: str | None) -> list[dict[str, str]]:
    """The healthy series with `name`'s values changed, or left out (None: never pushed)."""
    kept = [s for s in series if not s["series"].startswith(f"{name}{{")]
    changed = [dict(s, values=values) for s in series if s["series"].startswith(f"{name}{{")] if values else []
    return kept + changed


def run_tests(tmp_path: Path, tests: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    spec = tmp_path / "tests.yaml"
    spec.write_text(yaml.safe_dump({"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": tests}))
    return subprocess.run([promtool(), "test", "rules", str(spec)], capture_output=True, text=True, timeout=60)


def rendered_annotations(alert: str, labels: dict[str, str], value: str) -> dict[str, str]:
    """The rule's annotations as Prometheus renders them for these labels and this value."""
    rule = next(r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if r["alert"] == alert)
    rendered = {}
    for key, text in rule["annotations"].items():
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
        rendered[key] = text.replace("{{ $value | humanizePercentage }}", value)
    return rendered


def fires(
    alert: str, series: list[dict[str, str]], labels: dict[str, str], value: str = "", at: str = "20m"
) -> dict[str, Any]:
    expected = {"exp_labels": labels, "exp_annotations": rendered_annotations(alert, labels, value)}
    return {
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": [expected]}],
    }


def quiet(alert: str, series: list[dict[str, str]], at: str = "20m") -> dict[str, Any]:
    return {"interval": "1m", "input_series": series, "alert_rule_test": [{"eval_time": at, "alertname": alert}]}


def unit_labels(instance: str, severity: str, **extra: str) -> dict[str, str]:
    return {
        "juju_model": "dev",
        "juju_application": "indico",
        "juju_unit": "indico/0",
        "instance": instance,
        "severity": severity,
        **extra,
    }


def test_promtool_accepts_the_rules() -> None:
    checked = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout


def test_nothing_fires_while_the_unit_is_healthy(tmp_path: Path) -> None:
    alerts = [rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    result = run_tests(tmp_path, [quiet(alert, healthy(30)) for alert in alerts])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("alert", "series", "labels", "value"),
    [
        (
            "IndicoNginxDown",
            replace(healthy(30), "nginx_up", "1 1 1 " + " ".join(["0"] * 27)),
            unit_labels("10.1.2.10:9113", "critical"),
            "",
        ),
        (
            "IndicoExporterDown",
            [s if s["series"] != f"up{UWSGI}" else dict(s, values=" ".join(["0"] * 30)) for s in healthy(30)],
            unit_labels("10.1.2.10:9102", "warning"),
            "",
        ),
        (
            "IndicoNotReady",
            replace(healthy(30), "indico_uwsgi_idle_workers", None),
            unit_labels("10.1.2.10:9113", "critical"),
            "",
        ),
        (
            "IndicoCeleryWorkerMissing",
            replace(healthy(30), "indico_celery_worker_up", None),
            unit_labels("10.1.2.10:9113", "critical"),
            "",
        ),
        (
            "IndicoHttpErrors",
            replace(healthy(30), "indico_http_responses_5xx", "0+12x30"),
            unit_labels("10.1.2.10:9102", "warning"),
            "20%",
        ),
        (
            "IndicoWorkersAllBusy",
            replace(replace(healthy(30), "indico_uwsgi_idle_workers", "0+0x30"), "indico_uwsgi_busy_workers", "4+0x30"),
            unit_labels("10.1.2.10:9102", "warning"),
            "",
        ),
    ],
)
def test_each_alert_fires_when_its_cause_appears(
    tmp_path: Path, alert: str, series: list[dict[str, str]], labels: dict[str, str], value: str
) -> None:
    result = run_tests(tmp_path, [fires(alert, series, labels, value)])
    assert result.returncode == 0, result.stdout + result.stderr
