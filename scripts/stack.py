"""The local stack: every server and process of the sandbox on this machine,
without a cluster.

    python scripts/stack.py check | up | down | status | seed | unlock EMAIL | with-stack -- CMD...

Everything lives under ``.local/``: ``data/`` (databases), ``logs/`` (one file a
process), ``run/`` (pid files), ``credentials.env`` (generated passwords) and
``stack.env`` (the environment every process was started with; tests read it).

A datastore whose URL is already in the environment (``SANDBOX_USER_DATABASE_URL``
and ``SANDBOX_CATALOG_DATABASE_URL``, ``SANDBOX_REDIS_URL``, ``SANDBOX_MONGO_URL``)
is used as it is, not started.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
DATA, LOGS, RUN = LOCAL / "data", LOCAL / "logs", LOCAL / "run"
BIN = Path(sys.executable).parent
TOOLS_BIN = ROOT / ".tools" / "bin"
# The sandbox's ports, from their one definition (standard library only, so
# this runs before the virtualenv exists).
sys.path.insert(0, str(ROOT / "services" / "common"))
from sandbox_common.topology import (  # noqa: E402
    BEAT_METRICS_PORT,
    SERVICE_PORTS,
    WORKER_METRICS_PORT,
    local_url,
)

PG_PORT = int(os.environ.get("SANDBOX_LOCAL_PG_PORT", "55432"))
REDIS_PORT = int(os.environ.get("SANDBOX_LOCAL_REDIS_PORT", "56379"))
MONGO_PORT = int(os.environ.get("SANDBOX_LOCAL_MONGO_PORT", "57017"))
# 5xxxx like the datastores: Debian's prometheus package serves 9090 itself.
PROMETHEUS_PORT = int(os.environ.get("SANDBOX_LOCAL_PROMETHEUS_PORT", "59090"))
# The datastore exporters, as the chart runs them beside each datastore: the
# job, the wrapper module under deploy/bare/modules/ that builds it, and its
# upstream default port. One PostgreSQL server holds both databases here.
EXPORTERS = {
    "postgres-exporter": ("postgres_exporter", 9187),
    "redis-exporter": ("redis_exporter", 9121),
    "mongo-exporter": ("mongodb_exporter", 9216),
}
READY_TIMEOUT = float(os.environ.get("SANDBOX_LOCAL_READY_TIMEOUT", "120"))


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def fail(message: str) -> None:
    print(f"[stack] error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def is_root() -> bool:
    return os.geteuid() == 0


def find_binary(name: str, *extra_dirs: Path) -> str | None:
    """A binary on PATH or in the usual versioned directories (PostgreSQL's)."""
    found = shutil.which(name)
    if found:
        return found
    for directory in extra_dirs:
        candidate = directory / name
        if candidate.exists():
            return str(candidate)
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


# -- credentials and environment -------------------------------------------------------------


def credentials() -> dict[str, str]:
    """Generated once per checkout, kept in .local/credentials.env (git-ignored)."""
    path = LOCAL / "credentials.env"
    values = read_env_file(path)
    changed = False
    defaults = {
        "SANDBOX_ADMIN_EMAIL": "admin@sandbox.local",
        "SANDBOX_ADMIN_PASSWORD": secrets.token_urlsafe(18),
        "SANDBOX_LOCAL_PG_PASSWORD": secrets.token_urlsafe(18),
    }
    for key, value in defaults.items():
        if key not in values:
            values[key] = value
            changed = True
    if changed:
        LOCAL.mkdir(parents=True, exist_ok=True)
        write_env_file(path, values)
        path.chmod(0o600)
    return values


def read_env_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def write_env_file(path: Path, values: dict[str, str]) -> None:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))


@dataclass
class Plan:
    """What to start, and the environment every process gets."""

    env: dict[str, str] = field(default_factory=dict)
    # What one service's processes get on top of ``env``.
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    start_postgres: bool = False
    start_redis: bool = False
    start_mongo: bool = False


# One service's web processes, as replicas of that one alone would be in a cluster.
WEB_CONCURRENCY_OF = {
    "user": "SANDBOX_USER_WEB_CONCURRENCY",
    "catalog": "SANDBOX_CATALOG_WEB_CONCURRENCY",
    "activity": "SANDBOX_ACTIVITY_WEB_CONCURRENCY",
}
# Unless either variable says otherwise. The catalog answers most of the load
# test's requests, and its one event loop was the first part of the stack to
# run out while the machine had CPU to spare (docs/performance.md).
DEFAULT_WEB_CONCURRENCY = {"catalog": "2"}


def make_plan() -> Plan:
    creds = credentials()
    plan = Plan()
    given = os.environ
    pg_url = (
        f"postgresql+psycopg://sandbox:{creds['SANDBOX_LOCAL_PG_PASSWORD']}@127.0.0.1:{PG_PORT}"
    )
    if given.get("SANDBOX_USER_DATABASE_URL") and given.get("SANDBOX_CATALOG_DATABASE_URL"):
        plan.env["SANDBOX_USER_DATABASE_URL"] = given["SANDBOX_USER_DATABASE_URL"]
        plan.env["SANDBOX_CATALOG_DATABASE_URL"] = given["SANDBOX_CATALOG_DATABASE_URL"]
    else:
        plan.start_postgres = True
        plan.env["SANDBOX_USER_DATABASE_URL"] = f"{pg_url}/users"
        plan.env["SANDBOX_CATALOG_DATABASE_URL"] = f"{pg_url}/catalog"
    if given.get("SANDBOX_REDIS_URL"):
        plan.env["SANDBOX_REDIS_URL"] = given["SANDBOX_REDIS_URL"]
        plan.env["SANDBOX_BROKER_URL"] = given.get("SANDBOX_BROKER_URL", given["SANDBOX_REDIS_URL"])
    else:
        plan.start_redis = True
        plan.env["SANDBOX_REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"
        plan.env["SANDBOX_BROKER_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/1"
    if given.get("SANDBOX_MONGO_URL"):
        plan.env["SANDBOX_MONGO_URL"] = given["SANDBOX_MONGO_URL"]
    else:
        plan.start_mongo = True
        plan.env["SANDBOX_MONGO_URL"] = f"mongodb://127.0.0.1:{MONGO_PORT}/"
    plan.env.update(
        {
            "SANDBOX_ENV": "local",
            "SANDBOX_LOG_FORMAT": given.get("SANDBOX_LOG_FORMAT", "json"),
            "SANDBOX_LOG_LEVEL": given.get("SANDBOX_LOG_LEVEL", "INFO"),
            "SANDBOX_HOST": "127.0.0.1",
            "SANDBOX_USER_URL": local_url("user"),
            "SANDBOX_CATALOG_URL": local_url("catalog"),
            "SANDBOX_ACTIVITY_URL": local_url("activity"),
            "SANDBOX_JWT_PRIVATE_KEY_FILE": str(LOCAL / "secrets" / "jwt-signing-key.pem"),
            "SANDBOX_ADMIN_EMAIL": creds["SANDBOX_ADMIN_EMAIL"],
            "SANDBOX_ADMIN_PASSWORD": creds["SANDBOX_ADMIN_PASSWORD"],
            "SANDBOX_PROMETHEUS_URL": f"http://127.0.0.1:{PROMETHEUS_PORT}",
            # Locally, re-send a task lost with a killed worker after 30 s, not 10 minutes.
            "SANDBOX_REDELIVER_AFTER_SECONDS": given.get("SANDBOX_REDELIVER_AFTER_SECONDS", "30"),
        }
    )
    for key in ("SANDBOX_BROKER_VISIBILITY_TIMEOUT", "SANDBOX_WEB_CONCURRENCY",
                "SANDBOX_WORKER_CONCURRENCY", "SANDBOX_TRENDING_INTERVAL_SECONDS"):  # fmt: skip
        if key in given:
            plan.env[key] = given[key]
    for service, variable in WEB_CONCURRENCY_OF.items():
        processes = given.get(variable)
        if not processes and "SANDBOX_WEB_CONCURRENCY" not in given:
            processes = DEFAULT_WEB_CONCURRENCY.get(service)
        if processes:
            plan.service_env[service] = {"SANDBOX_WEB_CONCURRENCY": processes}
    return plan


def process_env(plan: Plan, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    env.update(plan.env)
    env.update(extra)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


# -- processes ---------------------------------------------------------------------------------


def pid_file(name: str) -> Path:
    return RUN / f"{name}.pid"


def running_pid(name: str) -> int | None:
    path = pid_file(name)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        path.unlink(missing_ok=True)
        return None
    except PermissionError:
        return int(path.read_text().strip())
    if _zombie(pid):  # dead, not yet reaped by whoever started it
        path.unlink(missing_ok=True)
        return None
    return pid


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def spawn(name: str, argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> None:
    if running_pid(name):
        say(f"{name}: already running")
        return
    log = (LOGS / f"{name}.log").open("ab")
    proc = subprocess.Popen(  # noqa: S603
        argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    pid_file(name).write_text(str(proc.pid))
    say(f"{name}: started (pid {proc.pid}, log .local/logs/{name}.log)")


def stop(name: str, timeout: float = 25.0) -> None:
    stop_all((name,), timeout=timeout)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie counts as gone: reaped here if it is our child, else it waits
    # for the process that started it (make test's with-stack, say).
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return not _zombie(pid)


def stop_all(names: tuple[str, ...], timeout: float = 25.0) -> None:
    """SIGTERM to each process group, then wait; SIGKILL what outlives ``timeout``."""
    pids = {name: pid for name in names if (pid := running_pid(name)) is not None}
    for pid in pids.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        for name, pid in list(pids.items()):
            if not _alive(pid):
                pid_file(name).unlink(missing_ok=True)
                say(f"{name}: stopped")
                del pids[name]
        time.sleep(0.1)
    for name, pid in pids.items():
        say(f"{name}: did not stop in {timeout:.0f}s; killing")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        pid_file(name).unlink(missing_ok=True)


def wait_until(what: str, check: Callable[[], bool], timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    fail(f"{what} not ready after {timeout:.0f}s; see .local/logs/")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# -- PostgreSQL --------------------------------------------------------------------------------


def _as_postgres(argv: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; as root, run it as the postgres user
    # (from /, since the checkout may be out of that user's reach).
    if not is_root():
        return argv
    return ["runuser", "-u", "postgres", "--", "sh", "-c", 'cd / && exec "$@"', "sh", *argv]


def pg_data_dir() -> Path:
    preferred = DATA / "postgres"
    if not is_root():
        return preferred
    # The postgres user must reach the directory; a checkout under /root is out of its reach.
    probe = subprocess.run(  # noqa: S603
        _as_postgres(["test", "-x", str(DATA)]), check=False, capture_output=True
    )
    if probe.returncode == 0:
        return preferred
    digest = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"sandbox-postgres-{digest}"  # noqa: S108


def start_postgres(plan: Plan) -> None:
    data = pg_data_dir()
    if data != DATA / "postgres":
        say(f"postgres: data directory {data} (reachable by the postgres user)")
    initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
    if not initdb or not pg_ctl:
        fail("PostgreSQL binaries not found; install them: sudo apt-get install postgresql")
    assert initdb is not None
    assert pg_ctl is not None
    socket_dir = data.parent / f"{data.name}-socket"
    for directory in (data.parent, socket_dir):
        directory.mkdir(parents=True, exist_ok=True)
    if is_root():
        os.chmod(DATA, 0o755)  # noqa: S103 - the postgres user must traverse it
        shutil.chown(socket_dir, "postgres", "postgres")
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if is_root():
            shutil.chown(data, "postgres", "postgres")
        pwfile = socket_dir / "pwfile"
        pwfile.write_text(credentials()["SANDBOX_LOCAL_PG_PASSWORD"] + "\n")
        if is_root():
            shutil.chown(pwfile, "postgres", "postgres")
        pwfile.chmod(0o600)
        say("postgres: initdb")
        subprocess.run(  # noqa: S603
            _as_postgres([initdb, "-D", str(data), "-U", "sandbox", "--pwfile", str(pwfile),
                          "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8"]),
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        pwfile.unlink()
    log = LOGS / "postgres.log"
    if data != DATA / "postgres":
        # The server writes its log itself, so it too must be within its reach.
        log = data.parent / f"{data.name}.log"
        (LOGS / "postgres.log").unlink(missing_ok=True)
        (LOGS / "postgres.log").symlink_to(log)
    log.touch()
    if is_root():
        shutil.chown(log, "postgres", "postgres")
    status = subprocess.run(  # noqa: S603
        _as_postgres([pg_ctl, "-D", str(data), "status"]), check=False, capture_output=True
    )
    if status.returncode == 0:
        say("postgres: already running")
    else:
        options = (
            f"-p {PG_PORT} -k {socket_dir} -c listen_addresses=127.0.0.1 "
            "-c max_connections=300 -c shared_buffers=256MB"
        )
        subprocess.run(  # noqa: S603
            _as_postgres([pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        say(f"postgres: started on 127.0.0.1:{PG_PORT}")
    (RUN / "postgres.datadir").write_text(str(data))
    _create_databases(plan)


def _pg_url(plan: Plan, database: str) -> str:
    """A libpq URL of the local PostgreSQL for one of its databases."""
    url = plan.env["SANDBOX_USER_DATABASE_URL"].replace("postgresql+psycopg", "postgresql")
    return url.rsplit("/", 1)[0] + "/" + database


def _create_databases(plan: Plan) -> None:
    import psycopg

    with psycopg.connect(_pg_url(plan, "postgres"), autocommit=True, connect_timeout=5) as conn:
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for name in ("users", "catalog", "ferretdb"):
            if name not in existing:
                conn.execute(f'CREATE DATABASE "{name}"')
                say(f"postgres: database {name} created")


def stop_postgres() -> None:
    marker = RUN / "postgres.datadir"
    if not marker.exists():
        return
    pg_ctl = find_binary("pg_ctl")
    data = marker.read_text().strip()
    if pg_ctl:
        subprocess.run(  # noqa: S603
            _as_postgres([pg_ctl, "-D", data, "-m", "fast", "-w", "stop"]),
            check=False, capture_output=True,
        )  # fmt: skip
    marker.unlink()
    say("postgres: stopped")


# -- Redis, MongoDB protocol, Prometheus -------------------------------------------------------


def start_redis(plan: Plan) -> None:
    binary = find_binary("redis-server")
    if not binary:
        fail("redis-server not found; install it: sudo apt-get install redis-server")
    assert binary is not None
    (DATA / "redis").mkdir(parents=True, exist_ok=True)
    spawn("redis", [binary, "--bind", "127.0.0.1", "--port", str(REDIS_PORT),
                    "--dir", str(DATA / "redis"), "--save", "", "--appendonly", "yes",
                    "--appendfsync", "everysec", "--maxmemory", "512mb",
                    # The broker shares this Redis: never evict a queued task.
                    "--maxmemory-policy", "noeviction", "--daemonize", "no"],
          process_env(plan))  # fmt: skip
    wait_until("redis", lambda: port_open(REDIS_PORT), 30)


# -- what the stack needs, checked before anything long starts -------------------------------

# The oldest version of each server the local stack is known to run with (13:
# DROP DATABASE ... WITH (FORCE), which the tests use), and how to get it.
REQUIRED = {
    "postgres": ("13", "sudo apt-get install -y postgresql (macOS: brew install postgresql@17)"),
    "redis-server": ("7.0", "sudo apt-get install -y redis-server (macOS: brew install redis)"),
    "prometheus": ("2.42", "sudo apt-get install -y prometheus (macOS: brew install prometheus)"),
    "promtool": ("2.42", "sudo apt-get install -y prometheus (macOS: brew install prometheus)"),
}


def tool_version(binary: str) -> str | None:
    """What `BINARY --version` says: "postgres (PostgreSQL) 15.18", "Redis server
    v=7.0.15 ...", "prometheus, version 2.42.0+ds ..."."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True,  # noqa: S603
                             check=False, timeout=30)  # fmt: skip
    except OSError:
        return None
    match = re.search(r"(?:version |v=|\) )(\d+(?:\.\d+)+)", out.stdout + out.stderr)
    return match.group(1) if match else None


def tool_problem(name: str) -> str | None:
    """Why the tool cannot serve, with what to install; None when it can."""
    minimum, install = REQUIRED[name]
    binary = find_binary(name)
    if binary is None:
        return f"{name} not found; {name} {minimum} or newer is needed: {install}"
    have = tool_version(binary)
    if have is None or _version(have) < _version(minimum):
        have = have or "of an unknown version"
        return f"{binary} is {have}; {name} {minimum} or newer is needed: {install}"
    return None


# The ports a newcomer can move; the services' own are the contract's defaults.
PORT_VARIABLES = {
    "postgres": "SANDBOX_LOCAL_PG_PORT",
    "redis": "SANDBOX_LOCAL_REDIS_PORT",
    "mongo": "SANDBOX_LOCAL_MONGO_PORT",
    "prometheus": "SANDBOX_LOCAL_PROMETHEUS_PORT",
}


def port_problems(plan: Plan) -> list[str]:
    """A port the stack would listen on that another program holds: the
    process would fail to start, or worse, the stack would talk to that one."""
    started = {
        "postgres": plan.start_postgres,
        "redis": plan.start_redis,
        "mongo": plan.start_mongo,
    }
    skipped = {name for name, starts in started.items() if not starts}
    ours = running()
    problems = []
    for name, port in ports().items():
        if name in skipped or name in ours or not port_open(port):
            continue
        move = PORT_VARIABLES.get(name)
        hint = f", or set {move} to another port" if move else ""
        problems.append(f"port {port}, where the stack's {name} listens, is taken by another "
                        f"program: stop it{hint}")  # fmt: skip
    return problems


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def preflight() -> None:
    """Every tool `up` will need, with its version, before it starts anything:
    one line each on what to install. Prometheus and promtool are optional
    (no metrics store, no rule tests without them), so they only warn."""
    plan = make_plan()
    problems = []
    if plan.start_postgres:
        problems.append(tool_problem("postgres"))
    if plan.start_redis:
        problems.append(tool_problem("redis-server"))
    needs_go = plan.start_mongo and not shutil.which("mongod")
    if needs_go and not (TOOLS_BIN / "sandbox-ferretdb").exists() and go_binary() is None:
        problems.append("Go is needed to build FerretDB (the MongoDB-protocol server): see above")
    problems += port_problems(plan)
    found = [problem for problem in problems if problem]
    if found:
        fail("cannot start the local stack:\n  " + "\n  ".join(found))
    for tool, without in (("prometheus", "the stack runs with no metrics store"),
                          ("promtool", "the tests of the alert rules are skipped")):  # fmt: skip
        problem = tool_problem(tool)
        if problem:
            say(f"{problem} (without it {without})")


@functools.cache  # go.sh may fetch or switch toolchains: once per process is enough
def go_binary() -> str | None:
    """A Go new enough for what we build (scripts/go.sh, which fetches one when
    the machine's is older and says what to install when there is none)."""
    found = subprocess.run(["bash", str(ROOT / "scripts" / "go.sh")],  # noqa: S603, S607
                           stdout=subprocess.PIPE, check=False, text=True)  # fmt: skip
    return found.stdout.strip() or None


def ferretdb_binary() -> str:
    """mongod is preferred when present; otherwise FerretDB v1.24.2, built here once."""
    built = TOOLS_BIN / "sandbox-ferretdb"
    if built.exists():
        return str(built)
    go = go_binary()
    if not go:
        fail("no mongod and no Go toolchain to build FerretDB; install one of them")
    assert go is not None
    say("mongo: building FerretDB v1.24.2 (once; takes a minute or two)")
    TOOLS_BIN.mkdir(parents=True, exist_ok=True)
    subprocess.run(  # noqa: S603
        [go, "build", "-o", str(built), "."], cwd=ROOT / "scripts" / "ferretdb", check=True
    )
    return str(built)


def _ferretdb_indexes(plan: Plan) -> None:
    import psycopg

    sql = (ROOT / "scripts" / "ferretdb" / "postgresql-indexes.sql").read_text()
    with psycopg.connect(_pg_url(plan, "ferretdb"), autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.encode())  # our own script, several statements, no parameters


def start_mongo(plan: Plan) -> None:
    mongod = shutil.which("mongod")
    if mongod:
        (DATA / "mongod").mkdir(parents=True, exist_ok=True)
        argv = [mongod, "--bind_ip", "127.0.0.1", "--port", str(MONGO_PORT),
                "--dbpath", str(DATA / "mongod")]  # fmt: skip
    elif plan.start_postgres:
        # FerretDB on our PostgreSQL: it pushes filters down to SQL there; its
        # SQLite backend scans every document (600 ms for a product's stats at
        # 7,500 events, against 8 ms here). GIN indexes beside its own let that
        # SQL use an index (scripts/ferretdb/postgresql-indexes.sql).
        _ferretdb_indexes(plan)
        password = credentials()["SANDBOX_LOCAL_PG_PASSWORD"]
        argv = [ferretdb_binary(), "-listen-addr", f"127.0.0.1:{MONGO_PORT}",
                "-handler", "postgresql", "-log-level", "warn", "-postgresql-url",
                f"postgres://sandbox:{password}@127.0.0.1:{PG_PORT}/ferretdb"]  # fmt: skip
    else:
        (DATA / "ferretdb").mkdir(parents=True, exist_ok=True)
        argv = [ferretdb_binary(), "-listen-addr", f"127.0.0.1:{MONGO_PORT}",
                "-sqlite-url", f"file:{DATA / 'ferretdb'}/", "-log-level", "warn"]  # fmt: skip
    spawn("mongo", argv, process_env(plan))
    wait_until("mongo", lambda: port_open(MONGO_PORT), 60)


def exporter_binaries() -> dict[str, Path]:
    """The exporters' binaries by job, built once from their Go modules by
    deploy/bare/build.sh (cached under .tools/bare/); none without Go."""
    go = go_binary()
    if not go:
        say("exporters: no Go toolchain to build them; skipped (datastores dashboard empty)")
        return {}
    modules = [module for module, _ in EXPORTERS.values()]
    env = {**os.environ, "PATH": f"{Path(go).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    with (LOGS / "build.log").open("ab") as log:
        built = subprocess.run(  # noqa: S603
            ["bash", "deploy/bare/build.sh", "modules", *modules],  # noqa: S607
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    if built.returncode != 0:
        fail("building the exporters failed; see .local/logs/build.log")
    dirs = subprocess.run(  # noqa: S603
        ["bash", "-c", 'source deploy/bare/lib.sh && for m; do wrapper_bin_dir "$m"; done',  # noqa: S607
         "_", *modules],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return {
        job: Path(directory) / module
        for (job, (module, _)), directory in zip(EXPORTERS.items(), dirs, strict=True)
    }


@functools.cache
def _chart_values() -> dict[str, Any]:
    import yaml

    values: dict[str, Any] = yaml.safe_load(
        (ROOT / "deploy" / "helm" / "sandbox" / "values.yaml").read_text()
    )
    return values


def chart_exporter(datastore: str) -> dict[str, Any]:
    """How the chart runs a datastore's exporter (its values.yaml); empty for a
    datastore the chart does not have (the local stack's one PostgreSQL)."""
    return dict(_chart_values()["datastores"].get(datastore, {}).get("exporter", {}))


def chart_exporter_args(datastore: str) -> list[str]:
    """The arguments the chart gives a datastore's exporter."""
    return list(chart_exporter(datastore).get("args") or [])


def start_exporters(plan: Plan) -> None:
    binaries = exporter_binaries()
    if not binaries:
        return
    pg_url = plan.env["SANDBOX_USER_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    argv = {
        "postgres-exporter": [],
        "redis-exporter": [f"--redis.addr={plan.env['SANDBOX_REDIS_URL']}"],
        "mongo-exporter": [f"--mongodb.uri={plan.env['SANDBOX_MONGO_URL']}",
                           *chart_exporter_args("mongo")],
    }  # fmt: skip
    extra = {"postgres-exporter": {"DATA_SOURCE_NAME": f"{pg_url}?sslmode=disable"}}
    for job, binary in binaries.items():
        listen = f"--web.listen-address=127.0.0.1:{EXPORTERS[job][1]}"
        spawn(job, [str(binary), listen, *argv[job]], process_env(plan, **extra.get(job, {})))
    for job, (_, port) in EXPORTERS.items():
        wait_until(job, lambda port=port: http_ok(f"http://127.0.0.1:{port}/metrics"), 30)


RULES = ROOT / "observability" / "prometheus" / "rules"
PROMETHEUS_INTERVAL = 5  # seconds between scrapes, and between rule evaluations


def prometheus_config(
    path: Path = LOCAL / "prometheus.yml",
    *,
    rules: Path = RULES,
    interval: int = PROMETHEUS_INTERVAL,
) -> Path:
    """The local Prometheus's configuration (every process of the stack, the
    rules in `rules`), written to `path`."""
    jobs = {**SERVICE_PORTS,
            "worker": WORKER_METRICS_PORT, "beat": BEAT_METRICS_PORT, "locust": 9646,
            **{job: port for job, (_, port) in EXPORTERS.items()}}  # fmt: skip
    lines = [
        "global:",
        f"  scrape_interval: {interval}s",
        f"  evaluation_interval: {interval}s",
        "rule_files:",
        f"  - {rules}/*.yml",
        "scrape_configs:",
    ]
    for job, port in jobs.items():
        lines.append(f"  - job_name: {job}")
        if job in EXPORTERS:  # as often as the chart scrapes it, where it says
            own = chart_exporter(job.removesuffix("-exporter")).get("scrapeInterval")
            lines += [f"    scrape_interval: {own}"] if own else []
        lines += [
            "    static_configs:",
            f"      - targets: ['127.0.0.1:{port}']",
            "        labels: {namespace: local}",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def start_prometheus(plan: Plan) -> None:
    binary = find_binary("prometheus")
    if not binary:
        say("prometheus: not installed; skipped (sudo apt-get install prometheus)")
        return
    (DATA / "prometheus").mkdir(parents=True, exist_ok=True)
    spawn("prometheus", [binary, f"--config.file={prometheus_config()}",
                         f"--storage.tsdb.path={DATA / 'prometheus'}",
                         f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}",
                         "--storage.tsdb.retention.time=2d", "--web.enable-lifecycle"],
          process_env(plan))  # fmt: skip


# -- the sandbox's own processes ---------------------------------------------------------------


def ensure_signing_key() -> None:
    path = LOCAL / "secrets" / "jwt-signing-key.pem"
    if path.exists():
        return
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip
    path.write_bytes(pem)
    path.chmod(0o600)
    say("jwt: signing key generated in .local/secrets/")


def migrate(plan: Plan) -> None:
    for service in ("user", "catalog"):
        subprocess.run(  # noqa: S603
            [str(BIN / "sandbox-migrate"), service], env=process_env(plan), check=True,
            stdout=(LOGS / "migrate.log").open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
    say("migrations: applied")


def start_app(plan: Plan) -> None:
    spawn("worker", [str(BIN / "sandbox-worker")],
          process_env(plan, SANDBOX_METRICS_PORT=str(WORKER_METRICS_PORT)))  # fmt: skip
    spawn("beat", [str(BIN / "sandbox-beat")],
          process_env(plan, SANDBOX_METRICS_PORT=str(BEAT_METRICS_PORT)))  # fmt: skip
    for service, port in SERVICE_PORTS.items():
        env = process_env(plan, SANDBOX_PORT=str(port), **plan.service_env.get(service, {}))
        spawn(service, [str(BIN / "sandbox-serve"), service], env)


APP_PROCESSES = ("user", "catalog", "activity", "beat", "worker")


def ready_urls() -> dict[str, str]:
    urls = {name: f"http://127.0.0.1:{port}/readyz" for name, port in SERVICE_PORTS.items()}
    urls["worker"] = f"http://127.0.0.1:{WORKER_METRICS_PORT}/readyz"
    urls["beat"] = f"http://127.0.0.1:{BEAT_METRICS_PORT}/healthz"
    return urls


def up() -> None:
    """Start what does not run yet and wait until all is ready. A start that
    fails stops what it began, so no half stack is left behind."""
    before = running()
    try:
        _start()
    except BaseException:
        started = running() - before
        if started:
            say(f"the start failed: stopping what it began ({', '.join(sorted(started))})")
            down(only=started)
        raise


def _start() -> None:
    for directory in (DATA, LOGS, RUN):
        directory.mkdir(parents=True, exist_ok=True)
    plan = make_plan()
    ensure_signing_key()
    if plan.start_postgres:
        start_postgres(plan)
    if plan.start_redis:
        start_redis(plan)
    if plan.start_mongo:
        start_mongo(plan)
    start_exporters(plan)
    start_prometheus(plan)
    write_env_file(LOCAL / "stack.env", plan.env)
    migrate(plan)
    start_app(plan)
    for name, url in ready_urls().items():
        wait_until(name, lambda url=url, name=name: _alive_and(name, url))
        say(f"{name}: ready")
    print_summary(plan)


def _alive_and(name: str, url: str) -> bool:
    if running_pid(name) is None:
        log = LOGS / f"{name}.log"
        tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
        fail(f"{name} exited during start-up; last lines of its log:\n" + "\n".join(tail))
    return http_ok(url)


def print_summary(plan: Plan) -> None:
    creds = credentials()
    print()
    print("The sandbox runs locally:")
    for service, port in SERVICE_PORTS.items():
        print(f"  {service:<9} http://127.0.0.1:{port}/docs")
    print(f"  worker    http://127.0.0.1:{WORKER_METRICS_PORT}/metrics")
    print(f"  beat      http://127.0.0.1:{BEAT_METRICS_PORT}/metrics")
    if running_pid("prometheus"):
        print(f"  prometheus http://127.0.0.1:{PROMETHEUS_PORT}")
    for job, (_, port) in EXPORTERS.items():
        if running_pid(job):
            print(f"  {job:<9} http://127.0.0.1:{port}/metrics")
    print(f"  admin     {creds['SANDBOX_ADMIN_EMAIL']} / {creds['SANDBOX_ADMIN_PASSWORD']}")
    print("  logs      .local/logs/   environment .local/stack.env   stop: make local-down")


def down(only: set[str] | None = None) -> None:
    """Stop the stack (and make local-grafana's Grafana), or only these of its processes."""

    def chosen(*names: str) -> tuple[str, ...]:
        return tuple(name for name in names if only is None or name in only)

    if only is None:
        import grafana  # scripts/grafana.py (make local-grafana)

        grafana.down()
    # The app first (all at once: each drains in parallel), then what it used.
    stop_all(chosen(*APP_PROCESSES))
    stop_all(chosen("prometheus", *EXPORTERS))
    stop_all(chosen("mongo", "redis"))
    if chosen("postgres"):
        stop_postgres()


def running() -> set[str]:
    """The stack's processes that run now (PostgreSQL known by its data directory marker)."""
    names = {name for name in ports() if name != "postgres" and running_pid(name) is not None}
    if (RUN / "postgres.datadir").exists():
        names.add("postgres")
    return names


def ports() -> dict[str, int]:
    """The port each process of the stack listens on (loopback)."""
    return {
        **SERVICE_PORTS, "worker": WORKER_METRICS_PORT, "beat": BEAT_METRICS_PORT,
        "prometheus": PROMETHEUS_PORT, **{job: port for job, (_, port) in EXPORTERS.items()},
        "mongo": MONGO_PORT, "redis": REDIS_PORT, "postgres": PG_PORT,
    }  # fmt: skip


def status() -> int:
    rows = []
    urls = ready_urls()
    for name in (*APP_PROCESSES, "prometheus", *EXPORTERS, "mongo", "redis"):
        pid = running_pid(name)
        state = "running" if pid else "stopped"
        if pid and name in urls:
            state += ", ready" if http_ok(urls[name]) else ", not ready"
        rows.append((name, str(pid or "-"), state))
    pg = RUN / "postgres.datadir"
    rows.append(("postgres", "-", "running" if pg.exists() and port_open(PG_PORT) else "stopped"))
    port = ports()
    print(f"  {'process':<18} {'pid':>8}  {'port':>5}  state")
    for name, pid, state in rows:
        print(f"  {name:<18} {pid:>8}  {port[name]:>5}  {state}")
    return 0


def stack_is_up() -> bool:
    return all(http_ok(url) for url in ready_urls().values())


def with_stack(command: list[str]) -> int:
    """Run a command against the stack, starting first what does not run, and
    stopping afterwards only what this call started: processes that ran
    before it (a stack half up, say) are left as they were."""
    before = running()
    if not stack_is_up():
        up()
    started = running() - before
    env = {**os.environ, **read_env_file(LOCAL / "stack.env")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    try:
        return subprocess.run(command, env=env, cwd=ROOT, check=False).returncode  # noqa: S603
    finally:
        if started and os.environ.get("SANDBOX_KEEP_STACK") != "1":
            down(only=started)


def unlock(email: str) -> int:
    """Lift the login throttle for an account, and for this machine's address."""
    import redis

    from user_service.throttle import LoginThrottle

    env = {**read_env_file(LOCAL / "stack.env"), **os.environ}
    client = redis.Redis.from_url(env["SANDBOX_REDIS_URL"])
    account_key, client_key = LoginThrottle.keys(email, "127.0.0.1")
    removed = client.delete(account_key, client_key)
    say(f"unlock: {email} may log in again ({removed} throttle counters removed)")
    return 0


def seed() -> int:
    env = {**os.environ, **read_env_file(LOCAL / "stack.env")}
    return subprocess.run([str(BIN / "sandbox-seed")], env=env, check=False).returncode  # noqa: S603


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command", choices=["check", "up", "down", "status", "seed", "unlock", "with-stack"]
    )
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.command == "check":
        preflight()
    elif args.command == "up":
        up()
    elif args.command == "down":
        down()
    elif args.command == "status":
        sys.exit(status())
    elif args.command == "seed":
        sys.exit(seed())
    elif args.command == "unlock":
        if len(args.rest) != 1:
            parser.error("unlock takes the account's email")
        sys.exit(unlock(args.rest[0]))
    else:
        rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
        if not rest:
            parser.error("with-stack needs a command after --")
        sys.exit(with_stack(rest))


if __name__ == "__main__":
    main()
