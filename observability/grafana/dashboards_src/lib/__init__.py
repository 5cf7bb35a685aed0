"""The builder library the dashboard modules use.

- `slo`: the service-level objective, read from observability/slo.json.
- `promql`: label selectors and query fragments (rates, ratios, quantiles).
- `targets`: data sources and the queries a panel runs (Prometheus, Elasticsearch).
- `thresholds`: colour steps and value mappings.
- `variables`: the `namespace` and `service` template variables.
- `panels`: timeseries, stat, bargauge, table and logs panels.
- `layout`: `Dashboard`, which places panels on Grafana's 24-column grid.
"""
