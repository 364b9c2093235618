# Two commands for a newcomer: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The one knob that moves the service: `make run PORT=8001`. Exported, so the settings (the demo
# connections' sandbox URL, the outbound allow-list) and runstack's address all follow it.
PORT ?= 8000
export PORT

.PHONY: run test lint install migrate bootstrap sandbox bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@echo "Installing dependencies into $(VENV) (a minute or two, once)..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
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

sandbox: migrate
	$(PY) manage.py sandbox --port 8100

clean:
	rm -rf $(VENV) var/*.sqlite3 var/celery
