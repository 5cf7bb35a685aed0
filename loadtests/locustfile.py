"""Load test of the sandbox: weighted users, a named load shape, an SLO gate.

    locust --config loadtests/locust.conf                 # web UI, local stack
    locust --config loadtests/locust.conf --headless -u 50 -t 2m --shape spike
    locust --config loadtests/locust.conf --host http://localhost:8080   # via the gateway

Locally each service has its own URL (SANDBOX_USER_URL, SANDBOX_CATALOG_URL,
SANDBOX_ACTIVITY_URL, defaulting to ports 8001-8003); with --host every
request goes to that one gateway, which routes by path prefix.

At the start (master or local runner only) the run prepares its own data; at
the end it checks ``slo.yaml`` and exits non-zero when a group misses. The
master or local runner serves Locust's numbers to Prometheus on port 9646.
The same file runs as ``--master`` and ``--worker``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import gevent
import prometheus_export
import slo
from locust import LoadTestShape, events
from locust.runners import WorkerRunner
from shapes import SHAPES, Tick, default_shape_name, shape_params
from targets import admin_credentials, resolve_targets
from testdata import PreparationError, prepare
from users import Admin, AnonymousBrowser, Shopper

__all__ = ["Admin", "AnonymousBrowser", "SelectedShape", "Shopper"]

HERE = Path(__file__).resolve().parent
logger = logging.getLogger("loadtests")

# Exit codes: 1 is reserved for a missed SLO, so CI can tell the two apart.
EXIT_SLO_MISSED = 1
EXIT_PREPARATION_FAILED = 3


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument(
        "--shape",
        choices=sorted(SHAPES),
        default=default_shape_name(),
        env_var="LOCUST_SHAPE",
        help="Load shape (also read from SHAPE). Default: steady",
    )
    parser.add_argument(
        "--slo-file",
        default=str(HERE / "slo.yaml"),
        env_var="LOCUST_SLO_FILE",
        help="Thresholds of the SLO gate",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--slo-profile",
        default="default",
        env_var="LOCUST_SLO_PROFILE",
        help="Profile of the SLO file to apply (e.g. smoke); 'off' disables the gate",
    )
    parser.add_argument(
        "--slo-report",
        default="",
        env_var="LOCUST_SLO_REPORT",
        help="Also write the gate's verdict as JSON to this file",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=9646,
        env_var="LOCUST_METRICS_PORT",
        help="Port of the Prometheus /metrics endpoint (master or local runner); 0 disables it",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        env_var="LOCUST_METRICS_HOST",
        help="Address /metrics listens on (default: loopback; the chart's master: every interface)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--account-pool",
        type=int,
        default=50,
        env_var="LOCUST_ACCOUNT_POOL",
        help="Shopper accounts registered before the run and shared by shoppers",
    )
    parser.add_argument(
        "--new-account-share",
        type=float,
        default=0.05,
        env_var="LOCUST_NEW_ACCOUNT_SHARE",
        help="Share of shoppers that register a new account instead of using the pool",
    )
    parser.add_argument(
        "--refresh-after",
        type=float,
        default=0,
        env_var="LOCUST_REFRESH_AFTER",
        help="Refresh tokens after this many seconds instead of shortly before they expire",
    )
    parser.add_argument(
        "--min-products",
        type=int,
        default=50,
        env_var="LOCUST_MIN_PRODUCTS",
        help="Create products as admin until the catalog holds at least this many",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--run-tag",
        default="",
        env_var="LOCUST_RUN_TAG",
        help="Written into the metadata (key `run`) of every event the shoppers post, so the "
        "events this run had accepted can be counted where they are stored",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=30.0,
        env_var="LOCUST_READY_TIMEOUT",
        help="Seconds to wait for the services to answer before giving up",
        include_in_web_ui=False,
    )


_STATE: dict[str, Any] = {}


class SelectedShape(LoadTestShape):
    """The shape named by ``--shape`` (see shapes.py), driven by ``-u``, ``-r`` and ``-t``."""

    use_common_options = True

    def tick(self) -> Tick:
        environment = self.runner.environment if self.runner else None
        if environment is not None and not getattr(environment, "sandbox_prepared", True):
            # The local runner prepares in another greenlet while this one
            # ticks: the shape's clock starts when the data is ready.
            self.reset_time()
        options = environment.parsed_options if environment else None
        name = getattr(options, "shape", None) or default_shape_name()
        params = shape_params(
            name,
            getattr(options, "num_users", None),
            getattr(options, "spawn_rate", None),
            getattr(options, "run_time", None),
            headless=bool(getattr(options, "headless", True)),
        )
        return SHAPES[name](self.get_run_time(), params)


def _is_worker(environment: Any) -> bool:
    return isinstance(environment.runner, WorkerRunner)


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    options = environment.parsed_options
    port = int(getattr(options, "metrics_port", 9646) or 0) if options else 9646
    host = getattr(options, "metrics_host", "127.0.0.1") if options else "127.0.0.1"
    prometheus_export.install(environment, port, host)
    _STATE["environment"] = environment


@events.test_start.add_listener
def _prepare(environment: Any, **_: Any) -> None:
    if _is_worker(environment):
        return
    environment.sandbox_prepared = False
    try:
        _prepare_data(environment)
    finally:
        environment.sandbox_prepared = True


def _prepare_data(environment: Any) -> None:
    options = environment.parsed_options
    targets = resolve_targets(environment.host)
    where = (
        "gateway " + targets.user
        if targets.gateway
        else (f"user {targets.user}, catalog {targets.catalog}, activity {targets.activity}")
    )
    logger.info("Preparing test data on %s", where)
    try:
        done = prepare(
            targets,
            admin_credentials(),
            min_products=options.min_products,
            pool_size=options.account_pool,
            ready_timeout=options.ready_timeout,
        )
    except PreparationError as error:
        logger.error("Cannot start the load test: %s", error)
        environment.process_exit_code = EXIT_PREPARATION_FAILED
        environment.sandbox_preparation_failed = True
        # Quit from outside the runner's own greenlet, which is still starting.
        gevent.spawn_later(0.1, environment.runner.quit)
        return
    logger.info(
        "Test data ready: catalog holds at least %d products (%d created); "
        "accounts: %d registered, %d existing",
        done.products_before + done.products_created,
        done.products_created,
        done.accounts_registered,
        done.accounts_existing,
    )
    if environment.shape_class is not None:
        # The preparation is not part of the shape's timeline.
        environment.shape_class.reset_time()


@events.quitting.add_listener
def _gate(environment: Any, **_: Any) -> None:
    """Turn the SLO into the exit code (master or local runner)."""
    if _is_worker(environment) or getattr(environment, "sandbox_preparation_failed", False):
        return
    options = environment.parsed_options
    profile = getattr(options, "slo_profile", "default")
    if profile == "off":
        return
    shape = getattr(options, "shape", None) or default_shape_name()
    if profile == "default" and shape in slo.profiles(Path(options.slo_file)):
        profile = shape  # the shape's own floors (slo.yaml)
    thresholds = slo.load_slo(Path(options.slo_file), profile)
    results = slo.results_from_stats(environment.runner.stats)
    violations = slo.evaluate(thresholds, results)
    report = slo.render_report(thresholds, results, violations)
    environment.sandbox_slo_report = report
    environment.process_exit_code = EXIT_SLO_MISSED if violations else 0
    if getattr(options, "slo_report", ""):
        verdict = {
            "profile": profile,
            "passed": not violations,
            "violations": [
                {
                    "group": v.group,
                    "check": v.check,
                    "actual": v.actual,
                    "limit": v.limit,
                    "detail": v.detail,
                }
                for v in violations
            ],
            "groups": [vars(result) for result in results],
        }
        path = Path(options.slo_report)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(verdict, indent=2) + "\n", encoding="utf-8")


@events.quit.add_listener
def _print_gate(**_: Any) -> None:
    # After Locust's own tables, so the verdict is the last thing on screen.
    report = getattr(_STATE.get("environment"), "sandbox_slo_report", None)
    if report:
        print(report, flush=True)
