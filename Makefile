# OCOP Connect — the two commands a newcomer needs: `make run` and `make test`.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
# Where the site is reached; the sandboxes send their webhooks here.
BASE_URL ?= http://$(HOST):$(PORT)
export BASE_URL

.PHONY: run test lint format check messages translations requirements data-sync bench clean

## make run — set everything up (first time) and serve the demo on http://$(HOST):$(PORT)
run: $(VENV)/.installed translations
	@mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	$(PY) manage.py coverage_backfill --verbosity 0 > /dev/null
	@echo "Starting the marketplace sandboxes (var/sandbox.log), the Celery worker with its schedule (var/celery-worker.log) and the web server…"
	@set -e; \
	$(PY) manage.py run_sandbox > var/sandbox.log 2>&1 & \
	sandbox=$$!; \
	$(VENV)/bin/celery -A config worker --beat --schedule var/celerybeat-schedule --pool=solo --loglevel=INFO \
		--queues celery,sync.shopee,sync.lazada,sync.tiktok_shop,sync.tiki > var/celery-worker.log 2>&1 & \
	worker=$$!; \
	trap 'kill $$worker $$sandbox 2>/dev/null || true' EXIT INT TERM; \
	echo "Open http://$(HOST):$(PORT)/  (member portal: /portal/, trade department: /admin/)"; \
	$(PY) manage.py runserver $(HOST):$(PORT)

## make test — the whole test suite (SQLite and an in-process broker unless DATABASE_URL/REDIS_URL are set)
test: $(VENV)/.installed translations
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	@touch $@

## The Vietnamese catalogue: `make messages` extracts new strings into locale/vi (translate
## them, then commit the .po); `translations` compiles it (the .mo is built, never committed).
messages: $(VENV)/.installed
	$(PY) manage.py makemessages --locale vi --ignore ".venv/*" --ignore "var/*" --ignore "data/*" --ignore "tests/*" --ignore "benchmarks/*" --no-location --no-obsolete

translations: $(VENV)/.installed
	@$(PY) -c "import polib; polib.pofile('locale/vi/LC_MESSAGES/django.po').save_as_mofile('locale/vi/LC_MESSAGES/django.mo')"

## Pin exact versions from the ranges in requirements*.in (after changing a range or to upgrade).
requirements: $(VENV)/.installed
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --output-file requirements.txt requirements.in
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --output-file requirements-dev.txt requirements-dev.in

## Refresh data/ from the team's shared reference data (../shared/data). Files of our own in
## data/ (the 1048→148 taxonomy mapping) are kept.
data-sync:
	rsync -a ../shared/data/ data/

bench: $(VENV)/.installed
	$(PY) benchmarks/import_register.py
	$(PY) benchmarks/sync_throughput.py
	$(PY) benchmarks/coverage.py
	$(PY) benchmarks/showcase_load.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
