# Two commands for a newcomer: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Every dependency, dev tools included, pinned with its registry hashes: an install is reproducible.
# Regenerate with `make lock` after changing pyproject.toml.
LOCK := requirements.lock
# Only the registry, never this machine's pip config or local wheels, whose files would not match
# the lock's hashes.
PIP_ENV := PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= PIP_CONSTRAINT=
# The one knob that moves the service: `make run PORT=8001`. Exported, so the settings (the demo
# connections' sandbox URL, the outbound allow-list) and runstack's address all follow it.
PORT ?= 8000
export PORT

.PHONY: run test lint security audit lock install migrate bootstrap sandbox bench clean

$(STAMP): $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@echo "Installing dependencies into $(VENV) (a minute or two, once)..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP_ENV) $(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	@touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	@$(PY) manage.py migrate_summary

bootstrap: migrate
	@$(PY) manage.py bootstrap_demo

## Run web + Celery worker + Celery beat in the foreground (embedded: SQLite, file broker, sandbox CRMs).
run: bootstrap
	@$(PY) manage.py runstack

## Run the whole test suite (SQLite unless DATABASE_URL / CELERY_BROKER_URL say otherwise).
test: $(STAMP)
	$(PY) -m pytest -n $${PYTEST_WORKERS:-2} $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## bandit over the product code: any medium or high finding fails (false positives carry `# nosec <id>: why`).
security: $(STAMP)
	@# bandit warns "nosec encountered … but no failed test" once per line of a marked statement: noise.
	bash -o pipefail -c '$(VENV)/bin/bandit -q -c pyproject.toml -r . --severity-level medium 2>&1 \
		| { grep -v "nosec encountered" || true; }'

## pip-audit of the locked set; exits 2 and says so when no vulnerability database is reachable.
audit: $(STAMP)
	PY=$(PY) .ci/audit

## Re-pin every dependency of pyproject.toml (and the dev extra) with hashes into requirements.lock.
lock: $(STAMP)
	$(PIP_ENV) $(VENV)/bin/pip-compile --quiet --generate-hashes --extra dev --strip-extras --allow-unsafe \
		--no-emit-find-links --no-emit-index-url --output-file $(LOCK) pyproject.toml

## Every bench in bench/ at a small scale (a few minutes): a smoke run, never written to docs/benchmarks.md.
## The embedded ones need nothing; DATABASE_URL=postgres://… (and CELERY_BROKER_URL=redis://… for the
## push bench) add the PostgreSQL ones, each on a fresh copy of one migrated database.
bench: $(STAMP)
	$(PY) bench/run_all.py

sandbox: migrate
	$(PY) manage.py sandbox --port 8100

clean:
	rm -rf $(VENV) var/*.sqlite3 var/celery
