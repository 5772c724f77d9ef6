"""A throwaway PostgreSQL cluster for the tests: initdb in a temp dir, a free port on
127.0.0.1, stopped at the end. Run as an unprivileged user when the tests run as root
(initdb refuses root; CI runs as root). Not a test module itself.

No server binaries here: the PostgreSQL tests are skipped, with one line saying so.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

SKIP_REASON = "PostgreSQL tests skipped: no server binaries (pg_config --bindir has no initdb)"


def server_binaries() -> Path | None:
    """The directory of initdb and pg_ctl: PG_BINDIR if set, else pg_config's answer, or
    Debian's usual place."""
    if "PG_BINDIR" in os.environ:
        given = Path(os.environ["PG_BINDIR"])
        return given if (given / "initdb").exists() else None
    candidates = []
    if pg_config := shutil.which("pg_config"):
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(found.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in candidates:
        if directory and (Path(directory) / "initdb").exists():
            return Path(directory)
    return None


TEST_OPTIONS = "-F -c max_connections=200 -c shared_buffers=64MB"  # no fsync: throwaway


class Cluster:
    def __init__(self, bindir: Path, options: str = TEST_OPTIONS) -> None:
        """`options`: the server's own (postgres -c …); the tests' skip fsync."""
        self.bindir = bindir
        self.options = options
        self.root = Path(tempfile.mkdtemp(prefix="bot-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        # initdb refuses root: as root, the cluster is nobody's.
        self.user = "nobody" if os.geteuid() == 0 else None
        if self.user:
            os.chown(self.root, pwd.getpwnam(self.user).pw_uid, -1)
        self.root.chmod(0o700)

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, text=True)

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "bot",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        self._serve()

    def _serve(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 {self.options}"
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.root / "log"), "-w", "start",
        )  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Stop at once (connections die) and start again, on the same port."""
        self.stop()
        self._serve()

    def resume(self) -> None:
        """Start again after `stop`, on the same port."""
        self._serve()

    def remove(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():  # not stopped already
                self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://bot@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"create database {name}")
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"drop database if exists {name} with (force)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def schemas(url: str) -> list[str]:
    """The schemas of the database at `url`."""
    with psycopg.connect(url) as conn:
        return [name for (name,) in conn.execute("select nspname from pg_namespace")]
