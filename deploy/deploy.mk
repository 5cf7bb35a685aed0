# Cluster deployment of the sandbox: images, a kind (or minikube) cluster, the
# platform charts and the sandbox chart. Included by the main Makefile.
#
#   make up [CLUSTER=kind|minikube] [PROFILE=full|lite] [LOADTEST=1] [HELM_ARGS="--set ..."]
#   make status | logs SERVICE=user | grafana | kibana | locust | down
#   make deploy-check          chart, manifests, images: everything without a cluster

CLUSTER ?= kind
PROFILE ?= full
CLUSTER_NAME ?= sandbox
NAMESPACE ?= sandbox
RELEASE ?= sandbox
HOST_PORT ?= 8080
TIMEOUT ?= 20m
SERVICE ?= user
# 1: `make up` also builds and loads the Locust image and runs the chart's
# load-test master and workers (values `loadtest:`); 0 leaves them out.
LOADTEST ?= 0
# Extra arguments of the sandbox release's `helm upgrade`, e.g.
# HELM_ARGS="--set loadtest.mode=autostart --set loadtest.workers=3"
HELM_ARGS ?=

TOOLS := $(CURDIR)/.tools
TOOLS_BIN := $(TOOLS)/bin
TOOL_VENV := $(TOOLS)/venv
HELM ?= $(if $(wildcard $(TOOLS_BIN)/helm),$(TOOLS_BIN)/helm,helm)
KIND ?= $(if $(wildcard $(TOOLS_BIN)/kind),$(TOOLS_BIN)/kind,kind)
KUBECTL ?= kubectl

CHART := deploy/helm/sandbox
IMAGE_REPOSITORY ?= microservices-sandbox
IMAGE_TAG ?= $(shell awk '/^appVersion:/ { gsub(/"/, "", $$2); print $$2 }' $(CHART)/Chart.yaml)
IMAGE := $(IMAGE_REPOSITORY):$(IMAGE_TAG)
# Locust and loadtests/ (docker/Dockerfile.loadtest), apart so the service image stays small.
LOADTEST_IMAGE_REPOSITORY ?= microservices-sandbox-loadtest
LOADTEST_IMAGE := $(LOADTEST_IMAGE_REPOSITORY):$(IMAGE_TAG)
# The official slim image; `make images` falls back to a locally built Debian
# base when it cannot be pulled (air-gapped / registry-less builds).
PYTHON_IMAGE ?= python:3.12-slim

# Upstream charts, pinned.
KPS_VERSION ?= 88.5.3
ECK_OPERATOR_VERSION ?= 3.5.0
ECK_STACK_VERSION ?= 0.20.0
FLUENT_BIT_VERSION ?= 0.58.1
ENVOY_GATEWAY_VERSION ?= v1.9.0
METRICS_SERVER_VERSION ?= 3.13.1
KIND_VERSION ?= v0.33.0
HELM_VERSION ?= v3.22.0

DEPLOY_ENV = CLUSTER=$(CLUSTER) PROFILE=$(PROFILE) CLUSTER_NAME=$(CLUSTER_NAME) \
  NAMESPACE=$(NAMESPACE) RELEASE=$(RELEASE) HOST_PORT=$(HOST_PORT) TIMEOUT=$(TIMEOUT) \
  HELM=$(HELM) KIND=$(KIND) KUBECTL=$(KUBECTL) IMAGE=$(IMAGE) PYTHON_IMAGE=$(PYTHON_IMAGE) \
  LOADTEST=$(LOADTEST) LOADTEST_IMAGE=$(LOADTEST_IMAGE) HELM_ARGS="$(HELM_ARGS)" \
  KPS_VERSION=$(KPS_VERSION) ECK_OPERATOR_VERSION=$(ECK_OPERATOR_VERSION) \
  ECK_STACK_VERSION=$(ECK_STACK_VERSION) FLUENT_BIT_VERSION=$(FLUENT_BIT_VERSION) \
  ENVOY_GATEWAY_VERSION=$(ENVOY_GATEWAY_VERSION) METRICS_SERVER_VERSION=$(METRICS_SERVER_VERSION)

##@ Cluster (kind or minikube, Helm)

.PHONY: deploy-tools
deploy-tools: ## Install helm, kind and the deploy-check tools (checkov, kubernetes-validate) into .tools/
	@HELM_VERSION=$(HELM_VERSION) KIND_VERSION=$(KIND_VERSION) bash deploy/scripts/install-tools.sh

.PHONY: images
images: ## Build the sandbox image (the command picks the role) and the Locust image for the host architecture
	@$(DEPLOY_ENV) bash deploy/scripts/images.sh

.PHONY: up
up: ## Create the cluster if needed, build and load the image, install platform and sandbox, seed, print URLs (LOADTEST=1: with Locust)
	@$(DEPLOY_ENV) bash deploy/scripts/up.sh

.PHONY: down
down: ## Delete the kind cluster (or the minikube profile with CLUSTER=minikube)
	@$(DEPLOY_ENV) bash deploy/scripts/down.sh

.PHONY: status
status: ## Show the sandbox's pods, services, routes and the platform's pods
	@$(KUBECTL) get pods,svc,httproute,pvc -n $(NAMESPACE) -o wide 2>/dev/null || { echo "no cluster answers: run make up" >&2; exit 1; }
	@echo; for ns in envoy-gateway-system monitoring elastic-system logging; do \
	  $(KUBECTL) get pods -n $$ns --no-headers 2>/dev/null | sed "s|^|$$ns/|"; done || true

.PHONY: logs
logs: ## Follow the logs of one component: make logs SERVICE=user|catalog|activity|worker|beat|postgres-user|...
	$(KUBECTL) logs -n $(NAMESPACE) -f --tail=100 --prefix -l app.kubernetes.io/instance=$(RELEASE),app.kubernetes.io/component=$(SERVICE)

.PHONY: grafana
grafana: ## Print Grafana's URL and admin password; port-forward when the gateway is not reachable
	@$(DEPLOY_ENV) bash deploy/scripts/open.sh grafana

.PHONY: kibana
kibana: ## Print Kibana's URL and the elastic password; port-forward when the gateway is not reachable
	@$(DEPLOY_ENV) bash deploy/scripts/open.sh kibana

.PHONY: locust
locust: ## Forward the in-cluster Locust web UI to http://localhost:8089 (after make up LOADTEST=1)
	@svc=$$($(KUBECTL) -n $(NAMESPACE) get svc -l app.kubernetes.io/instance=$(RELEASE),app.kubernetes.io/component=locust -o name 2>/dev/null | head -n1); \
	[ -n "$$svc" ] || { echo "no Locust master in namespace $(NAMESPACE): run make up LOADTEST=1" >&2; exit 1; }; \
	echo "Locust web UI on http://localhost:8089 ($$svc; Ctrl-C stops)"; \
	exec $(KUBECTL) -n $(NAMESPACE) port-forward "$$svc" 8089:8089

.PHONY: manifests
manifests: ## Re-render deploy/k8s/sandbox/*.yaml (plain manifests for kubectl apply) from the chart
	@HELM=$(HELM) $(PY) deploy/scripts/render_manifests.py --write

.PHONY: resources
resources: ## Sum the CPU/memory requests and limits of the rendered chart per profile
	@HELM=$(HELM) $(PY) deploy/scripts/resources.py

##@ Cluster tests (a real Kubernetes)

# `make test-cluster CLUSTER=kind|bare`; without CLUSTER on the command line
# (or TEST_CLUSTER in the environment), kind when it is installed, else a skip.
TEST_CLUSTER ?= $(if $(filter command line,$(origin CLUSTER)),$(CLUSTER),auto)

.PHONY: test-cluster
test-cluster: venv deploy-tools ## The chart on a real cluster (tests/cluster): CLUSTER=kind, or CLUSTER=bare (root on Linux: one node built from the Go module proxy)
	@CLUSTER=$(TEST_CLUSTER) HELM=$(HELM) KIND=$(KIND) IMAGE=$(IMAGE) LOADTEST_IMAGE=$(LOADTEST_IMAGE) \
	  PYTHON_IMAGE=$(PYTHON_IMAGE) KPS_VERSION=$(KPS_VERSION) PYTEST=$(BIN)/pytest PYTEST_ARGS="$(PYTEST_ARGS)" \
	  bash deploy/scripts/test-cluster.sh

.PHONY: test-cluster-down
test-cluster-down: ## Stop the bare test cluster (after KEEP_CLUSTER=1) and check the host is as it was
	bash deploy/bare/cluster.sh down
	bash deploy/bare/cluster.sh check

.PHONY: deploy-check
deploy-check: venv deploy-tools ## Chart lint, render, schema, policy and image checks (no cluster needed)
	$(BIN)/pytest tests/deploy $(PYTEST_ARGS)
