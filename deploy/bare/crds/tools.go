//go:build tools

// Package tools keeps both CRD source modules required (go mod tidy drops a
// requirement no Go file imports). Each import is a small, dependency-free
// package of the module whose CRD files deploy/bare/crds.sh applies.
package tools

import (
	_ "github.com/prometheus-operator/prometheus-operator/example"
	_ "sigs.k8s.io/gateway-api/pkg/consts"
)
