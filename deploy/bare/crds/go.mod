// The CustomResourceDefinitions the bare test cluster installs before the
// sandbox chart (deploy/bare/crds.sh): the sources of these two modules, as
// the Go module proxy serves them, carry the CRD YAML files. Nothing here is
// built; this go.mod is the one place their versions are pinned, and each is
// the version the upstream chart that `make up` installs on kind ships:
//   - sigs.k8s.io/gateway-api: Envoy Gateway's gateway-helm chart (at
//     ENVOY_GATEWAY_VERSION in deploy/deploy.mk) installs this release's
//     experimental-channel CRDs (its go.mod and its
//     charts/gateway-helm/charts/crds/crds/gatewayapi-crds.yaml);
//   - github.com/prometheus-operator/prometheus-operator: kube-prometheus-stack
//     (KPS_VERSION) ships this release's example/prometheus-operator-crd/
//     files as its crds subchart (its Chart.yaml appVersion).
// Bump them together with those chart versions. tools.go keeps both required.
module sandbox/bare/crds

go 1.26.0

require (
	github.com/prometheus-operator/prometheus-operator v0.93.1
	sigs.k8s.io/gateway-api v1.6.1
)
