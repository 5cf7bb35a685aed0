"""Break it on purpose: ``make scenario NAME=<name>`` (``make scenarios`` lists them).

A steady Locust load runs; after a warm-up the fault is injected, held, and
removed; the load runs on through a recovery period. Then the report is
written next to Locust's (``loadtests/results/<time>-scenario-<name>/``):
the alerts that went pending and firing (Prometheus), the panels' queries
before, during and after, what the logs said, what users saw and the SLO
gate's verdict, and the accepted events counted against the stored ones.

    python loadtests/scenarios/run.py cache-down [--hold 120] [--prometheus URL]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import evidence  # noqa: E402
import faults_cluster  # noqa: E402
import faults_local  # noqa: E402
from library import SCENARIOS, Scenario, alert_for_seconds  # noqa: E402
from report import Findings, render  # noqa: E402
from routes import Route  # noqa: E402

from activity_service.config import ActivityStoreSettings  # noqa: E402
from sandbox_common.topology import SERVICES  # noqa: E402

MONGO_DATABASE = ActivityStoreSettings.model_fields["mongo_database"].default

ROOT = HERE.parents[1]
BIN = Path(sys.executable).parent
LOCUST_METRICS = "http://127.0.0.1:9646/metrics"


def say(message: str) -> None:
    print(f"[scenario] {message}", flush=True)


def list_scenarios() -> None:
    width = max(map(len, SCENARIOS))
    for scenario in SCENARIOS.values():
        print(f"{scenario.name:<{width}}  {scenario.summary}")


def auto_hold(scenario: Scenario, step: float) -> float:
    """Long enough for the expected alerts to fire with the shipped rules."""
    waits = alert_for_seconds(scenario.alerts).values()
    return max([60.0, *(w + 4 * step + 30 for w in waits)])


def locust_counts() -> dict[tuple[str, str, str], float]:
    """Locust's running totals by (sample, name, method), from one read of its
    /metrics; empty until it serves them."""
    try:
        with urllib.request.urlopen(LOCUST_METRICS, timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return {}
    return {
        (sample.name, sample.labels["name"], sample.labels["method"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name in ("locust_requests_total", "locust_failures_total")
    }


def locust_requests() -> float:
    counts = locust_counts()
    return sum(v for (sample, _, _), v in counts.items() if sample == "locust_requests_total")


def locust_accepted_events() -> float:
    counts = locust_counts()
    key = (Route.EVENTS, "POST")
    return counts.get(("locust_requests_total", *key), 0.0) - counts.get(
        ("locust_failures_total", *key), 0.0
    )


def start_locust(
    scenario: Scenario, args: argparse.Namespace, results: Path, tag: str, site: Any
) -> subprocess.Popen[bytes]:
    # Locust's clock starts when its test data is ready, ours at its first
    # request; it stops by itself (and writes its report and the gate's
    # verdict) a recovery period after the hold.
    total = args.warmup + args.hold + args.recovery
    command = [
        str(BIN / "locust"),
        "--config",
        "loadtests/locust.conf",
        "--headless",
        "--shape",
        "steady",
        "--users",
        str(args.users or scenario.users),
        "--spawn-rate",
        str(args.users or scenario.users),
        "--run-time",
        f"{total:.0f}s",
        "--slo-profile",
        args.slo_profile,
        "--run-tag",
        tag,
        "--html",
        str(results / "report.html"),
        "--csv",
        str(results / "locust"),
        "--slo-report",
        str(results / "slo.json"),
        *site.locust_args,
    ]
    log = (results / "locust.log").open("ab")
    return subprocess.Popen(  # noqa: S603 - our own command line
        command,
        cwd=ROOT,
        env={**os.environ, **site.locust_env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop_locust(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait for the run to end; stop it if it has not after ``timeout``."""
    try:
        process.wait(timeout=timeout)
        return
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class LocalSite:
    """The local stack: its settings file, its Prometheus, its logs, its MongoDB."""

    namespace = "local"

    def __init__(self, args: argparse.Namespace) -> None:
        self.stack = faults_local.stack()
        self.env = self.stack.read_env_file(self.stack.LOCAL / "stack.env")
        if not self.env:
            raise SystemExit("error: the local stack is not running: make local-up")
        self.prometheus_url = args.prometheus or self.env["SANDBOX_PROMETHEUS_URL"]
        self.step = args.step or self.stack.PROMETHEUS_INTERVAL
        self.locust_env: dict[str, str] = dict(self.env)
        self.locust_args: list[str] = []

    def fault(self, scenario: Scenario) -> faults_local.Fault:
        if scenario.local is None:
            raise SystemExit(f"error: {scenario.name} runs on a cluster only (TARGET=cluster)")
        return scenario.local(self.env)

    def log_lines(self, since: float) -> list[dict[str, Any]]:
        return evidence.local_log_lines(self.stack.LOGS)

    def mongo(self) -> tuple[str, str]:
        return self.env["SANDBOX_MONGO_URL"], self.env.get("SANDBOX_MONGO_DATABASE", MONGO_DATABASE)

    def close(self) -> None:
        pass


def platform_interval() -> float:
    """The cluster Prometheus's evaluation interval, as ``make up`` installs it."""
    values = yaml.safe_load(
        (ROOT / "deploy" / "platform" / "kube-prometheus-stack.yaml").read_text()
    )
    return float(values["prometheus"]["prometheusSpec"]["evaluationInterval"].removesuffix("s"))


class ClusterSite:
    """A cluster (``make up``'s, or the cluster tests'): kubectl, the
    release's Prometheus and MongoDB through port-forwards, the pods' logs."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.kube = faults_cluster.Kube(namespace=args.namespace, release=args.release)
        self.namespace = args.namespace
        self.step = args.step or platform_interval()
        self._forwards: list[subprocess.Popen[str]] = []
        self.mongo_address = args.mongo
        self.urls = {s: os.environ.get(f"SANDBOX_{s.upper()}_URL", "") for s in SERVICES}
        if all(self.urls.values()):
            self.locust_env = {f"SANDBOX_{s.upper()}_URL": url for s, url in self.urls.items()}
            self.locust_args: list[str] = []
        else:
            self.urls = dict.fromkeys(SERVICES, args.host.rstrip("/"))
            self.locust_env, self.locust_args = {}, ["--host", args.host]
        # Locust's test data needs the release's first admin (its credentials Secret).
        self.locust_env |= {
            "SANDBOX_ADMIN_EMAIL": self.credential("admin-email"),
            "SANDBOX_ADMIN_PASSWORD": self.credential("admin-password"),
        }
        if args.prometheus:
            self.prometheus_url = args.prometheus
        else:
            port = self._forward("monitoring", "kps-kube-prometheus-stack-prometheus", 9090)
            self.prometheus_url = f"http://127.0.0.1:{port}"

    def _forward(self, namespace: str, service: str, port: int) -> int:
        process, local = faults_cluster.port_forward(self.kube.kubectl, namespace, service, port)
        self._forwards.append(process)
        return local

    def fault(self, scenario: Scenario) -> faults_local.Fault:
        if scenario.cluster is None:
            raise SystemExit(f"error: {scenario.name} runs on the local stack only (TARGET=local)")
        return scenario.cluster(self.kube, self.urls)

    def log_lines(self, since: float) -> list[dict[str, Any]]:
        stamp = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines = []
        for component in (*SERVICES, "worker", "beat"):
            for raw in self.kube.logs(component, stamp):
                if raw.startswith("{"):
                    with contextlib.suppress(ValueError):
                        lines.append(json.loads(raw))
        return lines

    def credential(self, key: str) -> str:
        secret = self.kube.json("secret", f"{self.kube.release}-credentials")
        return base64.b64decode(secret["data"][key]).decode()

    def mongo(self) -> tuple[str, str]:
        password = self.credential("mongo-password")
        port = self._forward(self.namespace, f"{self.kube.release}-mongo", 27017)
        url = (
            f"mongodb://sandbox:{password}@127.0.0.1:{port}/?authSource=admin&directConnection=true"
        )
        return url, MONGO_DATABASE  # as the chart sets it

    def close(self) -> None:
        for process in self._forwards:
            process.terminate()


def run(args: argparse.Namespace) -> Path:
    scenario = SCENARIOS[args.name]
    site: LocalSite | ClusterSite = LocalSite(args) if args.target == "local" else ClusterSite(args)
    try:
        return _run(scenario, site, args)
    finally:
        site.close()


def _run(scenario: Scenario, site: LocalSite | ClusterSite, args: argparse.Namespace) -> Path:
    fault = site.fault(scenario)
    prometheus = evidence.Prometheus(site.prometheus_url)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    results = (
        Path(args.results or ROOT / "loadtests" / "results") / f"{stamp}-scenario-{scenario.name}"
    )
    results.mkdir(parents=True)
    tag = f"scenario-{scenario.name}-{stamp}"
    args.hold = args.hold or auto_hold(scenario, site.step)
    say(f"{scenario.name} ({args.target}): {scenario.summary}")
    say(
        f"warm-up {args.warmup:.0f} s, hold {args.hold:.0f} s, recovery {args.recovery:.0f} s; "
        f"report in {results}"
    )
    locust = start_locust(scenario, args, results, tag, site)
    try:
        deadline = time.monotonic() + 180
        while locust_requests() == 0:
            if locust.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"error: Locust did not start; see {results / 'locust.log'}")
            time.sleep(1)
        start = time.time()
        time.sleep(args.warmup)
        if scenario.counts_loss and not args.no_loss_count:
            # Events are a small share of the mix: a loss count over none proves nothing.
            deadline = time.monotonic() + 120
            while locust_accepted_events() == 0:
                if locust.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("error: the load had no event accepted before the fault")
                time.sleep(1)
        say(f"injecting: {fault.describe}")
        injected = time.time()
        fault.inject()
        time.sleep(args.hold)  # held this long once in place (a restart may take a while)
        say("removing the fault")
        fault.remove()
        removed = time.time()
        stop_locust(locust, timeout=args.recovery + 120)
        end = time.time()
    except BaseException:
        fault.remove()
        stop_locust(locust, timeout=0)
        raise
    phases = evidence.Phases(start, injected, removed, end)
    time.sleep(site.step * 2)  # the last scrape and rule evaluation
    loss = None
    if scenario.counts_loss and not args.no_loss_count:
        mongo_url, database = site.mongo()
        loss = evidence.count_stored(
            mongo_url, database, tag, evidence.accepted_events(results), timeout=args.drain_timeout
        )
    findings = Findings(
        scenario=scenario,
        target=args.target,
        fault=fault.describe,
        phases=phases,
        alerts=prometheus.alert_timeline(start, end + site.step * 2, site.step),
        panels=[
            evidence.read_panel(
                prometheus,
                panel,
                phases,
                namespace=site.namespace,
                step=site.step,
                rate_interval=f"{max(30, 4 * site.step):.0f}s",
            )
            for panel in scenario.panels
        ],
        logs=evidence.summarize_logs(site.log_lines(injected), injected, end),
        routes=evidence.locust_routes(results),
        failures=evidence.locust_failures(results),
        gate=evidence.gate_verdict(results),
        loss=loss,
    )
    (results / "scenario.md").write_text(render(findings))
    (results / "scenario.json").write_text(json.dumps(findings.facts(), indent=2))
    print(render(findings))
    say(f"report: {results / 'scenario.md'} (Locust's: {results / 'report.html'})")
    return results


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make scenario",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", nargs="?", choices=sorted(SCENARIOS))
    parser.add_argument("--list", action="store_true", help="list the scenarios, one line each")
    parser.add_argument("--target", default="local", choices=("local", "cluster"))
    parser.add_argument("--namespace", default="sandbox", help="with --target cluster")
    parser.add_argument("--release", default="sandbox", help="with --target cluster")
    parser.add_argument(
        "--host",
        default="http://localhost:8080",
        help="with --target cluster: the gateway (unless SANDBOX_<SERVICE>_URL name every service)",
    )
    parser.add_argument(
        "--users", type=int, default=0, help="Locust users (the scenario's own by default)"
    )
    parser.add_argument(
        "--warmup", type=float, default=60.0, help="seconds of load before the fault"
    )
    parser.add_argument(
        "--hold",
        type=float,
        default=0.0,
        help="seconds the fault is held (default: until the expected alerts fire)",
    )
    parser.add_argument(
        "--recovery", type=float, default=90.0, help="seconds of load after the fault"
    )
    parser.add_argument("--prometheus", default="", help="Prometheus URL (the stack's by default)")
    parser.add_argument(
        "--mongo",
        default="",
        help="with --target cluster: host:port of the release's MongoDB "
        "(a port-forward by default)",
    )
    parser.add_argument(
        "--no-loss-count",
        action="store_true",
        help="leave out the count of stored events (no way to the release's MongoDB)",
    )
    parser.add_argument("--results", default="", help="where the results directory is made")
    parser.add_argument(
        "--step",
        type=float,
        default=0,
        help="Prometheus's scrape and evaluation interval (the stack's by default)",
    )
    parser.add_argument(
        "--slo-profile", default="default", help="SLO gate profile (loadtests/slo.yaml)"
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the worker to store what was accepted",
    )
    args = parser.parse_args(argv)
    if not args.list and not args.name:
        parser.error("name a scenario (or --list)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.list:
        list_scenarios()
        return
    run(args)


if __name__ == "__main__":
    main()
