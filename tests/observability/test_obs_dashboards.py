"""The Grafana dashboards: generated, valid, built on documented metrics, and
wired to the data sources the provisioning defines."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest
import yaml
from obs_support import (
    DASHBOARDS,
    EXPORTERS,
    GRAFANA_BUILTINS,
    LOCUST,
    OBS,
    PROVISIONING,
    all_panels,
    known_metrics,
    load_dashboards,
    metric_names,
    panel_queries,
    require_tool,
    scope_of,
    substitute,
    variable_values,
)

EXPECTED = {
    "overview.json",
    "user.json",
    "catalog.json",
    "activity.json",
    "celery.json",
    "datastores.json",
    "loadtest.json",
}
NEEDS_UNIT_AND_THRESHOLDS = {"timeseries", "stat", "gauge", "bargauge", "table"}
DASHBOARDS_JSON = load_dashboards()


def provisioned_datasources() -> dict[str, str]:
    uids = {}
    for path in (PROVISIONING / "datasources").glob("*.yaml"):
        for source in yaml.safe_load(path.read_text())["datasources"]:
            uids[source["uid"]] = source["type"]
    return uids


def test_every_dashboard_is_generated_and_up_to_date() -> None:
    assert set(DASHBOARDS_JSON) == EXPECTED
    result = subprocess.run(
        [sys.executable, str(OBS / "grafana" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"{result.stderr}run: make dashboards"


def test_provisioning_defines_both_datasources_and_the_dashboard_folder() -> None:
    assert provisioned_datasources() == {
        "prometheus": "prometheus",
        "elasticsearch": "elasticsearch",
    }
    source = yaml.safe_load((PROVISIONING / "datasources" / "sandbox.yaml").read_text())
    logs = next(s for s in source["datasources"] if s["uid"] == "elasticsearch")
    assert logs["jsonData"]["index"] == "sandbox-logs*"
    assert logs["jsonData"]["timeField"] == "@timestamp"
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "sandbox.yaml").read_text())
    assert [p["type"] for p in providers["providers"]] == ["file"]
    assert providers["providers"][0]["options"]["path"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dashboard_is_valid_grafana_json(name: str) -> None:
    dashboard = DASHBOARDS_JSON[name]
    assert isinstance(dashboard["schemaVersion"], int)
    assert dashboard["schemaVersion"] >= 36
    assert 0 < len(dashboard["uid"]) <= 40
    assert dashboard["title"].startswith("Sandbox / ")
    assert "sandbox" in dashboard["tags"]
    ids = [panel["id"] for panel in all_panels(dashboard)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {name}"
    for panel in all_panels(dashboard):
        pos = panel["gridPos"]
        assert pos["x"] >= 0, panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        assert pos["h"] > 0, panel["title"]


def test_dashboard_uids_are_unique() -> None:
    uids = [d["uid"] for d in DASHBOARDS_JSON.values()]
    assert len(uids) == len(set(uids))


def _datasource_uids(node: Any) -> list[str]:
    found = []
    if isinstance(node, dict):
        source = node.get("datasource")
        if isinstance(source, dict) and "uid" in source:
            found.append(source["uid"])
        for value in node.values():
            found += _datasource_uids(value)
    elif isinstance(node, list):
        for value in node:
            found += _datasource_uids(value)
    return found


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_datasources_are_referenced_by_provisioned_uid(name: str) -> None:
    provisioned = set(provisioned_datasources()) | {"-- Grafana --"}
    uids = _datasource_uids(DASHBOARDS_JSON[name])
    assert uids
    assert set(uids) <= provisioned, set(uids) - provisioned


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_panel_has_description_unit_and_thresholds(name: str) -> None:
    for panel in all_panels(DASHBOARDS_JSON[name]):
        if panel["type"] == "row":
            continue
        where = f"{name} #{panel['id']} {panel['title']!r}"
        assert len(panel.get("description", "")) >= 20, f"{where}: no description"
        assert panel.get("targets"), f"{where}: no query"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), where
        if panel["type"] in NEEDS_UNIT_AND_THRESHOLDS:
            defaults = panel["fieldConfig"]["defaults"]
            assert defaults.get("unit"), f"{where}: no unit"
            steps = defaults["thresholds"]["steps"]
            assert steps, f"{where}: no thresholds"
            assert steps[0]["value"] is None, f"{where}: thresholds need a base step"
            values = [s["value"] for s in steps[1:]]
            assert values == sorted(values), f"{where}: threshold steps out of order"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_template_variables_exist_and_are_used_correctly(name: str) -> None:
    dashboard = DASHBOARDS_JSON[name]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert {"namespace", "service"} <= set(variables)
    multi = {n for n, v in variables.items() if v.get("multi") or v.get("includeAll")}
    for query in panel_queries():
        if query.dashboard != name:
            continue
        for used in re.findall(r"\$\{?(\w+)", query.expr):
            assert used in variables or used in GRAFANA_BUILTINS, f"{query.label}: ${used}"
        for label_op in re.findall(r'(=~|!~|=|!=)"\$(\w+)"', query.expr):
            op, used = label_op
            if used in multi:
                assert op in ("=~", "!~"), f"{query.label}: multi-value ${used} needs =~"


def test_every_metric_in_a_panel_is_documented_or_known() -> None:
    known = known_metrics()
    unknown = {
        query.label: sorted(metric_names(query.expr) - known)
        for query in panel_queries()
        if metric_names(query.expr) - known
    }
    assert not unknown, f"metrics neither in docs/metrics.md nor known exporter names: {unknown}"


def test_metric_name_extraction() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (job, le) "
        "(rate(sandbox_http_request_duration_seconds_bucket"
        '{namespace="$namespace", route=~"/a|b"}[$__rate_interval]))) or vector(0) * up'
    )
    assert metric_names(expr) == {"sandbox_http_request_duration_seconds_bucket", "up"}


def test_cluster_and_locust_panels_are_marked_with_a_reason() -> None:
    for name, dashboard in DASHBOARDS_JSON.items():
        for panel in all_panels(dashboard):
            if panel["type"] == "row":
                continue
            scope, reason = scope_of(panel)
            names = set().union(*(metric_names(t.get("expr", "")) for t in panel["targets"]))
            where = f"{name} #{panel['id']} {panel['title']!r}"
            if panel["datasource"]["uid"] == "elasticsearch":
                assert scope == "cluster", f"{where}: needs the cluster, not marked"
            if names & EXPORTERS:
                # The local stack runs the exporters too (scripts/stack.py).
                assert scope is None, f"{where}: has data locally, must not be scoped"
            if names & LOCUST:
                assert scope == "locust", f"{where}: needs Locust, not marked"
            if scope:
                assert len(reason) > 20, f"{where}: say why it is scoped"


def test_datastores_dashboard_answers_everywhere_exporters_and_application_panels() -> None:
    panels = [p for p in all_panels(DASHBOARDS_JSON["datastores.json"]) if p["type"] != "row"]
    assert [scope_of(p)[0] for p in panels] == [None] * len(panels)
    exporter_panels = [
        p for p in panels
        if set().union(*(metric_names(t["expr"]) for t in p["targets"])) & EXPORTERS
    ]  # fmt: skip
    assert len(exporter_panels) >= 15
    assert len(panels) - len(exporter_panels) >= 2


def test_every_panel_query_is_valid_promql(tmp_path: Any) -> None:
    """promtool parses every panel query, variables substituted, as a recording rule."""
    promtool = require_tool("promtool")
    rules = []
    for query in panel_queries():
        values = variable_values(DASHBOARDS_JSON[query.dashboard], "local")
        rules.append(
            {"record": f"panel:check:{len(rules)}", "expr": substitute(query.expr, values)}
        )
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(rules) > 100


def test_elasticsearch_panels_query_mapped_fields() -> None:
    from test_obs_elastic import mapped_fields

    fields = mapped_fields()
    for name, dashboard in DASHBOARDS_JSON.items():
        for panel in all_panels(dashboard):
            for target in panel.get("targets", []):
                if target.get("datasource", {}).get("uid") != "elasticsearch":
                    continue
                used = set(re.findall(r"([\w.@]+):", target["query"]))
                used |= {agg["field"] for agg in target["bucketAggs"] if "field" in agg}
                assert used <= fields, f"{name} #{panel['id']}: {used - fields}"


def test_dashboards_directory_holds_only_generated_json() -> None:
    assert {p.name for p in DASHBOARDS.iterdir()} == EXPECTED
