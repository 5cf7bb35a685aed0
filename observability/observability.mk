# Dashboards, rules and log setup; included by the main Makefile.

PROMTOOL ?= promtool
ES_URL ?= http://127.0.0.1:9200
KIBANA_URL ?= http://127.0.0.1:5601
OBS := observability

##@ Observability

.PHONY: dashboards
dashboards: ## Regenerate the Grafana dashboards and Kibana saved objects from their generators
	$(PYTHON) $(OBS)/grafana/generate.py
	$(PYTHON) $(OBS)/elastic/generate.py

.PHONY: dashboards-check
dashboards-check: ## Fail if a generated dashboard or saved object differs from its generator
	$(PYTHON) $(OBS)/grafana/generate.py --check
	$(PYTHON) $(OBS)/elastic/generate.py --check

.PHONY: rules-check
rules-check: ## promtool: check the Prometheus rules and run their unit tests
	@command -v $(PROMTOOL) >/dev/null || { echo "error: $(PROMTOOL) not found; install it with: apt-get install prometheus" >&2; exit 1; }
	$(PROMTOOL) check rules $(OBS)/prometheus/rules/*.yml
	$(PROMTOOL) test rules $(OBS)/prometheus/tests/*.test.yml

.PHONY: kibana-import
kibana-import: ## Install the log index template in Elasticsearch and import the Kibana data view and searches (ES_URL, KIBANA_URL)
	$(PYTHON) $(OBS)/elastic/load.py --es-url $(ES_URL) --kibana-url $(KIBANA_URL)
