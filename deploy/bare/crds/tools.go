//go:build tools

// Package tools keeps the CRD source module required (go mod tidy drops a
// requirement no Go file imports): a small, dependency-free package of the
// module whose CRD files deploy/bare/crds.sh applies.
package tools

import (
	_ "sigs.k8s.io/gateway-api/pkg/consts"
)
