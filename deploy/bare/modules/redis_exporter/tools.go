//go:build tools

// main: github.com/oliver006/redis_exporter
package tools

import (
	_ "github.com/oliver006/redis_exporter"
)
