//go:build tools

// main: github.com/prometheus-community/postgres_exporter
package tools

import (
	_ "github.com/prometheus-community/postgres_exporter/cmd/postgres_exporter"
)
