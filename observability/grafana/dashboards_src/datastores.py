"""Sandbox / Datastores: PostgreSQL, MongoDB and Redis through their exporters."""

from __future__ import annotations

from .lib.layout import Dashboard
from .lib.panels import stat, timeseries
from .lib.promql import NS, RI
from .lib.targets import prom
from .lib.thresholds import UP, UP_MAPPINGS, steps
from .lib.variables import namespace_var, service_query_var
from .sections import pool_panels


def build() -> Dashboard:
    d = Dashboard(
        uid="sandbox-datastores",
        title="Sandbox / Datastores",
        description=(
            "PostgreSQL, MongoDB and Redis as their exporters see them (postgres_exporter, "
            "mongodb_exporter, redis_exporter: in the cluster beside each datastore, locally "
            "beside the local stack's), with the services' own pool and cache metrics."
        ),
        tags=["datastores"],
        variables=[namespace_var(), service_query_var("user|catalog|activity|worker")],
    )
    db = f'{NS}, datname=~"users|catalog"'
    app = f'{NS}, job=~"$service"'

    d.row("PostgreSQL")
    d.add(
        stat(
            "PostgreSQL up",
            "pg_up: whether the exporter can connect to PostgreSQL.",
            [prom(f"max(pg_up{{{NS}}})", "pg_up")],
            unit="none",
            thresholds=UP,
            mappings=UP_MAPPINGS,
        ),
        w=4,
    )
    d.add(
        stat(
            "Connection usage",
            "Server connections in use as a share of max_connections.",
            [
                prom(
                    f"sum(pg_stat_database_numbackends{{{NS}}})"
                    f" / max(pg_settings_max_connections{{{NS}}})",
                    "used",
                )
            ],
            unit="percentunit",
            thresholds=steps(("green", None), ("orange", 0.7), ("red", 0.9)),
        ),
        w=4,
    )
    d.add(
        timeseries(
            "Server connections by database",
            "Backends connected to each database (pg_stat_database_numbackends).",
            [
                prom(
                    f"sum by (datname) (pg_stat_database_numbackends{{{db}}})",
                    "{{datname}}",
                )
            ],
            unit="short",
            stack=True,
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Transactions",
            "Commits and rollbacks per second per database.",
            [
                prom(
                    f"sum by (datname) (rate(pg_stat_database_xact_commit{{{db}}}[{RI}]))",
                    "{{datname}} commit",
                ),
                prom(
                    f"sum by (datname) (rate(pg_stat_database_xact_rollback{{{db}}}[{RI}]))",
                    "{{datname}} rollback",
                ),
            ],
            unit="ops",
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Buffer cache hit ratio",
            "Share of block reads served from PostgreSQL's shared buffers. Below 90 % the "
            "working set no longer fits in memory.",
            [
                prom(
                    f"sum by (datname) (rate(pg_stat_database_blks_hit{{{db}}}[{RI}])) / "
                    f"(sum by (datname) (rate(pg_stat_database_blks_hit{{{db}}}[{RI}])) + "
                    f"sum by (datname) (rate(pg_stat_database_blks_read{{{db}}}[{RI}])))",
                    "{{datname}}",
                )
            ],
            unit="percentunit",
            maximum=1,
            thresholds=steps(("red", None), ("orange", 0.9), ("green", 0.99)),
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Database size",
            "On-disk size of each sandbox database.",
            [
                prom(
                    f'max by (datname) (pg_database_size_bytes{{{NS}, datname=~"users|catalog"}})',
                    "{{datname}}",
                )
            ],
            unit="bytes",
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Deadlocks",
            "Deadlocks detected per database over each interval.",
            [
                prom(
                    f"sum by (datname) (increase(pg_stat_database_deadlocks{{{db}}}[{RI}]))",
                    "{{datname}}",
                )
            ],
            unit="short",
            thresholds=steps(("green", None), ("red", 1)),
            show_thresholds=True,
        ),
        w=8,
    )
    d.row("Application pools (what the services see)")
    pool_panels(d, app)

    d.row("MongoDB")
    # dbStats and $collStats only: the collectors both MongoDB and FerretDB
    # (the local stack's) answer; serverStatus counters are MongoDB's alone.
    activity = f'{NS}, database="activity"'
    d.add(
        stat(
            "MongoDB up",
            "mongodb_up: whether the exporter can reach MongoDB.",
            [prom(f"max(mongodb_up{{{NS}}})", "mongodb_up")],
            unit="none",
            thresholds=UP,
            mappings=UP_MAPPINGS,
        ),
        w=4,
    )
    d.add(
        timeseries(
            "Documents by collection",
            "Documents in each collection of the activity database ($collStats count).",
            [
                prom(
                    f"sum by (collection) (mongodb_collstats_storageStats_count{{{activity}}})",
                    "{{collection}}",
                )
            ],
            unit="short",
        ),
        w=6,
    )
    d.add(
        timeseries(
            "Documents added per second",
            "Net change of each collection's document count (inserts minus retention's "
            "deletes), from $collStats.",
            [
                prom(
                    "sum by (collection) "
                    f"(deriv(mongodb_collstats_storageStats_count{{{activity}}}[5m]))",
                    "{{collection}}",
                )
            ],
            unit="ops",
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Data and index size",
            "Size of the activity database's documents and indexes (dbStats dataSize, indexSize).",
            [
                prom(f"max(mongodb_dbstats_dataSize{{{activity}}})", "data"),
                prom(f"max(mongodb_dbstats_indexSize{{{activity}}})", "indexes"),
            ],
            unit="bytes",
        ),
        w=6,
    )

    d.row("Redis (cache and Celery broker)")
    d.add(
        stat(
            "Redis up",
            "redis_up: whether the exporter can reach Redis.",
            [prom(f"max(redis_up{{{NS}}})", "redis_up")],
            unit="none",
            thresholds=UP,
            mappings=UP_MAPPINGS,
        ),
        w=4,
    )
    d.add(
        timeseries(
            "Memory used",
            "Memory Redis uses, against maxmemory when one is set.",
            [
                prom(f"max(redis_memory_used_bytes{{{NS}}})", "used"),
                prom(f"max(redis_memory_max_bytes{{{NS}}}) > 0", "maxmemory"),
            ],
            unit="bytes",
        ),
        w=6,
    )
    d.add(
        timeseries(
            "Commands",
            "Commands processed per second.",
            [prom(f"sum(rate(redis_commands_processed_total{{{NS}}}[{RI}]))", "commands/s")],
            unit="ops",
        ),
        w=7,
    )
    d.add(
        timeseries(
            "Connected clients",
            "Client connections: the services, the worker, beat and the exporter.",
            [prom(f"sum(redis_connected_clients{{{NS}}})", "clients")],
            unit="short",
        ),
        w=7,
    )
    d.add(
        timeseries(
            "Keyspace hit ratio",
            "Share of key lookups that found a key, all clients together.",
            [
                prom(
                    f"sum(rate(redis_keyspace_hits_total{{{NS}}}[{RI}])) / "
                    f"(sum(rate(redis_keyspace_hits_total{{{NS}}}[{RI}])) + "
                    f"sum(rate(redis_keyspace_misses_total{{{NS}}}[{RI}])))",
                    "hit ratio",
                )
            ],
            unit="percentunit",
            maximum=1,
            thresholds=steps(("red", None), ("orange", 0.5), ("green", 0.8)),
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Keys and evictions",
            "Keys per database (db0 cache, db1 broker) and keys evicted per second.",
            [
                prom(f"sum by (db) (redis_db_keys{{{NS}}})", "{{db}} keys"),
                prom(f"sum(rate(redis_evicted_keys_total{{{NS}}}[{RI}]))", "evicted/s"),
            ],
            unit="short",
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Product cache lookups (catalog's view)",
            "Cache lookups per second as the catalog counts them, by result. error rises when "
            "Redis is unreachable.",
            [
                prom(
                    f"sum by (result) (rate(sandbox_cache_requests_total{{{app}}}[{RI}]))",
                    "{{result}}",
                )
            ],
            unit="ops",
            stack=True,
        ),
        w=8,
    )
    return d
