"""Private servers for fault tests: a redis-server and a PostgreSQL cluster to stop at will.

The shared servers on 5432/6379 serve every other test (and other people): fault tests never
touch them. Each server here gets a temporary directory and a free loopback port, is waited
for by probing (never a fixed sleep, always within a deadline), and is stopped on exit even
when the test failed.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg

from adapters.sql.migrate import upgrade
from bench.infra import free_port

START_WITHIN_SECONDS = 30.0
STOP_WITHIN_SECONDS = 30.0
POLL_SECONDS = 0.02


def wait_until(condition: Callable[[], bool], what: str, within: float) -> None:
    """Poll `condition` until it holds; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {within:.0f}s")
        time.sleep(POLL_SECONDS)


def port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started in its own session, and anything it started."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_WITHIN_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_WITHIN_SECONDS)


class PrivateRedis:
    """A throwaway redis-server (no persistence) on its own port; stop and start it again."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory = directory
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not on PATH (apt-get install redis-server)")
        command = [executable, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self._directory)]
        with (self._directory / "redis.log").open("ab") as log:
            # Its own session, so stopping it kills the whole process group.
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_until(self._answers_ping, "redis-server answering PING", START_WITHIN_SECONDS)

    def stop(self) -> None:
        """Stop the server and return once its port refuses connections."""
        self.thaw()  # a frozen server would not act on SIGTERM
        if self._process is not None:
            _kill_group(self._process)
            self._process = None
        wait_until(lambda: not port_accepts(self.port), "redis port closing", STOP_WITHIN_SECONDS)

    def freeze(self) -> None:
        """SIGSTOP: the port stays open and connections are accepted, but nothing answers."""
        assert self._process is not None, "redis-server is not running"
        os.kill(self._process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self._process is not None:
            os.kill(self._process.pid, signal.SIGCONT)

    def _answers_ping(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            log = (self._directory / "redis.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"redis-server exited with {self._process.returncode}:\n{log}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    with tempfile.TemporaryDirectory(prefix="astra-fault-redis-") as tmp:
        server = PrivateRedis(Path(tmp))
        try:
            server.start()
            yield server
        finally:
            server.stop()


def postgres_bin_dir() -> Path:
    """`ASTRA_TEST_PG_BIN`, else the newest /usr/lib/postgresql/<version>/bin, else PATH."""
    configured = os.environ.get("ASTRA_TEST_PG_BIN", "").strip()
    if configured:
        return Path(configured)
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if installed:
        return installed[-1]
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("initdb not found: install PostgreSQL or set ASTRA_TEST_PG_BIN")
    return Path(initdb).parent


class PrivatePostgres:
    """A throwaway PostgreSQL cluster (trust auth, loopback only) that can be stopped mid-test.

    PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user.
    """

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self._bin = postgres_bin_dir()
        self._directory = directory
        self.data = directory / "data"
        self._log = directory / "postgres.log"
        self._user = _unprivileged_user()
        if self._user is not None:
            os.chown(directory, self._user.pw_uid, self._user.pw_gid)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """For asyncpg itself."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--no-sync", "--no-instructions",
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self._directory}'\n"
                # A throwaway cluster: durability only slows the test down.
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )

    def start(self, *, standby: bool = False) -> None:
        """Start and wait until the postmaster is up (as a standby it accepts no sessions).

        `standby=True` with `hot_standby = off` keeps the server in recovery for good, where
        every connection is refused with 57P03 ("the database system is not accepting
        connections"): the state a replica or a restarting primary is in.
        """
        signal_file = self.data / "standby.signal"
        hot_standby = self.data / "postgresql.auto.conf"
        if standby:
            signal_file.touch()
            hot_standby.write_text("hot_standby = off\n")
        else:
            signal_file.unlink(missing_ok=True)
            hot_standby.write_text("")
        if self._user is not None:
            for path in (signal_file, hot_standby):
                if path.exists():
                    os.chown(path, self._user.pw_uid, self._user.pw_gid)
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self._log), "-w",
            "-t", str(int(START_WITHIN_SECONDS)), "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast", *, wait: bool = True) -> None:
        """`pg_ctl stop -m mode`; with `wait=False` the shutdown is only begun."""
        timeout = str(int(STOP_WITHIN_SECONDS))
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-W" if not wait else "-w",
                  "-t", timeout, "stop")  # fmt: skip

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def kill(self) -> None:
        """Last-resort cleanup: an immediate stop, then the postmaster's pid if it survived."""
        if not self.is_running():
            return
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.stop("immediate")
        pid_file = self.data / "postmaster.pid"
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)

    async def migrated_database(self, name: str) -> str:
        """Create database `name` on this cluster, migrate it, and return its URL."""
        admin = await asyncpg.connect(self.dsn(), timeout=10)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        url = self.url(name)
        await upgrade(url)
        return url

    def log_tail(self) -> str:
        try:
            return self._log.read_text(errors="replace")[-3000:]
        except FileNotFoundError:
            return ""

    def _run(self, program: str, *arguments: str) -> None:
        command = [str(self._bin / program), *arguments]
        result = subprocess.run(
            command,
            capture_output=True,
            timeout=START_WITHIN_SECONDS + STOP_WITHIN_SECONDS,
            user=self._user.pw_uid if self._user is not None else None,
            group=self._user.pw_gid if self._user is not None else None,
            cwd=self._directory,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({result.returncode}): {result.stderr.decode(errors='replace')}"
                f"\n--- server log ---\n{self.log_tail()}"
            )


def _unprivileged_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(os.environ.get("ASTRA_TEST_PG_USER", "postgres"))
    except KeyError:
        raise RuntimeError(
            "running as root needs an unprivileged user for PostgreSQL: create `postgres` or "
            "set ASTRA_TEST_PG_USER"
        ) from None


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """An initialised, running cluster; removed (and stopped if still up) on exit."""
    with tempfile.TemporaryDirectory(prefix="astra-fault-pg-") as tmp:
        cluster = PrivatePostgres(Path(tmp))
        try:
            cluster.init()
            cluster.start()
            yield cluster
        finally:
            cluster.kill()
