#!/usr/bin/env python3
"""`make bench`: build, size, start-up, serving and memory figures of the rocks, each against a
baseline measured in the same run (these machines are noisy, so ratios are what to compare).

Everything talks to loopback only; every load run is bounded by --duration, every wait by a timeout.
Results are printed as a table and written to bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import docker  # noqa: E402

from bench import book_of_abstracts, downloads, fresh_machine, issue_goals  # noqa: E402
from rockbuild import build_rock as builder  # noqa: E402
from rockbuild.build import local_build  # noqa: E402
from rockbuild.build.project import load_project  # noqa: E402
from rockbuild.cli import ROCKS_DIR  # noqa: E402
from rockbuild.errors import BuildError  # noqa: E402
from rockbuild.parity import rockfile  # noqa: E402
from rockbuild.progress import Progress  # noqa: E402
from rockbuild.publish import release as publish  # noqa: E402
from rockbuild.real_rockcraft import pack as rockcraft_pack  # noqa: E402
from rockbuild.real_rockcraft import source as rockcraft_source  # noqa: E402
from tests.image import external_sources, indico_site  # noqa: E402
from tests.image.services import Postgres, Redis, Registry  # noqa: E402 - the same real servers the image tests use

SITE = "localhost:8080"
SWEEP = (8, 32, 64)  # wrk connections on the event page through NGINX
HOP_PAIRS = 4  # interleaved pairs of runs, straight from uWSGI and through NGINX
STATIC = "/images/indico.ico"
# A visitor with a session: NGINX's page cache (anonymous visitors only) is bypassed and Indico
# renders every request, as for someone signed in.
WITH_SESSION = "Cookie: indico_session=bench-visitor"
ANONYMOUS = "Accept: text/html"  # no cookie: a first visit, served from NGINX's page cache
BUILDER_ROCKS = {"fixture-rock": REPO / "tests/image/fixtures/fixture-rock", "indico-nginx": ROCKS_DIR / "indico-nginx"}
DEFAULT_ROCKCRAFT_SOURCE = REPO.parent / "shared/oracles/rockcraft/rockcraft-1.20.0.tar.gz"
CONFIG_FILES = {"indico": "files/etc/indico/uwsgi.ini", "indico-nginx": "files/etc/nginx/nginx.conf.template"}


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return round(time.monotonic() - started, 2)


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def bench_build(name: str) -> dict[str, float]:
    rock_dir = ROCKS_DIR / name
    say(f"build {name}: cold (no part work; machine caches kept)")
    local_build.forget(rock_dir)
    cold = timed(lambda: builder.build(rock_dir, "local"))
    say(f"build {name}: warm (nothing changed)")
    warm = timed(lambda: builder.build(rock_dir, "local"))
    config = rock_dir / CONFIG_FILES[name]
    original = config.read_text()
    say(f"build {name}: after changing {config.relative_to(rock_dir)}")
    try:
        marker = "#" if config.suffix != ".ini" else ";"
        config.write_text(original + f"\n{marker} bench {uuid.uuid4().hex}\n")
        one_file = timed(lambda: builder.build(rock_dir, "local"))
    finally:
        config.write_text(original)
    builder.build(rock_dir, "local")  # back to the committed configuration
    return {
        "cold_s": cold,
        "warm_s": warm,
        "cold_over_warm": round(cold / max(warm, 0.01)),
        "one_config_file_s": one_file,
    }


def bench_builders(setting: str | None) -> dict[str, Any]:
    """Both builders on the same rocks, one after the other: cold (no part state; machine caches
    kept) and warm (part state kept, nothing changed, a full pack or assemble anyway)."""
    try:
        source = rockcraft_source.resolve(setting)
    except BuildError as exc:
        return {"skipped": str(exc)}
    say("builders: real rockcraft's image (once per machine)")
    first = next(iter(BUILDER_ROCKS.values()))
    image_s = timed(lambda: rockcraft_pack.prepare(load_project(first / "rockcraft.yaml"), source, Progress("bench")))
    results: dict[str, Any] = {"rockcraft_image_s": image_s, "rockcraft_version": source.version}
    for name, rock_dir in BUILDER_ROCKS.items():
        results[name] = both_builders_on(name, rock_dir, source)
    return results


def both_builders_on(name: str, rock_dir: Path, source: rockcraft_source.RockcraftSource) -> dict[str, Any]:
    progress = Progress(name)
    say(f"builders: {name} with the local builder, cold then warm")
    local_build.forget(rock_dir)
    project = load_project(rock_dir / "rockcraft.yaml")
    local_cold = timed(lambda: local_build.build_local(rock_dir, project, progress, force=True))
    local_warm = timed(lambda: local_build.build_local(rock_dir, project, progress, force=True))
    say(f"builders: {name} with real rockcraft, cold then warm")
    with tempfile.TemporaryDirectory(prefix="bench-rockcraft-") as scratch:
        out = Path(scratch)
        real_cold = timed(lambda: rockcraft_pack.pack(rock_dir, project, source, out, progress, cold=True))
        real_warm = timed(lambda: rockcraft_pack.pack(rock_dir, project, source, out, progress))
    return {
        "local": {"cold_s": local_cold, "warm_s": local_warm},
        "rockcraft": {"cold_s": real_cold, "warm_s": real_warm},
    }


def builders_table(found: dict[str, Any]) -> str:
    if "skipped" in found:
        return f"builder comparison skipped: {found['skipped']}"
    lines = [
        f"| rock | local cold (s) | rockcraft {found['rockcraft_version']} cold (s) "
        "| local warm (s) | rockcraft warm (s) |",
        "|---|---|---|---|---|",
    ]
    for name in BUILDER_ROCKS:
        row = found[name]
        lines.append(
            f"| {name} | {row['local']['cold_s']} | {row['rockcraft']['cold_s']} | "
            f"{row['local']['warm_s']} | {row['rockcraft']['warm_s']} |"
        )
    lines.append(f"\nreal rockcraft's image ready in {found['rockcraft_image_s']} s (made once per machine)")
    return "\n".join(lines)


def bench_size(client: docker.DockerClient, name: str, image: str) -> dict[str, Any]:
    """The image's size, and its largest directories (to depth 4) read from the .rock's layers:
    a bare rock has no du or sort to ask."""
    size = client.images.get(image).attrs["Size"]
    rock = builder.build(ROCKS_DIR / name, "local").path
    files: dict[str, int] = {}
    for layer in rockfile.read(rock).layers:  # later layers replace earlier ones, as in the image
        files.update({path: entry.size for path, entry in layer.items() if entry.kind == "file"})
    per_dir: dict[str, int] = {"/": sum(files.values())}
    for path, file_size in files.items():
        parts = path.split("/")[:-1]
        for depth in range(1, min(len(parts), 4) + 1):
            key = "/" + "/".join(parts[:depth])
            per_dir[key] = per_dir.get(key, 0) + file_size
    largest = sorted(per_dir.items(), key=lambda item: item[1], reverse=True)[:9]
    return {
        "image_mb": round(size / 1e6, 1),
        "largest_dirs": [{"path": path, "mb": round(total / 1048576, 1)} for path, total in largest],
    }


def get_status(url: str) -> int:
    request = urllib.request.Request(url, headers={"Host": SITE})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def wait_200(url: str, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if get_status(url) == 200:
            return round(time.monotonic() - started, 1)
        time.sleep(0.2)
    raise TimeoutError(f"{url} gave no 200 within {timeout}s")


def start_pair(client: docker.DockerClient, env: dict[str, str]) -> tuple[Any, Any]:
    indico = client.containers.run("indico:3.3.14", detach=True, network_mode="host", environment=env)
    nginx = client.containers.run(
        "indico-nginx:3.3.14", detach=True, network_mode="host", environment={"NGINX_LISTEN_ADDRESS": "127.0.0.1"}
    )
    return indico, nginx


def settle(seconds: float = 6) -> None:
    """Each run starts from an idle uWSGI: after a run at 64 connections, uWSGI still works through
    about 3-4 s of requests whose clients wrk has already closed, and the next run would wait
    behind them."""
    time.sleep(seconds)


def warm_up(paths: tuple[str, ...], duration: int, connections: int) -> None:
    """Each uWSGI worker compiles Indico's templates and fills its caches on its first requests
    (a first render takes about a second): without this, whichever run comes first meets them."""
    for path in paths:
        wrk(f"http://127.0.0.1:8081{path}", duration, connections)
    settle()


def hop_cost(path: str, duration: int, connections: int, pairs: int = HOP_PAIRS) -> dict[str, Any]:
    """What the NGINX hop costs the page: runs straight from uWSGI (:8081) and through NGINX
    (:8080) in pairs, alternately in either order; each ratio is taken within its pair and the
    median kept. These machines drift between runs a minute apart by more than the hop costs."""
    found = []
    for number in range(pairs):
        pair = {}
        for port in (8081, 8080) if number % 2 == 0 else (8080, 8081):
            settle(3)
            pair[port] = wrk(f"http://127.0.0.1:{port}{path}", duration, connections)
        found.append(pair)
    return {
        "pairs": [{f"{port}": run for port, run in pair.items()} for pair in found],
        "rps_ratio": round(statistics.median(p[8080]["rps"] / p[8081]["rps"] for p in found), 2),
        "p99_ratio": round(statistics.median(p[8080]["p99_ms"] / p[8081]["p99_ms"] for p in found), 2),
        "p50_cost_ms": round(statistics.median(p[8080]["p50_ms"] - p[8081]["p50_ms"] for p in found), 2),
    }


def memory_mb(container: Any) -> float:
    stats = container.stats(stream=False)["memory_stats"]
    usage = float(stats.get("usage", 0)) - float(stats.get("stats", {}).get("inactive_file", 0))
    return round(usage / 2**20, 1)


def wrk(url: str, duration: int, connections: int, *headers: str) -> dict[str, float]:
    """wrk's figures for one URL; by default as a visitor with a session (`headers`: instead)."""
    sent = [f"Host: {SITE}", *(headers or (WITH_SESSION,))]
    out = subprocess.run(
        ["wrk", "--latency", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s"]
        + [arg for header in sent for arg in ("-H", header)]
        + [url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def latency_ms(pct: str) -> float:
        found = re.search(rf"^\s*{pct}(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"no {pct}% latency in wrk's output:\n{out}")
        value, unit = found.groups()
        return round(float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit], 2)

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": latency_ms("50"),
        "p99_ms": latency_ms("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sum(int(n) for n in socket.groups()) if socket else 0,
    }


def bench_runtime(client: docker.DockerClient, duration: int, connections: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="indico-bench-") as tmp:
        base = Path(tmp)
        base.chmod(0o755)
        postgres, redis = Postgres.start(base / "pg"), Redis.start(base)
        try:
            env = {
                "INDICO_DB_URI": postgres.create_database("indico_bench"),
                "INDICO_REDIS_URL": redis.url,
                "INDICO_SECRET_KEY": uuid.uuid4().hex * 2,
                "INDICO_BASE_URL": f"http://{SITE}",
                "INDICO_LISTEN_ADDRESS": "127.0.0.1",
            }
            say("start-up with migrations (empty database)")
            pair = start_pair(client, env)
            results["startup_with_migrations_s"] = wait_200("http://127.0.0.1:8080/bootstrap", 300)
            for container in pair:
                container.remove(force=True)
            say("start-up, database already migrated")
            indico, nginx = start_pair(client, env)
            try:
                results["startup_migrated_s"] = wait_200("http://127.0.0.1:8080/bootstrap", 300)
                time.sleep(5)
                results["memory_idle_mb"] = {"indico": memory_mb(indico), "indico-nginx": memory_mb(nginx)}
                # A real page: an event an administrator created, as people open it (anonymously).
                say("setting up an administrator and an event")
                indico_site.create_admin(indico)
                event = f"/event/{indico_site.create_event(indico, 'Bench meeting')}/"
                wait_200(f"http://127.0.0.1:8080{event}", 60)
                serving: dict[str, Any] = {}
                peak = {"indico": 0.0, "indico-nginx": 0.0}
                for what, path in (("static", STATIC), ("event", event), ("home", "/")):
                    if what == "event":
                        # After the static runs: their ~9 500 requests through uWSGI come near its
                        # max-requests (2 500 a worker), and a worker replaced then starts cold.
                        say("warming uWSGI's workers on the event and home pages")
                        warm_up((event, "/"), 5, connections)
                    for port in (8080, 8081):
                        say(f"serving {what} on :{port} for {duration}s with {connections} connections")
                        stop = threading.Event()

                        def sample(stop: threading.Event = stop) -> None:
                            while not stop.is_set():
                                peak["indico"] = max(peak["indico"], memory_mb(indico))
                                peak["indico-nginx"] = max(peak["indico-nginx"], memory_mb(nginx))

                        settle(3)
                        sampler = threading.Thread(target=sample)
                        sampler.start()
                        try:
                            serving[f"{what}_{port}"] = wrk(f"http://127.0.0.1:{port}{path}", duration, connections)
                        finally:
                            stop.set()
                            sampler.join(timeout=30)
                say(f"event page for anonymous visitors (NGINX's page cache) on :8080 with {connections} connections")
                serving["event-anonymous_8080"] = wrk(f"http://127.0.0.1:8080{event}", duration, connections, ANONYMOUS)
                results["serving"] = serving
                say(f"the NGINX hop on the event page: {HOP_PAIRS} interleaved pairs of {duration}s runs")
                results["hop"] = hop = hop_cost(event, duration, connections)
                results["ratios"] = {
                    "static_rps_nginx_over_uwsgi": round(
                        serving["static_8080"]["rps"] / serving["static_8081"]["rps"], 2
                    ),
                    "event_rps_nginx_over_uwsgi (median of the pairs)": hop["rps_ratio"],
                    "event_p99_nginx_over_uwsgi (median of the pairs)": hop["p99_ratio"],
                    "event_p50_proxy_cost_ms (median of the pairs)": hop["p50_cost_ms"],
                }
                sweep: dict[str, Any] = {}
                for count in SWEEP:
                    settle()
                    say(f"event page through :8080 for {duration}s with {count} connections")
                    sweep[str(count)] = wrk(f"http://127.0.0.1:8080{event}", duration, count)
                results["sweep_event_8080"] = sweep
                anonymous: dict[str, Any] = {}
                for count in SWEEP:
                    settle()
                    say(f"event page for anonymous visitors through :8080 for {duration}s with {count} connections")
                    anonymous[str(count)] = wrk(f"http://127.0.0.1:8080{event}", duration, count, ANONYMOUS)
                results["sweep_event_8080_anonymous"] = anonymous
                results["memory_under_load_mb"] = peak
            finally:
                indico.remove(force=True)
                nginx.remove(force=True)
        finally:
            redis.stop()
            postgres.stop()
    return results


def bench_publish() -> dict[str, float]:
    """`build.py publish --no-charmhub` to a loopback registry: first push, then the same again
    (every blob already there), the baseline."""
    with tempfile.TemporaryDirectory() as scratch:
        registry = Registry.start(Path(scratch))
        try:
            options = publish.Options(
                charm_dir=REPO / "charm",
                rocks_dir=ROCKS_DIR,
                manifest=Path(scratch) / "manifest.json",
                registry=f"{registry.address}/bench",
                registry_tls_verify=False,
                charmhub=False,
            )

            def push() -> None:
                publish.publish(
                    options, REPO / "charm/indico_amd64.charm", publish.run_on_host, publish.run_on_host, say
                )

            say("publish: both rocks to an empty loopback registry")
            first = timed(push)
            say("publish: the same again")
            again = timed(push)
        finally:
            registry.stop()
    return {"first_push_s": first, "push_again_s": again, "first_over_again": round(first / max(again, 0.01), 1)}


def bench_external(client: docker.DockerClient) -> dict[str, float]:
    """The rock's indico-external: installing a plugin wheel and cloning a customization repo, then
    the same inputs again (what the charm would skip without even running it)."""
    with tempfile.TemporaryDirectory() as scratch:
        sources = Path(scratch)
        sources.chmod(0o755)
        wheel = external_sources.plugin_wheel(sources)
        external_sources.customization_repo(sources, "bench")
        container = client.containers.run(
            "indico:3.3.14",
            ["sleep", "600"],
            entrypoint=[],
            detach=True,
            network_mode="host",
            user="584792:584792",
            volumes={str(sources): {"bind": "/srv/sources", "mode": "ro"}},
        )
        try:
            command = ["indico-external", "sync", "--customization-url", "file:///srv/sources/custom-src", "--"]
            command.append(f"/srv/sources/{wheel.name}")

            def sync() -> None:
                code, output = container.exec_run(command)
                if code != 0:
                    raise RuntimeError(output.decode(errors="replace"))

            say("indico-external: install a plugin and clone a repository")
            first = timed(sync)
            say("indico-external: the same inputs again")
            again = timed(sync)
        finally:
            container.remove(force=True)
    return {"install_s": first, "unchanged_s": again, "install_over_unchanged": round(first / max(again, 0.01), 1)}


def table(results: dict[str, Any]) -> str:
    lines = ["| figure | indico | indico-nginx |", "|---|---|---|"]
    b = results["build"]
    for key, label in (
        ("cold_s", "build, cold (s)"),
        ("warm_s", "build, warm (s)"),
        ("cold_over_warm", "cold / warm"),
        ("one_config_file_s", "build after one config change (s)"),
    ):
        lines.append(f"| {label} | {b['indico'][key]} | {b['indico-nginx'][key]} |")
    s = results["size"]
    lines.append(f"| image size (MB) | {s['indico']['image_mb']} | {s['indico-nginx']['image_mb']} |")
    r = results["runtime"]
    lines.append(f"| memory idle (MiB) | {r['memory_idle_mb']['indico']} | {r['memory_idle_mb']['indico-nginx']} |")
    peak = r["memory_under_load_mb"]
    lines.append(f"| memory under load, peak (MiB) | {peak['indico']} | {peak['indico-nginx']} |")
    lines += [
        "",
        "| start-up to first 200 through :8080 | seconds |",
        "|---|---|",
        f"| database already migrated | {r['startup_migrated_s']} |",
        f"| empty database (with migrations) | {r['startup_with_migrations_s']} |",
        "",
        "| serving | req/s | p50 ms | p99 ms | non-2xx |",
        "|---|---|---|---|---|",
    ]
    for key, row in r["serving"].items():
        lines.append(
            f"| {key.replace('_', ' on :')} | {row['rps']} | {row['p50_ms']} | {row['p99_ms']} | {row['non_2xx']} |"
        )
    for sweep, who in (("sweep_event_8080", "with a session"), ("sweep_event_8080_anonymous", "anonymous")):
        if sweep not in r:
            continue
        lines += ["", f"| event page on :8080, {who}, connections | req/s | p50 ms | p99 ms | errors |"]
        lines.append("|---|---|---|---|---|")
        for count, row in r[sweep].items():
            errors = row["non_2xx"] + row["socket_errors"]
            lines.append(f"| {count} | {row['rps']} | {row['p50_ms']} | {row['p99_ms']} | {errors} |")
    lines += ["", "| ratio | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in r["ratios"].items()]
    pub, ext = results["publish"], results["external"]
    lines += [
        "",
        "| shipping and run-time additions | seconds |",
        "|---|---|",
        f"| publish every rock to an empty loopback registry | {pub['first_push_s']} |",
        f"| the same publish again (blobs present) | {pub['push_again_s']} |",
        f"| indico-external: install a plugin wheel + clone a repo | {ext['install_s']} |",
        f"| indico-external: same inputs again (no pip, no git) | {ext['unchanged_s']} |",
    ]
    if "downloads" in results:
        lines += ["", downloads.table(results["downloads"])]
    if "book_of_abstracts" in results:
        lines += ["", book_of_abstracts.table(results["book_of_abstracts"])]
    if "builders" in results:
        lines += ["", builders_table(results["builders"])]
    lines += ["", issue_goals.table(issue_goals.collect(results, fresh_machine.RESULTS))]
    lines.append("\nLargest directories:")
    for name, size in s.items():
        lines.append(f"- {name}: " + ", ".join(f"{d['path']} {d['mb']} MB" for d in size["largest_dirs"][:6]))
    return "\n".join(lines)


def plot_sweep(sweep: dict[str, dict[str, float]], path: Path) -> None:
    """Throughput and tail latency against connections, one PNG (people compare curves faster)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = [int(c) for c in sweep]
    fig, throughput = plt.subplots(figsize=(7, 4), dpi=100)
    throughput.plot(counts, [sweep[str(c)]["rps"] for c in counts], "o-", color="tab:blue", label="req/s")
    throughput.set_xlabel("wrk connections (event page through NGINX :8080)")
    throughput.set_ylabel("requests per second", color="tab:blue")
    throughput.set_xticks(counts)
    latency = throughput.twinx()
    latency.plot(counts, [sweep[str(c)]["p50_ms"] for c in counts], "s--", color="tab:orange", label="p50 ms")
    latency.plot(counts, [sweep[str(c)]["p99_ms"] for c in counts], "^--", color="tab:red", label="p99 ms")
    latency.set_ylabel("latency (ms)", color="tab:red")
    throughput.set_ylim(bottom=0)  # from zero: small wobbles must not look like cliffs
    latency.set_ylim(bottom=0)
    for count in counts:
        errors = sweep[str(count)]["non_2xx"] + sweep[str(count)]["socket_errors"]
        if errors:
            throughput.annotate(
                f"{errors} errors", (count, sweep[str(count)]["rps"]), textcoords="offset points", xytext=(0, 8)
            )
    fig.legend(loc="upper left", bbox_to_anchor=(0.12, 0.88))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=int, default=10, help="seconds of load per serving run (default %(default)s)"
    )
    parser.add_argument(
        "--connections", type=int, default=8, help="wrk connections per serving run (default %(default)s)"
    )
    parser.add_argument("--skip-build", action="store_true", help="skip the build figures (use the images as they are)")
    parser.add_argument("--output", type=Path, default=REPO / "bench/results.json", help="where to write the results")
    parser.add_argument(
        "--rockcraft-source",
        default=str(DEFAULT_ROCKCRAFT_SOURCE) if DEFAULT_ROCKCRAFT_SOURCE.is_file() else None,
        help="real rockcraft's source for the builder comparison "
        "(default: %(default)s, else $ROCKBUILD_ROCKCRAFT_SOURCE)",
    )
    parser.add_argument(
        "--builders-only", action="store_true", help="only compare the builders (cold and warm); print, write nothing"
    )
    parser.add_argument(
        "--downloads-only",
        action="store_true",
        help="only the event page during slow downloads, file sent by uWSGI then NGINX; print, write nothing",
    )
    parser.add_argument(
        "--serving-only",
        action="store_true",
        help="only start-up, serving, the NGINX hop and the sweeps (as make bench runs them); print, write nothing",
    )
    parser.add_argument(
        "--book-only",
        action="store_true",
        help="only the book of abstracts of a 50-abstract conference (cold, warm, memory peak); print, write nothing",
    )
    args = parser.parse_args()
    if args.book_only:
        print(book_of_abstracts.table(book_of_abstracts.measure(docker.from_env(), say)))
        return 0
    if args.builders_only:
        print(builders_table(bench_builders(args.rockcraft_source)))
        return 0
    if args.downloads_only:
        print(downloads.table(downloads.measure(docker.from_env(), max(args.duration, 15), wrk, wait_200, say)))
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed: run `make host`", file=sys.stderr)
        return 1
    client = docker.from_env()
    if args.serving_only:
        runtime = bench_runtime(client, args.duration, args.connections)
        print(json.dumps(runtime, indent=2))
        print(issue_goals.table(issue_goals.serving_goals(runtime)))
        return 0
    results: dict[str, Any] = {
        "machine": {"cpus": len(__import__("os").sched_getaffinity(0)), "platform": platform.platform()},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    if args.skip_build:
        for name in ("indico", "indico-nginx"):
            builder.build(ROCKS_DIR / name, "local")
        results["build"] = {
            name: {"cold_s": "-", "warm_s": "-", "cold_over_warm": "-", "one_config_file_s": "-"}
            for name in ("indico", "indico-nginx")
        }
    else:
        results["build"] = {name: bench_build(name) for name in ("indico", "indico-nginx")}
    results["size"] = {name: bench_size(client, name, f"{name}:3.3.14") for name in ("indico", "indico-nginx")}
    results["runtime"] = bench_runtime(client, args.duration, args.connections)
    results["downloads"] = downloads.measure(client, max(args.duration, 15), wrk, wait_200, say)
    results["book_of_abstracts"] = book_of_abstracts.measure(client, say)
    results["publish"] = bench_publish()
    results["external"] = bench_external(client)
    results["builders"] = bench_builders(args.rockcraft_source)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    plot = args.output.with_name("sweep.png")
    plot_sweep(results["runtime"]["sweep_event_8080"], plot)
    print(table(results))
    print(f"\n(written to {args.output} and {plot})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
