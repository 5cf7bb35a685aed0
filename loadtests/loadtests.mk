# Load tests (Locust) and the throughput bench. Included by the main Makefile,
# which defines SHELL, BIN and PY.

##@ Load tests

TARGET ?= local
SHAPE ?= steady
USERS ?= 20
SPAWN_RATE ?=
DURATION ?=
GATEWAY_URL ?= http://localhost:8080
SLO_PROFILE ?= default
LOCUST_ARGS ?=
LOADTEST_RESULTS ?= loadtests/results
SMOKE_USERS ?= 10
SMOKE_DURATION ?= 30s

LOCUST := $(BIN)/locust --config loadtests/locust.conf

# Resolved in the recipe (bash) so an unknown TARGET fails with a message.
define loadtest_host
case "$(TARGET)" in \
  local) host_args=() ;; \
  cluster) host_args=(--host "$(GATEWAY_URL)") ;; \
  *) echo "error: TARGET must be local or cluster (got '$(TARGET)')" >&2; exit 2 ;; \
esac
endef

define loadtest_results
results="$(LOADTEST_RESULTS)/$$(date +%Y%m%d-%H%M%S)$(1)"; mkdir -p "$$results"
endef

# Keeps Locust's exit code (the gate's verdict) through the tee, then says where the report is.
define loadtest_finish
|| status=$$?; echo "report: $$results/report.html (gate: $$results/slo.json)"; exit $${status:-0}
endef

.PHONY: loadtest
loadtest: venv ## Headless load test (TARGET=local|cluster SHAPE=steady|ramp|spike|soak USERS= DURATION=); report in loadtests/results/
	@$(loadtest_host); $(call loadtest_results,); \
	rate="$(SPAWN_RATE)"; [ -n "$$rate" ] || rate=$$(( ($(USERS) + 9) / 10 )); \
	time_args=(); [ -z "$(DURATION)" ] || time_args=(--run-time "$(DURATION)"); \
	$(LOCUST) --headless $${host_args[@]+"$${host_args[@]}"} --shape "$(SHAPE)" --users "$(USERS)" \
	  --spawn-rate "$$rate" $${time_args[@]+"$${time_args[@]}"} --slo-profile "$(SLO_PROFILE)" \
	  --html "$$results/report.html" --csv "$$results/locust" --csv-full-history \
	  --slo-report "$$results/slo.json" $(LOCUST_ARGS) 2>&1 | tee "$$results/locust.log" \
	  $(loadtest_finish)

.PHONY: loadtest-ui
loadtest-ui: venv ## Locust web UI on http://127.0.0.1:8089 (TARGET=local|cluster; pick users, shape runs from SHAPE)
	@$(loadtest_host); \
	$(LOCUST) $${host_args[@]+"$${host_args[@]}"} --shape "$(SHAPE)" --web-host 127.0.0.1 --slo-profile off $(LOCUST_ARGS)

.PHONY: loadtest-smoke
loadtest-smoke: venv ## 30 s, 10 users against the local stack; fails when the smoke SLO gate fails
	@$(loadtest_host); $(call loadtest_results,-smoke); \
	$(LOCUST) --headless $${host_args[@]+"$${host_args[@]}"} --shape steady --users "$(SMOKE_USERS)" \
	  --spawn-rate "$(SMOKE_USERS)" --run-time "$(SMOKE_DURATION)" --slo-profile smoke \
	  --html "$$results/report.html" --csv "$$results/locust" \
	  --slo-report "$$results/slo.json" $(LOCUST_ARGS) 2>&1 | tee "$$results/locust.log" \
	  $(loadtest_finish)

##@ Fault scenarios

NAME ?=
SCENARIO_ARGS ?=

.PHONY: scenarios
scenarios: venv ## List the fault scenarios, one line each (make scenario NAME=...)
	@$(PY) loadtests/scenarios/run.py --list

.PHONY: scenario
scenario: venv ## Break it on purpose: steady load, one fault held and removed, a report of every signal (NAME= from make scenarios; TARGET=local after make local-up, or cluster after make up)
	@[ -n "$(NAME)" ] || { echo "error: name a scenario: make scenario NAME=<name> (make scenarios lists them)" >&2; exit 2; }
	KUBECTL="$(KUBECTL)" $(PY) loadtests/scenarios/run.py "$(NAME)" --target "$(TARGET)" \
	  --namespace "$(NAMESPACE)" --release "$(RELEASE)" --host "$(GATEWAY_URL)" $(SCENARIO_ARGS)

##@ Benchmarks

BENCH_DURATION ?= 20s
BENCH_CONNECTIONS ?= 64
BENCH_INGEST_SECONDS ?= 10
BENCH_INGEST_CLIENTS ?= 32
BENCH_STEP_START ?= 20
BENCH_STEP_MEASURE ?= 30
BENCH_ARGS ?=

.PHONY: bench
bench: venv ## Every figure against its baseline (needs make local-up, make seed, wrk): cached read vs bare ASGI, observability on/off, ingestion vs insert_many, mixed Locust capacity; writes docs/performance.md
	@command -v wrk >/dev/null || { echo "error: wrk not found; install it (Debian: apt-get install wrk)" >&2; exit 1; }
	$(PY) loadtests/bench/bench.py --duration $(BENCH_DURATION) --connections $(BENCH_CONNECTIONS) \
	  --ingest-seconds $(BENCH_INGEST_SECONDS) --ingest-clients $(BENCH_INGEST_CLIENTS) \
	  --step-start $(BENCH_STEP_START) --step-measure $(BENCH_STEP_MEASURE) \
	  --output docs/performance.md $(BENCH_ARGS)
