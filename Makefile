# drone-patrol: `make demo` and `make test` on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-dev

.PHONY: demo test install browser clean migration bench

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools wheel

$(STAMP): $(PY) setup.cfg pyproject.toml
	$(PIP) install --quiet -e .
	touch $@

$(TSTAMP): $(STAMP)
	$(PIP) install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

# Plans, flies the simulated vehicle, imports the bundled real logs and photos, detects,
# then serves the console at http://127.0.0.1:5000 (Ctrl-C to stop).
demo: $(STAMP)
	$(VENV)/bin/patrol demo

# Headless Chromium and its driver for the browser tests (Debian packages).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && fc-list :lang=zh | grep -q . || \
	  { (apt-get update -qq && apt-get install -y -qq chromium chromium-driver fonts-noto-cjk) >/dev/null 2>&1 || \
	    echo "note: could not install chromium; browser tests will be skipped"; }

test: $(TSTAMP) browser
	$(VENV)/bin/pytest -q

bench: $(TSTAMP)
	$(PY) benchmarks/coverage.py
	$(PY) benchmarks/telemetry.py
	$(PY) benchmarks/georef.py
	$(PY) benchmarks/change_levir.py
	$(PY) benchmarks/revisit.py --seed 5,11,23,37,41,53
	$(PY) benchmarks/vision_speed.py
	$(PY) benchmarks/web.py

# Developer tool: regenerate the initial migration from the models (before the first release).
migration: $(STAMP)
	rm -rf var-migration patrol/migrations/versions/0001_initial.py
	PATROL_DATA_DIR=var-migration $(VENV)/bin/alembic -c patrol/alembic.ini revision \
	  --autogenerate --rev-id 0001 -m initial
	rm -rf var-migration

clean:
	rm -rf $(VENV) var build *.egg-info
