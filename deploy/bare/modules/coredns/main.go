// Command coredns serves the bare test cluster's DNS (cluster.local from the
// Kubernetes API) with only the plugins that needs. No forward plugin: names
// outside the cluster are refused, so nothing a pod asks leaves the machine.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// The order in which plugins see a query, as in CoreDNS's plugin.cfg.
var directives = []string{
	"bind", "health", "ready", "log", "errors", "cache", "loadbalance", "kubernetes",
}

func init() {
	dnsserver.Directives = directives
}

func main() {
	coremain.Run()
}
