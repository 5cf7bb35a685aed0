// The Gateway API CustomResourceDefinitions the bare test cluster installs
// before the sandbox chart (deploy/bare/crds.sh): the module's source, as the
// Go module proxy serves it, carries the CRD YAML files. Nothing here is
// built; this go.mod is the one place the version is pinned, the one
// Envoy Gateway's gateway-helm chart (at ENVOY_GATEWAY_VERSION in
// deploy/deploy.mk) installs on kind: this release's experimental-channel
// CRDs (its go.mod and its charts/gateway-helm/charts/crds/crds/gatewayapi-crds.yaml).
// Bump it with that chart version. tools.go keeps it required. (The
// Prometheus Operator's CRDs come from deploy/bare/modules/prometheus-operator.)
module sandbox/bare/crds

go 1.26.0

require sigs.k8s.io/gateway-api v1.6.1
