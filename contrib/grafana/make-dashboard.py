#!/usr/bin/env python3
"""Writes gatehouse-dashboard.json, the Grafana dashboard for Gatehouse's own metrics (Docs/operations.md).

The JSON is generated so that every panel has the same shape; edit this file, run it, commit both.
AlertRulesTests checks that the committed JSON is what this script writes, that every expression parses
(promtool) and that every metric and label it names is one Gatehouse serves.
"""
import json
import os
import sys

SEL = 'instance=~"$instance"'
RATE = "$__rate_interval"


def panel(title, exprs, unit="short", kind="timeseries", description="", stack=False):
    targets = [{"datasource": {"type": "prometheus", "uid": "${datasource}"}, "expr": expr, "legendFormat": legend,
                "refId": chr(ord("A") + index)} for index, (expr, legend) in enumerate(exprs)]
    result = {"type": kind, "title": title, "description": description,
              "datasource": {"type": "prometheus", "uid": "${datasource}"}, "targets": targets,
              "fieldConfig": {"defaults": {"unit": unit}, "overrides": []}, "options": {}}
    if kind == "timeseries":
        result["fieldConfig"]["defaults"]["custom"] = {"stacking": {"mode": "normal" if stack else "none"}, "fillOpacity": 10}
        result["options"] = {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull"]},
                             "tooltip": {"mode": "multi"}}
    if kind == "stat":
        result["options"] = {"colorMode": "background", "graphMode": "none", "reduceOptions": {"calcs": ["lastNotNull"]}}
    return result


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


layout = [
    row("Overview"),
    panel("Plugins up", [(f"gatehouse_plugin_up{{{SEL}}}", "{{instance}} {{plugin}}")], kind="stat",
          description="1 while a process of the plugin is ready; 0 means token requests get 503."),
    panel("Tokens issued /s", [(f"sum(rate(gatehouse_tokens_issued_total{{{SEL}}}[{RATE}]))", "issued")], unit="reqps", kind="stat"),
    panel("Token requests refused /s", [(f"sum(rate(gatehouse_token_requests_refused_total{{{SEL}}}[{RATE}]))", "refused")],
          unit="reqps", kind="stat"),
    panel("5xx answers", [(f'sum(rate(gatehouse_http_requests_total{{{SEL}, status=~"5.."}}[{RATE}])) / '
                           f"sum(rate(gatehouse_http_requests_total{{{SEL}}}[{RATE}]))", "5xx")], unit="percentunit", kind="stat"),
    row("Tokens"),
    panel("Tokens issued by client", [(f"sum by (client_id) (rate(gatehouse_tokens_issued_total{{{SEL}}}[{RATE}]))", "{{client_id}}")],
          unit="reqps", stack=True),
    panel("Token requests refused by reason", [(f"sum by (reason) (rate(gatehouse_token_requests_refused_total{{{SEL}}}[{RATE}]))",
                                                "{{reason}}")], unit="reqps", stack=True,
          description="wrong_secret for one client: a rotated or leaked secret; rate_limited_*: someone guessing (troubleshooting.md)."),
    panel("Wrong secret by client", [(f'sum by (client_id) (rate(gatehouse_token_requests_refused_total{{{SEL}, reason="wrong_secret"}}[{RATE}]))',
                                      "{{client_id}}")], unit="reqps"),
    panel("Authentications rate-limited", [(f"sum by (limit) (rate(gatehouse_auth_rate_limited_total{{{SEL}}}[{RATE}]))", "{{limit}}")],
          unit="reqps"),
    panel("Client authentications from the cache", [
        (f"sum(rate(gatehouse_client_auth_cache_hits_total{{{SEL}}}[{RATE}]))", "from cache"),
        (f'sum(rate(gatehouse_plugin_calls_total{{{SEL}, method="store.authenticate"}}[{RATE}]))', "asked the store")], unit="reqps"),
    panel("Protected requests by outcome", [(f"sum by (outcome) (rate(gatehouse_bearer_requests_total{{{SEL}}}[{RATE}]))", "{{outcome}}")],
          unit="reqps", stack=True),
    row("HTTP"),
    panel("Requests by route and status", [(f"sum by (route, status) (rate(gatehouse_http_requests_total{{{SEL}}}[{RATE}]))",
                                            "{{route}} {{status}}")], unit="reqps", stack=True),
    panel("Latency p50 / p99 by route", [
        (f"histogram_quantile(0.5, sum by (route, le) (rate(gatehouse_http_request_duration_seconds_bucket{{{SEL}}}[{RATE}])))", "p50 {{route}}"),
        (f"histogram_quantile(0.99, sum by (route, le) (rate(gatehouse_http_request_duration_seconds_bucket{{{SEL}}}[{RATE}])))", "p99 {{route}}")],
          unit="s"),
    panel("Connections refused", [(f"sum by (reason) (rate(gatehouse_http_connections_refused_total{{{SEL}}}[{RATE}]))", "{{reason}}")],
          unit="reqps", description="max_connections reached (http.max_connections)."),
    row("Plugins"),
    panel("Ready processes", [(f"gatehouse_plugin_processes_ready{{{SEL}}}", "{{instance}} {{plugin}}")]),
    panel("Restarts", [(f"sum by (plugin) (increase(gatehouse_plugin_restarts_total{{{SEL}}}[{RATE}]))", "{{plugin}}")]),
    panel("Plugin calls by outcome", [(f"sum by (plugin, outcome) (rate(gatehouse_plugin_calls_total{{{SEL}}}[{RATE}]))",
                                       "{{plugin}} {{outcome}}")], unit="reqps", stack=True),
    panel("Plugin call p99 by method", [
        (f"histogram_quantile(0.99, sum by (plugin, method, le) (rate(gatehouse_plugin_call_duration_seconds_bucket{{{SEL}}}[{RATE}])))",
         "{{plugin}} {{method}}")], unit="s"),
    row("Process"),
    panel("CPU", [(f"rate(process_cpu_seconds_total{{{SEL}, job=~\"$job\"}}[{RATE}])", "{{instance}}")], unit="percentunit"),
    panel("Resident memory", [(f"process_resident_memory_bytes{{{SEL}, job=~\"$job\"}}", "{{instance}}")], unit="bytes"),
    panel("File descriptors", [(f"process_open_fds{{{SEL}, job=~\"$job\"}}", "open {{instance}}"),
                               (f"process_max_fds{{{SEL}, job=~\"$job\"}}", "limit {{instance}}")]),
]

# Grid: rows span the width; panels flow four (stat) or three (time series) to a line.
panels, y, x, line_height, next_id = [], 0, 0, 0, 1
for item in layout:
    if item["type"] == "row":
        if x:
            y, x = y + line_height, 0
        item["gridPos"] = {"h": 1, "w": 24, "x": 0, "y": y}
        y += 1
    else:
        width, height = (6, 4) if item["type"] == "stat" else (8, 8)
        if x + width > 24:
            y, x = y + line_height, 0
        item["gridPos"] = {"h": height, "w": width, "x": x, "y": y}
        x, line_height = x + width, height
    item["id"] = next_id
    next_id += 1
    panels.append(item)

dashboard = {
    "title": "Gatehouse",
    "uid": "gatehouse",
    "description": "Gatehouse OAuth 2.0 server: tokens, refusals, HTTP, plugins, process (Docs/operations.md).",
    "tags": ["gatehouse", "oauth"],
    "timezone": "utc",
    "schemaVersion": 38,
    "version": 1,
    "editable": True,
    "refresh": "30s",
    "time": {"from": "now-6h", "to": "now"},
    "templating": {"list": [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus", "current": {}, "hide": 0},
        {"name": "job", "label": "Job", "type": "custom", "query": "gatehouse", "current": {"text": "gatehouse", "value": "gatehouse"},
         "hide": 2, "description": "The scrape job's name (Docs/prometheus.md); process_* metrics are selected by it."},
        {"name": "instance", "label": "Instance", "type": "query", "datasource": {"type": "prometheus", "uid": "${datasource}"},
         "query": {"query": "label_values(gatehouse_build_info, instance)", "refId": "instances"},
         "definition": "label_values(gatehouse_build_info, instance)", "refresh": 2, "multi": True, "includeAll": True,
         "allValue": ".*", "current": {"text": "All", "value": "$__all"}, "hide": 0},
    ]},
    "annotations": {"list": []},
    "panels": panels,
}

# `make-dashboard.py [PATH]`: PATH defaults to the committed file beside this script.
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "gatehouse-dashboard.json")
with open(path, "w") as out:
    json.dump(dashboard, out, indent=2, sort_keys=True)
    out.write("\n")
