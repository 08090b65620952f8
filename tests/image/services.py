"""Real PostgreSQL, Redis and an OCI registry for the image tests, started on loopback in temporary directories."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3

PG_USER = "indico"
PG_PASSWORD = "indico-test-password"  # a throw-away server on loopback, removed after the tests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def serve(argv: list[str], port: int) -> subprocess.Popen[bytes]:
    """Start a server that was told to listen on 127.0.0.1:`port`; return once it does."""
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return process


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Stop a server this module started: TERM, then KILL if it has not exited in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()


def installed(command: str) -> str:
    found = shutil.which(command)
    if found is None:
        raise RuntimeError(f"{command} is not installed (`make host` installs it)")
    return found


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@dataclass
class Postgres:
    port: int
    data: Path
    process: subprocess.Popen[bytes]
    bin: Path

    def uri(self, database: str) -> str:
        return f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [
                *self._as_postgres(),
                str(self.bin / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAt",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def require_password(self, user: str) -> None:
        """From now on `user` must give its password over TCP (the server trusts everyone else)."""
        hba = self.data / "pg_hba.conf"
        hba.write_text(f'host all "{user}" 127.0.0.1/32 scram-sha-256\n' + hba.read_text())
        self.psql("SELECT pg_reload_conf()")

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}" OWNER {PG_USER}')
        return self.uri(name)

    @staticmethod
    def _as_postgres() -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @classmethod
    def start(cls, base: Path, tls: tuple[Path, Path] | None = None) -> Postgres:
        """`tls`: the server's certificate and key; the server then speaks TLS to whoever asks."""
        pg_bin = postgres_bin()
        if pg_bin is None:
            raise RuntimeError("PostgreSQL is not installed (`make host` installs it)")
        data = base / "pgdata"
        data.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(base, "postgres")
            shutil.chown(data, "postgres")
        run_as = cls._as_postgres()
        subprocess.run(
            [
                *run_as,
                str(pg_bin / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
        )
        tls_options: list[str] = []
        if tls is not None:
            certificate, key = data / "server.crt", data / "server.key"
            shutil.copyfile(tls[0], certificate)
            shutil.copyfile(tls[1], key)
            key.chmod(0o600)
            if os.geteuid() == 0:
                shutil.chown(certificate, "postgres")
                shutil.chown(key, "postgres")
            tls_options = ["-c", "ssl=on", "-c", f"ssl_cert_file={certificate}", "-c", f"ssl_key_file={key}"]
        port = free_port()
        process = serve(
            [
                *run_as,
                str(pg_bin / "postgres"),
                *tls_options,
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={data}",
                "-c",
                "max_connections=200",
                "-c",
                "fsync=off",
            ],
            port,
        )
        server = cls(port=port, data=data, process=process, bin=pg_bin)
        for _ in range(50):  # the port opens slightly before connections are accepted
            try:
                server.psql("SELECT 1")
                break
            except subprocess.CalledProcessError:
                time.sleep(0.2)
        server.psql(f"CREATE ROLE {PG_USER} LOGIN PASSWORD '{PG_PASSWORD}'")
        return server

    def stop(self) -> None:
        stop_process(self.process, timeout=20)


@dataclass
class Redis:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, base: Path) -> Redis:
        binary = installed("redis-server")
        port = free_port()
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        return cls(port=port, process=serve([*argv, "--dir", str(base)], port))

    def stop(self) -> None:
        stop_process(self.process, timeout=10)


@dataclass
class Registry:
    """Debian's docker-registry (the CNCF distribution registry), plain HTTP on loopback."""

    address: str
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, base: Path) -> Registry:
        binary = installed("docker-registry")
        port = free_port()
        config = base / "registry.yml"
        config.write_text(
            "version: 0.1\n"
            "log: {level: warn}\n"
            f"storage: {{filesystem: {{rootdirectory: {base / 'registry'}}}}}\n"
            f"http: {{addr: '127.0.0.1:{port}'}}\n"
        )
        return cls(address=f"127.0.0.1:{port}", process=serve([binary, "serve", str(config)], port))

    def stop(self) -> None:
        stop_process(self.process, timeout=10)


# The bucket and keys the tests' S3 server holds (moto accepts any keys; these reach Indico).
S3_BUCKET = "indico-files"
S3_KEYS = ("indico-key", "indico/secret+key=")
S3_REGION = "eu-west-1"


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    """boto3's client for the tests' S3 server (or a proxy in front of it)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_KEYS[0],
        aws_secret_access_key=S3_KEYS[1],
        region_name=S3_REGION,
    )


@dataclass
class S3Server:
    """moto's S3 server on loopback (plain http), with the bucket S3_BUCKET."""

    endpoint: str
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, base: Path) -> S3Server:
        port = free_port()
        with (base / "moto.log").open("w") as log:
            moto = Path(sys.executable).parent / "moto_server"
            process = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
        server = cls(f"http://127.0.0.1:{port}", process)
        try:
            wait_port(port)
            s3_client(server.endpoint).create_bucket(
                Bucket=S3_BUCKET, CreateBucketConfiguration={"LocationConstraint": S3_REGION}
            )
        except Exception:
            server.stop()
            raise
        return server

    def client(self):  # type: ignore[no-untyped-def]
        return s3_client(self.endpoint)

    def stop(self) -> None:
        stop_process(self.process, 30)
