"""Profile the catalog's cached product read under load, once, with pyinstrument.

    .venv/bin/pip install pyinstrument          # temporarily; not a dependency
    .venv/bin/python loadtests/bench/profile_catalog.py --duration 20s

Starts the catalog (observability on, as deployed) under pyinstrument's
sampling profiler with the local stack's environment, drives
``GET /api/v1/products/{id}`` for one cached product with wrk, stops the
server, and prints the functions of our own code (``services/``) by time
spent in them and below them (inclusive) and in them alone (self), as a
share of the samples taken while the server handled the load. The session
and a text rendering are kept in loadtests/results/profile-<timestamp>/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sandbox_common.topology import local_url

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BIN = Path(sys.executable).parent
OURS = f"{os.sep}services{os.sep}"


def hotspots(root: Any, marker: str = OURS) -> tuple[float, list[tuple[str, float, float]]]:
    """(total seconds, [(function, inclusive s, self s)]) for frames whose file contains marker.

    Inclusive time counts a function once per stack even when it recurses.
    """
    inclusive: dict[str, float] = defaultdict(float)
    own: dict[str, float] = defaultdict(float)

    def name(frame: Any) -> str:
        path = str(frame.file_path or "")
        short = path.split(marker, 1)[1] if marker in path else path
        return f"{frame.function} ({short}:{frame.line_no})"

    def walk(frame: Any, seen: frozenset[str]) -> None:
        ours = marker in str(frame.file_path or "")
        key = name(frame) if ours else ""
        if ours:
            if key not in seen:
                inclusive[key] += frame.time
            self_time = sum(c.time for c in frame.children if c.is_synthetic) + max(
                0.0, frame.time - sum(c.time for c in frame.children)
            )
            own[key] += self_time
            seen = seen | {key}
        for child in frame.children:
            walk(child, seen)

    walk(root, frozenset())
    rows = [(key, inclusive[key], own.get(key, 0.0)) for key in inclusive]
    rows.sort(key=lambda row: row[1], reverse=True)
    return root.time, rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", default="20s")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--port", type=int, default=18201)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(HERE))
    import facts
    import runner

    if not shutil.which("wrk"):
        runner.fail("wrk not found")
    env = {**os.environ, **runner.stack_env()}
    catalog = env.get("SANDBOX_CATALOG_URL", local_url("catalog")).rstrip("/")
    status, body = runner.http_get(f"{catalog}/api/v1/products?limit=1")
    items = json.loads(body).get("items") if status == 200 else None
    if not items:
        runner.fail("no product in the catalog; run make seed")
    path = f"/api/v1/products/{items[0]['id']}"
    runner.http_get(catalog + path)

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    results = ROOT / "loadtests" / "results" / f"profile-{stamp}"
    results.mkdir(parents=True, exist_ok=True)
    session_file = results / "catalog.pyisession"
    cores = os.cpu_count() or 1
    pin_server = ["taskset", "-c", "0"] if cores >= 2 else []
    pin_wrk = ["taskset", "-c", f"1-{cores - 1}"] if cores >= 2 else []
    server = [
        *pin_server,
        str(BIN / "python"),
        "-m",
        "pyinstrument",
        "-r",
        "pyisession",
        "-o",
        str(session_file),
        "-m",
        "uvicorn",
        "apps:catalog_observed",
        "--factory",
        "--app-dir",
        str(HERE),
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    code = facts.code_state()
    url = f"http://127.0.0.1:{args.port}{path}"
    wrk = [*pin_wrk, "wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}", "--latency", url]
    print("server: " + " ".join(server), flush=True)
    print("load:   " + " ".join(wrk), flush=True)
    with (results / "server.log").open("wb") as log:
        process = subprocess.Popen(server, env=env, cwd=ROOT, stdout=log, stderr=log)  # noqa: S603
        try:
            runner.wait_for(url, process)
            done = subprocess.run(wrk, capture_output=True, text=True, check=True)  # noqa: S603
            (results / "wrk.txt").write_text(done.stdout)
            print(done.stdout, flush=True)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
    deadline = time.monotonic() + 30
    while not session_file.exists() and time.monotonic() < deadline:
        time.sleep(0.5)

    from pyinstrument.renderers import ConsoleRenderer
    from pyinstrument.session import Session

    session = Session.load(str(session_file))
    text = ConsoleRenderer(unicode=False, color=False, show_all=False).render(session)
    (results / "profile.txt").write_text(text)
    total, rows = hotspots(session.root_frame())
    lines = [
        f"code: {code}",
        f"samples cover {total:.1f} s; functions in services/ by inclusive time:",
        "",
    ]
    lines.append(f"{'incl %':>7} {'self %':>7}  function")
    for key, inclusive, own in rows[: args.top]:
        lines.append(f"{100 * inclusive / total:7.1f} {100 * own / total:7.1f}  {key}")
    report = "\n".join(lines)
    (results / "hotspots.txt").write_text(report + "\n")
    print(report)
    print(f"\nfull profile: {results.relative_to(ROOT)}/profile.txt")


if __name__ == "__main__":
    main()
