# The two commands of the README. Each creates .venv when missing and installs the project.
VENV ?= .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.installed-runtime
TEST_STAMP := $(VENV)/.installed-test
DEMO_DIR ?= demo-work

.PHONY: demo test install bench clean

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

test: $(TEST_STAMP)
	$(PY) -m pytest -q

# Every benchmark once (long: the leave-one-subject-out evaluation alone takes ~10 min).
bench: $(TEST_STAMP)
	for script in bench/bench_*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(DEMO_DIR) .pytest_cache
