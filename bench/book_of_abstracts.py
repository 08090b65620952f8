"""The book of abstracts of a 50-abstract conference, made by the indico-latex rock's worker:
asked for through NGINX on :8080 once (cold: Indico runs XeLaTeX) and again (warm: Indico keeps the
PDF it made), with the pod's memory peak over both (indico, indico-nginx and indico-latex).

The abstracts are in three scripts (Latin with accents, Greek, CJK), each with a formula. Every
request and wait is on loopback and bounded by a timeout.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import docker

from rockbuild import build_rock as builder
from rockbuild.cli import ROCKS_DIR
from tests.image import indico_site, latex_worker
from tests.image.conftest import exec_text
from tests.image.indico_site import CREATE_CONFERENCE
from tests.image.services import Postgres, Redis
from tests.image.test_indico_rocks import indico_env

ABSTRACTS = 50
SCRIPTS = ("Déjà vu: naïve façades in Zürich", "Η φυσική των σωματιδίων", "素粒子物理学の新しい結果")
BOOK_TIMEOUT = 600  # seconds a visitor's request may take here (the worker's own limit is 120 s per run)


def measure(client: docker.DockerClient, say: Any) -> dict[str, Any]:
    rocks = {name: builder.build(ROCKS_DIR / name, "auto") for name in ("indico", "indico-nginx", "indico-latex")}
    with tempfile.TemporaryDirectory(prefix="indico-bench-book-") as tmp:
        base = Path(tmp)
        base.chmod(0o755)
        postgres, redis = Postgres.start(base / "pg"), Redis.start(base)
        socket_dir = base / "latex-socket"
        socket_dir.mkdir()
        latex = latex_worker.start(client, rocks["indico-latex"].image, socket_dir, job_timeout=120)
        try:
            env = {**indico_env(postgres, redis, "indico_bench_book"), "INDICO_LATEX_SOCKET": latex_worker.SOCKET}
            volumes = latex_worker.mount(socket_dir)
            with indico_site.running_pair(client, rocks, env, volumes=volumes) as (indico, nginx):
                say(f"book of abstracts: a conference of {ABSTRACTS} abstracts")
                indico_site.create_admin(indico)
                titles = [f"{SCRIPTS[n % 3]} ({n + 1})" for n in range(ABSTRACTS)]
                created = exec_text(indico, ["python3", "-c", CREATE_CONFERENCE, indico_site.ADMIN_EMAIL, *titles])
                event_id = int(created.strip().splitlines()[-1].split()[0])
                pod = {"indico": indico, "indico-nginx": nginx, "indico-latex": latex}
                with MemoryPeak(pod) as memory:
                    cold = _fetch(event_id, say, "cold")
                    warm = _fetch(event_id, say, "warm")
                return {
                    "abstracts": ABSTRACTS,
                    "cold_s": cold[0],
                    "warm_s": warm[0],
                    "pdf_kb": round(cold[1] / 1024),
                    "same_pdf_warm": cold[2] == warm[2],
                    "memory_peak_mb": memory.peaks(),
                }
        finally:
            latex.remove(force=True)
            redis.stop()
            postgres.stop()


def _fetch(event_id: int, say: Any, label: str) -> tuple[float, int, bytes]:
    say(f"book of abstracts: GET through :8080 ({label})")
    start = time.monotonic()
    answer = indico_site.Browser().get(f"/event/{event_id}/book-of-abstracts.pdf", timeout=BOOK_TIMEOUT)
    elapsed = round(time.monotonic() - start, 2)
    if answer.status_code != 200 or not answer.content.startswith(b"%PDF"):
        raise RuntimeError(f"book of abstracts ({label}): {answer.status_code} {answer.text[:300]}")
    return elapsed, len(answer.content), answer.content


class MemoryPeak:
    """The highest memory each container and the pod (their sum) used while it ran, sampled from
    the containers' cgroups ten times a second (without the page cache the kernel can drop)."""

    def __init__(self, containers: dict[str, Any]) -> None:
        self.paths = {name: _cgroup_memory(container.id) for name, container in containers.items()}
        self.peak = {name: 0 for name in containers} | {"pod": 0}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> MemoryPeak:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)

    def _sample(self) -> None:
        while not self.stop.is_set():
            used = {name: _used_bytes(path) for name, path in self.paths.items()}
            for name, value in used.items():
                self.peak[name] = max(self.peak[name], value)
            self.peak["pod"] = max(self.peak["pod"], sum(used.values()))
            self.stop.wait(0.1)

    def peaks(self) -> dict[str, float]:
        return {name: round(value / 2**20, 1) for name, value in self.peak.items()}


def _cgroup_memory(container_id: str) -> tuple[Path, str, str]:
    """The container's memory cgroup: (directory, usage file, inactive-file key of memory.stat)."""
    for directory, usage, inactive in (
        (Path(f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope"), "memory.current", "inactive_file"),
        (Path(f"/sys/fs/cgroup/docker/{container_id}"), "memory.current", "inactive_file"),
        (Path(f"/sys/fs/cgroup/memory/docker/{container_id}"), "memory.usage_in_bytes", "total_inactive_file"),
    ):
        if (directory / usage).is_file():
            return directory, usage, inactive
    raise RuntimeError(f"no memory cgroup found for container {container_id[:12]}")


def _used_bytes(cgroup: tuple[Path, str, str]) -> int:
    directory, usage, inactive = cgroup
    try:
        total = int((directory / usage).read_text())
        stat = dict(line.split() for line in (directory / "memory.stat").read_text().splitlines())
    except (FileNotFoundError, ValueError):
        return 0
    return max(0, total - int(stat.get(inactive, 0)))


def table(results: dict[str, Any]) -> str:
    memory = results["memory_peak_mb"]
    return "\n".join(
        [
            f"| book of abstracts, {results['abstracts']} abstracts in three scripts (through :8080) | value |",
            "|---|---|",
            f"| cold: Indico runs XeLaTeX in the indico-latex container (s) | {results['cold_s']} |",
            f"| warm: Indico's cached PDF (s) | {results['warm_s']} |",
            f"| PDF size (KiB) | {results['pdf_kb']} |",
            f"| pod memory peak, all three containers (MiB) | {memory['pod']} |",
            f"| of which indico / indico-nginx / indico-latex at their own peaks (MiB) | "
            f"{memory['indico']} / {memory['indico-nginx']} / {memory['indico-latex']} |",
        ]
    )
