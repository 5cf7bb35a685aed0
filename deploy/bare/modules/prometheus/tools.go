//go:build tools

// main: github.com/prometheus/prometheus
// Service discovery for Kubernetes only (the operator's scrape configs use
// nothing else); the web UI's assets are not built, the HTTP API is complete.
// tags: remove_all_sd enable_kubernetes_sd
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
