"""Sandbox / Celery and queues: worker, beat, queues and tasks."""

from __future__ import annotations

from .lib.layout import Dashboard
from .lib.panels import stat, timeseries
from .lib.promql import NS, RI, quantile, ratio_or_zero
from .lib.targets import prom
from .lib.thresholds import UP, UP_MAPPINGS, steps
from .lib.variables import namespace_var, service_query_var
from .sections import outbox_panels


def build() -> Dashboard:
    d = Dashboard(
        uid="sandbox-celery",
        title="Sandbox / Celery and queues",
        description="Worker and beat: queues, task throughput, failures, retries, durations.",
        tags=["celery"],
        variables=[namespace_var(), service_query_var("worker|beat")],
    )
    sel = f'{NS}, job=~"$service"'
    tasks = f"sandbox_celery_tasks_total{{{sel}"
    d.row("Processes")
    d.add(
        stat(
            "Worker consuming",
            "1 while the worker process consumes from its queues (sandbox_celery_worker_up).",
            [
                prom(
                    f'max by (instance) (sandbox_celery_worker_up{{{NS}, job="worker"}})',
                    "{{instance}}",
                )
            ],
            unit="none",
            thresholds=UP,
            mappings=UP_MAPPINGS,
        ),
        w=6,
        h=5,
    )
    d.add(
        stat(
            "Scrape targets up",
            "Whether Prometheus can scrape the worker and beat.",
            [prom(f"up{{{sel}}}", "{{job}}")],
            unit="none",
            thresholds=UP,
            mappings=UP_MAPPINGS,
        ),
        w=6,
        h=5,
    )
    d.add(
        stat(
            "Since beat's last tick",
            "Seconds since Celery beat last woke up to send due tasks. Trending and the outbox "
            "relay stop when beat stops; the BeatDown alert fires above 5 minutes.",
            [
                prom(
                    "time() - max(sandbox_celery_beat_last_tick_timestamp_seconds"
                    f'{{{NS}, job="beat"}})',
                    "beat",
                )
            ],
            unit="s",
            thresholds=steps(("green", None), ("orange", 60), ("red", 300)),
        ),
        w=6,
        h=5,
    )
    d.add(
        stat(
            "Tasks waiting",
            "Messages waiting in all Celery queues in Redis.",
            [prom(f"sum(max by (queue) (sandbox_celery_queue_length{{{NS}}}))", "waiting")],
            unit="short",
            thresholds=steps(("green", None), ("orange", 50), ("red", 500)),
        ),
        w=6,
        h=5,
    )
    d.row("Queues")
    d.add(
        timeseries(
            "Queue length",
            "Messages waiting per queue (user, catalog, activity), read from the broker at "
            "scrape time. Steady growth means the worker cannot keep up.",
            [prom(f"max by (queue) (sandbox_celery_queue_length{{{NS}}})", "{{queue}}")],
            unit="short",
            thresholds=steps(("green", None), ("orange", 50), ("red", 500)),
            show_thresholds=True,
        )
    )
    d.add(
        timeseries(
            "Queue growth",
            "Per-second change of each queue's length over 5 minutes (positive: filling up). "
            "QueueBacklogGrowing fires when a queue above 50 keeps growing for 10 minutes.",
            [prom(f"max by (queue) (deriv(sandbox_celery_queue_length{{{NS}}}[5m]))", "{{queue}}")],
            unit="suffix: msg/s",
            minimum=None,
            thresholds=steps(("green", None), ("orange", 0.1)),
        )
    )
    d.row("Tasks")
    d.add(
        timeseries(
            "Tasks by state",
            "Task state changes per second: started, succeeded, failed, retried.",
            [prom(f"sum by (state) (rate({tasks}}}[{RI}]))", "{{state}}")],
            unit="ops",
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Tasks started by task",
            "Task executions per second per task name.",
            [prom(f'sum by (task) (rate({tasks}, state="started"}}[{RI}]))', "{{task}}")],
            unit="ops",
            stack=True,
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Task failure ratio",
            "Share of task executions that failed for good (after their retries).",
            [
                prom(
                    ratio_or_zero(
                        "task",
                        f'rate({tasks}, state="failed"}}[{RI}])',
                        f'rate({tasks}, state="started"}}[{RI}])',
                    ),
                    "{{task}}",
                )
            ],
            unit="percentunit",
            thresholds=steps(("green", None), ("orange", 0.01), ("red", 0.1)),
            show_thresholds=True,
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Retries",
            "Retries per second per task: transient errors (a datastore or the catalog briefly "
            "unavailable) being absorbed.",
            [
                prom(
                    f'sum by (task) (rate({tasks}, state="retried"}}[{RI}])) '
                    f'or sum by (task) (rate({tasks}, state="started"}}[{RI}])) * 0',
                    "{{task}}",
                )
            ],
            unit="ops",
            thresholds=steps(("green", None), ("orange", 0.1)),
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Task p95 duration",
            "95th percentile of task run time per task.",
            [prom(quantile(0.95, "sandbox_celery_task_duration_seconds", sel, "task"), "{{task}}")],
            unit="s",
            thresholds=steps(("green", None), ("orange", 5), ("red", 30)),
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Events delivered by tasks",
            "Activity events stored by Celery tasks (source=task) per second, by type.",
            [
                prom(
                    "sum by (type) (rate(sandbox_events_ingested_total"
                    f'{{{NS}, source="task"}}[{RI}]))',
                    "{{type}}",
                )
            ],
            unit="ops",
            stack=True,
        ),
        w=8,
    )
    d.row("Outbox")
    outbox_panels(d, width=12)
    return d
