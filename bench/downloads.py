"""Slow downloads of a large attachment while people open the event page: with the file sent by
uWSGI (INDICO_NGINX_SENDS_FILES off: each download holds one of four workers for its whole
transfer) and by NGINX (the charm's pod: a worker is free as soon as Indico has checked access).

16 clients, each held to 2 MB/s (people on slow links), download a 50 MB attachment over and over
while wrk measures the event page through NGINX; the same page alone is the baseline. Everything
is on loopback and bounded by the run's duration.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import docker

from tests.image import indico_site
from tests.image.services import Postgres, Redis

CLIENTS = 16
SIZE_MB = 50
RATE = "2M"  # per client
ARCHIVE = "/var/lib/indico/archive"


def measure(client: docker.DockerClient, duration: int, wrk: Any, wait_200: Any, say: Any) -> dict[str, Any]:
    """{"uwsgi": {...}, "nginx": {...}}: the event page's figures alone and during the downloads."""
    results = {}
    for sender in ("uwsgi", "nginx"):
        say(f"downloads: {CLIENTS} slow clients of a {SIZE_MB} MB attachment, sent by {sender}")
        results[sender] = _one(client, duration, sender == "nginx", wrk, wait_200)
    return results


def _one(client: docker.DockerClient, duration: int, nginx_sends: bool, wrk: Any, wait_200: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="indico-bench-downloads-") as tmp:
        base = Path(tmp)
        base.chmod(0o755)
        postgres, redis = Postgres.start(base / "pg"), Redis.start(base)
        volume = client.volumes.create(f"indico-bench-archive-{uuid.uuid4().hex[:8]}")
        running = []
        try:
            env = {
                "INDICO_DB_URI": postgres.create_database("indico_bench_downloads"),
                "INDICO_REDIS_URL": redis.url,
                "INDICO_SECRET_KEY": uuid.uuid4().hex * 2,
                "INDICO_BASE_URL": "http://localhost:8080",
                "INDICO_LISTEN_ADDRESS": "127.0.0.1",
                "INDICO_NGINX_SENDS_FILES": "true" if nginx_sends else "false",
            }
            mount = {volume.name: {"bind": ARCHIVE, "mode": "rw"}}
            indico = client.containers.run(
                "indico:3.3.14", detach=True, network_mode="host", environment=env, volumes=mount
            )
            running.append(indico)
            nginx = client.containers.run(
                "indico-nginx:3.3.14",
                detach=True,
                network_mode="host",
                environment={"NGINX_LISTEN_ADDRESS": "127.0.0.1"},
                volumes={volume.name: {"bind": ARCHIVE, "mode": "ro"}},
            )
            running.append(nginx)
            wait_200("http://127.0.0.1:8080/bootstrap", 300)
            indico_site.create_admin(indico)
            event_id = indico_site.create_event(indico, "Bench downloads")
            browser = indico_site.Browser()
            browser.log_in()
            attachment = browser.upload_attachment(event_id, "recording.bin", os.urandom(SIZE_MB * 2**20))
            event = f"http://127.0.0.1:8080/event/{event_id}/"
            wait_200(event, 60)
            alone = wrk(event, duration, 8)
            downloads = [
                subprocess.Popen(
                    [
                        "curl",
                        "-s",
                        "-o",
                        "/dev/null",
                        "-H",
                        "Host: localhost:8080",
                        "--limit-rate",
                        RATE,
                        "--max-time",
                        str(duration + 10),
                        f"http://127.0.0.1:8080{attachment}",
                    ]
                )
                for _ in range(CLIENTS)
            ]
            try:
                time.sleep(2)  # every client has started its transfer
                loaded = wrk(event, duration, 8)
            finally:
                for process in downloads:
                    process.terminate()
                for process in downloads:
                    process.wait(timeout=30)
            nginx_log = nginx.logs().decode(errors="replace")
            return {
                # NGINX buffers what uWSGI sends faster than a client reads: to a temporary file.
                "buffered_to_disk": nginx_log.count("buffered to a temporary file"),
                "alone": alone,
                "during_downloads": loaded,
                "p99_ratio": round(loaded["p99_ms"] / alone["p99_ms"], 2) if alone["p99_ms"] else "-",
            }
        finally:
            for container in running:
                container.remove(force=True)
            volume.remove(force=True)
            redis.stop()
            postgres.stop()


def table(results: dict[str, Any]) -> str:
    lines = [
        f"| event page on :8080 (8 connections), {CLIENTS} clients downloading {SIZE_MB} MB at {RATE}B/s each "
        "| req/s alone | p99 ms alone | req/s during | p99 ms during | errors during "
        "| p99 during / alone (goal <= 1.2) | responses NGINX buffered to disk |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for sender, row in results.items():
        alone, during = row["alone"], row["during_downloads"]
        errors = during["non_2xx"] + during["socket_errors"]
        lines.append(
            f"| file sent by {sender} | {alone['rps']} | {alone['p99_ms']} | {during['rps']} | {during['p99_ms']} "
            f"| {errors} | {row['p99_ratio']} | {row['buffered_to_disk']} |"
        )
    return "\n".join(lines)
