//go:build tools

// main: github.com/cloudnativelabs/kube-router/v2
package tools

import _ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
