"""A shared registry for a regional partnership: PostgreSQL plus `mlflow server` on loopback, started and stopped.

`make registry-up` / `make registry-down` (or `python -m training.registry_server up|down|status`) keep
everything in one folder (default `.registry/`, never committed):

    .registry/pg/          the PostgreSQL cluster (owned by the `postgres` user when run as root)
    .registry/run/         PostgreSQL's Unix socket
    .registry/artifacts/   the artifact store the MLflow server serves (`--serve-artifacts`)
    .registry/pgpass       the database password (mode 600; the server reads it through PGPASSFILE, so it is
                           never on a command line or in the repo)
    .registry/state.json   ports and the MLflow server's process id, for `down` and `status`
    .registry/*.log        the two servers' logs

Users change one thing: `export MLFLOW_TRACKING_URI=http://127.0.0.1:PORT` (printed by `up`). The code path is
the single council's; only the store differs. PostgreSQL refuses to run as root, so as root the cluster runs as
Debian's `postgres` user (`runuser`); the binaries come from Debian's `postgresql` package
(`/usr/lib/postgresql/*/bin`), installed by `make registry-deps` when missing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path(".registry")
DEFAULT_PORT = 5050          # the MLflow server
DEFAULT_PG_PORT = 55432      # PostgreSQL, loopback only
DATABASE = "mlflow"
DB_USER = "upstream"
PG_SYSTEM_USER = "postgres"
START_TIMEOUT_SECONDS = 120.0


class RegistryError(RuntimeError):
    """The registry could not be started or stopped; the message says why and where the log is."""


def postgres_bin_dir() -> Path | None:
    """The directory holding initdb and pg_ctl: Debian's newest /usr/lib/postgresql/N/bin, else PATH."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb).resolve().parent
    return None


def install_postgres() -> Path | None:
    """Install Debian's PostgreSQL server with apt-get (root only); the bin directory, or None if impossible."""
    found = postgres_bin_dir()
    if found is not None or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=False, env=env,
                   stdout=subprocess.DEVNULL)
    return postgres_bin_dir()


def why_unavailable() -> str | None:
    """None if a PostgreSQL server can be run here; otherwise the reason (for a test skip or an error)."""
    if postgres_bin_dir() is None:
        return ("PostgreSQL server binaries (initdb, pg_ctl) not found and not installable here "
                "(needs root and apt-get: `apt-get install postgresql`)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            return f"running as root but there is no '{PG_SYSTEM_USER}' user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            return "running as root but `runuser` is missing (util-linux), needed to run PostgreSQL as postgres"
    return None


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is not "in use"
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port on loopback nobody listens on now (for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RegistryServer:
    """One PostgreSQL cluster and one MLflow tracking server over it, both on 127.0.0.1, rooted in `root`."""

    root: Path = DEFAULT_ROOT
    port: int = DEFAULT_PORT
    pg_port: int = DEFAULT_PG_PORT
    workers: int = 1

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()

    # -- paths -----------------------------------------------------------------------------------------------
    @property
    def pg_data(self) -> Path:
        return self.root / "pg"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def pgpass(self) -> Path:
        return self.root / "pgpass"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def tracking_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def backend_uri(self) -> str:
        """The store's SQLAlchemy URI, without the password (libpq reads it from PGPASSFILE)."""
        # the driver named: SQLAlchemy 2.1 defaults postgresql:// to psycopg 3
        return f"postgresql+psycopg2://{DB_USER}@127.0.0.1:{self.pg_port}/{DATABASE}"

    # -- running PostgreSQL's tools as the right user ------------------------------------------------------
    def _as_pg_user(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", PG_SYSTEM_USER, "--", *argv] if os.geteuid() == 0 else argv

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam(PG_SYSTEM_USER)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _pg(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RegistryError(why_unavailable() or "PostgreSQL not found")
        argv = self._as_pg_user([str(bin_dir / tool), *args])
        done = subprocess.run(argv, capture_output=True, text=True, cwd="/")
        if check and done.returncode != 0:
            raise RegistryError(f"{tool} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-800:]}")
        return done

    def _env(self) -> dict[str, str]:
        return {**os.environ, "PGPASSFILE": str(self.pgpass)}

    # -- state -------------------------------------------------------------------------------------------------
    def _read_state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _write_state(self, **values: object) -> None:
        state = {**self._read_state(), **values}
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    def pg_running(self) -> bool:
        if not (self.pg_data / "PG_VERSION").is_file():
            return False
        return self._pg("pg_ctl", "-D", str(self.pg_data), "status", check=False).returncode == 0

    def mlflow_pid(self) -> int | None:
        pid = self._read_state().get("mlflow_pid")
        if not pid:
            return None
        try:
            os.kill(int(pid), 0)
        except (ProcessLookupError, PermissionError):
            return None
        return int(pid)

    def healthy(self, timeout: float = 2.0) -> bool:
        try:
            with urllib.request.urlopen(f"{self.tracking_uri}/health", timeout=timeout) as resp:
                return resp.status == 200
        except OSError:
            return False

    # -- up ------------------------------------------------------------------------------------------------------
    def _init_cluster(self) -> None:
        """initdb with password (scram) authentication on loopback and the socket, and a generated password."""
        self.pg_data.mkdir(parents=True, exist_ok=True)
        self.pg_data.chmod(0o700)
        self._own(self.pg_data)
        password = secrets.token_urlsafe(24)
        pwfile = self.root / "initdb-password"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        self._own(pwfile)
        try:
            self._pg("initdb", "-D", str(self.pg_data), "-U", DB_USER, "--pwfile", str(pwfile),
                     "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
        finally:
            pwfile.unlink(missing_ok=True)
        # hostname:port:database:username:password, read by libpq (mlflow's psycopg2, createdb)
        self.pgpass.write_text(f"127.0.0.1:*:*:{DB_USER}:{password}\n")
        self.pgpass.chmod(0o600)

    def _start_postgres(self) -> None:
        if self.pg_running():
            return
        if not port_free(self.pg_port):
            raise RegistryError(f"port {self.pg_port} (PostgreSQL) is in use; choose another with --pg-port")
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self._own(self.socket_dir)
        log = self.root / "postgres.log"
        log.touch()
        self._own(log)
        # small settings: a registry holds runs and versions, not data; the machine is shared
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.pg_port} -c unix_socket_directories={self.socket_dir}"
                   " -c shared_buffers=32MB -c max_connections=40")
        done = self._pg("pg_ctl", "-D", str(self.pg_data), "-l", str(log), "-o", options, "-w", "-t", "60",
                        "start", check=False)
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-1500:] if log.is_file() else ""
            raise RegistryError(f"PostgreSQL did not start (see {log}):\n{tail}")

    def _create_database(self) -> None:
        bin_dir = postgres_bin_dir()
        assert bin_dir is not None
        base = ["-h", "127.0.0.1", "-p", str(self.pg_port), "-U", DB_USER]
        exists = subprocess.run([str(bin_dir / "psql"), *base, "-d", "postgres", "-tAc",
                                 f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"],
                                capture_output=True, text=True, env=self._env())
        if exists.returncode != 0:
            raise RegistryError(f"cannot connect to PostgreSQL: {exists.stderr.strip()}")
        if exists.stdout.strip() != "1":
            done = subprocess.run([str(bin_dir / "createdb"), *base, DATABASE], capture_output=True, text=True,
                                  env=self._env())
            if done.returncode != 0:
                raise RegistryError(f"createdb failed: {done.stderr.strip()}")

    def _start_mlflow(self) -> None:
        if self.mlflow_pid() is not None and self.healthy():
            return
        if not port_free(self.port):
            raise RegistryError(f"port {self.port} (MLflow server) is in use; choose another with --port")
        self.artifacts.mkdir(parents=True, exist_ok=True)
        log = (self.root / "mlflow.log").open("ab")
        mlflow = Path(sys.executable).parent / "mlflow"
        argv = [str(mlflow) if mlflow.is_file() else "mlflow", "server",
                "--backend-store-uri", self.backend_uri,
                "--artifacts-destination", str(self.artifacts), "--serve-artifacts",
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        # MLflow 3's job runner (7 huey consumers, ~1.3 GB, for GenAI jobs) is not needed for runs and models
        env = {**self._env(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=str(self.root), start_new_session=True)
        log.close()
        self._write_state(mlflow_pid=proc.pid)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = (self.root / "mlflow.log").read_text(errors="replace")[-2000:]
                raise RegistryError(f"mlflow server exited with {proc.returncode} (see {self.root / 'mlflow.log'}):"
                                    f"\n{tail}")
            if self.healthy(timeout=1.0):
                return
            time.sleep(0.5)
        self._stop_mlflow()
        raise RegistryError(f"mlflow server not healthy after {START_TIMEOUT_SECONDS:.0f}s "
                            f"(see {self.root / 'mlflow.log'})")

    def up(self) -> str:
        """Start (or find running) PostgreSQL and the MLflow server; return the MLFLOW_TRACKING_URI to use."""
        reason = why_unavailable()
        if reason:
            raise RegistryError(reason)
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # the postgres user must reach pg/ and run/ inside it
        self._adopt_running_ports()
        if not (self.pg_data / "PG_VERSION").is_file():
            self._init_cluster()
        self._write_state(port=self.port, pg_port=self.pg_port, root=str(self.root))
        self._start_postgres()
        self._create_database()
        self._start_mlflow()
        return self.tracking_uri

    # -- down ----------------------------------------------------------------------------------------------------
    def _stop_mlflow(self) -> None:
        pid = self.mlflow_pid()
        if pid is None:
            return
        # the server was started in its own session: its process group is its workers, nothing else
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.mlflow_pid() is not None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.2)
        if self.mlflow_pid() is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self._write_state(mlflow_pid=None)

    def down(self) -> None:
        """Stop the MLflow server, then PostgreSQL (fast shutdown). Data and artifacts stay in `root`."""
        self._stop_mlflow()
        if self.pg_running():
            self._pg("pg_ctl", "-D", str(self.pg_data), "-m", "fast", "-w", "stop")

    def _adopt_running_ports(self) -> None:
        """A running registry keeps the ports it was started with; a new one uses the ones asked for."""
        state = self._read_state()
        if state.get("port") and state.get("pg_port") and (self.pg_running() or self.mlflow_pid()):
            self.port, self.pg_port = int(state["port"]), int(state["pg_port"])

    def status(self) -> dict[str, object]:
        self._adopt_running_ports()
        return {"root": str(self.root), "postgres": self.pg_running(), "mlflow_pid": self.mlflow_pid(),
                "healthy": self.healthy(), "tracking_uri": self.tracking_uri, "backend_store": self.backend_uri}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.registry_server",
                                     description="Start or stop the shared MLflow registry on PostgreSQL.")
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("UPSTREAM_REGISTRY_ROOT", DEFAULT_ROOT)))
    parser.add_argument("--port", type=int, default=int(os.environ.get("UPSTREAM_REGISTRY_PORT", DEFAULT_PORT)))
    parser.add_argument("--pg-port", type=int,
                        default=int(os.environ.get("UPSTREAM_REGISTRY_PG_PORT", DEFAULT_PG_PORT)))
    parser.add_argument("--workers", type=int, default=1, help="MLflow server worker processes (default 1)")
    args = parser.parse_args(argv)
    server = RegistryServer(root=args.root, port=args.port, pg_port=args.pg_port, workers=args.workers)
    try:
        if args.action == "up":
            uri = server.up()
            print(f"registry up: PostgreSQL on 127.0.0.1:{server.pg_port} (data {server.pg_data}), "
                  f"MLflow server on {uri} (artifacts {server.artifacts})")
            print(f"export MLFLOW_TRACKING_URI={uri}")
        elif args.action == "down":
            server.down()
            print(f"registry down (data kept in {server.root}; `rm -rf {server.root}` to delete it)")
        else:
            for key, value in server.status().items():
                print(f"{key}: {value}")
    except RegistryError as exc:
        print(f"registry: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
