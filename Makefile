# Two commands for a newcomer: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint install migrate bootstrap sandbox bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

bootstrap: migrate
	$(PY) manage.py bootstrap_demo

## Run web + Celery worker + Celery beat in the foreground (embedded: SQLite, file broker, sandbox CRMs).
run: bootstrap
	$(PY) manage.py runstack

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
