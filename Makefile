# Reservoir: `make run` starts everything on one machine; `make test` is what CI runs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)

.PHONY: run test lint pytest browser bench drill install clean conformance conformance-ci \
	field-check screenshots

$(STAMP): requirements.txt
	@bin/ensure-venv "$(PYTHON)" "$(VENV)"
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

run: install
	@bin/ensure-nginx
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py seed_demo --quiet
	$(PY) manage.py sep2_demo_pki
	$(PY) manage.py sep2_trust_write
	$(PY) manage.py runstack

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

# The browser tests are part of the suite: chromium is installed (as root) or make stops,
# and with RESERVOIR_REQUIRE_BROWSER a skipped browser test counts as a failure.
browser:
	@bin/ensure-chromium

pytest: install browser
	RESERVOIR_REQUIRE_BROWSER=1 $(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint pytest

# bsgip's cactus-client (the independent CSIP-AUS test client) against a server of our own:
# every procedure but the 72-hour soak; the CI subset is bounded (<= 10 minutes). A table
# and JUnit XML land in var/conformance/runs/latest/. See conformance/README.md.
conformance: install
	@bin/conformance $(CONFORMANCE_ARGS)

conformance-ci: install
	@bin/conformance --subset ci --jobs 6 --timeout 180 $(CONFORMANCE_ARGS)

bench: install
	$(PY) -m bench $(BENCH_ARGS)

# Fault drills on a private stack (its own PostgreSQL and Redis, the real listeners, worker
# and beat): each part is broken while clients drive it; prints what was lost (0), duplicated
# (0) and how long recovery took. DRILL_ARGS="--short" is the variant the test suite runs.
drill: install
	$(PY) -m tests.drills $(DRILL_ARGS)

# The 2030.5 field evidence (issue 16): a stack started as `make run` starts it, on free
# ports, and real curl from 127.0.0.2 with a portal-issued certificate, a forged certificate
# header on every listener, a cross-aggregator claim and a revoked certificate. Prints the
# transcript and keeps it in var/field-check/transcript.txt; exits 1 on any surprise.
field-check: install
	@bin/ensure-nginx
	$(PY) bin/field-check $(FIELD_CHECK_ARGS)

# PNGs of the portal as each demo role sees it (issue 19), for documentation: a fresh SQLite
# demo under var/screenshots/, the portal listener and Debian chromium; writes docs/screenshots/.
screenshots: install browser
	$(PY) -m tests.e2e.screenshots $(SCREENSHOTS_ARGS)

clean:
	rm -rf var/static var/test.sqlite3* var/celery-broker
