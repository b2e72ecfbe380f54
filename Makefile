# The two commands of the README. Each creates .venv when missing and installs the project.
VENV ?= .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.installed-runtime
TEST_STAMP := $(VENV)/.installed-test
DEMO_DIR ?= demo-work

CHROMIUM := /usr/bin/chromium
CHROMIUM_INSTALL := apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

.PHONY: demo test install bench clean chromium

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)

demo: $(RUNTIME_STAMP)
	$(VENV)/bin/kemo-attention demo --work $(DEMO_DIR)

test: chromium $(TEST_STAMP)
	$(PY) -m pytest -q

# The dashboard's browser test drives Debian's Chromium (never `playwright install`). Installed
# here when missing if we are root; otherwise stop at once with the one command to run.
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium for the browser test: $(CHROMIUM_INSTALL)"; \
	    $(CHROMIUM_INSTALL) || exit 1; \
	  else \
	    echo "$(CHROMIUM) is missing (the dashboard's browser test needs it); run: sudo sh -c '$(CHROMIUM_INSTALL)'" >&2; \
	    exit 1; \
	  fi; \
	fi

# Every benchmark once (long: the leave-one-subject-out evaluation alone takes ~10 min).
bench: $(TEST_STAMP)
	for script in bench/bench_*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(DEMO_DIR) .pytest_cache
