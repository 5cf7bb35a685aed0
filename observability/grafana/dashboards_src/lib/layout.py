"""`Dashboard`: panels placed left to right on Grafana's 24-column grid, a
new line when a panel does not fit, numbered in order; and the JSON around them."""

from __future__ import annotations

from dataclasses import dataclass, field

from .targets import Json

SCHEMA_VERSION = 39


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    tags: list[str]
    variables: list[Json]
    panels: list[Json] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _row_height: int = 0

    def _next_id(self) -> int:
        return len(self.panels) + 1

    def row(self, title: str) -> None:
        """A full-width row header; the panels added after it go below it."""
        self._newline()
        self.panels.append(
            {
                "id": self._next_id(),
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"x": 0, "y": self._y, "w": 24, "h": 1},
                "panels": [],
            }
        )
        self._y += 1

    def _newline(self) -> None:
        if self._x:
            self._y += self._row_height
            self._x = 0
            self._row_height = 0

    def add(self, panel: Json, w: int = 12, h: int = 8) -> None:
        """Place `panel`, `w` columns wide and `h` high, right of the previous one or on
        a new line when it does not fit; number it and its queries (refId A, B, …)."""
        if self._x + w > 24:
            self._newline()
        panel = {
            "id": self._next_id(),
            **panel,
            "gridPos": {"x": self._x, "y": self._y, "w": w, "h": h},
        }
        for index, target in enumerate(panel.get("targets", [])):
            target["refId"] = chr(ord("A") + index)
        self.panels.append(panel)
        self._x += w
        self._row_height = max(self._row_height, h)

    def render(self) -> Json:
        """The dashboard JSON Grafana loads."""
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["sandbox", *self.tags],
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "editable": True,
            "graphTooltip": 1,
            "timezone": "browser",
            "refresh": "10s",
            "time": {"from": "now-30m", "to": "now"},
            "timepicker": {},
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "links": [
                {
                    "title": "Sandbox dashboards",
                    "type": "dashboards",
                    "tags": ["sandbox"],
                    "asDropdown": True,
                    "includeVars": True,
                    "keepTime": True,
                    "icon": "external link",
                    "targetBlank": False,
                    "tooltip": "",
                    "url": "",
                }
            ],
            "annotations": {
                "list": [
                    {
                        "builtIn": 1,
                        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                        "enable": True,
                        "hide": True,
                        "iconColor": "rgba(0, 211, 255, 1)",
                        "name": "Annotations & Alerts",
                        "type": "dashboard",
                    }
                ]
            },
            "templating": {"list": self.variables},
            "panels": self.panels,
        }
