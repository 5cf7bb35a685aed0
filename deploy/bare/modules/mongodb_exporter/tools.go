//go:build tools

// main: github.com/percona/mongodb_exporter
package tools

import (
	_ "github.com/percona/mongodb_exporter"
)
