# The two commands of the README's quick start: `make demo` and `make test`.
# Both create .venv on first use; later runs reuse it unless pyproject.toml or constraints.txt changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system demo test lint typecheck unit bench clean

# Debian packages the tests use: headless Chromium for the dashboard's browser tests, PostgreSQL
# for the store's second engine. Installed when missing and this is Debian run as root (CI and
# the project's machines); elsewhere the tests that need them skip and say why.
SYSTEM_PACKAGES := chromium chromium-driver postgresql

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/hpjobs run templates/training-job.json --name hpjobs-demo-$$(date +%Y%m%d-%H%M%S)

test: lint typecheck unit

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

system:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1; then \
		apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null 2>&1 || \
		{ apt-get update -qq >/dev/null && apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; }; \
	fi

unit: setup system
	$(BIN)/pytest -q -n 2 --dist loadgroup

bench: setup
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[bench]'
	$(BIN)/python benchmarks/job_overhead.py
	$(BIN)/python benchmarks/tuning_overhead.py
	$(BIN)/python benchmarks/generation.py
	$(BIN)/python benchmarks/serve.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
